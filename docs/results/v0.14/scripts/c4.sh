#!/usr/bin/env bash
# v0.14 device call 4 (carry .device-carry: bundle/ = this tree's binaries; old/tilefuse.xz = the CLI of
# call 3, whose packed epilogue copies all of O out with 16-byte stores).
#   run(command="bash docs/results/v0.14/scripts/c4.sh", carry=[".device-carry"], timeout_s=600)
# 1. [varlen] on every backend (the packed sm90 epilogue now stores whole warpgroups of rows by TMA).
# 2. compute-sanitizer memcheck of packed kernels (default schedule and persistent), odd lengths.
# 3. The packed batch (U[128, 4096], 64k tokens, seed 1, H16 D128), old against new, default schedules,
#    interleaved, one process per run, 4 rounds.
# 4. The packed table with FlexAttention / SDPA (tools/device-bench-packed.sh), new default schedule.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
declare -A bin
bin[new]=/tmp/tf/bin/tilefuse
xz -dc .device-carry/old/tilefuse.xz > /tmp/tilefuse-old && chmod +x /tmp/tilefuse-old && bin[old]=/tmp/tilefuse-old
mkdir -p $OUT
P='{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong","persistent":true}'
timeout 150 /tmp/tf/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s: $(tail -n 2 $OUT/varlen.log | tr '\n' ' ')"
for spec in causal mha alibi; do
  for s in default persistent; do
    TILEFUSE_CACHE_DIR=/tmp/c-ms timeout 100 compute-sanitizer --tool memcheck --print-limit 5 ${bin[new]} bench \
      specs/varlen/$spec.json --cu-seqlens 0,1,64,128,193,4290,4291,4355 --Hq 4 --Hkv 4 --reps 2 \
      $([ $s = persistent ] && echo --schedule "$P") > $OUT/memcheck-$spec-$s.log 2>&1
    echo "memcheck $spec $s rc=$?: $(grep -E 'ERROR SUMMARY' $OUT/memcheck-$spec-$s.log) $(grep -c PASS $OUT/memcheck-$spec-$s.log) PASS"
  done
done
echo "packed rounds at $((SECONDS - T0)) s"
for round in 1 2 3 4; do
  for spec in mha causal; do
    for n in old new; do
      t=$(TILEFUSE_CACHE_DIR=/tmp/c-$n timeout 60 ${bin[$n]} bench specs/varlen/$spec.json --seqlens-random 128,4096,65536,1 \
          --reps 30 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | tr '\n' ' ')
      echo "round $round $spec $n: $t"
    done
  done
done 2>&1 | tee $OUT/packed-rounds.txt
left=$((590 - (SECONDS - T0)))
echo "packed table at $((SECONDS - T0)) s, $left s left"
TILEFUSE=${bin[new]} OUT=$OUT/packed BUDGET=$((left - 10)) bash tools/device-bench-packed.sh > $OUT/packed.log 2>&1
echo "packed bench rc=$? at $((SECONDS - T0)) s"
cp $OUT/packed/packed-table.md $OUT/packed-table.md 2>/dev/null; rm -rf $OUT/packed
cat $OUT/packed-table.md
echo "done at $((SECONDS - T0)) s"
