#!/usr/bin/env bash
# v0.15 call 5: call 4's [varlen] failure on the persistent grid (sm90:persistent, causal D64 GQA 2:1, 300
# sequences: 1100 tokens then 0-40). [varlen] on that backend alone, now naming each failing sequence, and
# `tilefuse bench` of the persistent schedule on similar lengths, varying D, GQA and the mask.
#   run(command="bash docs/results/v0.15/scripts/c5.sh", carry=[".device-carry"], timeout_s=300)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
mkdir -p $OUT
TILEFUSE_TEST_BACKENDS=sm90:persistent timeout 120 /tmp/tf/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen-persistent.log 2>&1
echo "varlen persistent rc=$? at $((SECONDS - T0)) s"
grep -E "^  sequence|elements of O|FAILED|assertions" $OUT/varlen-persistent.log | head -30
python3 -c "
import itertools
l=[1100 if i==0 else 0 if i%5==3 else (i*7919+13)%41 for i in range(300)]
print(','.join(str(x) for x in itertools.accumulate([0]+l)))" > /tmp/many.txt
P='{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong","persistent":true}'
for spec in causal mha; do
  for dims in "--D 64 --Hq 2 --Hkv 1" "--D 64 --Hq 2 --Hkv 2" "--D 128 --Hq 2 --Hkv 1" "--D 64 --Hq 16 --Hkv 16"; do
    r=$(TILEFUSE_CACHE_DIR=/tmp/c5 timeout 60 /tmp/tf/bin/tilefuse bench specs/varlen/$spec.json --seqlens-file /tmp/many.txt \
        $dims --schedule "$P" --reps 3 --warmup-ms 0 --json 2>&1 | python3 -c "
import json,sys
t=sys.stdin.read()
try:
  d=json.loads(t); print('passed' if d['passed'] else 'FAILED', 'small', d['check_small'].get('passed'), d['check_small'].get('worst'), 'sampled', d['check_sampled'].get('passed'), d['check_sampled'].get('worst'))
except Exception as e: print('error', t[-300:])")
    echo "$spec $dims persistent: $r"
  done
done 2>&1 | tee $OUT/bench-persistent.txt
echo "done at $((SECONDS - T0)) s"
