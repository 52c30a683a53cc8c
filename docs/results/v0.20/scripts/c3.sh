#!/usr/bin/env bash
# v0.20 call 3: correctness of the lazy running max (Schedule::lazyRescale) and of the rest of this session's
# code, in one device call:
#   1. the chains' GPU test with FlashAttention's rule (call 1: one FFN case at T=1 D=8 F=8 missed the
#      2^-7 rule with the naive bf16 computation missing it by as much);
#   2. the generated sweep ([generated]) on causal, alibi, mha, softcap and gqa: every backend and sm90 variant,
#      the new "-lazy" ones included, FlashAttention's rule against the fp64 reference; compute-sanitizer
#      memcheck of one small case per spec on both backends;
#   3. the packed GPU tests ([gpu][varlen]), which timed out at 110 s in call 1, with the time left;
#   4. if time is left, tune causal B4 H16 S4096 (the tuner now times the lazy twins) and print the winner.
#   run(command="bash docs/results/v0.20/scripts/c3.sh", carry=[".device-carry"], timeout_s=595)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
limit=${C3_LIMIT:-575}
left() { echo $((limit - (SECONDS - T0))); }
OUT=${OUT:-/tmp/v020-c3}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse

# 1. chains
ct=/tmp/tf/bin/tilefuse_chain_tests
xz -dc .device-carry/gpu/tilefuse_chain_tests.xz > $ct && chmod +x $ct
TILEFUSE_EXAMPLES_DIR=$PWD/examples timeout 90 $ct "[gpu][chains]" > /tmp/ct.log 2>&1
echo "chain test rc=$? at $((SECONDS - T0)) s" | tee "$OUT/chain-test.txt"
grep -E "FAIL|test cases|assertions" /tmp/ct.log | cut -c1-240 | head -8 | tee -a "$OUT/chain-test.txt"
grep -cE "\-> PASS" /tmp/ct.log | sed 's/^/cases passed: /' | tee -a "$OUT/chain-test.txt"

# 2. generated sweep + memcheck
SWEEP_SPECS="causal alibi mha softcap gqa" SWEEP_TAGS="[generated]" SWEEP_TIMEOUT=230 \
  CHECK_STEPS="sweep sanitize" OUT=/tmp/gen timeout 300 bash tests/gpu/run_generated_checks.sh > /tmp/gen.log 2>&1
echo "generated rc=$? at $((SECONDS - T0)) s" | tee "$OUT/generated.txt"
grep -E "test cases|assertions|FAILED|ERROR SUMMARY|exit [0-9]+," /tmp/gen.log | head -12 | tee -a "$OUT/generated.txt"
cp /tmp/gen/generated_sweep.md "$OUT/" 2>/dev/null
[ -f /tmp/gen/generated_sweep.md ] && awk -F'|' 'NR > 2 { split($2, w, " "); k = w[1] " " w[2]; n[k]++;
    if ($0 ~ /\| ok \|$/) ok[k]++; else if ($0 ~ /FAIL/) f[k]++; else sk[k]++ }
  END { for (k in n) printf "%s: %d ok, %d skipped, %d failed\n", k, ok[k], sk[k], f[k] }' /tmp/gen/generated_sweep.md |
  sort | tee -a "$OUT/generated.txt"

# 3. packed tests
t=$(( $(left) - 60 )); [ $t -gt 200 ] && t=200
if [ $t -gt 60 ]; then
  SWEEP_TAGS="[gpu][varlen]" CHECK_STEPS="sweep" OUT=/tmp/genv SWEEP_TIMEOUT=$((t - 15)) \
    timeout $t bash tests/gpu/run_generated_checks.sh > /tmp/genv.log 2>&1
  echo "varlen tests rc=$? at $((SECONDS - T0)) s (limit $((t - 15)) s)" | tee "$OUT/varlen-tests.txt"
  grep -E "test cases|assertions|FAILED|failed|exit [0-9]+," /tmp/genv.log | cut -c1-240 | head -12 | tee -a "$OUT/varlen-tests.txt"
  grep -E "^generated" /tmp/genv/generated.log 2>/dev/null | wc -l | sed 's/^/varlen kernel lines: /' | tee -a "$OUT/varlen-tests.txt"
fi

# 4. a tune that sees the lazy twins
t=$(( $(left) - 5 ))
if [ $t -gt 50 ]; then
  TILEFUSE_CACHE_DIR=/tmp/c3-cache timeout $t $tf tune specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 > /tmp/tune.log 2>&1
  echo "tune causal S4k rc=$?" | tee "$OUT/tune.txt"
  grep -iE "winner|lazy|default" /tmp/tune.log | cut -c1-200 | head -12 | tee -a "$OUT/tune.txt"
fi
echo "done at $((SECONDS - T0)) s"
