#!/usr/bin/env bash
# Packs the Python package for the GPU machine (which has PyTorch but no MLIR, so libtilefuse.so
# cannot be built there) into .device-carry/python/ (ignored by git; carry it with the device tool):
#
#   tilefuse-*.whl  the wheel `pip install .` would install (libtilefuse.so, device headers, specs)
#   lib/            the shared libraries libtilefuse.so needs that a base Ubuntu + CUDA image lacks
#                   (libLLVM-19 and what it needs), files over 1 MiB xz-compressed
#   bin/tilefuse    the CLI (for the CPU tracing tests that run `tilefuse run`), when built
#   tests/, bench/  python/tests and python/bench; run.sh = tools/device-python.sh
#
# The folder is self-contained: it runs from any checkout that carries it.
# usage (repository root, after tools/build.sh): bash tools/device-python-pack.sh [build-dir]
# then on the GPU machine: bash .device-carry/python/run.sh (see tools/device-python.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${TILEFUSE_BUILD_DIR:-$root/build}}
out=$root/.device-carry/python
py=${PYTHON:-${TILEFUSE_VENV:-$HOME/.cache/tilefuse/venv}/bin/python}
rm -rf "$out" && mkdir -p "$out/lib" "$out/bin"
# The wheel, built in the existing build tree (only the library target is relinked if stale): the
# tree's compilers and no build isolation, as tools/test.sh does (PYTHON needs scikit-build-core; the
# venv of tools/install-deps.sh --python has it).
cc=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
cxx=$(sed -n 's/^CMAKE_CXX_COMPILER:[A-Z]*=//p' "$build/CMakeCache.txt")
CC="$cc" CXX="$cxx" CMAKE_BUILD_PARALLEL_LEVEL=${TILEFUSE_JOBS:-2} "$py" -m pip wheel --no-deps --no-build-isolation \
  -w "$out" -C build-dir="$build" "$root" >"$out/wheel.log" 2>&1 || { tail -30 "$out/wheel.log"; exit 1; }
rm -f "$out/wheel.log"
lib=$(ls "$build"/lib/libtilefuse.so.*.* | head -1)
base='^(linux-vdso|ld-linux|libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libz|libzstd|liblzma|libtinfo|libbz2|libcuda|libnvrtc|libnvrtc-builtins|libcudart)\.so'
cli=()
[ -x "$build/bin/tilefuse" ] && cli=("$build/bin/tilefuse")
ldd "$lib" "${cli[@]}" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u | while read -r soname path; do
  [[ "$soname" =~ $base ]] && continue
  cp -L "$path" "$out/lib/$soname"
done
[ -x "$build/bin/tilefuse" ] && cp "$build/bin/tilefuse" "$out/bin/"
cp -r "$root/python/tests" "$root/python/bench" "$out/"
find "$out/tests" "$out/bench" -name __pycache__ -prune -exec rm -rf {} +
cp "$root/pyproject.toml" "$out/"  # pytest's settings
cp "$root/tools/device-python.sh" "$out/run.sh"
strip --strip-unneeded "$out"/lib/* "$out"/bin/* 2>/dev/null || true
for f in "$out"/lib/* "$out"/bin/*; do
  [ -f "$f" ] && [ "$(stat -c %s "$f")" -gt 1048576 ] && xz -T2 -6 "$f"
done
ls -la "$out" "$out/lib" "$out/bin"
du -sh "$out"
