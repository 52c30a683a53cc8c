#!/usr/bin/env bash
# v0.14 device call 1 (carry .device-carry: bundle/ = this tree's binaries, tools/device-bundle.sh).
#   run(command="bash docs/results/v0.14/scripts/c1.sh", carry=[".device-carry"], timeout_s=600)
# 1. [varlen] on every backend, now with "sm90:persistent" (packed sequences on the persistent grid).
# 2. compute-sanitizer memcheck of packed persistent kernels (causal and non-causal, odd lengths).
# 3. The packed batch (U[128, 4096], 64k tokens, seed 1, H16 D128), one-block-per-tile grid ("grid") against
#    the persistent grid ("persistent"), interleaved, one process per run, 3 rounds.
# 4. The packed table with FlexAttention / SDPA (tools/device-bench-packed.sh) for the persistent schedule.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
G='{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong"}'
P='{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong","persistent":true}'
timeout 150 /tmp/tf/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s: $(tail -n 2 $OUT/varlen.log | tr '\n' ' ')"
grep -E "sm90:persistent" $OUT/varlen.log | head -n 3
for spec in causal mha alibi; do
  TILEFUSE_CACHE_DIR=/tmp/c-ms timeout 100 compute-sanitizer --tool memcheck --print-limit 5 $tf bench specs/varlen/$spec.json \
    --cu-seqlens 0,1,64,128,193,4290,4291,4355 --Hq 4 --Hkv 4 --reps 2 --schedule "$P" > $OUT/memcheck-$spec.log 2>&1
  echo "memcheck $spec rc=$?: $(grep -E 'ERROR SUMMARY|median|FAIL|error' $OUT/memcheck-$spec.log | head -n 3 | tr '\n' ' ')"
done
echo "packed rounds at $((SECONDS - T0)) s"
for round in 1 2 3; do
  for spec in mha causal; do
    for g in grid persistent; do
      s=$G; [ $g = persistent ] && s=$P
      t=$(TILEFUSE_CACHE_DIR=/tmp/c-pk timeout 60 $tf bench specs/varlen/$spec.json --seqlens-random 128,4096,65536,1 \
          --reps 30 --schedule "$s" 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | tr '\n' ' ')
      echo "round $round $spec $g: $t"
    done
  done
done 2>&1 | tee $OUT/packed-rounds.txt
left=$((590 - (SECONDS - T0)))
echo "packed table at $((SECONDS - T0)) s, $left s left"
TILEFUSE=$tf TF_SCHEDULE="$P" OUT=$OUT/packed BUDGET=$((left - 10)) bash tools/device-bench-packed.sh > $OUT/packed.log 2>&1
echo "packed bench rc=$? at $((SECONDS - T0)) s"
cp $OUT/packed/packed-table.md $OUT/packed-table.md 2>/dev/null; rm -rf $OUT/packed
cat $OUT/packed-table.md
echo "done at $((SECONDS - T0)) s"
