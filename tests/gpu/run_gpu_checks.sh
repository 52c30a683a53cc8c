#!/usr/bin/env bash
# On a GPU machine, from the repository root: configures the runtime-only build
# (-DTILEFUSE_RUNTIME_ONLY=ON), builds, runs every ctest test (GPU and CPU), prints the FA2 accuracy
# table and the benchmark, checks the SASS for mma.sync / ldmatrix / cp.async, and runs
# compute-sanitizer memcheck + racecheck on the FA2 test. Logs go to $OUT (default /tmp/tilefuse-gpu-out).
# Usage: bash tests/gpu/run_gpu_checks.sh [catch2-install-prefix]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${OUT:-/tmp/tilefuse-gpu-out}
build=${TILEFUSE_BUILD_DIR:-/tmp/tilefuse-build-gpu}
mkdir -p "$out"
args=()
[ -n "${1:-}" ] && args+=(-DCatch2_DIR="$1/lib/cmake/Catch2")
export PATH=/usr/local/cuda/bin:$PATH

nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
echo "== configure + build"
cmake -S "$root" -B "$build" -G Ninja -DTILEFUSE_RUNTIME_ONLY=ON -DCMAKE_BUILD_TYPE=Release "${args[@]}" \
  >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" >>"$out/build.log" 2>&1 || { grep -E "error|FAILED" -A3 "$out/build.log" | head -80; exit 1; }
cd "$build" || exit 1

echo "== ctest"
ctest --no-tests=error --output-on-failure -j 4 2>&1 | tee "$out/ctest.log"
status=${PIPESTATUS[0]}

echo "== FA2 accuracy"
./tests/gpu/tilefuse_gpu_tests "[fa2]" 2>&1 | grep -E "^fa2 |passed|failed|FAILED|REQUIRE|CHECK|with expansion" | tee "$out/fa2.log"

echo "== FA2 benchmark"
rm -rf /tmp/tf-cubin && mkdir -p /tmp/tf-cubin
TILEFUSE_TEST_DUMP_DIR=/tmp/tf-cubin ./tests/gpu/tilefuse_gpu_tests "[bench]" 2>&1 | tee "$out/bench.log"

echo "== SASS (per kernel: HMMA.16816 / LDSM / LDGSTS counts)"
for f in /tmp/tf-cubin/*.cubin; do
  cuobjdump -sass "$f" | awk '/Function :/ {fn=$3} /HMMA.16816/ {h[fn]++} /LDSM/ {l[fn]++} /LDGSTS/ {g[fn]++}
    END {for (f in h) printf "  %-24s HMMA.16816 %4d  LDSM %4d  LDGSTS %4d\n", f, h[f], l[f], g[f]}' | sort
done | tee "$out/sass.log"

echo "== compute-sanitizer (FA2 test)"
for tool in memcheck racecheck; do
  timeout 150 compute-sanitizer --tool "$tool" --error-exitcode 9 ./tests/gpu/tilefuse_gpu_tests "[fa2]" 2>&1 |
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Error|passed|failed" | head -20
  echo "  $tool exit ${PIPESTATUS[0]}"
done 2>&1 | tee "$out/sanitizer.log"
exit "$status"
