#!/usr/bin/env bash
# v0.18 call 2: the attention GPU tests after v0.18's launch and device-library changes, then issue 10's
# packed-sequence target with kernels tuned on the packed batch (719281c: `tilefuse tune --seqlens-file`).
# 1. tests/gpu/run_generated_checks.sh, SWEEP_TAGS="[gpu]~[generated]" (the Engine and C API, run-time
#    block masks, packed sequences against fp64) and its CPU step (Params packing, launch errors).
# 2. tilefuse tune of specs/varlen/causal.json and specs/varlen/mha.json on the benchmark's lengths (uniform
#    in [128, 4096], 65536 tokens, seed 1; H16 D128), into TILEFUSE_CACHE_DIR.
# 3. tools/device-bench-packed.sh with that cache: Tilefuse against FlexAttention (document BlockMask) and
#    SDPA (cuDNN, FA2) on the padded batch, in this call; its table last.
#   run(command="bash docs/results/v0.18/scripts/c2.sh", carry=[".device-carry"], timeout_s=595)
# Back under $OUT: tests.txt, tune.txt, packed/ (lengths.txt, tf_*.json, peers_*.json, packed-table.md).
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
mkdir -p "$OUT"
# C2_SKIP_TESTS=1 skips step 1; C2_BUDGET: seconds for the whole script (450), e.g. what is left of c1.sh's call.
# 1. the GPU tests other than the generated sweep
if [ "${C2_SKIP_TESTS:-0}" != 1 ]; then
SWEEP_TAGS="[gpu]~[generated]" CHECK_STEPS="cpu sweep" OUT=/tmp/gen SWEEP_TIMEOUT=140 \
  timeout 160 bash tests/gpu/run_generated_checks.sh > /tmp/gen.log 2>&1
echo "run_generated_checks rc=$?" | tee "$OUT/tests.txt"
grep -E "^== |test cases|assertions|FAILED|failed|error:|skipped" /tmp/gen.log | cut -c1-240 | head -30 | tee -a "$OUT/tests.txt"
fi
echo "tune at $((SECONDS - T0)) s"

# 2. tune on the packed batch
source tools/device-unpack.sh /tmp/tf2 >/dev/null
tf=/tmp/tf2/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c2-cache
python3 python/bench/bench_packed_peers.py --write-lengths /tmp/lengths.txt --seed 1 --min 128 --max 4096 --total 65536
for spec in causal mha; do
  t=$(( (${C2_BUDGET:-450} - (SECONDS - T0)) / 4 )); [ $t -gt 80 ] && t=80
  [ $t -lt 30 ] && { echo "tune varlen/$spec: skipped, $((SECONDS - T0)) s gone"; continue; }
  b=$((t - 25)); [ $b -gt 30 ] && b=30; [ $b -lt 10 ] && b=10
  timeout $t $tf tune specs/varlen/$spec.json --seqlens-file /tmp/lengths.txt --Hq 16 --Hkv 16 --D 128 --budget $b \
    > /tmp/tune-$spec.log 2>&1
  echo "tune varlen/$spec: exit $? at $((SECONDS - T0)) s; $(grep -E '^winner|error' /tmp/tune-$spec.log | head -2 | cut -c1-300)"
done 2>&1 | tee "$OUT/tune.txt"

# 3. the packed benchmark with the peers, on the cache just written
TILEFUSE=$tf OUT="$OUT/packed" BUDGET=$((${C2_BUDGET:-450} - (SECONDS - T0))) bash tools/device-bench-packed.sh > /tmp/packed.log 2>&1
echo "device-bench-packed rc=$? at $((SECONDS - T0)) s"
grep -E "rc=|skipped" /tmp/packed.log | head
cat "$OUT/packed/packed-table.md" 2>/dev/null || tail -20 /tmp/packed.log
