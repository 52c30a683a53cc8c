#!/usr/bin/env bash
# v0.8 device call 4 (carry .device-carry: bundle/, peers/, python/ packed as for g2.sh): the generated
# sweep of the new shipped spec specs/block_diagonal.json and of alibi (its element code is now one FFMA
# per score) on both backends, and [varlen]; ALiBi + causal against FlexAttention; sigmoid attention
# under four sm90 schedules next to causal softmax, with gzipped SASS of both; energy as a tuning
# objective for the six models (energy-objective.sh); time against mask density next to FlexAttention
# (density.sh, --quick).
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
w=/tmp/tf-g4
source tools/device-unpack.sh $w >/dev/null
export TILEFUSE_DEVICE_INCLUDE=$w/device
mkdir -p /tmp/sp4 && cp specs/block_diagonal.json specs/alibi.json /tmp/sp4/
echo "== sweep (block_diagonal, alibi)"
TILEFUSE_SPECS_DIR=/tmp/sp4 TILEFUSE_RESULTS_DIR=$OUT timeout 90 $w/bin/tilefuse_generated_gpu_tests "[generated]" > $OUT/sweep.log 2>&1
echo "sweep rc=$? at $((SECONDS - T0)) s"; grep -E "^generated|passed|failed|FAIL" $OUT/sweep.log | head -6
TILEFUSE_SPECS_DIR=specs timeout 60 $w/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s"; grep -E "passed|failed|FAIL" $OUT/varlen.log | head -4
echo "== ALiBi + causal with FlexAttention"
mkdir -p $OUT/bench
OUT=$OUT/bench TF_CASES=0 TF_ONLY=alibi timeout 120 bash tools/device-bench.sh > $OUT/bench.log 2>&1
echo "bench rc=$? at $((SECONDS - T0)) s"; grep alibi $OUT/bench/table.md | head -1
tf=$w/bin/tilefuse
echo "== sigmoid schedules (B4 H16 S4096 D128 causal)"
base='"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem"'
timeout 30 $tf bench specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --reps 30 2>&1 | grep -E "^time" | sed "s|^|causal default: |"
for ov in '"overlap":"pingpong"' '"overlap":"pingpong_intra"' '"overlap":"pingpong","persistent":true' '"overlap":"intra"'; do
  timeout 30 $tf bench specs/sigmoid_attention.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --reps 30 --schedule "{$base,$ov}" 2>&1 | grep -E "^time|FAIL|error" | head -2 | sed "s|^|sigmoid $ov: |"
done
for spec in sigmoid_attention causal; do
  $tf emit specs/$spec.json --arch sm_90a --S 4096 --format cubin -o /tmp/$spec.cubin 2>/dev/null
  cuobjdump -sass /tmp/$spec.cubin | gzip -9 > $OUT/$spec.sass.gz
done
echo "== energy objective at $((SECONDS - T0)) s"
BUDGET=150 timeout 170 bash docs/results/v0.8/scripts/energy-objective.sh > $OUT/energy.log 2>&1
echo "energy rc=$? at $((SECONDS - T0)) s"; tail -n 12 $OUT/energy.log
echo "== density at $((SECONDS - T0)) s"
DENSITY_BUDGET=${DENSITY_BUDGET:-100} DENSITY_ARGS=--quick timeout 180 bash docs/results/v0.8/scripts/density.sh > $OUT/density-run.log 2>&1
echo "density rc=$? at $((SECONDS - T0)) s"; tail -n 30 $OUT/density-run.log
