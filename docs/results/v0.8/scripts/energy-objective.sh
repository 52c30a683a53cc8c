#!/usr/bin/env bash
# v0.8, issue 13 item 3: energy as a tuning objective. For each model shape of specs/models, tunes
# with --objective time and with --objective energy (a fresh cache, so no old entry answers) and
# prints a markdown table: the fastest schedule (ms, J per call, W), the most energy-efficient one
# (ms, J per call, W), and whether they differ.
#
# Run from the repository root on the GPU machine, with the bundle of tools/device-bundle.sh built from
# the energy-objective branch in .device-carry/bundle (as g2.sh):
#   bash docs/results/v0.8/scripts/energy-objective.sh
# Writes $OUT/energy/{time,energy}_<model>.json, tune.log and table.md (./energy-objective-out without $OUT).
#
# Fast tune mode: 8 timed candidates (+4 compiled to replace post-compile prunes) instead of 24 (+12),
# tuner budgets 15 s (time) and 25 s (energy: each candidate's runs last >= 1 s for NVML's counter),
# each call killed 20 s after its budget. Expected: ~8-12 s per time tune, ~15-20 s per energy tune,
# ~150-170 s for the six models. A tune that could overrun the 195 s budget ($BUDGET) is skipped and
# said so, so the script ends by ~200 s.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
BUDGET=${BUDGET:-195}
left() { echo $(( BUDGET - (SECONDS - T0) )); }
OUTDIR=${OUT:-$PWD/energy-objective-out}/energy
mkdir -p "$OUTDIR"
LOG=$OUTDIR/tune.log
: > "$LOG"

source tools/device-unpack.sh /tmp/tf-smoke-bundle >/dev/null
tf=/tmp/tf-smoke-bundle/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/tf-energy-objective-cache
rm -rf "$TILEFUSE_CACHE_DIR"

nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.sm,clocks.max.sm,temperature.gpu \
  --format=csv,noheader 2>/dev/null | tee -a "$LOG"
$tf tune --help | grep -q -- "--objective" || { echo "this tilefuse has no tune --objective: rebuild the bundle"; exit 1; }

FAST=(--max-candidates 8 --compile-extra 4)
models=()
for f in specs/models/*.json; do models+=("$(basename "$f" .json)"); done
for m in "${models[@]}"; do
  for objective in time energy; do
    budget=15; [ $objective = energy ] && budget=25 # the tuner's own budget, s (then: verify and store)
    limit=$((budget + 20))                             # a hard limit per call, s
    if [ "$(left)" -lt $limit ]; then
      echo "== $m --objective $objective skipped: $(left) s of $BUDGET s left" | tee -a "$LOG"
      continue
    fi
    start=$SECONDS
    timeout $limit $tf tune "specs/models/$m.json" --objective $objective --budget $budget "${FAST[@]}" \
      --json > "$OUTDIR/${objective}_$m.json" 2>> "$LOG"
    echo "== $m --objective $objective: exit status $? in $((SECONDS - start)) s (at $((SECONDS - T0)) s)" | tee -a "$LOG"
  done
done
$tf cache ls >> "$LOG" 2>&1

python3 - "$OUTDIR" "${models[@]}" << 'EOF' | tee "$OUTDIR/table.md"
import json, os, sys
out, models = sys.argv[1], sys.argv[2:]
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception as e:  # a skipped, killed or crashed run
        return {"error": "no JSON (%s)" % str(e)[:60]}
def sched(s):
    if not s:
        return "-"
    return "%dx%d w%d s%d %s%s" % (s["block_m"], s["block_n"], s["warps"], s["kv_stages"],
                                   "qreg" if s["q"] == "registers" else "qsmem",
                                   " persistent" if s.get("persistent") else "")
def num(v, fmt):
    return fmt % v if isinstance(v, (int, float)) else "-"
def energy_of(run, schedule):
    """J per call and W of `schedule` among `run`'s timed candidates (None when not timed there)."""
    for c in run.get("candidates", []):
        e = c.get("energy")
        if c.get("schedule") == schedule and c.get("status") == "timed" and e and "error" not in e:
            return c.get("median_ms"), e["joules_per_call"], e["watts"]
    return None, None, None
print("| model | fastest schedule | ms | J/call | W | most energy-efficient schedule | ms | J/call | W | differ |")
print("|---|---|---|---|---|---|---|---|---|---|")
for m in models:
    t, e = load(os.path.join(out, "time_%s.json" % m)), load(os.path.join(out, "energy_%s.json" % m))
    if "error" in t or "error" in e:
        why = t.get("error") or e.get("error")
        print("| %s | failed: %s | | | | | | | | |" % (m, str(why)[:90].replace("|", "/")))
        continue
    fast, eff = t["winner"], e["winner"]
    _, fj, fw = energy_of(e, fast)  # the time winner as measured in the energy run
    ee = e.get("energy") or {}
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
        m, sched(fast), num(t["median_ms"], "%.3f"), num(fj, "%.4g"), num(fw, "%.0f"),
        sched(eff), num(e["median_ms"], "%.3f"), num(ee.get("joules_per_call"), "%.4g"),
        num(ee.get("watts"), "%.0f"), "yes" if fast != eff else "no"))
print()
print("ms: median per call (fastest: from the --objective time tune; energy-efficient: from the --objective "
      "energy tune). J/call, W: NVML energy counter of the whole GPU over >= 1 s of runs, from the energy tune "
      "(the fastest schedule's as timed there; '-' when that tune did not time it). 8 candidates per tune.")
EOF
echo "done at $((SECONDS - T0)) s; JSON and log in $OUTDIR"
