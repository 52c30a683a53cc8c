#!/usr/bin/env bash
# v0.11 device call 3 (carry .device-carry: bundle/ at 1567401): where S1k's time per Q tile goes.
#   run(command="bash docs/results/v0.11/scripts/c3.sh", carry=[".device-carry"], timeout_s=600)
# 1. Plain D128 attention at B x S = 16k for S = 512 .. 8192 (heuristic default, 128x128 pingpong
#    persistent): time per Q tile per SM = t x SMs / tiles, against the number of K/V tiles per Q tile.
# 2. Nsight Compute on S1k and S4k (one launch each of the timed shape): speed of light, warp states,
#    scheduler and launch statistics.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-c3 >/dev/null
tf=/tmp/tf-c3/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c3-cache
echo "| S | B | ms | us per Q tile per SM | K/V tiles per Q tile |" | tee $OUT/scaling.md
for sb in 512:32 1024:16 2048:8 4096:4 8192:2; do
  s=${sb%:*} b=${sb#*:}
  ms=$(timeout 60 $tf bench specs/mha.json --B $b --Hq 16 --Hkv 16 --S $s --D 128 --reps 50 2>&1 | grep -oE "median [0-9.]+" | grep -oE "[0-9.]+$")
  python3 -c "
s,b,ms=$s,$b,float('${ms:-nan}'); tiles=b*16*(s//128)
print('| %d | %d | %.3f | %.2f | %d |' % (s,b,ms,ms*1e3*132/tiles,s//128))" | tee -a $OUT/scaling.md
done
echo "== ncu at $((SECONDS - T0)) s"
for sb in 1024:16 4096:4; do
  s=${sb%:*} b=${sb#*:}
  timeout 200 ncu --clock-control none -k regex:tilefuse_ --launch-skip 1 -c 1 --section SpeedOfLight --section WarpStateStats \
    --section SchedulerStats --section LaunchStats --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
    $tf bench specs/mha.json --B $b --Hq 16 --Hkv 16 --S $s --D 128 --reps 1 --warmup 0 > $OUT/ncu-s$s.txt 2>&1
  echo "ncu S$s rc=$? at $((SECONDS - T0)) s"
  grep -E "Grid Size|Duration|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|L2 Hit|Issued Ipc|Issue Slots Busy|No Eligible|Active Warps Per Scheduler|Eligible Warps|Warp Cycles Per Issued|Executed Ipc|Stall|ERR|rror" \
    $OUT/ncu-s$s.txt | head -30
done
