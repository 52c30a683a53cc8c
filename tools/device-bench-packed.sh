#!/usr/bin/env bash
# Issue 10's "packed sequences" target, on the GPU machine in one call: Tilefuse's packed kernels
# (specs/varlen/causal.json and specs/varlen/mha.json, `tilefuse bench --seqlens-file`) against
# FlexAttention with the equivalent document BlockMask and SDPA (cuDNN, FlashAttention-2) on the
# zero-padded batch (python/bench/bench_packed_peers.py), on the same lengths: uniform in
# [128, 4096], 65536 tokens, seed 1. Prints a markdown table last; target >= 1.5x the faster peer.
#
# usage, from the repository root on the GPU machine (the bundle of tools/device-bundle.sh carried):
#   run(command="bash tools/device-bench-packed.sh", carry=[".device-carry"], timeout_s=600)
# Environment (all optional):
#   TILEFUSE    the tilefuse binary, its libraries already on LD_LIBRARY_PATH. Default: the bundle's,
#               unpacked by tools/device-unpack.sh to /tmp/tilefuse-bench-bundle unless the environment
#               already points at an unpacked bundle (TILEFUSE_DEVICE_INCLUDE set: DIR/device -> DIR/bin).
#   OUT         where the files go (default /tmp/tilefuse-bench-packed-out)
#   SEED MIN MAX TOTAL   the lengths (1, 128, 4096, 65536);  H D   heads, head dim (16, 128)
#   REPS        timed runs of every kernel (30)
#   TF_SCHEDULE one schedule (JSON as `tilefuse bench --schedule` takes it) for both Tilefuse cases;
#               without it `tilefuse bench` takes the cache entry of $TILEFUSE_CACHE_DIR, else the
#               heuristic default.
#   BUDGET      seconds the whole script may take (570); each step's timeout is cut to what is left.
#   PEERS_ARGS  more flags for the peers script (e.g. "--warmup 10"; "--device cpu" with small lengths
#               and a fake $TILEFUSE tests this script without a GPU).
# Files in $OUT: lengths.txt, tf_{causal,mha}.json / .err (`tilefuse bench --json`),
# peers_{causal,mha}.json / .log (the peers), packed-table.md (the table).
set -u -o pipefail
root=$(pwd)
out=${OUT:-/tmp/tilefuse-bench-packed-out}
seed=${SEED:-1} min=${MIN:-128} max=${MAX:-4096} total=${TOTAL:-65536}
heads=${H:-16} dim=${D:-128} reps=${REPS:-30} budget=${BUDGET:-570}
peers="$root/python/bench/bench_packed_peers.py"
mkdir -p "$out"
T0=$SECONDS
# step_timeout LIMIT: LIMIT seconds, or what is left of the budget (minus 5 s for the table) if less.
step_timeout() {
  local left=$((budget - (SECONDS - T0) - 5))
  if [ "$left" -lt "$1" ]; then echo "$left"; else echo "$1"; fi
}

if [ -z "${TILEFUSE:-}" ]; then
  if [ -z "${TILEFUSE_DEVICE_INCLUDE:-}" ]; then
    if [ ! -d "$root/.device-carry/bundle" ]; then
      echo "device-bench-packed: no bundle at .device-carry/bundle and no \$TILEFUSE (tools/device-bundle.sh)" >&2
      exit 2
    fi
    source "$root/tools/device-unpack.sh" /tmp/tilefuse-bench-bundle
  fi
  TILEFUSE=$(dirname "$TILEFUSE_DEVICE_INCLUDE")/bin/tilefuse
fi
tf=$TILEFUSE
if [ ! -x "$tf" ]; then
  echo "device-bench-packed: $tf is not an executable tilefuse binary" >&2
  exit 2
fi
export TILEFUSE_CACHE_DIR=${TILEFUSE_CACHE_DIR:-/tmp/tilefuse-cache}
export PATH=/usr/local/cuda/bin:$PATH
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'

echo "== lengths"
lengths="$out/lengths.txt"
python3 "$peers" --write-lengths "$lengths" --seed "$seed" --min "$min" --max "$max" --total "$total" || exit 1

cases=("causal|specs/varlen/causal.json|--causal" "mha|specs/varlen/mha.json|")
echo "== tilefuse bench ($tf)"
for c in "${cases[@]}"; do
  IFS='|' read -r name spec _ <<<"$c"
  t=$(step_timeout 150)
  rm -f "$out/tf_$name.json" "$out/tf_$name.err"
  [ "$t" -gt 0 ] || { echo "$name: skipped, the budget is spent"; continue; }
  timeout "$t" "$tf" bench "$spec" --seqlens-file "$lengths" --Hq "$heads" --Hkv "$heads" --D "$dim" \
    --reps "$reps" --json ${TF_SCHEDULE:+--schedule "$TF_SCHEDULE"} > "$out/tf_$name.json" 2> "$out/tf_$name.err"
  echo "$name rc=$? at $((SECONDS - T0)) s $(tail -c 300 "$out/tf_$name.err" | tr '\n' ' ')"
done

