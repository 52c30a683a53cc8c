#!/usr/bin/env bash
# v0.9 device call 4 (carry .device-carry as for g2.sh), after the balanced-mask hint (ScheduleHints::
# balancedMask: the persistent grid for sliding windows and block diagonals): the window variants and
# Gemma-2 local with their new defaults next to the v0.8 grid (non-persistent), the peers' variants in
# the same call, and bench_density.py --quick for the window and block-diagonal families.
#   run(command="bash docs/results/v0.9/scripts/g4.sh", carry=[".device-carry"], timeout_s=420)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
g=/tmp/g4 && mkdir -p $g
source tools/device-unpack.sh /tmp/tf-smoke-bundle >/dev/null
tf=/tmp/tf-smoke-bundle/bin/tilefuse
export TILEFUSE_CACHE_DIR=$g/cache
W='"mma":"wgmma","q":"smem","warps":8,"block_m":128,"kv_stages":2,"overlap":"pingpong"'
N128="{$W,\"block_n\":128}"
N64="{$W,\"block_n\":64}"
n=0
run() { # name spec args schedule(or "")
  n=$((n + 1))
  if [ -n "$4" ]; then timeout 60 $tf bench $2 $3 --reps 30 --json --schedule "$4" > $g/r$n.json 2> $g/r$n.err
  else timeout 60 $tf bench $2 $3 --reps 30 --json > $g/r$n.json 2> $g/r$n.err; fi
  echo "$1|$g/r$n.json|rc=$?" >> $g/index
}
run sliding1024_causal specs/bench/sliding1024_causal.json "" ""
run sliding1024_causal specs/bench/sliding1024_causal.json "" "$N128"
run sliding4096_causal_s16k specs/sliding_window.json "--B 1 --Hq 16 --Hkv 16 --S 16384" ""
run sliding4096_causal_s16k specs/sliding_window.json "--B 1 --Hq 16 --Hkv 16 --S 16384" "$N128"
run gemma2_local_d256 specs/models/gemma2_9b_prefill.json "" ""
run gemma2_local_d256 specs/models/gemma2_9b_prefill.json "" "$N64"
run block_diagonal specs/block_diagonal.json "--B 4 --Hq 16 --Hkv 16 --S 4096 --D 128" ""
run block_diagonal specs/block_diagonal.json "--B 4 --Hq 16 --Hkv 16 --S 4096 --D 128" "$N128"
run causal_4,16,16,4096 specs/causal.json "--B 4 --Hq 16 --Hkv 16 --S 4096 --D 128" ""
echo "benches done at $((SECONDS - T0)) s"
PYTHONUNBUFFERED=1 timeout 150 python3 .device-carry/peers/peers.py --case 4,16,16,4096,128,1 --variants \
  --json $g/peers.json > $OUT/peers.log 2>&1
echo "peers rc=$? at $((SECONDS - T0)) s"
python3 - "$g" > $OUT/g4.md <<'PY'
import json, sys, os
g = sys.argv[1]
peers = {}
try:
    for r in json.load(open(os.path.join(g, "peers.json")))["rows"]:
        if "ms" in r:
            peers[r["case"].split(":")[1] if r["case"].startswith("variant:") else r["peer"] + "/" + r["case"]] = r["ms"]
except Exception as e:
    print("peers.json unreadable:", e)
print("| case | schedule | Tilefuse ms | check | Flex ms | x Flex |")
print("|---|---|---|---|---|---|")
for line in open(os.path.join(g, "index")):
    name, path, rc = line.strip().split("|")
    try:
        j = json.load(open(path)); s = j.get("schedule", {})
        sched = "%sx%s s%s %s%s" % (s.get("block_m"), s.get("block_n"), s.get("kv_stages"), s.get("overlap", "none"),
                                    " persistent" if s.get("persistent") else "")
        c = j.get("check"); ok = j.get("passed", c.get("passed") if isinstance(c, dict) else None)
        ms = j.get("median_ms"); fx = peers.get(name)
        print("| %s | %s | %.3f | %s | %s | %s |" % (name, sched, ms, ok, "%.3f" % fx if fx else "-",
                                                 "%.2f" % (fx / ms) if fx and ms else "-"))
    except Exception as e:
        print("| %s | - | - | - | %s | %s |" % (name, rc, str(e)[:100]))
print()
print("peers (ms):", {k: round(v, 3) for k, v in peers.items()})
PY
cat $OUT/g4.md
echo "== density at $((SECONDS - T0)) s"
mkdir -p .device-carry/python/lib $g/py $g/density
for f in .device-carry/bundle/lib/*; do case "$f" in *libtilefuse*) ;; *) cp "$f" .device-carry/python/lib/ ;; esac; done
OUT=$g/py SKIP_TESTS=1 SKIP_BENCH=1 timeout 120 bash .device-carry/python/run.sh > $g/py/setup.log 2>&1
echo "setup rc=$?"
export LD_LIBRARY_PATH="/tmp/tilefuse-py/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export PYTHONPATH=/tmp/tilefuse-py/site PYTHONUNBUFFERED=1
[ -d /usr/local/cuda/include ] && export TILEFUSE_CUDA_INCLUDE=/usr/local/cuda/include
left=$(( 400 - (SECONDS - T0) ))
timeout $left python3 python/bench/bench_density.py --quick --families window,block_diagonal --out $g/density \
  --budget $(( left - 40 )) > $g/density/density.log 2>&1
echo "bench_density rc=$? at $((SECONDS - T0)) s"
cp $g/density/density.md $OUT/density-window.md 2>/dev/null
grep -E "^\| (window|block_diagonal)" $g/density/density.log | cut -d'|' -f2-8
