#!/usr/bin/env bash
# The test command: install, configure, build, then every test (Catch2 through ctest, and lit).
# GPU tests skip visibly (Catch2 prints "SKIPPED: no GPU") when no GPU is present.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TILEFUSE_BUILD_DIR:-$root/build}"
bash "$root/tools/build.sh"
status=0
(cd "$build" && ctest --no-tests=error --output-on-failure -j "$(nproc)") || status=1
python3 /usr/lib/llvm-19/build/utils/lit/lit.py -sv "$build/tests/lit" || status=1

# The Python package: `pip install .` into the test venv (tools/install-deps.sh --python; reuses the
# build tree above), then its CPU tests (tracing, specs through the CLI and the fp64 interpreter,
# argument checks, torch.compile on meta tensors); the GPU tests skip visibly without a GPU.
venv="${TILEFUSE_VENV:-$HOME/.cache/tilefuse/venv}"
if [ "${TILEFUSE_PYTHON_TESTS:-1}" = 0 ]; then
  echo "python: SKIPPED (TILEFUSE_PYTHON_TESTS=0)"
elif ! bash "$root/tools/install-deps.sh" --python; then
  echo "python: SKIPPED: PyTorch could not be installed into $venv (tools/install-deps.sh --python failed)"
else
  py="$venv/bin/python"
  # The same compilers as the build tree (a different one would make CMake wipe its cache and rebuild
  # everything) and no build isolation (stable module paths): pip then only relinks and installs.
  cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
  cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
  if CC="$cc" CXX="$cxx" CMAKE_BUILD_PARALLEL_LEVEL="${TILEFUSE_JOBS:-$(nproc)}" "$py" -m pip install -q \
       --disable-pip-version-check --no-build-isolation --no-deps --force-reinstall -C build-dir="$build" "$root" \
       >"$build/pip-install.log" 2>&1; then
    (cd "$build" && TILEFUSE_BUILD_DIR="$build" "$py" -m pytest -rs -p no:cacheprovider "$root/python/tests") || status=1
  else
    tail -n 40 "$build/pip-install.log"
    echo "python: pip install . failed (log: $build/pip-install.log)"
    status=1
  fi
fi
exit $status
