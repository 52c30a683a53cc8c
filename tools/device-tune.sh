#!/usr/bin/env bash
# Tunes and benchmarks every model shape (specs/models/*.json) on this machine's GPU and prints one
# table: the default schedule's time, the tuned schedule, its time and TFLOP/s, the speedup, the
# tuning time, and `tilefuse bench`'s time and accuracy check of the tuned kernel.
#
# usage: tools/device-tune.sh [-b BUILD_DIR] [-o OUT_DIR] [-t TUNE_BUDGET_S] [MODEL ...]
#   BUILD_DIR  holds bin/tilefuse. Default: the bundle of tools/device-bundle.sh in
#              .device-carry/bundle (the GPU machine has CUDA but no MLIR/LLVM packages: the bundle
#              carries the tilefuse binary, the libraries it needs, xz-compressed, and the device
#              headers), else build-tune/ or build/ of this checkout
#   OUT_DIR    JSON of every run, the log, the cache and its export (default: $OUT, else ./device-tune-out)
#   MODEL      names in specs/models without .json (default: all); e.g. llama3_8b_prefill gpt2_small
#
# Run from the repository root. The cache is $TILEFUSE_CACHE_DIR if set, else OUT_DIR/cache; it is
# exported to OUT_DIR/tilefuse-cache.tfcache (`tilefuse cache import` it on another machine).
# All six models take about 6 x (<= 60 s tune + ~15 s bench); split the list over calls if a call
# is time-limited.
set -u -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=""
OUTDIR="${OUT:-$PWD/device-tune-out}"
BUDGET=60
while getopts "b:o:t:h" opt; do
  case $opt in
    b) BUILD=$OPTARG ;;
    o) OUTDIR=$OPTARG ;;
    t) BUDGET=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
mkdir -p "$OUTDIR"
LOG="$OUTDIR/device-tune.log"
: > "$LOG"