echo "== peers (FlexAttention, SDPA cuDNN / FA2 on the padded batch)"
for c in "${cases[@]}"; do
  IFS='|' read -r name _ flag <<<"$c"
  t=$(step_timeout 200)
  rm -f "$out/peers_$name.json" "$out/peers_$name.log"
  [ "$t" -gt 0 ] || { echo "$name: skipped, the budget is spent"; continue; }
  # shellcheck disable=SC2086  # PEERS_ARGS: flags split on spaces
  timeout "$t" python3 "$peers" --seqlens-file "$lengths" --heads "$heads" --head-dim "$dim" ${flag:+"$flag"} \
    --reps "$reps" --seed "$seed" --json "$out/peers_$name.json" ${PEERS_ARGS:-} > "$out/peers_$name.log" 2>&1
  echo "$name rc=$? at $((SECONDS - T0)) s"
  grep -vi "warn" "$out/peers_$name.log" | tail -n 6
done

# The table: Tilefuse's median (tilefuse bench --json: median_ms, passed) against each peer's median.
python3 - "$out" "$heads" "$dim" > "$out/packed-table.md" <<'EOF'
import json
import os
import sys

out, heads, dim = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
TARGET = 1.5
with open(os.path.join(out, "lengths.txt")) as f:  # offsets on the last line that is not a comment
    cu = [int(x) for x in [l for l in f if not l.startswith("#")][-1].replace(",", " ").split()]
lengths = [b - a for a, b in zip(cu, cu[1:])]


def load(name):
    """The JSON object in OUT/name (the first one starting on a line of its own when other text
    surrounds it), or {'error': why}."""
    try:
        with open(os.path.join(out, name)) as f:
            text = f.read()
        start = 0 if text.startswith("{") else text.find("\n{") + 1
        if start == 0 and not text.startswith("{"):
            raise ValueError("no JSON object")
        return json.JSONDecoder().raw_decode(text, start)[0]
    except (OSError, ValueError) as e:
        return {"error": f"{name}: {e}"}


def ms(x):
    return "–" if x is None else f"{x:.3f}"


rows, notes = [], []
for name, label in (("causal", "causal"), ("mha", "non-causal")):
    tf, peers = load(f"tf_{name}.json"), load(f"peers_{name}.json")
    tf_ms = tf.get("median_ms") if "error" not in tf else None
    if tf_ms is None:
        notes.append(f"{label}: Tilefuse gave no time: {tf.get('error', 'no median_ms')} (tf_{name}.err)")
    elif not tf.get("passed", False):
        notes.append(f"{label}: Tilefuse's accuracy check FAILED (tf_{name}.json: check_small, check_sampled)")
    else:
        notes.append(f"{label}: Tilefuse schedule {json.dumps(tf.get('schedule'))} from "
                     f"{tf.get('schedule_source')}, {tf.get('tflops', 0):.1f} TFLOP/s by its own count "
                     f"({tf.get('flops_rule')}), accuracy check passed")
    got = {}
    if "error" in peers:
        notes.append(f"{label}: the peers did not run: {peers['error']} (peers_{name}.log)")
    for peer in ("flex", "sdpa_cudnn", "sdpa_flash"):
        p = peers.get("peers", {}).get(peer, {})
        got[peer] = p.get("ms")
        if got[peer] is None and "error" not in peers:
            notes.append(f"{label}: {peer} unavailable: {p.get('error', 'not run')}")
    if "effective_flops" in peers and tf_ms:
        notes.append(f"{label}: effective TFLOP/s (4 H L^2 D per sequence{', halved' if name == 'causal' else ''}): "
                     f"Tilefuse {peers['effective_flops'] / tf_ms / 1e9:.1f}, " +
                     ", ".join(f"{k} {v['tflops']:.1f}" for k, v in peers["peers"].items() if "tflops" in v))
    timed = [v for v in got.values() if v is not None]
    ratio = min(timed) / tf_ms if timed and tf_ms else None
    hit = ratio is not None and ratio >= TARGET and tf.get("passed", False)
    cell = "–" if ratio is None else (f"**{ratio:.2f}**" if hit else f"{ratio:.2f}")
    tf_cell = ms(tf_ms) + ("" if tf_ms is None or tf.get("passed") else " (check FAILED)")
    rows.append(f"| {label} | {tf_cell} | {ms(got['flex'])} | {ms(got['sdpa_cudnn'])} | "
                f"{ms(got['sdpa_flash'])} | {cell} |")

first = load("peers_causal.json")
for line in notes:
    print(f"- {line}")
print()
print(f"Packed sequences: {len(lengths)} sequences, {cu[-1]} tokens, lengths {min(lengths)}..{max(lengths)}, "
      f"H{heads} D{dim} bf16, {first.get('device', '?')}, torch {first.get('torch', '?')}; median ms of "
      f"CUDA-event timings; × faster peer = the faster peer's ms / Tilefuse's, bold when >= {TARGET} "
      f"with Tilefuse's check passed")
print()
print("| case | Tilefuse ms | Flex ms | cuDNN padded ms | FA2 padded ms | × faster peer |")
print("| --- | --- | --- | --- | --- | --- |")
print("\n".join(rows))
EOF
echo "== table at $((SECONDS - T0)) s"
cat "$out/packed-table.md"
