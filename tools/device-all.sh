#!/usr/bin/env bash
# One device call (GPU machine, repository root, bundle of tools/device-bundle.sh and peers.py carried
# in .device-carry): a smoke launch of each backend, the GPU checks (tests/gpu/run_generated_checks.sh:
# sweep on both backends, Engine / C API, sanitizers, SASS), then the benchmark with the peers
# (tools/device-bench.sh) timing the schedules in $TF_SCHEDULES too. Summaries are copied to $OUT
# (at most 8 files come back): summary.log, generated_sweep.md, bench-table.md, peers.log, smoke.log.
# usage: [SKIP_CHECKS=1] [SKIP_BENCH=1] [NCU=1] [BLOCKMASK=1] [TF_VARIANTS=0] [TF_CASES=0] [TF_ONLY=REGEX]
#        [TF_SCHEDULES='{...};{...}'] bash tools/device-all.sh
# NCU=1 also writes ncu.txt (Nsight Compute of the D128 sm90 kernel). BLOCKMASK=1 runs the run-time block
# mask tests alone first ("[blockmask]", then under compute-sanitizer memcheck): blockmask.log.
# The document masks alone with the peers: BLOCKMASK=1 SKIP_CHECKS=1 TF_CASES=0 TF_ONLY=document.
set -u -o pipefail
final=${OUT:-/tmp/tilefuse-all-out}
mkdir -p "$final"
work=/tmp/tf-all && mkdir -p "$work"
(
  source tools/device-unpack.sh /tmp/tf-smoke-bundle
  tf=/tmp/tf-smoke-bundle/bin/tilefuse
  for sched in '{"mma":"mma_sync_m16n8k16","block_m":128,"block_n":64,"warps":8,"kv_stages":2}' \
               '{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem"}'; do
    echo "== smoke $sched"
    timeout 60 "$tf" bench specs/causal.json --B 1 --Hq 4 --Hkv 4 --S 1000 --D 128 --reps 3 --schedule "$sched" 2>&1 | tail -4
    echo "rc=$?"
  done
) 2>&1 | tee "$final/smoke.log"
if [ -n "${BLOCKMASK:-}" ]; then
  (
    source tools/device-unpack.sh /tmp/tf-blockmask-bundle
    bin=/tmp/tf-blockmask-bundle/bin
    export PATH=/usr/local/cuda/bin:$PATH
    echo "== run-time block masks [blockmask]"
    timeout 400 "$bin/tilefuse_generated_gpu_tests" "[blockmask]" 2>&1 | tail -n 40
    echo "rc=${PIPESTATUS[0]}"
    echo "== [blockmask] under compute-sanitizer memcheck"
    timeout 400 compute-sanitizer --tool memcheck --error-exitcode 9 "$bin/tilefuse_generated_gpu_tests" "[blockmask]" 2>&1 |
      grep -E "ERROR SUMMARY|Invalid|passed|failed" | head -8
    echo "memcheck rc=${PIPESTATUS[0]}"
  ) 2>&1 | tee "$final/blockmask.log"
fi
if [ -z "${SKIP_CHECKS:-}" ]; then
  OUT=$work/checks bash tests/gpu/run_generated_checks.sh >/dev/null 2>&1
  cp "$work/checks/summary.log" "$final/summary.log"
  cp "$work/checks/generated_sweep.md" "$final/generated_sweep.md" 2>/dev/null
  cp "$work/checks/generated.log" "$final/generated.log" 2>/dev/null
  tail -n 40 "$final/summary.log"
fi
if [ -n "${NCU:-}" ]; then
  # Nsight Compute on the sm90 kernel (B4 H16 S4096 D128, non-causal): speed of light, stall reasons.
  # The bench's small accuracy checks launch the same kernel name on smaller grids: up to 4 launches.
  source tools/device-unpack.sh /tmp/tf-smoke-bundle >/dev/null
  timeout 180 ncu --clock-control none -k regex:tilefuse_ -c 4 --section SpeedOfLight --section WarpStateStats \
    --section Occupancy --section LaunchStats --section SchedulerStats \
    /tmp/tf-smoke-bundle/bin/tilefuse bench specs/mha.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --reps 1 \
    --warmup 0 > "$final/ncu.txt" 2>&1
  echo "ncu rc=$?"; grep -E "Grid Size|Duration|Compute \(SM\) Throughput|Stall|Issued Ipc|No Eligible" "$final/ncu.txt" | head -40
fi
[ -n "${SKIP_BENCH:-}" ] && exit 0
OUT=$work/bench bash tools/device-bench.sh > "$work/bench.log" 2>&1
cp "$work/bench/table.md" "$final/bench-table.md" 2>/dev/null
cp "$work/bench/peers.log" "$final/peers.log" 2>/dev/null
cp "$work/bench.log" "$final/bench.log" 2>/dev/null
grep -E "rc=[1-9]" "$work/bench.log" | head -20
cat "$final/bench-table.md"
