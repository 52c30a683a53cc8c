#!/usr/bin/env bash
# v0.14 device call 6 (carry .device-carry: bundle/ as in call 4). Call 5 showed the packed non-causal
# batch starting at 2.40 ms and settling at 2.74 ms within a process (200 warmup launches: 2.74-2.75), at
# every seed: not two modes but a warm-up drift. Here Tilefuse and the peers are both timed after 200
# warmup launches (steady state), causal and non-causal, the same lengths as the packed table.
#   run(command="bash docs/results/v0.14/scripts/c6.sh", carry=[".device-carry"], timeout_s=400)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
peers=python/bench/bench_packed_peers.py
python3 $peers --write-lengths $OUT/lengths.txt --seed 1 --min 128 --max 4096 --total 65536 > /dev/null || exit 1
for i in 1 2; do
  for spec in mha causal; do
    echo "run $i $spec, 200 warmup: $(TILEFUSE_CACHE_DIR=/tmp/c-s timeout 60 $tf bench specs/varlen/$spec.json --seqlens-file $OUT/lengths.txt \
      --Hq 16 --Hkv 16 --D 128 --reps 30 --warmup 200 2>&1 | grep -oE "median [0-9.]+ ms \(min [0-9.]+, max [0-9.]+|FAIL[A-Z]*" | tr '\n' ' ')"
  done
done 2>&1 | tee $OUT/steady.txt
for c in mha causal; do
  flag=""; [ $c = causal ] && flag=--causal
  timeout 150 python3 $peers --seqlens-file $OUT/lengths.txt --heads 16 --head-dim 128 $flag --warmup 200 --reps 30 \
    --json $OUT/peers_$c.json > $OUT/peers_$c.log 2>&1
  echo "peers $c rc=$? at $((SECONDS - T0)) s: $(python3 -c "import json; d=json.load(open('$OUT/peers_$c.json')); print({k: round(v.get('ms') or 0, 3) for k, v in d['peers'].items()})" 2>&1)"
done 2>&1 | tee -a $OUT/steady.txt
rm -f $OUT/lengths.txt
echo "done at $((SECONDS - T0)) s"
