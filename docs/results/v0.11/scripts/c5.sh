#!/usr/bin/env bash
# v0.11 device call 5 (carry .device-carry: bundle/ at 1567401): how much of the run-to-run spread of S16k
# (1.02x to 1.16x cuDNN across calls) is the GPU's state. Three interleaved rounds of Tilefuse (heuristic
# default, with NVML energy: average watts) and the peers (peers.py, one case), then the clocks and power
# reported by nvidia-smi right after each.
#   run(command="bash docs/results/v0.11/scripts/c5.sh", carry=[".device-carry"], timeout_s=420)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-c5 >/dev/null
tf=/tmp/tf-c5/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c5-cache
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm,temperature.gpu --format=csv,noheader
for round in 1 2 3; do
  for sb in 16384:1 1024:16; do
    s=${sb%:*} b=${sb#*:}
    line=$(timeout 90 $tf bench specs/mha.json --B $b --Hq 16 --Hkv 16 --S $s --D 128 --reps 50 --energy 2>&1 | grep -E "^time|^energy" | tr '\n' ' ')
    smi=$(nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader)
    echo "round $round S$s tilefuse: $line| after: $smi"
    peers=$(timeout 120 python3 .device-carry/peers/peers.py --case "$b,16,16,$s,128,0" 2>&1 | grep -iE "cudnn" | head -1)
    smi=$(nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader)
    echo "round $round S$s peers: $peers | after: $smi"
  done
done
echo "done at $((SECONDS - T0)) s"