RUN=() # a loader prefix, for bundled binaries on an older glibc
BUNDLE="$ROOT/.device-carry/bundle"
if [ -z "$BUILD" ] && [ -d "$BUNDLE/bin" ]; then
  # The bundle: unpack into /tmp (xz), put its libraries first, use its device headers.
  WORK=/tmp/tilefuse-tune-bundle
  rm -rf "$WORK" && cp -r "$BUNDLE" "$WORK"
  find "$WORK" -name '*.xz' -print0 | xargs -0 -r -n1 -P8 xz -d
  chmod +x "$WORK"/bin/*
  TF="$WORK/bin/tilefuse"
  export LD_LIBRARY_PATH="$WORK/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:${LD_LIBRARY_PATH:-}"
  export TILEFUSE_DEVICE_INCLUDE="${TILEFUSE_DEVICE_INCLUDE:-$WORK/device}"
  glibc=$(ldd --version | head -1 | grep -o '[0-9]*\.[0-9]*$')
  if [ -f "$WORK/glibc/ld-linux-x86-64.so.2" ] &&
     [ "$(printf '%s\n2.36\n' "$glibc" | sort -V | head -1)" != "2.36" ]; then
    chmod +x "$WORK/glibc/ld-linux-x86-64.so.2"
    RUN=("$WORK/glibc/ld-linux-x86-64.so.2" --library-path "$WORK/glibc:$LD_LIBRARY_PATH")
  fi
else
  if [ -z "$BUILD" ]; then
    for b in "$ROOT/build-tune" "$ROOT/build"; do
      [ -x "$b/bin/tilefuse" ] && BUILD=$b && break
    done
  fi
  TF="${BUILD:-$ROOT/build}/bin/tilefuse"
  export TILEFUSE_DEVICE_INCLUDE="${TILEFUSE_DEVICE_INCLUDE:-$ROOT/runtime/device}"
fi
[ -x "$TF" ] || { echo "device-tune: no tilefuse binary at $TF (give -b BUILD_DIR, or carry the bundle of tools/device-bundle.sh)" >&2; exit 1; }
if [ ${#RUN[@]} -eq 0 ] && ldd "$TF" | grep -q "not found"; then
  echo "device-tune: $TF cannot start, missing libraries:" >&2
  ldd "$TF" | grep "not found" >&2
  echo "carry the bundle of tools/device-bundle.sh (.device-carry/bundle) instead of a bare build" >&2
  exit 1
fi
tf() { "${RUN[@]}" "$TF" "$@"; }

# NVRTC compiles against the device library and the toolkit's headers.
if [ -z "${TILEFUSE_CUDA_INCLUDE:-}" ]; then
  for c in /usr/local/cuda/include /usr/local/cuda-13.0/include /usr/include; do
    [ -f "$c/cuda_bf16.h" ] && export TILEFUSE_CUDA_INCLUDE=$c && break
  done
fi
export TILEFUSE_CACHE_DIR="${TILEFUSE_CACHE_DIR:-$OUTDIR/cache}"

MODELS=("$@")
if [ ${#MODELS[@]} -eq 0 ]; then
  for f in "$ROOT"/specs/models/*.json; do MODELS+=("$(basename "$f" .json)"); done
fi

{
  echo "== $(date -u +%FT%TZ) device-tune: ${MODELS[*]}"
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader 2> /dev/null || true
  echo "tilefuse: $TF ${RUN[*]:+(loader ${RUN[0]})}; cache: $TILEFUSE_CACHE_DIR; device library: $TILEFUSE_DEVICE_INCLUDE; $(nproc) cores"
} | tee -a "$LOG"

for m in "${MODELS[@]}"; do
  spec="$ROOT/specs/models/$m.json"
  [ -f "$spec" ] || { echo "device-tune: no model file $spec" | tee -a "$LOG" >&2; continue; }
  echo "== tune $m" | tee -a "$LOG"
  start=$(date +%s)
  tf tune "$spec" --budget "$BUDGET" --json > "$OUTDIR/tune_$m.json" 2>> "$LOG"
  echo "tune exit status $? in $(( $(date +%s) - start )) s" | tee -a "$LOG"
  echo "== bench $m" | tee -a "$LOG"
  tf bench "$spec" --json > "$OUTDIR/bench_$m.json" 2>> "$LOG"
  echo "bench exit status $?" | tee -a "$LOG"
done

tf cache ls >> "$LOG" 2>&1
tf cache export "$OUTDIR/tilefuse-cache.tfcache" >> "$LOG" 2>&1

# The table (python3 reads the JSON; without it, the JSON files are the result).
if command -v python3 > /dev/null; then
  python3 - "$OUTDIR" "${MODELS[@]}" << 'EOF' | tee -a "$LOG"
import json, os, sys
out, models = sys.argv[1], sys.argv[2:]
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except Exception as e:  # a crashed run leaves an empty or partial file
        return {"error": "no JSON (%s)" % e}
def sched(s):
    return "%dx%d w%d s%d %s" % (s["block_m"], s["block_n"], s["warps"], s["kv_stages"],
                                 "qreg" if s["q"] == "registers" else "qsmem") if s else "-"
head = ("model", "shape", "default ms", "tuned schedule", "tuned ms", "TFLOP/s", "speedup", "tune s",
        "bench ms", "bench TFLOP/s", "err / bound", "check")
rows = []
for m in models:
    t, b = load(os.path.join(out, "tune_%s.json" % m)), load(os.path.join(out, "bench_%s.json" % m))
    if "error" in t and "winner" not in t:
        rows.append((m, "-", "-", "tune failed: " + t["error"][:80], "", "", "", "", "", "", "", ""))
        continue
    s = t["shape"]
    shape = "B%d Hq%d Hkv%d S%d D%d" % (s["B"], s["Hq"], s["Hkv"], s["Sq"], s["D"])
    ok = "error" not in b
    chk = b.get("check_sampled", {}) if ok else {}
    rows.append((m, shape, "%.3f" % t["default_ms"], sched(t["winner"]), "%.3f" % t["median_ms"],
                 "%.1f" % t["tflops"], "%.2fx" % t["speedup_vs_default"], "%.1f" % t["tuning_seconds"],
                 "%.3f" % b["median_ms"] if ok else "-", "%.1f" % b["tflops"] if ok else "-",
                 "%.2g / %.2g" % (chk.get("max_abs_err", 0), chk.get("bound", 0)) if ok else "-",
                 ("PASS" if b.get("passed") else "FAIL") if ok else "bench failed: " + b["error"][:60]))
widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
for r in [head] + rows:
    print(" | ".join(str(c).ljust(w) for c, w in zip(r, widths)))
print("TFLOP/s counts the matmul FLOPs of the tiles the kernel computes (flops_rule in the JSON).")
EOF
else
  echo "device-tune: no python3 for the table; results are the JSON files in $OUTDIR" | tee -a "$LOG"
fi
echo "device-tune: JSON, log and cache export in $OUTDIR"
