#!/usr/bin/env bash
# Exploration call 2: the persistent grid with L2 sections no wider than a wave; BLOCK_N 192 under a
# causal mask; the tuner's wall time and result on S1k / S16k / D64 (register rule 68 -> 30).
set -u
source tools/device-unpack.sh /tmp/b >/dev/null
tf=/tmp/b/bin/tilefuse
o=${OUT:-/tmp/x2}; mkdir -p $o
export TILEFUSE_CACHE_DIR=/tmp/tfc-x2; rm -rf $TILEFUSE_CACHE_DIR
sched() { echo "{\"mma\":\"wgmma\",\"q\":\"smem\",\"block_m\":$1,\"block_n\":$2,\"warps\":$(($1/16)),\"kv_stages\":$3,\"overlap\":\"$4\"${5:+,\"persistent\":true}}"; }
echo "case|schedule|ms|TFLOP/s|check" > $o/sweep.txt
run() { # name spec "args" schedule env
  local n="$1" spec=$2 args=$3 s=${4:-} envs=${5:-}
  local sa=(); [ -n "$s" ] && sa=(--schedule "$s")
  env $envs "$tf" bench "$spec" $args --reps 30 --json "${sa[@]}" > /tmp/r.json 2>/tmp/r.err
  python3 - "$n" "${s:-default}" <<'PY' >> $o/sweep.txt
import json,sys
try:
  j=json.load(open('/tmp/r.json')); s=j["schedule"]; st="%sx%s s%s %s%s"%(s["block_m"],s["block_n"],s["kv_stages"],s.get("overlap","")," persistent" if s.get("persistent") else "")
  print("%s|%s (%s)|%.4f|%.0f|%s"%(sys.argv[1],st,j.get("schedule_source","?"),j["median_ms"],j.get("tflops",0),j.get("passed")))
except Exception as e: print("%s|%s|ERR %s|%s|"%(sys.argv[1],sys.argv[2],e,open('/tmp/r.err').read()[-150:].replace("\n"," ")))
PY
}
S1K="--B 16 --Hq 16 --Hkv 16 --S 1024 --D 128"; S4K="--B 4 --Hq 16 --Hkv 16 --S 4096 --D 128"
S16K="--B 1 --Hq 16 --Hkv 16 --S 16384 --D 128"; D64="--B 4 --Hq 32 --Hkv 32 --S 4096 --D 64"
LL="--B 1 --Hq 32 --Hkv 8 --S 8192 --D 128"
# A. persistent: the L2 sections of HEAD vs Q tiles fastest (TF_EXP_XFAST=1)
for e in "" "TF_EXP_XFAST=1"; do
  export TILEFUSE_CACHE_DIR=/tmp/tfc-x2$e
  run "s1k $e" specs/mha.json "$S1K" "$(sched 128 128 2 pingpong 1)" "$e"
  run "s4k $e" specs/mha.json "$S4K" "$(sched 128 128 2 pingpong 1)" "$e"
  run "s16k $e" specs/mha.json "$S16K" "$(sched 128 192 2 pingpong 1)" "$e"
  run "d64 $e" specs/mha.json "$D64" "$(sched 192 128 2 pingpong 1)" "$e"
  run "causal4k $e" specs/causal.json "$S4K" "$(sched 128 128 2 pingpong 1)" "$e"
  run "sliding1024 $e" specs/bench/sliding1024_causal.json "" "$(sched 128 128 2 pingpong 1)" "$e"
  run "doc64 $e" specs/document_mask.json "--B 4 --S 4096" "$(sched 128 128 2 pingpong 1)" "TILEFUSE_BENCH_DOC_LENGTH=64 $e"
done
export TILEFUSE_CACHE_DIR=/tmp/tfc-x2
run sliding1024 specs/bench/sliding1024_causal.json "" ""
run alibi specs/alibi.json "--B 4 --S 4096" ""
# B. BLOCK_N 192 under a causal mask
run causal4k specs/causal.json "$S4K" ""
run causal4k specs/causal.json "$S4K" "$(sched 128 192 2 pingpong)"
run causal16k specs/causal.json "$S16K" ""
run causal16k specs/causal.json "$S16K" "$(sched 128 192 2 pingpong)"
run llama specs/causal.json "$LL" ""
run llama specs/causal.json "$LL" "$(sched 128 192 2 pingpong)"
# C. the tuner: wall time, winner; then the bench takes the cached winner
for c in "s1k|$S1K" "s16k|$S16K" "d64|$D64"; do
  n=${c%%|*}; a=${c#*|}
  t0=$(date +%s.%N)
  timeout 150 "$tf" tune specs/mha.json $a > $o/tune_$n.txt 2>&1
  rc=$?; t1=$(date +%s.%N)
  echo "tune $n rc=$rc wall $(python3 -c "print(round($t1-$t0,1))") s" | tee -a $o/tune_walls.txt
  run $n-tuned specs/mha.json "$a" ""
done
cat $o/tune_walls.txt
for n in s1k s16k d64; do echo "== $n"; grep -E "^ *1 |winner|took|best|budget" $o/tune_$n.txt | head -6; done
python3 -c "
import sys
for l in open('$o/sweep.txt'): print(' | '.join(x.strip() for x in l.rstrip().split('|')))"
