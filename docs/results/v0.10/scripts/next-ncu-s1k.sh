#!/usr/bin/env bash
# Prepared for the next session, not run yet. This is Nsight Compute on the S1k kernel, which is 1.01x cuDNN
# while S4k is 1.09x (0.243 ms; 566 against 657 TFLOP/s). It looks at where the 14% goes: speed of light,
# stall reasons, L2 and DRAM throughput, and the launch's tail. It also times S1k at B32, which halves the
# wave-quantization loss, and at B8, to see how the time scales per tile.
#   run(command="bash docs/results/v0.10/scripts/next-ncu-s1k.sh", carry=[".device-carry"], timeout_s=400)
set -u
export PATH=/usr/local/cuda/bin:$PATH
source tools/device-unpack.sh /tmp/tf-ncu-bundle >/dev/null
tf=/tmp/tf-ncu-bundle/bin/tilefuse
for b in 8 16 32; do
  echo "== mha B$b H16 S1024 D128"
  timeout 60 $tf bench specs/mha.json --B $b --Hq 16 --Hkv 16 --S 1024 --D 128 --reps 30 2>&1 | grep -E "median|FAIL"
done
timeout 240 ncu --clock-control none -k regex:tilefuse_ -c 3 --section SpeedOfLight --section WarpStateStats \
  --section MemoryWorkloadAnalysis --section LaunchStats --section SchedulerStats \
  $tf bench specs/mha.json --B 16 --Hq 16 --Hkv 16 --S 1024 --D 128 --reps 1 --warmup 0 > $OUT/ncu-s1k.txt 2>&1
echo "ncu rc=$?"
grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|L2 Hit|L1/TEX Hit|Stall|Issued Ipc|No Eligible" \
  $OUT/ncu-s1k.txt | head -40
