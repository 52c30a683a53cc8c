#!/usr/bin/env bash
# v0.21 call 4: the tuner with the paired-tile twins (tuner/lib/SearchSpace.cpp) and the steady-state finalists on
# issue 9's causal cases and ALiBi + causal: tune, bench in steady state, the peers in the same call.
#   run(command="bash docs/results/v0.21/scripts/c4.sh", carry=[".device-carry"], timeout_s=595)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
OUT=${OUT:-/tmp/v021-c4}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c4-cache
CASES="4,16,16,4096,128,1 1,16,16,16384,128,1 1,32,8,8192,128,1" TUNE_ARGS="--budget 33" BUDGET=330 TILEFUSE=$tf \
  OUT="$OUT/steady" bash tools/device-bench-steady.sh > /tmp/steady.log 2>&1
echo "device-bench-steady rc=$? at $((SECONDS - T0)) s"
grep -E "tune rc|^steady state" /tmp/steady.log | cut -c1-420 | tee "$OUT/tune.txt"
cp "$OUT/steady/steady-table.md" "$OUT/" && cat "$OUT/steady-table.md"
rm -rf "$OUT/steady"
timeout 60 $tf tune specs/alibi.json --B 4 --S 4096 --budget 33 > /tmp/tune-alibi.log 2>&1
echo "tune alibi rc=$? at $((SECONDS - T0)) s" | tee "$OUT/alibi.txt"
grep -E "^steady state|^winner" /tmp/tune-alibi.log | cut -c1-500 | tee -a "$OUT/alibi.txt"
for round in 1 2; do
  r=$(timeout 40 $tf bench specs/alibi.json --B 4 --S 4096 --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | head -2 | tr '\n' ' ')
  echo "tilefuse alibi_causal tuned: $r | round $round" | tee -a "$OUT/alibi.txt"
done
timeout 60 python3 python/bench/bench_dense_peers.py --case 4,16,16,4096,128,1 --variant alibi_causal \
  --json "$OUT/flex-alibi_causal.json" 2>&1 | grep -E "flex|unavailable" | tee -a "$OUT/alibi.txt"
echo "done at $((SECONDS - T0)) s"
