#!/usr/bin/env bash
# v0.9 device call 3 (carry .device-carry as for g2.sh): schedule alternatives of the cases that miss
# their targets (document mask with 64 documents, sliding window 1024, D128 S1k, causal S4k), sigmoid
# attention with tfcg::exp_affine, the peers in the same call, Nsight Compute of the 64-document kernel,
# and bench_density.py --quick.
#   run(command="bash docs/results/v0.9/scripts/g3.sh", carry=[".device-carry"], timeout_s=600)
# Outputs ($OUT): g3.md (the table), peers.log, ncu.txt, density.{md,png,svg,json}.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
work=/tmp/g3 && mkdir -p $work
source tools/device-unpack.sh /tmp/tf-smoke-bundle >/dev/null
tf=/tmp/tf-smoke-bundle/bin/tilefuse
export TILEFUSE_CACHE_DIR=$work/cache
W='"mma":"wgmma","q":"smem","warps":8'
P128x64s2="{$W,\"block_m\":128,\"block_n\":64,\"kv_stages\":2,\"overlap\":\"pingpong\",\"persistent\":true}"
P128x64s4="{$W,\"block_m\":128,\"block_n\":64,\"kv_stages\":4,\"overlap\":\"pingpong\",\"persistent\":true}"
N128x128="{$W,\"block_m\":128,\"block_n\":128,\"kv_stages\":2,\"overlap\":\"pingpong\"}"
P128x128="{$W,\"block_m\":128,\"block_n\":128,\"kv_stages\":2,\"overlap\":\"pingpong\",\"persistent\":true}"
I64x128='{"mma":"wgmma","q":"smem","warps":4,"block_m":64,"block_n":128,"kv_stages":2,"overlap":"intra","persistent":true}'
P128x192="{$W,\"block_m\":128,\"block_n\":192,\"kv_stages\":2,\"overlap\":\"pingpong\",\"persistent\":true}"
N128x64s4="{$W,\"block_m\":128,\"block_n\":64,\"kv_stages\":4,\"overlap\":\"pingpong\"}"
n=0
run() { # name env spec args schedule(or "")
  n=$((n + 1))
  local name=$1 envs=$2 spec=$3 args=$4 sched=$5
  if [ -n "$sched" ]; then
    env $envs timeout 60 $tf bench $spec $args --reps 30 --json --schedule "$sched" > $work/r$n.json 2> $work/r$n.err
  else
    env $envs timeout 60 $tf bench $spec $args --reps 30 --json > $work/r$n.json 2> $work/r$n.err
  fi
  echo "$name|$work/r$n.json|rc=$?" >> $work/index
}
doc="--B 4 --Hq 16 --Hkv 16 --S 4096 --D 128"
for s in "" "$P128x64s2" "$P128x64s4" "$N128x128" "$I64x128" "$N128x64s4"; do
  run document_64docs TILEFUSE_BENCH_DOC_LENGTH=64 specs/document_mask.json "$doc" "$s"; done
for s in "" "$P128x64s2" "$P128x64s4" "$P128x128" "$N128x64s4"; do
  run sliding1024_causal "" specs/bench/sliding1024_causal.json "" "$s"; done
for s in "" "$N128x128" "$P128x192" "$P128x64s4"; do
  run mha_16,16,16,1024 "" specs/mha.json "--B 16 --Hq 16 --Hkv 16 --S 1024 --D 128" "$s"; done
for s in "" "$P128x128" "$N128x64s4"; do
  run causal_4,16,16,4096 "" specs/causal.json "$doc" "$s"; done
run sigmoid_causal "" specs/sigmoid_attention.json "$doc" ""
run alibi_causal "" specs/alibi.json "--B 4 --S 4096" ""
echo "benches done at $((SECONDS - T0)) s"
PYTHONUNBUFFERED=1 timeout 150 python3 .device-carry/peers/peers.py --case 16,16,16,1024,128,0 --case 4,16,16,4096,128,1 \
  --variants --json $work/peers.json > $OUT/peers.log 2>&1
echo "peers rc=$? at $((SECONDS - T0)) s"
python3 - "$work" > $OUT/g3.md <<'PY'
import json, sys, os
work = sys.argv[1]
peers = {}
try:
    for r in json.load(open(os.path.join(work, "peers.json")))["rows"]:
        if "ms" in r:
            peers[(r["peer"], r["case"])] = r["ms"]
except Exception as e:
    print("peers.json unreadable:", e)
print("| case | schedule | Tilefuse ms | check | note |")
print("|---|---|---|---|---|")
for line in open(os.path.join(work, "index")):
    name, path, rc = line.strip().split("|")
    try:
        j = json.load(open(path))
        s = j.get("schedule", {})
        sched = "%sx%s s%s %s%s" % (s.get("block_m"), s.get("block_n"), s.get("kv_stages"), s.get("overlap", "none"),
                                    " persistent" if s.get("persistent") else "")
        c = j.get("check")
        ok = j.get("passed", c.get("passed") if isinstance(c, dict) else None)
        print("| %s | %s | %.3f | %s | %s |" % (name, sched, j.get("median_ms", 0), ok, rc))
    except Exception as e:
        print("| %s | - | - | - | %s %s: %s |" % (name, rc, path, open(path.replace(".json", ".err")).read()[-200:].replace("\n", " ")))
print()
print("peers (ms):", {"%s/%s" % k: round(v, 3) for k, v in peers.items()})
PY
cat $OUT/g3.md
echo "== ncu at $((SECONDS - T0)) s"
TILEFUSE_BENCH_DOC_LENGTH=64 timeout 120 ncu --clock-control none -k regex:'^tilefuse_document_mask$' -c 3 \
  --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section LaunchStats \
  $tf bench specs/document_mask.json $doc --reps 1 --warmup 0 > $OUT/ncu.txt 2>&1
echo "ncu rc=$?"; grep -E "Grid Size|Duration|Memory Throughput|DRAM Throughput|Compute \(SM\) Throughput|Stall|No Eligible" $OUT/ncu.txt | tail -24
echo "== density at $((SECONDS - T0)) s"
mkdir -p .device-carry/python/lib $work/py $work/density
for f in .device-carry/bundle/lib/*; do case "$f" in *libtilefuse*) ;; *) cp "$f" .device-carry/python/lib/ ;; esac; done
OUT=$work/py SKIP_TESTS=1 SKIP_BENCH=1 timeout 120 bash .device-carry/python/run.sh > $work/py/setup.log 2>&1
echo "setup rc=$?"
export LD_LIBRARY_PATH="/tmp/tilefuse-py/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export PYTHONPATH=/tmp/tilefuse-py/site PYTHONUNBUFFERED=1
[ -d /usr/local/cuda/include ] && export TILEFUSE_CACHE_DIR=$work/cache TILEFUSE_CUDA_INCLUDE=/usr/local/cuda/include
left=$(( 585 - (SECONDS - T0) ))
timeout $left python3 python/bench/bench_density.py --quick --out $work/density --budget $(( left - 60 )) > $work/density/density.log 2>&1
echo "bench_density rc=$? at $((SECONDS - T0)) s"
for f in density.md density.png density.svg density.json; do cp $work/density/$f $OUT/ 2>/dev/null; done
tail -n 30 $work/density/density.log
