#!/usr/bin/env bash
# v0.12 device call 1 (carry .device-carry: bundle/ = this tree, the sm90 epilogue through shared memory + TMA
# store; old/ = tilefuse and libtilefuse of 1567401, whose kernels main generated before it).
#   run(command="bash docs/results/v0.12/scripts/c1.sh", carry=[".device-carry"], timeout_s=560)
# 1. The generated sweep (both backends, every sm90 variant) of the specs whose output path the change
#    touches (plain, causal + LSE, GQA + LSE, a capture-reading mask, a window), then compute-sanitizer
#    memcheck / racecheck on one small case per spec.
# 2. Before / after, heuristic default schedules, interleaved; cuDNN / FlexAttention in the same call.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
OUT=$OUT/checks SWEEP_SPECS="mha causal gqa document_mask sliding_window" SWEEP_TAGS="[generated]" \
  CHECK_STEPS="sweep sanitize" SWEEP_TIMEOUT=240 timeout 330 bash tests/gpu/run_generated_checks.sh 2>&1 | tail -12
echo "checks at $((SECONDS - T0)) s"
source tools/device-unpack.sh /tmp/tf-new >/dev/null
tf=/tmp/tf-new/bin/tilefuse
rm -rf /tmp/tf-old && cp -r /tmp/tf-new /tmp/tf-old
xz -dc .device-carry/old/tilefuse.xz > /tmp/tf-old/bin/tilefuse && chmod +x /tmp/tf-old/bin/tilefuse
xz -dc .device-carry/old/libtilefuse.so.0.2.0.xz > /tmp/tf-old/lib/libtilefuse.so.0.2.0
ab() { # label args...
  local label=$1; shift
  a=$(TILEFUSE_CACHE_DIR=/tmp/c-new timeout 60 $tf bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')
  b=$(LD_LIBRARY_PATH=/tmp/tf-old/lib:$LD_LIBRARY_PATH TILEFUSE_CACHE_DIR=/tmp/c-old timeout 60 /tmp/tf-old/bin/tilefuse \
      bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')
  echo "$label: tma-store $a| before $b"
}
mkdir -p $OUT
for round in 1 2; do
  ab "S1k" specs/mha.json --B 16 --Hq 16 --Hkv 16 --S 1024 --D 128
  ab "S4k" specs/mha.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128
  ab "causal S4k" specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128
  ab "sliding1024" specs/bench/sliding1024_causal.json
  TILEFUSE_BENCH_DOC_LENGTH=512 ab "doc8" specs/document_mask.json --B 4 --S 4096
  ab "D64 S4k" specs/mha.json --B 4 --Hq 32 --Hkv 32 --S 4096 --D 64
  ab "S512" specs/mha.json --B 32 --Hq 16 --Hkv 16 --S 512 --D 128
done 2>&1 | tee $OUT/ab.txt
echo "peers at $((SECONDS - T0)) s"
PYTHONUNBUFFERED=1 timeout 150 python3 .device-carry/peers/peers.py --case 16,16,16,1024,128,0 --case 4,16,16,4096,128,0 \
  --variants 2>&1 | grep -E "^\{" | grep -E "sdpa_cudnn|sliding1024|document_8" | sed -E "s/'tflops'.*//" | tee $OUT/peers.txt
echo "done at $((SECONDS - T0)) s"
