#!/usr/bin/env bash
# On a GPU machine, from the repository root: configures the runtime-only build
# (-DTILEFUSE_RUNTIME_ONLY=ON), builds, runs every ctest test (GPU and CPU), prints the FA2 accuracy
# table, the accuracy of every swept FA2 schedule ([sweep]) and the schedule benchmark ([bench]), checks
# the SASS for mma.sync / ldmatrix / cp.async and local memory, and runs compute-sanitizer memcheck +
# racecheck on the FA2 test (default schedule); the benchmark's markdown table is printed again last.
# Logs go to $OUT (default /tmp/tilefuse-gpu-out).
# Usage: bash tests/gpu/run_gpu_checks.sh [catch2-install-prefix]
# Env: TILEFUSE_CTEST_ARGS (e.g. "-L gpu": only the GPU tests; the CPU ones also run without a GPU),
#      TILEFUSE_SANITIZER_TIMEOUT (seconds per sanitizer tool, default 150),
#      TILEFUSE_GPU_QUICK=1 (short device leases: no ctest, the GPU tests run once straight from the
#      binary; memcheck only, no racecheck).
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

quick=${TILEFUSE_GPU_QUICK:-0}
if [ "$quick" = 1 ]; then
  echo "== GPU tests (every non-hidden test of tilefuse_gpu_tests) and the FA2 accuracy table"
  ./tests/gpu/tilefuse_gpu_tests 2>&1 | tee "$out/gpu-tests.log" |
    grep -E "^fa2 |passed|failed|FAILED|REQUIRE|CHECK|with expansion" | tee "$out/fa2.log"
  status=${PIPESTATUS[0]}
else
  echo "== ctest"
  # shellcheck disable=SC2086
  ctest --no-tests=error --output-on-failure -j 4 ${TILEFUSE_CTEST_ARGS:-} 2>&1 | tee "$out/ctest.log"
  status=${PIPESTATUS[0]}

  echo "== FA2 accuracy"
  ./tests/gpu/tilefuse_gpu_tests "[fa2]" 2>&1 | grep -E "^fa2 |passed|failed|FAILED|REQUIRE|CHECK|with expansion" | tee "$out/fa2.log"
fi

echo "== FA2 accuracy of every swept schedule"
./tests/gpu/tilefuse_gpu_tests "[sweep]" 2>&1 | grep -E "^fa2 sweep|^  [bf]|passed|failed|FAILED|REQUIRE|CHECK|with expansion" |
  tee "$out/sweep.log" | grep -E "^fa2 sweep|passed|failed|FAILED|REQUIRE|CHECK|with expansion"
[ "${PIPESTATUS[0]}" -eq 0 ] || status=1

echo "== FA2 benchmark"
rm -rf /tmp/tf-cubin && mkdir -p /tmp/tf-cubin
TILEFUSE_TEST_DUMP_DIR=/tmp/tf-cubin ./tests/gpu/tilefuse_gpu_tests "[bench]" >"$out/bench.log" 2>&1 || status=1
grep -E "^device|passed|failed|FAILED|with expansion" "$out/bench.log" | head -40 # rows: the table printed last
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw,clocks_throttle_reasons.active --format=csv

echo "== SASS (per kernel: HMMA.16816 / LDSM / LDGSTS / LDL+STL counts)"
for f in /tmp/tf-cubin/*.cubin; do
  cuobjdump -sass "$f" | awk '/Function :/ {fn=$3} /HMMA.16816/ {h[fn]++} /LDSM/ {l[fn]++} /LDGSTS/ {g[fn]++}
    /LDL|STL/ {s[fn]++}
    END {for (f in h) printf "  %-44s HMMA.16816 %4d  LDSM %4d  LDGSTS %4d  LDL/STL %4d\n", f, h[f], l[f], g[f], s[f]}' | sort
done | tee "$out/sass.log"

echo "== compute-sanitizer (FA2 test)"
tools="memcheck racecheck"
[ "$quick" = 1 ] && tools=memcheck
for tool in $tools; do
  timeout "${TILEFUSE_SANITIZER_TIMEOUT:-150}" compute-sanitizer --tool "$tool" --error-exitcode 9 ./tests/gpu/tilefuse_gpu_tests "[fa2]" 2>&1 |
    grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Error|passed|failed" | head -20
  echo "  $tool exit ${PIPESTATUS[0]}"
done 2>&1 | tee "$out/sanitizer.log"

echo "== FA2 benchmark table (bf16; TFLOP/s = 4 B H Sq Sk D / t, halved for causal)"
sed -n '/^| problem/,$p' "$out/bench.log"
exit "$status"
