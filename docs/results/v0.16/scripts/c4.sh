#!/usr/bin/env bash
# v0.16 call 4: the GPU tests after q = registers joined the sm90 backend and the tuner's space, then
# issue 9's table in steady state (tools/device-bench-steady.sh: tune, bench, cuDNN / FA2 / Flex, all after
# 500 ms of warm-up, one call).
# 1. [varlen] on sm90 and sm90:qreg; the generated sweep ([generated]) on the sm90 backend for causal and
#    ALiBi (default + 5 schedule variants, 2 of them q = registers, D 64/96/128/256); memcheck of q =
#    registers kernels (persistent, packed); SASS of a q = registers kernel (HGMMA with A from registers).
# 2. tools/device-bench-steady.sh (7 cases).
#   run(command="bash docs/results/v0.16/scripts/c4.sh", carry=[".device-carry"], timeout_s=590)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
TILEFUSE_TEST_BACKENDS=sm90:qreg timeout 120 /tmp/tf/bin/tilefuse_generated_gpu_tests "[varlen]" > /tmp/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s: $(tail -n 2 /tmp/varlen.log | tr '\n' ' ')" | tee $OUT/tests-summary.log
grep -E "^  sequence|FAILED|with message" -A2 /tmp/varlen.log | head -20 | tee -a $OUT/tests-summary.log
mkdir -p /tmp/specs-subset && cp "$TILEFUSE_SPECS_DIR"/{causal,alibi}.json /tmp/specs-subset/
TILEFUSE_SPECS_DIR=/tmp/specs-subset TILEFUSE_TEST_BACKENDS=sm90 timeout 200 /tmp/tf/bin/tilefuse_generated_gpu_tests \
  "[generated]" > /tmp/generated.log 2>&1
echo "generated rc=$? at $((SECONDS - T0)) s: $(grep -E "generated sweep:|kernels compiled|test cases" /tmp/generated.log | tr '\n' ' ')" | tee -a $OUT/tests-summary.log
grep -E "NOT BUILT|FAILED" -A3 /tmp/generated.log | head -20 | tee -a $OUT/tests-summary.log
grep -E "qreg" /tmp/generated.log | grep -E "regs=" | head -16 >> $OUT/tests-summary.log
Q='"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"registers","overlap":"pingpong"'
for v in "causal|--B 1 --Hq 4 --S 1000|,\"persistent\":true" "varlen/causal|--cu-seqlens 0,1,64,128,193,4290,4291,4355 --Hq 4 --Hkv 4|" \
         "alibi|--B 1 --Hq 4 --S 777|"; do
  IFS='|' read -r spec flags extra <<<"$v"
  # shellcheck disable=SC2086
  TILEFUSE_CACHE_DIR=/tmp/c-ms timeout 90 compute-sanitizer --tool memcheck --print-limit 5 $tf bench specs/$spec.json $flags \
    --schedule "{$Q$extra}" --reps 2 --warmup 1 --warmup-ms 0 > /tmp/ms.log 2>&1
  echo "memcheck $spec q=registers rc=$?: $(grep -E 'ERROR SUMMARY' /tmp/ms.log) $(grep -c PASS /tmp/ms.log) PASS"
done 2>&1 | tee -a $OUT/tests-summary.log
TILEFUSE_CACHE_DIR=/tmp/c-s $tf emit specs/causal.json --arch sm_90a --format cubin -o /tmp/q.cubin --schedule "{$Q}" 2>/dev/null
echo "SASS q=registers: $(cuobjdump -sass /tmp/q.cubin | grep -cE 'HGMMA\.64x128x16\.F32\.BF16 R[0-9]+, R[0-9]+') HGMMA with A in registers of $(cuobjdump -sass /tmp/q.cubin | grep -c HGMMA); $(cuobjdump -sass /tmp/q.cubin | grep -c LDSM) LDSM; $(cuobjdump -sass /tmp/q.cubin | grep -cE 'UTMALDG|UBLKCP') bulk tensor copies" | tee -a $OUT/tests-summary.log
cuobjdump -sass /tmp/q.cubin | grep HGMMA | head -3 >> $OUT/tests-summary.log
echo "steady at $((SECONDS - T0)) s"
OUT=/tmp/steady BUDGET=$((575 - (SECONDS - T0))) TILEFUSE=$tf bash tools/device-bench-steady.sh > /tmp/steady.log 2>&1
cp /tmp/steady/steady-table.md $OUT/steady-table.md; cat /tmp/steady.log | tail -16 | cut -c1-220 > $OUT/steady-log.txt
cat $OUT/steady-log.txt; cat $OUT/steady-table.md
echo "done at $((SECONDS - T0)) s"
