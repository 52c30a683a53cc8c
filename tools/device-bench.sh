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
# TF_CASES=0 skips the dense / causal cases (e.g. with TF_ONLY=document for the document masks alone).
[ "${TF_CASES:-1}" = 0 ] && cases=()
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
# Variants (peers.py --variants; specs/bench/README.md maps each to a spec and shape). TF_VARIANTS=0 skips.
# name|spec|bench flags|environment. The document masks run with a run-time block mask, their ids
# runs of 512 / 64 tokens as peers.py's (doc_ids[b, j] = j // L, B 4, S 4096, given with --capture: the
# cache entry looked up is that of their mask density class, tuner/Captures.h); the bench's JSON has the
# mask's build time (block_mask_build_ms). TF_ONLY=REGEX keeps the variants it matches.
for L in 512 64; do
  python3 -c "import sys; L = int(sys.argv[1]); print(' '.join(str(j // L) for b in range(4) for j in range(4096)))" \
    "$L" > "$out/doc_ids_$L.txt"
done
variants=("softcap30|specs/bench/softcap30.json||"
          "alibi_causal|specs/alibi.json|--B 4 --S 4096|"
          "sliding1024_causal|specs/bench/sliding1024_causal.json||"
          "sliding4096_causal_s16k|specs/sliding_window.json|--B 1 --Hq 16 --Hkv 16 --S 16384|"
          "document_8docs|specs/document_mask.json|--B 4 --S 4096 --capture doc_ids=$out/doc_ids_512.txt|"
          "document_64docs|specs/document_mask.json|--B 4 --S 4096 --capture doc_ids=$out/doc_ids_64.txt|"
          "gemma2_local_d256|specs/models/gemma2_9b_prefill.json||")
[ "${TF_VARIANTS:-1}" = 0 ] && variants=()
if [ -n "${TF_ONLY:-}" ]; then
  kept=()
  for v in "${variants[@]}"; do [[ "${v%%|*}" =~ $TF_ONLY ]] && kept+=("$v"); done
  variants=("${kept[@]}")
fi
echo "== tilefuse bench, variants"
for v in "${variants[@]}"; do
  IFS='|' read -r name spec args envs <<<"$v"
  # shellcheck disable=SC2086 # args and envs are words
  env $envs "$tf" bench "$spec" $args --reps 30 --json > "$out/var_$name.json" 2> "$out/var_$name.err"
  echo "$name rc=$? $(tail -c 300 "$out/var_$name.err" | tr '\n' ' ')"
  k=0
  for sched in "${extra[@]}"; do
    [ -n "$sched" ] || continue
    k=$((k + 1))
    env $envs "$tf" bench "$spec" $args --reps 30 --json --schedule "$sched" > "$out/var_$name.s$k.json" 2> "$out/var_$name.s$k.err"
    echo "$name schedule $k rc=$?"
  done
