#!/usr/bin/env bash
# v0.14 device call 2 (carry .device-carry: bundle/ = this tree's binaries, as in call 1).
#   run(command="bash docs/results/v0.14/scripts/c2.sh", carry=[".device-carry"], timeout_s=600)
# 1. ALiBi + causal (B4 H16 S4096 D128): the default schedule (32-bit position compares) against the same
#    with "compares64", interleaved, one process per run, 3 rounds; then `tilefuse tune` and the tuned kernel.
# 2. FlexAttention's variants (peers.py --variants) in the same call.
# 3. The packed batch on its default grid, 4 more runs each (call 1 had 3), with the SM clock.
# 4. The generated sweep of the 5 specs whose v0.13 sm90 kernels were checked on the GPU only in form A.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
D='{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong"}'
W='{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong","compares64":true}'
for round in 1 2 3; do
  for n in i32 i64; do
    s=$D; [ $n = i64 ] && s=$W
    echo "round $round alibi $n: $(TILEFUSE_CACHE_DIR=/tmp/c-ab timeout 60 $tf bench specs/alibi.json --B 4 --S 4096 --reps 50 \
      --schedule "$s" 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | tr '\n' ' ')"
  done
done 2>&1 | tee $OUT/alibi-rounds.txt
echo "tune at $((SECONDS - T0)) s"
TILEFUSE_CACHE_DIR=/tmp/c-tune timeout 120 $tf tune specs/alibi.json --B 4 --S 4096 > $OUT/alibi-tune.log 2>&1
echo "tune rc=$?: $(grep -iE "winner|best|cached" $OUT/alibi-tune.log | head -n 3 | tr '\n' ' ')"
echo "tuned alibi: $(TILEFUSE_CACHE_DIR=/tmp/c-tune timeout 60 $tf bench specs/alibi.json --B 4 --S 4096 --reps 50 2>&1 | grep -oE "schedule .*|median [0-9.]+ ms|FAIL[A-Z]*" | tr '\n' ' ')" | tee -a $OUT/alibi-rounds.txt
echo "peers at $((SECONDS - T0)) s"
PYTHONUNBUFFERED=1 timeout 150 python3 .device-carry/peers/peers.py --case 4,16,16,4096,128,1 --variants 2>&1 | grep -E "^\{" \
  | sed -E "s/'tflops'.*//" | tee $OUT/peers.txt
echo "packed at $((SECONDS - T0)) s"
for i in 1 2 3 4; do
  for spec in mha causal; do
    t=$(TILEFUSE_CACHE_DIR=/tmp/c-pk timeout 60 $tf bench specs/varlen/$spec.json --seqlens-random 128,4096,65536,1 --reps 30 \
        2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | tr '\n' ' ')
    echo "run $i $spec default: $t | $(nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader)"
  done
done 2>&1 | tee $OUT/packed-runs.txt
left=$((585 - (SECONDS - T0)))
echo "sweep from $((SECONDS - T0)) s, $left s left"
OUT=$OUT/checks SWEEP_SPECS="attention_sink block_diagonal sigmoid_attention softcap_decay t5_bias" SWEEP_TAGS="[generated]" \
  CHECK_STEPS="sweep" SWEEP_TIMEOUT=$((left - 20)) timeout $((left - 5)) bash tests/gpu/run_generated_checks.sh 2>&1 | tail -4
echo "done at $((SECONDS - T0)) s"
