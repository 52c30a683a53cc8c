#!/usr/bin/env bash
# An AddressSanitizer + UndefinedBehaviorSanitizer build of Tilefuse (issue 14), then the CPU test
# suite (ctest and lit) and a fuzz batch against it. Not in CI: the instrumented build alone takes
# longer than CI's budget on 2 cores. Run it by hand and report the result.
#
# usage: tools/sanitize.sh [FUZZ_COUNT=1000]
#   TILEFUSE_SAN_BUILD_DIR  the build directory (default: build-asan/)
#   TILEFUSE_JOBS           build jobs (default: nproc)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TILEFUSE_SAN_BUILD_DIR:-$root/build-asan}"
bash "$root/tools/install-deps.sh"
flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
if [ ! -f "$build/build.ninja" ]; then
  # -O1 -g1: line numbers in the reports, and less compile time than -O2 -g on 2 cores.
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
# Without a GPU driver the test binaries cannot start (they link libcuda.so.1), and Catch2's test
# discovery after each link would register none of their cases: put the toolkit's stub on the path.
if ! ldconfig -p | grep -q 'libcuda\.so\.1'; then
  stub=$(ls /usr/local/cuda/lib64/stubs/libcuda.so /usr/local/cuda/targets/*/lib/stubs/libcuda.so 2>/dev/null | head -1)
  if [ -n "$stub" ]; then
    mkdir -p "$build/cudastub" && ln -sf "$stub" "$build/cudastub/libcuda.so.1"
    export LD_LIBRARY_PATH="$build/cudastub${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi
cmake --build "$build" -j "${TILEFUSE_JOBS:-$(nproc)}"
# Leaks are not errors here (MLIR's global registries live until exit); every other report is.
# allow_user_poisoning=0: LLVM's BumpPtrAllocator, instantiated in our instrumented code, poisons
# its slabs for the ASan build, but Debian's MLIR libraries are not instrumented and never unpoison
# what they allocate there: without it every MLIRContext reports use-after-poison at startup.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allow_user_poisoning=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
(cd "$build" && ctest --no-tests=error --output-on-failure -j "$(nproc)" -E '^fuzz\.|^runtime\.example-runs$') || status=1
# The example is built apart, against an install of the instrumented library, without -fsanitize: ASan's
# runtime has to be loaded first ("ASan runtime does not come first in initial library list").
asan_rt=$("${CXX:-c++}" -print-file-name=libasan.so) ubsan_rt=$("${CXX:-c++}" -print-file-name=libubsan.so)
(cd "$build" && LD_PRELOAD="$asan_rt:$ubsan_rt" ctest --no-tests=error --output-on-failure -R '^runtime\.example-runs$') ||
  status=1
python3 /usr/lib/llvm-19/build/utils/lit/lit.py -sv "$build/tests/lit" || status=1
python3 "$root/tests/fuzz/fuzz.py" --bin-dir "$build/bin" --src "$root" --count "${1:-1000}" \
  --seed 14 --jobs "$(nproc)" --timeout 120 --keep "$build/fuzz-failures" || status=1
exit $status
