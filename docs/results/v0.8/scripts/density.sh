#!/usr/bin/env bash
# v0.8, issue 10: time against mask density (python/bench/bench_density.py): Tilefuse's dense kernel
# and masked kernels (causal, causal windows, document masks, random block masks, the 64-row block
# diagonal of specs/block_diagonal.json) next to FlexAttention, B4 H16 S4096 D128 bf16, one process.
#
# Device command (repository root; carry .device-carry, packed as for g2.sh: bundle/ from
# tools/device-bundle.sh, python/ from tools/device-python-pack.sh with its lib/ and bin/ emptied;
# lib/ is filled here from the bundle):
#   run(command="bash docs/results/v0.8/scripts/density.sh", carry=[".device-carry"], timeout_s=420)
# Expected: about 20 s of setup (wheel install, xz), then the bench: 24 cases, stopped from starting
# new ones after DENSITY_BUDGET seconds (default 200); about 2-4 minutes in all.
# Outputs under $OUT/density: density.json, density.md, density.png, density.svg, density.log;
# the wheel's install log under $OUT/py.
# env: DENSITY_ARGS (more bench_density.py arguments, e.g. "--quick" or "--families dense,block_diagonal"),
#      DENSITY_BUDGET (seconds, default 200).
set -u
T0=$SECONDS
mkdir -p "$OUT/density" "$OUT/py"
# The Python package's libraries come from the bundle (libtilefuse.so itself is in the wheel).
mkdir -p .device-carry/python/lib .device-carry/python/bin
for f in .device-carry/bundle/lib/*; do case "$f" in *libtilefuse*) ;; *) cp "$f" .device-carry/python/lib/ ;; esac; done
# Installs the wheel into /tmp/tilefuse-py/site and the libraries into /tmp/tilefuse-py/lib, runs nothing else.
OUT=$OUT/py SKIP_TESTS=1 SKIP_BENCH=1 timeout 120 bash .device-carry/python/run.sh > "$OUT/py/setup.log" 2>&1
echo "setup rc=$? at $((SECONDS - T0)) s"; cat "$OUT/py/env.log" 2>/dev/null
# The environment tools/device-python.sh gives its own children.
export LD_LIBRARY_PATH="/tmp/tilefuse-py/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
export PYTHONPATH=/tmp/tilefuse-py/site PYTHONUNBUFFERED=1
[ -d /usr/local/cuda/include ] && export TILEFUSE_CUDA_INCLUDE=/usr/local/cuda/include
# The script from this checkout (the block-diagonal spec is read from specs/ here).
timeout 330 python3 python/bench/bench_density.py --out "$OUT/density" --budget "${DENSITY_BUDGET:-200}" \
  ${DENSITY_ARGS:-} > "$OUT/density/density.log" 2>&1
echo "bench_density rc=$? at $((SECONDS - T0)) s"
tail -n 45 "$OUT/density/density.log"
