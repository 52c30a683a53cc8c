#!/usr/bin/env bash
# v0.13 device call 3 (carry .device-carry: bundle/ = this tree, "B": a position comparison with col
# coefficient +-1 written as col_offset(x) PRED r - col_base(x), one compare with an immediate per
# element; old/ = tilefuse of 68c11f7; var/tilefuse-A = 8e5bd68, `a row + b col PRED bound` as in calls 1-2;
# var/tilefuse-B = this tree).
#   run(command="bash docs/results/v0.13/scripts/c3.sh", carry=[".device-carry"], timeout_s=590)
# 1. old / A / B, heuristic defaults, interleaved, 1 round (calls 1-2: rounds agree to 0.01 ms); FlexAttention (--variants) in the same call.
# 2. [varlen] with B, then the generated sweep of 8 specs (calls 1-2 swept all 13 with A) (both backends, every sm90 variant)
#    with the time left.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-new >/dev/null
mkdir -p $OUT
declare -A bin
xz -dc .device-carry/old/tilefuse.xz > /tmp/tilefuse-old && bin[old]=/tmp/tilefuse-old
for n in A B; do xz -dc .device-carry/var/tilefuse-$n.xz > /tmp/tilefuse-$n && bin[$n]=/tmp/tilefuse-$n; done
chmod +x /tmp/tilefuse-*
one() { # binary-name label args...
  local n=$1 label=$2; shift 2
  echo "$label [$n]: $(TILEFUSE_CACHE_DIR=/tmp/c-$n timeout 60 ${bin[$n]} bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')"
}
for round in 1; do
  for n in old A B; do
    one $n "alibi causal" specs/alibi.json --B 4 --S 4096
    one $n "causal S4k sm80" specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 \
      --schedule '{"mma":"mma_sync_m16n8k16","block_m":128,"block_n":64,"warps":8,"kv_stages":2}'
    one $n "sliding1024" specs/bench/sliding1024_causal.json
    one $n "sliding4096 S16k" specs/sliding_window.json --B 1 --Hq 16 --Hkv 16 --S 16384
    one $n "llama causal" specs/causal.json --B 1 --Hq 32 --Hkv 8 --S 8192 --D 128
    one $n "softcap30" specs/bench/softcap30.json
  done
done 2>&1 | tee $OUT/ab.txt
echo "peers at $((SECONDS - T0)) s"
PYTHONUNBUFFERED=1 timeout 100 python3 .device-carry/peers/peers.py --case 1,32,8,8192,128,1 \
  --variants 2>&1 | grep -E "^\{" | grep -E "sdpa_cudnn|sliding|alibi|softcap" | sed -E "s/'tflops'.*//" | tee $OUT/peers.txt
timeout 80 /tmp/tf-new/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s: $(tail -n 2 $OUT/varlen.log | tr '\n' ' ')"
left=$((585 - (SECONDS - T0)))
echo "sweep from $((SECONDS - T0)) s, $left s left"
OUT=$OUT/checks SWEEP_SPECS="${C3_SPECS:-causal sliding_window alibi document_mask gqa mha relative_bias softcap}" SWEEP_TAGS="[generated]" CHECK_STEPS="sweep" SWEEP_TIMEOUT=$((left - 25)) timeout $((left - 5)) \
  bash tests/gpu/run_generated_checks.sh 2>&1 | tail -4
echo "done at $((SECONDS - T0)) s"
