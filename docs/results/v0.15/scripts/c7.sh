#!/usr/bin/env bash
# v0.15 call 7 (carry .device-carry: bundle/ = this tree's binaries, main's final packed prologue;
# old/tilefuse.xz = the CLI of call 1, main at d4a7d46). The packed tile now carries the sequence's offsets
# (packed_block_tile loads cu_seqlens_q and cu_seqlens_k together; the prologue no longer loads them again).
# 1. [varlen] on every backend. 2. memcheck: odd lengths, and one long sequence among 1000 short ones.
# 3. old against new on the uniform 64k-token batch (2 rounds) and new on the skewed one (16384 + 1000 x 48).
#   run(command="bash docs/results/v0.15/scripts/c7.sh", carry=[".device-carry"], timeout_s=420)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
declare -A bin
bin[new]=/tmp/tf/bin/tilefuse
xz -dc .device-carry/old/tilefuse.xz > /tmp/tilefuse-old && chmod +x /tmp/tilefuse-old && bin[old]=/tmp/tilefuse-old
mkdir -p $OUT
python3 -c "
import itertools
l=[16384]+[48]*1000
print(','.join(str(x) for x in itertools.accumulate([0]+l)))" > /tmp/skewed.txt
python3 -c "
import itertools
l=[2000]+[i % 37 for i in range(1000)]
print(','.join(str(x) for x in itertools.accumulate([0]+l)))" > /tmp/skewed-small.txt
timeout 200 /tmp/tf/bin/tilefuse_generated_gpu_tests "[varlen]" > /tmp/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s: $(tail -n 2 /tmp/varlen.log | tr '\n' ' ')" | tee $OUT/varlen-summary.log
grep -E "^  sequence|elements of O|FAILED|with message" -A2 /tmp/varlen.log | head -20 | tee -a $OUT/varlen-summary.log
for spec in causal mha; do
  for lens in "--cu-seqlens 0,1,64,128,193,4290,4291,4355" "--seqlens-file /tmp/skewed-small.txt"; do
    TILEFUSE_CACHE_DIR=/tmp/c-ms timeout 90 compute-sanitizer --tool memcheck --print-limit 5 ${bin[new]} bench \
      specs/varlen/$spec.json $lens --Hq 4 --Hkv 4 --reps 2 --warmup 1 --warmup-ms 0 > /tmp/ms.log 2>&1
    echo "memcheck $spec ${lens%% *} rc=$?: $(grep -E 'ERROR SUMMARY' /tmp/ms.log) $(grep -c PASS /tmp/ms.log) PASS"
  done
done 2>&1 | tee $OUT/memcheck-summary.log
for round in 1 2; do
  for batch in uniform skewed; do
    lens="--seqlens-random 128,4096,65536,1"; [ $batch = skewed ] && lens="--seqlens-file /tmp/skewed.txt"
    for spec in mha causal; do
      for n in old new; do
        [ $batch = skewed ] && [ $n = old ] && continue
        [ $((SECONDS - T0)) -gt 380 ] && continue
        t=$(TILEFUSE_CACHE_DIR=/tmp/c-$n timeout 60 ${bin[$n]} bench specs/varlen/$spec.json $lens \
            --reps 30 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | tr '\n' ' ')
        echo "round $round $batch $spec $n: $t"
      done
    done
  done
done 2>&1 | tee $OUT/packed-rounds.txt
echo "done at $((SECONDS - T0)) s"
