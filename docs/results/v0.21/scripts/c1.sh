#!/usr/bin/env bash
# v0.21 call 1: the tuner's steady-state finalists (`tilefuse tune --finalists`, default 4) on the GPU.
#   1. packed (issue 10): tune specs/varlen/{mha,causal}.json on the benchmark's lengths (uniform in
#      [128, 4096], 65536 tokens, seed 1; H16 D128), then tools/device-bench-packed.sh on that cache:
#      Tilefuse against FlexAttention (document BlockMask) and SDPA on the padded batch, in this call.
#   2. ALiBi + causal and sliding window 1024 + causal (issue 9, B4 H16 S4096 D128): tune, bench twice in
#      steady state, FlexAttention's same variant (python/bench/bench_dense_peers.py --variant).
# Every tune prints its "steady state:" line: the finalists' burst and steady times.
#   run(command="bash docs/results/v0.21/scripts/c1.sh", carry=[".device-carry"], timeout_s=595)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
OUT=${OUT:-/tmp/v021-c1}
limit=${C1_LIMIT:-575}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c1-cache
python3 python/bench/bench_packed_peers.py --write-lengths "$OUT/lengths.txt" --seed 1 --min 128 --max 4096 --total 65536
# 1. packed
for spec in mha causal; do
  timeout 80 $tf tune specs/varlen/$spec.json --seqlens-file "$OUT/lengths.txt" --Hq 16 --Hkv 16 --D 128 --budget 40 \
    > /tmp/tune-$spec.log 2>&1
  echo "tune varlen/$spec: exit $? at $((SECONDS - T0)) s"
  grep -E "^steady state|^winner|error" /tmp/tune-$spec.log | cut -c1-600
done 2>&1 | tee "$OUT/packed-tune.txt"
TILEFUSE=$tf OUT="$OUT/packed" BUDGET=$((limit - (SECONDS - T0) - 200)) bash tools/device-bench-packed.sh > /tmp/packed.log 2>&1
echo "device-bench-packed rc=$? at $((SECONDS - T0)) s"
cp "$OUT/packed/packed-table.md" "$OUT/" 2>/dev/null && cat "$OUT/packed-table.md"
rm -f "$OUT"/packed/*.err
# 2. ALiBi and sliding window 1024, tuned, steady state, and Flex
for v in alibi sliding1024; do
  spec=specs/alibi.json; variant=alibi_causal
  [ $v = sliding1024 ] && spec=specs/bench/sliding1024_causal.json && variant=sliding1024_causal
  left=$((limit - (SECONDS - T0)))
  [ $left -gt 90 ] || { echo "$v: skipped, $left s left"; continue; }
  timeout 60 $tf tune $spec --B 4 --S 4096 --budget 35 > /tmp/tune-$v.log 2>&1
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
