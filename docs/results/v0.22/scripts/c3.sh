#!/usr/bin/env bash
# v0.22 call 3: issue 9's and 10's mask targets tuned with the new orders of the Q tiles among the tuner's twins
# (SearchOptions::tileOrders: paired, snake, lpt), steady state, the peers in the same call.
#   1. ALiBi + causal, sliding window 1024 + causal (B4 H16 S4096) and sliding window 4096 + causal (B1 H16 S16384):
#      tilefuse tune, then tilefuse bench twice (500 ms of warm-up, 50 runs, median, the cache's winner), then Flex;
#   2. causal S4k through tools/device-bench-steady.sh (tune, bench, cuDNN / FA2 / Flex).
#   run(command="bash docs/results/v0.22/scripts/c3.sh", carry=[".device-carry"], timeout_s=598)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
limit=${C3_LIMIT:-585}
OUT=${OUT:-/tmp/v022-c3}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c3-cache
# 1. the variants
for v in sliding1024 alibi sliding4096; do
  case $v in
    alibi) spec=specs/alibi.json variant=alibi_causal flags="--B 4 --S 4096" case=4,16,16,4096,128,1 ;;
    sliding1024) spec=specs/bench/sliding1024_causal.json variant=sliding1024_causal flags="--B 4 --S 4096" case=4,16,16,4096,128,1 ;;
    sliding4096) spec=specs/sliding_window.json variant=sliding4096_causal flags="--B 1 --Hq 16 --Hkv 16 --S 16384" case=1,16,16,16384,128,1 ;;
  esac
  left=$((limit - (SECONDS - T0)))
  [ $left -gt 150 ] || { echo "$v: skipped, $left s left"; continue; }
  # shellcheck disable=SC2086
  timeout 60 $tf tune $spec $flags --budget 40 > /tmp/tune-$v.log 2>&1
  echo "tune $v rc=$? at $((SECONDS - T0)) s"
  grep -E "^steady state|^winner" /tmp/tune-$v.log | cut -c1-600
  for round in 1 2; do
    # shellcheck disable=SC2086
    r=$(timeout 40 $tf bench $spec $flags --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | head -2 | tr '\n' ' ')
    echo "tilefuse $variant tuned: $r | round $round"
  done
  timeout 50 python3 python/bench/bench_dense_peers.py --case $case --variant $variant 2>&1 | grep -E "flex|unavailable"
done 2>&1 | tee "$OUT/variants.txt"
# 2. causal S4k
left=$((limit - (SECONDS - T0) - 5))
if [ $left -gt 120 ]; then
  CASES="4,16,16,4096,128,1" TUNE_ARGS="--budget 33" BUDGET=$left TILEFUSE=$tf OUT="$OUT/steady" \
    bash tools/device-bench-steady.sh > /tmp/steady.log 2>&1
  echo "device-bench-steady rc=$? at $((SECONDS - T0)) s"
  grep -E "tune rc|^steady state" /tmp/steady.log | cut -c1-420 | tee "$OUT/tune.txt"
  cp "$OUT/steady/steady-table.md" "$OUT/" && cat "$OUT/steady-table.md"
  rm -rf "$OUT/steady"
fi
echo "done at $((SECONDS - T0)) s"
