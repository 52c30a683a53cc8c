#!/usr/bin/env bash
# On the GPU machine (PyTorch, CUDA, no MLIR): installs the wheel packed by tools/device-python-pack.sh
# into /tmp/tilefuse-py/site, runs the Python package's tests (GPU tests against fp64 references, plus
# the CPU ones) and the benchmark of the Python entry points against FlexAttention and SDPA. Logs and
# the benchmark's JSON go to $OUT. Runs from the packed folder (copied there as run.sh), so it needs
# only .device-carry/python, not this checkout.
#
# usage:  bash .device-carry/python/run.sh [pytest args...]
#   device tool: run(command="SKIP_BENCH=1 bash .device-carry/python/run.sh", carry=[".device-carry"])
#                run(command="SKIP_TESTS=1 bash .device-carry/python/run.sh", carry=[".device-carry"])
# env: SKIP_TESTS=1, SKIP_BENCH=1, BENCH_REPS (default 30), BENCH_ARGS (more bench_python.py arguments,
#      e.g. --overhead-only)
set -u -o pipefail
pack=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ -f "$pack/pyproject.toml" ] || pack=$(pwd)/.device-carry/python  # run as tools/device-python.sh
out=${OUT:-/tmp/tilefuse-py-out}
work=/tmp/tilefuse-py
mkdir -p "$out"
rm -rf "$work" && mkdir -p "$work/lib" "$work/bin"
cp "$pack"/lib/* "$work/lib/"
cp "$pack"/bin/* "$work/bin/" 2>/dev/null || true
# The CLI (for the tests that run `tilefuse run`): packed, or else the device bundle's (xz-compressed)
# when this runs from a checkout that carries .device-carry/bundle.
if [ ! -e "$work/bin/tilefuse" ] && [ ! -e "$work/bin/tilefuse.xz" ] && [ -f .device-carry/bundle/bin/tilefuse.xz ]; then
  cp .device-carry/bundle/bin/tilefuse.xz "$work/bin/"
fi
find "$work" -name '*.xz' -print0 | xargs -0 -r -n1 -P8 xz -d
chmod +x "$work"/bin/* 2>/dev/null || true
# libLLVM-19 and the others are not on the GPU machine: the bundle's copies, then CUDA's.
export LD_LIBRARY_PATH="$work/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
python3 -m pip install -q --no-index --no-deps --no-compile --target "$work/site" "$pack"/tilefuse-*.whl ||
  { echo "wheel install failed"; exit 1; }
export PYTHONPATH="$work/site"
# NVRTC's -I for cuda_bf16.h (the library's built-in default is this machine's CUDA path, the same).
if [ -d /usr/local/cuda/include ]; then export TILEFUSE_CUDA_INCLUDE=/usr/local/cuda/include; fi
[ -x "$work/bin/tilefuse" ] && export TILEFUSE_CLI="$work/bin/tilefuse"
export PYTHONUNBUFFERED=1
python3 - <<'PY' 2>&1 | tee "$out/env.log"
import torch, tilefuse
print("torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU")
print("tilefuse", tilefuse.__file__, "library", tilefuse.library_path(), "native", tilefuse.native_version())
PY
status=0
if [ "${SKIP_TESTS:-0}" != 1 ]; then
  # The tests import `tilefuse` from the installed wheel (the packed folder holds no package sources).
  timeout=()
  python3 -c "import pytest_timeout" 2>/dev/null && timeout=(--timeout=900)
  (cd "$pack" && python3 -m pytest -q -rs -p no:cacheprovider "${timeout[@]}" tests "$@" 2>&1) |
    tee "$out/pytest.log" | grep -v '^\.*\s*\[' | tail -60
  status=${PIPESTATUS[0]}
fi
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  (cd "$pack" && python3 bench/bench_python.py --reps "${BENCH_REPS:-30}" ${BENCH_ARGS:-} --json "$out/bench_python.json") 2>&1 |
    tee "$out/bench_python.log"
fi
exit $status
