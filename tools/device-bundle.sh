#!/usr/bin/env bash
# Packs what the GPU tests of the runtime library need on the device machine, which has CUDA but no
# MLIR/LLVM Debian packages (so the compiler cannot be built there), into .device-carry/bundle/
# (ignored by git; carry it with the device tool: carry [".device-carry"]):
#
#   bin/      tilefuse_generated_gpu_tests, tilefuse-codegen-gpu-tests, tilefuse_runtime_api_tests, the tilefuse CLI, and the
#             example causal_attention built against an install of the library
#   lib/      libtilefuse.so and every shared library the binaries need that a base Ubuntu + CUDA
#             image lacks (ldd: libLLVM-19, libz3, libicu*, libxml2, libedit, libffi, libfmt, ...);
#             files over 1 MiB are xz-compressed (*.xz) to stay under the 64 MiB carry limit
#   device/   runtime/device (the headers NVRTC compiles generated kernels against)
#   specs/    specs/ (every *.json, subfolders too: models/, bench/, varlen/)
#   glibc/    this machine's loader, libc and libstdc++: used only if the device's glibc is older
#
# On the device, tests/gpu/run_generated_checks.sh unpacks lib/ into /tmp and sets LD_LIBRARY_PATH,
# TILEFUSE_DEVICE_INCLUDE and TILEFUSE_SPECS_DIR.
# Usage (repository root, after building): bash tools/device-bundle.sh [build-dir]   (default build-rtapi)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-rtapi}
out=$root/.device-carry/bundle
[ -d "$build" ] || { echo "no build directory $build" >&2; exit 1; }

binaries=(
  "$build/runtime/tilefuse_generated_gpu_tests"
  "$build/runtime/tilefuse_runtime_api_tests"
  "$build/bin/tilefuse"
  "$build/example-check/build/causal_attention"
  "$build/tests/unit/codegen/tilefuse-codegen-gpu-tests"
)
for b in "${binaries[@]}"; do
  [ -x "$b" ] || { echo "missing $b: build it (and run ctest -R runtime.example for the example)" >&2; exit 1; }
done

# Libraries of a base Ubuntu image, the CUDA driver and the CUDA toolkit (present on the device).
base='^(linux-vdso|ld-linux|libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|libz|libzstd|liblzma|libtinfo|libbz2|libcuda|libnvrtc|libnvrtc-builtins|libcudart)\.so'

rm -rf "$out"
mkdir -p "$out/bin" "$out/lib" "$out/device" "$out/specs"
for b in "${binaries[@]}"; do cp "$b" "$out/bin/"; done
cp -P "$build"/lib/libtilefuse.so* "$out/lib/"
cp -r "$root/runtime/device/." "$out/device/"
cp -r "$root"/specs/. "$out/specs/"

# Every non-base library any binary (or libtilefuse) resolves, copied under its NEEDED (soname) name.
for b in "${binaries[@]}" "$build"/lib/libtilefuse.so; do
  LD_LIBRARY_PATH="$build/lib" ldd "$b" | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r soname path; do
  if [[ "$soname" =~ $base ]] || [[ "$soname" == libtilefuse.so* ]]; then continue; fi
  cp -L "$path" "$out/lib/$soname"
done

# A fallback for a device whose glibc is older than this machine's: Debian's loader, libc and C++
# runtime (run.sh-style use: glibc/ld-linux-x86-64.so.2 --library-path glibc:lib BINARY).
mkdir -p "$out/glibc"
for soname in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libstdc++.so.6 libgcc_s.so.1 libz.so.1 libzstd.so.1 \
              liblzma.so.5 libtinfo.so.6 libbz2.so.1.0; do
  path=$(LD_LIBRARY_PATH="$build/lib" ldd "$build/lib/libtilefuse.so" "${binaries[@]}" |
         awk -v s="$soname" '$1 == s && $3 ~ /^\// {print $3} $1 ~ /ld-linux/ && s ~ /ld-linux/ {print $1}' | head -1 || true)
  if [ -n "$path" ]; then cp -L "$path" "$out/glibc/$soname"; fi
done

# Strip and compress: files over 1 MiB become <name>.xz.
strip --strip-unneeded "$out"/bin/* "$out"/lib/*.so* 2>/dev/null || true
for f in "$out"/bin/* "$out"/lib/* "$out"/glibc/*; do
  [ -L "$f" ] && continue
  if [ "$(stat -c %s "$f")" -gt 1048576 ]; then xz -T2 -6 "$f"; fi
done
echo "bundle: $out"
( cd "$out" && find . -type f -printf '%10s  %p\n' | sort -k2 ) | grep -v '^ *[0-9]*  ./\(device\|specs\)/' || true
du -sh "$out"
