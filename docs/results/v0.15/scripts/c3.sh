#!/usr/bin/env bash
# v0.15 call 3 (carry .device-carry: bundle/ = this tree's binaries; old/tilefuse.xz = the CLI of call 1,
# main at d4a7d46, whose packed grid is (ceil(max_seqlen_q / 128), Hq, B) blocks, those past a sequence's
# end exiting at once). The packed grid of Q tiles (GridRule::packedTiles, codegen.cuh packed_tile_of):
# 1. [varlen] on every backend, now with a batch of 300 sequences (3 rounds of the tile scan).
# 2. compute-sanitizer memcheck of packed kernels, odd lengths and ~300 random ones.
# 3. The packed batch (U[128, 4096], 64k tokens, seed 1, H16 D128), old against new, default schedules,
#    interleaved, one process per run, 3 rounds; both in steady state (tilefuse bench --warmup-ms 500).
# 4. The packed table with FlexAttention / SDPA in steady state (peers --warmup-ms 500).
#   run(command="bash docs/results/v0.15/scripts/c3.sh", carry=[".device-carry"], timeout_s=600)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
declare -A bin
bin[new]=/tmp/tf/bin/tilefuse
xz -dc .device-carry/old/tilefuse.xz > /tmp/tilefuse-old && chmod +x /tmp/tilefuse-old && bin[old]=/tmp/tilefuse-old
mkdir -p $OUT
timeout 170 /tmp/tf/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s: $(tail -n 2 $OUT/varlen.log | tr '\n' ' ')"
for spec in causal mha alibi; do
  for lens in "--cu-seqlens 0,1,64,128,193,4290,4291,4355" "--seqlens-random 1,200,30000,3"; do
    TILEFUSE_CACHE_DIR=/tmp/c-ms timeout 90 compute-sanitizer --tool memcheck --print-limit 5 ${bin[new]} bench \
      specs/varlen/$spec.json $lens --Hq 4 --Hkv 4 --reps 2 --warmup 1 --warmup-ms 0 > /tmp/ms.log 2>&1
    echo "memcheck $spec ${lens%% *} rc=$?: $(grep -E 'ERROR SUMMARY' /tmp/ms.log) $(grep -c PASS /tmp/ms.log) PASS"
  done
done 2>&1 | tee $OUT/memcheck-summary.log
echo "packed rounds at $((SECONDS - T0)) s"
for round in 1 2 3; do
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
TILEFUSE=${bin[new]} OUT=/tmp/packed PEERS_ARGS="--warmup-ms 500" BUDGET=$((left - 10)) bash tools/device-bench-packed.sh > /tmp/packed.log 2>&1
echo "packed bench rc=$? at $((SECONDS - T0)) s"
cp /tmp/packed/packed-table.md $OUT/packed-table.md 2>/dev/null || tail -20 /tmp/packed.log
cat $OUT/packed-table.md
echo "done at $((SECONDS - T0)) s"
