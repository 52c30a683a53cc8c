#!/usr/bin/env bash
# v0.17 call 2: stick-breaking attention (specs/stick_breaking.json, issue 13 item 1) on the GPU, and the
# approximate log / log1p (tfcg::log, tfcg::log1p) in every kernel that computes an LSE.
# 1. warp::row_scan_sum against an fp64 scan (tilefuse_gpu_tests "row scans", carried in .device-carry/gpu).
# 2. fp64 checks (`tilefuse bench`, FlashAttention's rule) of stick_breaking on both backends, odd lengths,
#    GQA, Sq != Sk, one-row and 64-row sequences, BLOCK_N 64 / 128.
# 3. The generated sweep and the sanitizers on the specs the change touches (SWEEP_SPECS).
# 4. Speed in steady state: stick_breaking against causal softmax attention, tuned, B4 H16 S4096 D128 and
#    B1 H16 S16384 D128 (2 rounds).
#   run(command="bash docs/results/v0.17/scripts/c2.sh", carry=[".device-carry"], timeout_s=590)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
mkdir -p $OUT
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
# 1. the device scan (the test binary reads its kernels from the source tree's tests/gpu)
mkdir -p /work/main/tests && ln -sfn "$PWD/tests/gpu" /work/main/tests/gpu
xz -dc .device-carry/gpu/tilefuse_gpu_tests.xz > /tmp/tf/bin/tilefuse_gpu_tests && chmod +x /tmp/tf/bin/tilefuse_gpu_tests
/tmp/tf/bin/tilefuse_gpu_tests "[primitives]" 2>&1 | tail -4 | tee $OUT/primitives.txt
# 2. fp64 checks
for v in "--B 2 --S 777|mma_sync_m16n8k16|64|64" "--B 2 --S 777|wgmma|128|128" "--B 1 --Hq 8 --Hkv 2 --S 1000|wgmma|128|64" \
         "--B 1 --Hq 8 --Hkv 2 --S 1000|mma_sync_m16n8k16|128|64" "--B 2 --Sq 300 --Sk 1000|wgmma|128|128" \
         "--B 3 --S 64|wgmma|128|128" "--B 2 --S 1|mma_sync_m16n8k16|64|64" "--B 1 --S 4097|wgmma|128|128" \
         "--B 1 --S 2048 --D 64|wgmma|192|128" "--B 1 --S 2048|default||"; do
  IFS='|' read -r flags mma bm bn <<<"$v"
  s=()
  [ "$mma" != default ] && s=(--schedule '{"block_m":'$bm',"block_n":'$bn',"warps":'$((bm / 16))',"mma":"'$mma'","kv_stages":2}')
  # shellcheck disable=SC2086
  r=$(TILEFUSE_CACHE_DIR=/tmp/c2 timeout 90 $tf bench specs/stick_breaking.json $flags "${s[@]}" --reps 3 --warmup-ms 0 2>&1 |
      grep -oE -- "-> (PASS|FAIL.{0,80})|max err[^,]*|error: .{0,240}" | head -3 | tr '\n' ' ')
  echo "check stick_breaking $flags $mma $bm x $bn: $r"
done 2>&1 | tee $OUT/checks.txt
echo "sweep at $((SECONDS - T0)) s"
# 3. the generated sweep on the touched specs (stick_breaking; LSE: causal, attention_sink; log1p: softcap_decay)
SWEEP_SPECS="stick_breaking causal attention_sink softcap_decay sigmoid_attention" SWEEP_TAGS="[generated]" \
  CHECK_STEPS="sweep sanitize" OUT=/tmp/gen timeout 240 bash tests/gpu/run_generated_checks.sh > /tmp/gen.log 2>&1
echo "generated rc=$?"; grep -E "test cases|assertions|FAILED|ERROR SUMMARY|skipped" /tmp/gen.log | head -12 | tee $OUT/generated.txt
cp /tmp/gen/generated_sweep.md $OUT/ 2>/dev/null
echo "speed at $((SECONDS - T0)) s"
# 4. stick-breaking against causal softmax, tuned, steady state
for round in 1 2; do
  for shape in "--B 4 --S 4096" "--B 1 --S 16384"; do
    for spec in stick_breaking causal; do
      [ $((SECONDS - T0)) -gt 540 ] && continue
      # shellcheck disable=SC2086
      [ $round = 1 ] && TILEFUSE_CACHE_DIR=/tmp/c2t timeout 60 $tf tune specs/$spec.json $shape > /tmp/tune.log 2>&1 &&
        echo "tune $spec $shape: $(grep -E '^winner' /tmp/tune.log | cut -c1-200)"
      # shellcheck disable=SC2086
      r=$(TILEFUSE_CACHE_DIR=/tmp/c2t timeout 60 $tf bench specs/$spec.json $shape --reps 30 --energy 2>&1 |
          grep -oE "median [0-9.]+ ms|[0-9.]+ TFLOP/s|[0-9.]+ J per call|FAIL[A-Z]*|error: .{0,160}" | tr '\n' ' ')
      echo "round $round $spec $shape: $r"
    done
  done
done 2>&1 | tee $OUT/speed.txt
echo "done at $((SECONDS - T0)) s"
