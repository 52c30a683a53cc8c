#!/usr/bin/env bash
# v0.21 call 5: the README's tables from one device call with this session's tuner (steady-state finalists, paired
# Q tiles): issue 9's seven cases (tools/device-bench-steady.sh: tune, bench in steady state, cuDNN / FA2 / Flex),
# then ALiBi + causal and sliding window 1024 + causal (tune, bench twice, FlexAttention's variant).
#   run(command="bash docs/results/v0.21/scripts/c5.sh", carry=[".device-carry"], timeout_s=560)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
limit=${C5_LIMIT:-540}
OUT=${OUT:-/tmp/v021-c5}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c5-cache
TUNE_ARGS="--budget 33" BUDGET=330 TILEFUSE=$tf OUT="$OUT/steady" bash tools/device-bench-steady.sh > /tmp/steady.log 2>&1
echo "device-bench-steady rc=$? at $((SECONDS - T0)) s"
grep -E "tune rc|^steady state" /tmp/steady.log | cut -c1-420 > "$OUT/tune.txt"
cp "$OUT/steady/steady-table.md" "$OUT/" && cat "$OUT/steady-table.md"
cp "$OUT/steady/peers.json" "$OUT/" 2>/dev/null
rm -rf "$OUT/steady"
for v in alibi sliding1024; do
  spec=specs/alibi.json; variant=alibi_causal
  [ $v = sliding1024 ] && spec=specs/bench/sliding1024_causal.json && variant=sliding1024_causal
  left=$((limit - (SECONDS - T0)))
  [ $left -gt 90 ] || { echo "$v: skipped, $left s left"; continue; }
  timeout 60 $tf tune $spec --B 4 --S 4096 --budget 33 > /tmp/tune-$v.log 2>&1
  echo "tune $v rc=$? at $((SECONDS - T0)) s"
  grep -E "^steady state|^winner" /tmp/tune-$v.log | cut -c1-600
  for round in 1 2; do
    r=$(timeout 40 $tf bench $spec --B 4 --S 4096 --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | head -2 | tr '\n' ' ')
    echo "tilefuse $variant tuned: $r | round $round"
  done
  t=$((limit - (SECONDS - T0)))
  [ $t -gt 30 ] && timeout $((t < 60 ? t : 60)) python3 python/bench/bench_dense_peers.py --case 4,16,16,4096,128,1 \
    --variant $variant --json "$OUT/flex-$variant.json" 2>&1 | grep -E "flex|unavailable"
done 2>&1 | tee "$OUT/variants.txt"
echo "done at $((SECONDS - T0)) s"
