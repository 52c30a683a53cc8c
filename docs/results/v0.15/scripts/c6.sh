#!/usr/bin/env bash
# v0.15 call 6: call 4's intermittent failure of the persistent packed kernel (call 5 passed the same test).
# compute-sanitizer racecheck and synccheck of the persistent schedule on 300 sequences (1100 tokens, then
# 0-40), causal D64 GQA 2:1 as in call 4; then the [varlen] test on the persistent backend twice more.
#   run(command="bash docs/results/v0.15/scripts/c6.sh", carry=[".device-carry"], timeout_s=400)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
mkdir -p $OUT
python3 -c "
import itertools
l=[1100 if i==0 else 0 if i%5==3 else (i*7919+13)%41 for i in range(300)]
print(','.join(str(x) for x in itertools.accumulate([0]+l)))" > /tmp/many.txt
P='{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong","persistent":true}'
for tool in racecheck synccheck; do
  TILEFUSE_CACHE_DIR=/tmp/c6 timeout 150 compute-sanitizer --tool $tool --print-limit 10 /tmp/tf/bin/tilefuse bench \
    specs/varlen/causal.json --seqlens-file /tmp/many.txt --D 64 --Hq 2 --Hkv 1 --schedule "$P" --reps 1 --warmup 0 \
    --warmup-ms 0 > $OUT/$tool.log 2>&1
  echo "$tool rc=$? at $((SECONDS - T0)) s: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $OUT/$tool.log | tr '\n' ' ')"
  grep -m5 -E "Error|Race|Hazard|Barrier" $OUT/$tool.log
done
for i in 1 2; do
  [ $((SECONDS - T0)) -gt 300 ] && break
  TILEFUSE_TEST_BACKENDS=sm90:persistent timeout 90 /tmp/tf/bin/tilefuse_generated_gpu_tests "[varlen]" > /tmp/v.log 2>&1
  echo "varlen persistent run $i rc=$?: $(tail -n 2 /tmp/v.log | tr '\n' ' ')"
  grep -E "^  sequence|elements of O" /tmp/v.log | head -10
done
echo "done at $((SECONDS - T0)) s"
