# Device call B of session 1 (carry .device-carry): the bench of four sm90 schedules and the peers in one
# call, the normalizer speed target, the Python package's GPU tests + host overhead, memcheck.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
left() { echo $(( ${1} - (SECONDS - T0) )); }
S1='{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong","persistent":true}'
S2='{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong_intra","persistent":true}'
S3='{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong_intra"}'
S4='{"mma":"wgmma","block_m":128,"block_n":176,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong_intra","persistent":true}'
mkdir -p $OUT/bench
OUT=$OUT/bench SKIP_CHECKS=1 TF_SCHEDULES="$S1;$S2;$S3;$S4" timeout 330 bash tools/device-all.sh > $OUT/bench/all.log 2>&1
echo "bench rc=$? at $((SECONDS - T0)) s"
tail -n 80 $OUT/bench/bench-table.md 2>/dev/null
source tools/device-unpack.sh /tmp/tf-smoke-bundle >/dev/null
tf=/tmp/tf-smoke-bundle/bin/tilefuse
echo "== normalizers (B4 H16 S4096 D128 causal)"
for spec in sigmoid_attention causal attention_sink; do
  for s in "" "$S2"; do
    timeout 40 $tf bench specs/$spec.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --reps 20 ${s:+--schedule "$s"} 2>&1 | grep -E "median|TFLOP|check|PASS|FAIL|error" | head -4 | sed "s|^|$spec ${s:+S2} |"
  done
done
echo "== python at $((SECONDS - T0)) s"
mkdir -p .device-carry/python/lib .device-carry/python/bin
for f in .device-carry/bundle/lib/*; do case "$f" in *libtilefuse*) ;; *) cp "$f" .device-carry/python/lib/ ;; esac; done
cp .device-carry/bundle/bin/tilefuse .device-carry/python/bin/
OUT=$OUT/py BENCH_ARGS=--overhead-only timeout $(left 540) bash .device-carry/python/run.sh > $OUT/python.log 2>&1
echo "python rc=$?"; grep -E "passed|failed|error" $OUT/python.log | tail -5; tail -n 25 $OUT/python.log
echo "== memcheck [sanitize] at $((SECONDS - T0)) s"
timeout $(left 590) compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/tf-smoke-bundle/bin/tilefuse_generated_gpu_tests "[sanitize]" > $OUT/memcheck.log 2>&1
echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|Invalid|passed|failed" $OUT/memcheck.log | head -6
