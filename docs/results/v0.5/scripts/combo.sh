# One device call (carry .device-carry): packed sequences (GPU test, bench vs peers), the Python
# package's GPU tests + bench, then compute-sanitizer memcheck on the "[sanitize]" cases.
set -u
source tools/device-unpack.sh /tmp/tfb >/dev/null
export PATH=/usr/local/cuda/bin:$PATH
echo "== [varlen] GPU tests"
timeout 120 /tmp/tfb/bin/tilefuse_generated_gpu_tests "[varlen]" 2>&1 | tail -15
echo "== packed bench + peers"
timeout 120 python3 .device-carry/varlen_peers.py /tmp/cu.txt 2>&1 | grep -v Warning | tail -6
for s in "" '{"mma":"mma_sync_m16n8k16","block_m":128,"block_n":64,"warps":8,"kv_stages":3}'; do
  timeout 60 /tmp/tfb/bin/tilefuse bench specs/varlen/causal.json --seqlens-file /tmp/cu.txt --reps 30 ${s:+--schedule "$s"} 2>&1 | tail -5
done
echo "== python"
mkdir -p .device-carry/python/lib .device-carry/python/bin
for f in .device-carry/bundle/lib/*; do case "$f" in *libtilefuse*) ;; *) cp "$f" .device-carry/python/lib/ ;; esac; done
cp .device-carry/bundle/bin/tilefuse .device-carry/python/bin/
OUT=$OUT/py timeout 250 bash .device-carry/python/run.sh 2>&1 | tail -30
echo "python rc=${PIPESTATUS[0]}"
echo "== memcheck [sanitize]"
timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/tfb/bin/tilefuse_generated_gpu_tests "[sanitize]" > $OUT/memcheck.log 2>&1
echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|Invalid|passed|failed" $OUT/memcheck.log | head -6
