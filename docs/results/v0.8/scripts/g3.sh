#!/usr/bin/env bash
# v0.8 device call 3 (carry .device-carry: bundle/, peers/): after tfcg::rcp_ge1 (sigmoid) and the
# element-invariant hoist (ALiBi's slopes[h]): the generated sweep of the two changed specs on both
# backends (TILEFUSE_SPECS_DIR = alibi + sigmoid_attention), the packed [varlen] cases (ALiBi captures),
# then sigmoid against causal softmax and ALiBi + causal against FlexAttention, and SASS op counts.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
w=/tmp/tf-g3
source tools/device-unpack.sh $w >/dev/null
export TILEFUSE_DEVICE_INCLUDE=$w/device
mkdir -p /tmp/sp && cp specs/alibi.json specs/sigmoid_attention.json /tmp/sp/
echo "== sweep (alibi, sigmoid_attention) + [varlen]"
TILEFUSE_SPECS_DIR=/tmp/sp TILEFUSE_RESULTS_DIR=$OUT timeout 200 $w/bin/tilefuse_generated_gpu_tests "[generated]" > $OUT/sweep.log 2>&1
echo "sweep rc=$? at $((SECONDS - T0)) s"; grep -E "^generated|passed|failed|FAIL" $OUT/sweep.log | head -8
awk -F'|' 'NR>2{print $NF}' $OUT/generated_sweep.md 2>/dev/null | sort | uniq -c
TILEFUSE_SPECS_DIR=specs timeout 120 $w/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s"; grep -E "passed|failed|FAIL" $OUT/varlen.log | head -4
tf=$w/bin/tilefuse
echo "== sigmoid vs softmax (B4 H16 S4096 D128 causal)"
for spec in causal sigmoid_attention causal sigmoid_attention; do
  timeout 60 $tf bench specs/$spec.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --reps 30 2>&1 | grep -E "^time|PASS|FAIL|error" | head -3 | sed "s|^|$spec: |"
done
echo "== SASS op counts (sm_90a, B4 S4096 D128)"
for spec in alibi causal sigmoid_attention; do
  $tf emit specs/$spec.json --arch sm_90a --S 4096 --format cubin -o /tmp/$spec.cubin 2>/dev/null
  cuobjdump -sass /tmp/$spec.cubin | grep -oE "^\s+/\*[0-9a-f]+\*/\s+[A-Z0-9_.]+" | awk '{print $2}' | sed 's/\..*//' | sort | uniq -c | sort -rn | head -14 | tr '\n' ' ' | sed "s|^|$spec: |"; echo
done
echo "== ALiBi + causal with FlexAttention at $((SECONDS - T0)) s"
mkdir -p $OUT/bench
OUT=$OUT/bench TF_CASES=0 TF_ONLY=alibi timeout 200 bash tools/device-bench.sh > $OUT/bench.log 2>&1
echo "bench rc=$?"; tail -n 12 $OUT/bench/table.md
