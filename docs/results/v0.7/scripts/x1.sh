#!/usr/bin/env bash
# Exploration call 1 (2026-12-03, fourth session): Nsight Compute (memory, stalls) of the default sm90
# kernel at S1k / S4k / S16k and S1k persistent; a schedule sweep on S1k, S16k, D64; cuDNN in the same call.
set -u
source tools/device-unpack.sh /tmp/b >/dev/null
tf=/tmp/b/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/tfc
o=${OUT:-/tmp/x1}; mkdir -p $o
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,temperature.gpu --format=csv > $o/smi.txt
sched() { echo "{\"mma\":\"wgmma\",\"q\":\"smem\",\"block_m\":$1,\"block_n\":$2,\"warps\":$(($1/16)),\"kv_stages\":$3,\"overlap\":\"$4\"${5:+,\"persistent\":true}}"; }
ncu_one() {
  local name=$1; shift
  timeout 150 ncu --clock-control none -k regex:tilefuse_ -c 8 --section SpeedOfLight --section MemoryWorkloadAnalysis \
    --section WarpStateStats --section SchedulerStats --section LaunchStats "$tf" bench "$@" --reps 1 --warmup 0 > $o/ncu_$name.txt 2>&1
  echo "== ncu $name rc=$?"
  awk '/tilefuse_mha \(/{buf=""} {buf=buf"\n"$0} END{print buf}' $o/ncu_$name.txt | grep -E "tilefuse_mha \(|Duration|DRAM Throughput|L2 Hit Rate|L1/TEX Hit|Memory Throughput|Compute \(SM\)|Mem Busy|Max Bandwidth|No Eligible|Issued Warp|Warp Cycles Per Issued|Registers Per" | sed 's/  */ /g'
}
ncu_one s1k specs/mha.json --B 16 --Hq 16 --Hkv 16 --S 1024 --D 128
ncu_one s1k_persistent specs/mha.json --B 16 --Hq 16 --Hkv 16 --S 1024 --D 128 --schedule "$(sched 128 128 2 pingpong 1)"
ncu_one s4k specs/mha.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128
ncu_one s16k specs/mha.json --B 1 --Hq 16 --Hkv 16 --S 16384 --D 128
echo "case|schedule|ms|TFLOP/s|check" > $o/sweep.txt
run() { # case-name spec B H S D schedule-json-or-default
  local n=$1 spec=$2 B=$3 H=$4 S=$5 D=$6 s=${7:-}
  local args=(bench "$spec" --B $B --Hq $H --Hkv $H --S $S --D $D --reps 30 --json)
  [ -n "$s" ] && args+=(--schedule "$s")
  "$tf" "${args[@]}" > /tmp/r.json 2>/tmp/r.err
  python3 - "$n" "${s:-default}" <<'PY' >> $o/sweep.txt
import json,sys
try:
  j=json.load(open('/tmp/r.json')); print("%s|%s|%.4f|%.0f|%s"%(sys.argv[1],sys.argv[2],j["median_ms"],j.get("tflops",0),j.get("passed")))
except Exception as e: print("%s|%s|ERR %s|%s|"%(sys.argv[1],sys.argv[2],e,open('/tmp/r.err').read()[-150:].replace("\n"," ")))
PY
}
for s in "" "$(sched 128 128 3 pingpong)" "$(sched 128 128 2 pingpong 1)" "$(sched 128 192 2 pingpong)"; do
  run s1k specs/mha.json 16 16 1024 128 "$s"; done
for s in "" "$(sched 128 192 2 pingpong)" "$(sched 128 176 2 pingpong)" "$(sched 128 128 3 pingpong)" "$(sched 128 128 2 none)"; do
  run s16k specs/mha.json 1 16 16384 128 "$s"; done
for s in "" "$(sched 128 192 2 pingpong)"; do run s4k specs/mha.json 4 16 4096 128 "$s"; done
for s in "" "$(sched 192 128 2 pingpong)" "$(sched 128 192 2 pingpong)" "$(sched 192 128 2 pingpong 1)" "$(sched 128 128 3 pingpong)" "$(sched 192 128 2 none)"; do
  run d64 specs/mha.json 4 32 4096 64 "$s"; done
PYTHONUNBUFFERED=1 timeout 200 python3 .device-carry/peers/peers.py --case 16,16,16,1024,128,0 --case 4,16,16,4096,128,0 --case 1,16,16,16384,128,0 --case 4,32,32,4096,64,0 > $o/peers.log 2>&1
echo "peers rc=$?"
grep -E "cudnn|flash|flex" $o/peers.log | tail -20
cat $o/smi.txt
column -t -s'|' $o/sweep.txt
