#!/usr/bin/env bash
# Issue 9's performance table in steady state, on the GPU machine in one call: for each case Tilefuse
# (`tilefuse tune`, then `tilefuse bench`, which times after --warmup-ms 500 of untimed launches) and
# the peers (python/bench/bench_dense_peers.py: cuDNN and FlashAttention-2 SDPA, FlexAttention, timed the
# same way), then a markdown table of the medians and the ratios (peer ms / Tilefuse ms). Under
# sustained load an H200 runs a long D128 kernel 10-15% slower than in its first launches, so both sides
# are timed at the power limit (docs/results/v0.14, calls 5-9).
#
# usage, from the repository root on the GPU machine (the bundle of tools/device-bundle.sh carried):
#   run(command="bash tools/device-bench-steady.sh", carry=[".device-carry"], timeout_s=600)
# Environment (all optional):
#   CASES    space-separated B,Hq,Hkv,S,D,causal (default: the README's seven)
#   TUNE     1 (default): tune each case first (its cache entry is then benched); 0: heuristic defaults
#   TUNE_ARGS more flags for `tilefuse tune` (e.g. "--clusters")
#   OUT      where the files go (default /tmp/tilefuse-bench-steady-out)
#   BUDGET   seconds the whole script may take (570)
#   TILEFUSE the tilefuse binary (default: the bundle's, unpacked by tools/device-unpack.sh)
#   PYTHON   the Python with PyTorch (python3)
#   PEERS_ARGS more flags for the peers script ("--device cpu --reps 2" with small CASES and a fake
#            $TILEFUSE tests this script without a GPU)
# Files in $OUT: tf_<case>.json / .err, tune_<case>.log, peers.json / peers.log, steady-table.md.
set -u -o pipefail
root=$(pwd)
out=${OUT:-/tmp/tilefuse-bench-steady-out}
cases=${CASES:-"16,16,16,1024,128,0 4,16,16,4096,128,0 1,16,16,16384,128,0 4,16,16,4096,128,1 1,16,16,16384,128,1 4,32,32,4096,64,0 1,32,8,8192,128,1"}
tune=${TUNE:-1} budget=${BUDGET:-570}
mkdir -p "$out"
T0=$SECONDS
left() { echo $((budget - (SECONDS - T0) - 5)); }
if [ -z "${TILEFUSE:-}" ]; then
  [ -d "$root/.device-carry/bundle" ] || { echo "device-bench-steady: no bundle at .device-carry/bundle and no \$TILEFUSE" >&2; exit 2; }
  source "$root/tools/device-unpack.sh" /tmp/tilefuse-bench-bundle
  TILEFUSE=$(dirname "$TILEFUSE_DEVICE_INCLUDE")/bin/tilefuse
fi
export TILEFUSE_CACHE_DIR=${TILEFUSE_CACHE_DIR:-/tmp/tilefuse-cache}
for c in $cases; do
  IFS=, read -r B Hq Hkv S D causal <<<"$c"
  spec=specs/mha.json; [ "$causal" = 1 ] && spec=specs/causal.json
  args=(--B "$B" --Hq "$Hq" --Hkv "$Hkv" --S "$S" --D "$D")
  name=${c//,/_}
  if [ "$tune" = 1 ] && [ "$(left)" -gt 60 ]; then
    # shellcheck disable=SC2086  # TUNE_ARGS: flags split on spaces
    timeout 60 "$TILEFUSE" tune "$spec" "${args[@]}" ${TUNE_ARGS:-} > "$out/tune_$name.log" 2>&1
    echo "$c tune rc=$? at $((SECONDS - T0)) s: $(grep -E '^winner' "$out/tune_$name.log" | cut -c1-160)"
    grep -E '^steady state' "$out/tune_$name.log" | cut -c1-400
  fi
  [ "$(left)" -gt 20 ] || { echo "$c: skipped, the budget is spent"; continue; }
  timeout 60 "$TILEFUSE" bench "$spec" "${args[@]}" --json > "$out/tf_$name.json" 2> "$out/tf_$name.err"
  echo "$c bench rc=$? at $((SECONDS - T0)) s"
done
t=$(left)
if [ "$t" -gt 10 ]; then
  case_args=(); for c in $cases; do case_args+=(--case "$c"); done
  # shellcheck disable=SC2086  # PEERS_ARGS: flags split on spaces
  timeout "$t" "${PYTHON:-python3}" "$root/python/bench/bench_dense_peers.py" "${case_args[@]}" --json "$out/peers.json" \
    ${PEERS_ARGS:-} > "$out/peers.log" 2>&1
  echo "peers rc=$? at $((SECONDS - T0)) s"
fi
python3 - "$out" $cases > "$out/steady-table.md" <<'PY'
import json, os, sys
out, cases = sys.argv[1], sys.argv[2:]
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"error": str(e)}
peers = {c["case"]: c["peers"] for c in load(os.path.join(out, "peers.json")).get("cases", [])}
print("Steady state: Tilefuse `tilefuse bench` (--warmup-ms 500) and the peers (bench_dense_peers.py, "
      "--warmup-ms 500); median ms; x = peer ms / Tilefuse ms\n")
print("| B,Hq,Hkv,S,D,causal | Tilefuse ms | schedule | cuDNN ms | FA2 ms | Flex ms | x cuDNN | x FA2 | x Flex |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for c in cases:
    tf = load(os.path.join(out, "tf_" + c.replace(",", "_") + ".json"))
    ms = tf.get("median_ms") if tf.get("passed") else None
    sched = tf.get("schedule") or {}
    text = f"{sched.get('block_m', '?')}x{sched.get('block_n', '?')} {sched.get('overlap', 'none')}" + \
           (" persistent" if sched.get("persistent") else "") + (" " + sched["q_tile_order"] if sched.get("q_tile_order", "descending") != "descending" else "") + (" qreg" if sched.get("q") == "registers" else "") + \
           (" compares64" if sched.get("compares64") else "") + (" lazy" if sched.get("lazy_rescale") else "") if sched else "-"
    row = [c, f"{ms:.3f}" if ms else "failed" if "median_ms" in tf else "-", text]
    ratios = []
    for p in ("sdpa_cudnn", "sdpa_flash", "flex"):
        r = peers.get(c, {}).get(p, {})
        row.append(f"{r['ms']:.3f}" if "ms" in r else "-")
        ratios.append(f"{r['ms'] / ms:.2f}" if "ms" in r and ms else "-")
    print("| " + " | ".join(row + ratios) + " |")
PY
cat "$out/steady-table.md"
echo "done at $((SECONDS - T0)) s"
