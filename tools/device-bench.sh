#!/usr/bin/env bash
# Times Tilefuse's generated kernels and the peers (cuDNN, FlashAttention-2, FlexAttention through
# PyTorch) on the same shapes, in the same run, on this machine's GPU; prints one table.
#
# usage: tools/device-bench.sh [PEERS_PY]      (run from the repository root on the GPU machine)
#   PEERS_PY  the peers script (default .device-carry/peers/peers.py, a copy of ../shared/bench)
# Uses the bundle of tools/device-bundle.sh in .device-carry/bundle (the GPU machine has no MLIR).
# Cases are peers.py's defaults: B,Hq,Hkv,S,D,causal. Tilefuse runs `tilefuse bench` with the
# cached schedule when $TILEFUSE_CACHE_DIR holds one, else the heuristic default. Files in $OUT.
set -u -o pipefail
root=$(pwd)
out=${OUT:-/tmp/tilefuse-bench-out}
peers=${1:-$root/.device-carry/peers/peers.py}
mkdir -p "$out"
work=/tmp/tilefuse-bench-bundle
source "$root/tools/device-unpack.sh" "$work"
export TILEFUSE_CACHE_DIR=${TILEFUSE_CACHE_DIR:-/tmp/tilefuse-cache}
tf="$work/bin/tilefuse"

cases=("16,16,16,1024,128,0" "4,16,16,4096,128,0" "1,16,16,16384,128,0" "4,16,16,4096,128,1"
       "1,16,16,16384,128,1" "4,32,32,4096,64,0" "1,32,8,8192,128,1")
# TF_SCHEDULES: ';'-separated schedules to time on every case besides the cached / heuristic one
# (JSON as `tilefuse bench --schedule` takes it); the table shows the fastest.
IFS=';' read -r -a extra <<<"${TF_SCHEDULES:-}"
echo "== tilefuse bench"
for c in "${cases[@]}"; do
  IFS=, read -r B Hq Hkv S D causal <<<"$c"
  spec=specs/mha.json; [ "$causal" = 1 ] && spec=specs/causal.json
  "$tf" bench "$spec" --B "$B" --Hq "$Hq" --Hkv "$Hkv" --S "$S" --D "$D" --reps 30 --json \
    > "$out/tf_$c.json" 2> "$out/tf_$c.err"
  echo "$c rc=$? $(tail -c 300 "$out/tf_$c.err" | tr '\n' ' ')"
  k=0
  for sched in "${extra[@]}"; do
    [ -n "$sched" ] || continue
    k=$((k + 1))
    "$tf" bench "$spec" --B "$B" --Hq "$Hq" --Hkv "$Hkv" --S "$S" --D "$D" --reps 30 --json --schedule "$sched" \
      > "$out/tf_$c.s$k.json" 2> "$out/tf_$c.s$k.err"
    echo "$c schedule $k rc=$? $(tail -c 200 "$out/tf_$c.s$k.err" | tr '\n' ' ')"
  done
done
echo "== peers"
peer_args=()
for c in "${cases[@]}"; do peer_args+=(--case "$c"); done
PYTHONUNBUFFERED=1 python3 "$peers" "${peer_args[@]}" --json "$out/peers.json" > "$out/peers.log" 2>&1
echo "peers rc=$?"; tail -n 3 "$out/peers.log"

python3 - "$out" "${cases[@]}" <<'PY' | tee "$out/table.md"
import json, sys, os
out, cases = sys.argv[1], sys.argv[2:]
peers = {}
try:
    for r in json.load(open(os.path.join(out, "peers.json")))["rows"]:
        peers[(r["peer"], r["case"])] = r.get("tflops")
except Exception as e:
    print("peers.json unreadable:", e)
fmt = lambda x: "-" if x is None else "%.0f" % x
print("| case B,Hq,Hkv,S,D,causal | tilefuse ms | tilefuse TFLOP/s | schedule | check | cuDNN | FA2 | Flex |")
print("|---|---|---|---|---|---|---|---|")
for c in cases:
    j = {}
    for name in sorted(f for f in os.listdir(out) if f.startswith("tf_%s." % c) and f.endswith(".json")):
        try:
            cand = json.load(open(os.path.join(out, name)))
        except Exception:
            continue
        ms_c = cand.get("median_ms") or cand.get("ms")
        ms_j = j.get("median_ms") or j.get("ms")
        if ms_c and (not ms_j or ms_c < ms_j):
            j = cand
    B, Hq, Hkv, S, D, causal = map(int, c.split(","))
    flops = 4.0 * B * Hq * S * S * D / (2 if causal else 1)
    ms = j.get("median_ms") or j.get("ms")
    tf = flops / ms / 1e9 if ms else None
    sched = j.get("schedule", "-")
    if isinstance(sched, dict):
        sched = "%s %sx%s w%s st%s" % ("sm90" if sched.get("mma") == "wgmma" else "sm80", sched.get("block_m"),
                                       sched.get("block_n"), sched.get("warps"), sched.get("kv_stages"))
    ok = j.get("passed", j.get("check", {}).get("passed") if isinstance(j.get("check"), dict) else None)
    print("| %s | %s | %s | %s | %s | %s | %s | %s |" % (c, "-" if not ms else "%.3f" % ms, fmt(tf), sched, ok,
          fmt(peers.get(("sdpa_cudnn", c))), fmt(peers.get(("sdpa_flash", c))), fmt(peers.get(("flex", c)))))
PY
