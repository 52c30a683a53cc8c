#!/usr/bin/env bash
# On an H100/H200 device machine, from the repository root: runtime-only build of the two wgmma test
# binaries, the sm_90a compile check ([wgmma]: ptxas report + SASS via cuobjdump), the [wgmma]
# correctness tests (prototype + warp-specialized kernel, under `timeout`: a pipeline deadlock shows as
# a timeout) and the hidden [wgmma-bench] twice. Logs to $OUT. Usage: bash tests/gpu/wgmma_ws_run.sh [catch2-prefix]
set -uo pipefail
out=${OUT:-/tmp/tilefuse-wgmma-out}; b=${TILEFUSE_BUILD_DIR:-/tmp/tilefuse-build-wgmma}
mkdir -p "$out"; export PATH=/usr/local/cuda/bin:$PATH
catch2=${1:-$PWD/.device-carry/catch2}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv
cmake -S . -B "$b" -G Ninja -DTILEFUSE_RUNTIME_ONLY=ON -DCMAKE_BUILD_TYPE=Release -DCatch2_DIR="$catch2/lib/cmake/Catch2" \
  >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
cmake --build "$b" -j "$(nproc)" --target tilefuse_gpu_tests tilefuse_device_compile_tests >>"$out/build.log" 2>&1 ||
  { grep -E "error|FAILED" -A3 "$out/build.log" | head -60; exit 1; }
echo "== compile check (sm_90a, ptxas, SASS)"
timeout 90 "$b/tests/gpu/tilefuse_device_compile_tests" "[wgmma]" >"$out/compile.log" 2>&1
echo "  exit $?"; grep -E "registers|SASS|passed|failed|FAILED" "$out/compile.log" | grep -E "ws_|SASS|passed|failed|FAILED"
echo "== [wgmma] correctness"
timeout "${TILEFUSE_WGMMA_TIMEOUT:-120}" "$b/tests/gpu/tilefuse_gpu_tests" "[wgmma]" >"$out/correct.log" 2>&1
echo "  exit $?"; grep -E "^wgmma-ws|gemm|passed|failed|FAILED|with expansion" "$out/correct.log" | head -80
grep -E "^wgmma wgmma" "$out/correct.log" | awk '{n++} END {print "  prototype rows:", n}'
for run in 1 2; do
  echo "== [wgmma-bench] run $run"
  timeout 60 "$b/tests/gpu/tilefuse_gpu_tests" "[wgmma-bench]" >"$out/bench$run.log" 2>&1
  echo "  exit $?"; grep -E "passed|failed|FAILED|with expansion" "$out/bench$run.log"
done
echo "== compute-sanitizer memcheck, warp-specialized correctness test (timeout ${TILEFUSE_SANITIZER_TIMEOUT:-80} s)"
timeout "${TILEFUSE_SANITIZER_TIMEOUT:-80}" compute-sanitizer --tool memcheck --error-exitcode 9 \
  "$b/tests/gpu/tilefuse_gpu_tests" "warp-specialized*" >"$out/memcheck.log" 2>&1
echo "  exit $?"; grep -E "ERROR SUMMARY|passed|failed" "$out/memcheck.log" | head -5
nvidia-smi --query-gpu=clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv
for run in 1 2; do echo "== table run $run"; sed -n '/^| problem/,$p' "$out/bench$run.log"; done
