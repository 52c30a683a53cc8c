#!/usr/bin/env bash
# v0.11 device call 7 (carry .device-carry: bundle/ at 028eaa0, loop rotation across tiles; old/ = tilefuse and
# libtilefuse of 1567401, before it).
#   run(command="bash docs/results/v0.11/scripts/c7.sh", carry=[".device-carry"], timeout_s=480)
# 1. The generated sweep (both backends, every sm90 variant) of four specs whose persistent kernels the
#    rotation changes, then compute-sanitizer memcheck (sm80, sm90) and racecheck (sm80) on one small case per
#    spec (the sm90 defaults of these four are persistent pingpong).
# 2. Before / after, heuristic default schedules, interleaved; FlexAttention / cuDNN in the same call.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
OUT=$OUT/checks SWEEP_SPECS="mha causal document_mask sliding_window" SWEEP_TAGS="[generated]" \
  CHECK_STEPS="sweep sanitize" SWEEP_TIMEOUT=240 timeout 330 bash tests/gpu/run_generated_checks.sh 2>&1 | tail -12
echo "checks at $((SECONDS - T0)) s"
source tools/device-unpack.sh /tmp/tf-c7 >/dev/null
tf=/tmp/tf-c7/bin/tilefuse
rm -rf /tmp/old-c7 && cp -r /tmp/tf-c7 /tmp/old-c7
xz -dc .device-carry/old/tilefuse.xz > /tmp/old-c7/bin/tilefuse && chmod +x /tmp/old-c7/bin/tilefuse
xz -dc .device-carry/old/libtilefuse.so.0.2.0.xz > /tmp/old-c7/lib/libtilefuse.so.0.2.0
ab() { # label args...
  local label=$1; shift
  a=$(TILEFUSE_CACHE_DIR=/tmp/c7-new timeout 60 $tf bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')
  b=$(LD_LIBRARY_PATH=/tmp/old-c7/lib:$LD_LIBRARY_PATH TILEFUSE_CACHE_DIR=/tmp/c7-old timeout 60 /tmp/old-c7/bin/tilefuse \
      bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')
  echo "$label: rotation $a| before $b"
}
for round in 1 2; do
  ab "S1k" specs/mha.json --B 16 --Hq 16 --Hkv 16 --S 1024 --D 128
  ab "S4k" specs/mha.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128
  ab "sliding1024" specs/bench/sliding1024_causal.json
  TILEFUSE_BENCH_DOC_LENGTH=512 ab "doc8" specs/document_mask.json --B 4 --S 4096
  ab "D64 S4k" specs/mha.json --B 4 --Hq 32 --Hkv 32 --S 4096 --D 64
done 2>&1 | tee $OUT/ab.txt
ab "S16k" specs/mha.json --B 1 --Hq 16 --Hkv 16 --S 16384 --D 128 | tee -a $OUT/ab.txt
echo "peers at $((SECONDS - T0)) s"
PYTHONUNBUFFERED=1 timeout 150 python3 .device-carry/peers/peers.py --case 16,16,16,1024,128,0 --case 4,16,16,4096,128,0 \
  --variants 2>&1 | grep -E "^\{" | grep -E "sdpa_cudnn|sliding1024|document_8" | sed -E "s/'tflops'.*//" | tee $OUT/peers.txt
echo "done at $((SECONDS - T0)) s"