done
echo "== peers"
peer_args=()
for c in "${cases[@]}"; do peer_args+=(--case "$c"); done
[ ${#cases[@]} -eq 0 ] && peer_args+=(--case "1,16,16,1024,128,0") # peers.py's defaults otherwise
[ ${#variants[@]} -gt 0 ] && peer_args+=(--variants)
PYTHONUNBUFFERED=1 python3 "$peers" "${peer_args[@]}" --json "$out/peers.json" > "$out/peers.log" 2>&1
echo "peers rc=$?"; tail -n 3 "$out/peers.log"

python3 - "$out" "${cases[@]}" <<'PY' | tee "$out/table.md"
import json, sys, os
out, cases = sys.argv[1], sys.argv[2:]
peers = {}  # (peer, case) -> ms; variants under ("flex", "variant:NAME")
try:
    for r in json.load(open(os.path.join(out, "peers.json")))["rows"]:
        if "ms" not in r:
            continue
        case = r["case"]
        if case.startswith("variant:"):
            case = ":".join(case.split(":")[:2])
        peers[(r["peer"], case)] = r["ms"]
except Exception as e:
    print("peers.json unreadable:", e)

def fastest(prefix):
    """The fastest Tilefuse run among $out/PREFIX.json and $out/PREFIX.sK.json."""
    best = {}
    for name in sorted(os.listdir(out)):
        if not (name == prefix + ".json" or (name.startswith(prefix + ".s") and name.endswith(".json"))):
            continue
        try:
            cand = json.load(open(os.path.join(out, name)))
        except Exception:
            continue
        if cand.get("median_ms") and (not best or cand["median_ms"] < best["median_ms"]):
            best = cand
    return best

def sched_text(j):
    s = j.get("schedule", "-")
    if isinstance(s, dict):
        s = "%s %sx%s s%s%s%s" % ("sm90" if s.get("mma") == "wgmma" else "sm80", s.get("block_m"), s.get("block_n"),
                                s.get("kv_stages"), " " + s["overlap"] if s.get("overlap") else "",
                                " persistent" if s.get("persistent") else "")
    return s

def passed(j):
    c = j.get("check")
    return j.get("passed", c.get("passed") if isinstance(c, dict) else None)

num = lambda x, f="%.0f": "-" if x is None else f % x
ratio = lambda peer_ms, ms: "-" if not (peer_ms and ms) else "%.2f" % (peer_ms / ms)
print("TFLOP/s = 4 B Hq S^2 D / t, halved for causal. Ratios = peer time / Tilefuse time (> 1: Tilefuse faster).\n")
print("| case B,Hq,Hkv,S,D,causal | Tilefuse TFLOP/s | schedule | check | cuDNN | FA2 | Flex | x cuDNN | x FA2 | x Flex |")
print("|---|---|---|---|---|---|---|---|---|---|")
for c in cases:
    j = fastest("tf_" + c)
    B, Hq, Hkv, S, D, causal = map(int, c.split(","))
    flops = 4.0 * B * Hq * S * S * D / (2 if causal else 1)
    tfl = lambda ms: flops / ms / 1e9 if ms else None
    ms = j.get("median_ms")
    pc, pf, px = (peers.get((p, c)) for p in ("sdpa_cudnn", "sdpa_flash", "flex"))
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        c, num(tfl(ms)), sched_text(j), passed(j), num(tfl(pc)), num(tfl(pf)), num(tfl(px)),
        ratio(pc, ms), ratio(pf, ms), ratio(px, ms)))
vnames = sorted({n[4:].split(".")[0] for n in os.listdir(out) if n.startswith("var_") and n.endswith(".json")})
if vnames:
    print("\n| variant (peers.py --variants) | Tilefuse ms | schedule | check | Flex ms | x Flex | block mask build ms |")
    print("|---|---|---|---|---|---|---|")
    for v in vnames:
        j = fastest("var_" + v)
        ms, px = j.get("median_ms"), peers.get(("flex", "variant:" + v))
        print("| %s | %s | %s | %s | %s | %s | %s |" % (v, num(ms, "%.3f"), sched_text(j), passed(j),
                                                  num(px, "%.3f"), ratio(px, ms),
                                                  num(j.get("block_mask_build_ms") or None, "%.3f")))

# Every schedule timed (the default, then $TF_SCHEDULES in order): ms, and whether its check passed.
runs = {}
for name in sorted(os.listdir(out)):
    if name.endswith(".json") and (name.startswith("tf_") or name.startswith("var_")):
        base, _, k = name[:-5].partition(".s")
        try:
            j = json.load(open(os.path.join(out, name)))
        except Exception:
            continue
        runs.setdefault(base, []).append((int(k) if k else 0, j))
if runs:
    print("\n| case | schedule | ms | check |")
    print("|---|---|---|---|")
    for base in sorted(runs):
        for k, j in sorted(runs[base], key=lambda r: r[0]):
            print("| %s | %s | %s | %s |" % (base, sched_text(j), num(j.get("median_ms"), "%.3f"), passed(j)))
PY
