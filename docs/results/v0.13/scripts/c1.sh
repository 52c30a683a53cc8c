#!/usr/bin/env bash
# v0.13 device call 1 (carry .device-carry: bundle/ = this tree, position comparisons as 32-bit compares of
# row / col against per-tile bounds; old/ = tilefuse and libtilefuse of 68c11f7, before the change).
#   run(command="bash docs/results/v0.13/scripts/c1.sh", carry=[".device-carry"], timeout_s=590)
# 1. Before / after, heuristic default schedules, interleaved, 2 rounds; FlexAttention / cuDNN in the same call.
# 2. With the time left: [varlen] (packed causal and window masks are position comparisons relative to each
#    sequence), then the generated sweep (both backends, every sm90 variant) of causal, sliding_window, alibi
#    and document_mask, and compute-sanitizer memcheck / racecheck on one small case per spec. Every
#    spec's kernel changes (the K/V tail mask is a position comparison); call 2 sweeps the others.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-new >/dev/null
mkdir -p $OUT
tf=/tmp/tf-new/bin/tilefuse
rm -rf /tmp/tf-old && cp -r /tmp/tf-new /tmp/tf-old
xz -dc .device-carry/old/tilefuse.xz > /tmp/tf-old/bin/tilefuse && chmod +x /tmp/tf-old/bin/tilefuse
[ -f .device-carry/old/libtilefuse.so.xz ] && xz -dc .device-carry/old/libtilefuse.so.xz > "$(ls /tmp/tf-old/lib/libtilefuse.so.* | head -1)"
ab() { # label args...
  local label=$1; shift
  a=$(TILEFUSE_CACHE_DIR=/tmp/c-new timeout 60 $tf bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')
  b=$(LD_LIBRARY_PATH=/tmp/tf-old/lib:$LD_LIBRARY_PATH TILEFUSE_CACHE_DIR=/tmp/c-old timeout 60 /tmp/tf-old/bin/tilefuse \
      bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')
  echo "$label: after $a| before $b"
}
# The same 9 K/V tiles per Q tile as sliding1024 at BLOCK 128x128, none of them partial: what the two
# masked tiles per Q tile of sliding1024 still cost.
cat > /tmp/aligned.json <<'JSON'
{"name": "aligned_window", "dtype": "bf16", "head_dim": 128, "heads": {"q": 16, "kv": 16},
 "description": "9 whole 128-key tiles per 128-query tile",
 "mask_mod": "kv_idx >= (q_idx // 128) * 128 - 1024 && kv_idx <= (q_idx // 128) * 128 + 127",
 "shape": {"B": 4, "Sq": 4096, "Sk": 4096}}
JSON
for round in 1 2; do
  ab "aligned window (no partial tile)" /tmp/aligned.json
  ab "sliding1024" specs/bench/sliding1024_causal.json
  ab "causal S4k" specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128
  ab "causal S16k 128x192" specs/causal.json --B 1 --Hq 16 --Hkv 16 --S 16384 --D 128 \
    --schedule '{"mma":"wgmma","block_m":128,"block_n":192,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong"}'
  ab "llama causal" specs/causal.json --B 1 --Hq 32 --Hkv 8 --S 8192 --D 128
  ab "alibi causal" specs/alibi.json --B 4 --S 4096
  ab "sliding4096 S16k" specs/sliding_window.json --B 1 --Hq 16 --Hkv 16 --S 16384
  ab "causal S4k sm80" specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 \
    --schedule '{"mma":"mma_sync_m16n8k16","block_m":128,"block_n":64,"warps":8,"kv_stages":2}'
done 2>&1 | tee $OUT/ab.txt
echo "peers at $((SECONDS - T0)) s"
PYTHONUNBUFFERED=1 timeout 150 python3 .device-carry/peers/peers.py --case 4,16,16,4096,128,1 --case 1,16,16,16384,128,1 \
  --variants 2>&1 | grep -E "^\{" | grep -E "sdpa_cudnn|sliding|alibi" | sed -E "s/'tflops'.*//" | tee $OUT/peers.txt
timeout 100 /tmp/tf-new/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s: $(tail -n 2 $OUT/varlen.log | tr '\n' ' ')"
left=$((575 - (SECONDS - T0)))
echo "checks from $((SECONDS - T0)) s, $left s left"
OUT=$OUT/checks SWEEP_SPECS="${C1_SPECS:-causal sliding_window alibi document_mask}" SWEEP_TAGS="[generated]" \
  CHECK_STEPS="sweep sanitize" SWEEP_TIMEOUT=$((left - 40)) timeout $((left - 10)) bash tests/gpu/run_generated_checks.sh 2>&1 | tail -8
echo "checks at $((SECONDS - T0)) s"
echo "done at $((SECONDS - T0)) s"
