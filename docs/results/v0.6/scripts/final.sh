# Final device call (carry .device-carry): packed sequences on both backends ([varlen]), the packed bench
# against the peers, exp2_fma at D64 / D128 with the peers, memcheck of the sm90 packed cases.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
left() { echo $(( ${1} - (SECONDS - T0) )); }
source tools/device-unpack.sh /tmp/tfb >/dev/null
tf=/tmp/tfb/bin/tilefuse
echo "== [varlen] GPU tests (sm80, sm90, sm90:intra64, sm90:pingpong_intra)"
timeout 150 /tmp/tfb/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1; echo "rc=$?"; tail -4 $OUT/varlen.log
echo "== exp2_fma at $((SECONDS - T0)) s"
for c in "4,32,32,4096,64,0" "16,16,16,1024,128,0" "4,16,16,4096,128,0"; do
  IFS=, read -r B Hq Hkv S D causal <<<"$c"
  for q in 0 1 2; do
    r=$(timeout 40 $tf bench specs/mha.json --B $B --Hq $Hq --Hkv $Hkv --S $S --D $D --reps 30 \
      --schedule '{"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong","exp2_fma":'$q'}' 2>&1)
    echo "$c exp2_fma=$q $(echo "$r" | grep -E "median" | head -1) $(echo "$r" | grep -cE "PASS") PASS $(echo "$r" | grep -E "FAIL|rror" | head -2)"
  done
done
timeout 90 python3 .device-carry/peers/peers.py --case "4,32,32,4096,64,0" --case "16,16,16,1024,128,0" --case "4,16,16,4096,128,0" 2>&1 | grep -v Warn | tail -12
echo "== T5 bias at $((SECONDS - T0)) s"
timeout 60 $tf bench specs/t5_bias.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --reps 30 2>&1 | grep -E "median|PASS|FAIL|rror" | head -3
timeout 90 python3 .device-carry/t5_flex.py 2>&1 | grep -v Warn | tail -2
echo "== packed bench at $((SECONDS - T0)) s"
timeout 100 python3 .device-carry/varlen_peers.py /tmp/cu.txt 2>&1 | grep -v Warning | tail -6
for s in "" '{"mma":"mma_sync_m16n8k16","block_m":128,"block_n":64,"warps":8,"kv_stages":3}'; do
  timeout 60 $tf bench specs/varlen/causal.json --seqlens-file /tmp/cu.txt --reps 30 ${s:+--schedule "$s"} 2>&1 | grep -E "schedule|median|TFLOP|PASS|FAIL|rror" | head -6
done
echo "== memcheck sm90 [varlen][sanitize] at $((SECONDS - T0)) s"
TILEFUSE_TEST_BACKENDS=sm90 timeout $(left 340) compute-sanitizer --tool memcheck --error-exitcode 9 /tmp/tfb/bin/tilefuse_generated_gpu_tests "[varlen][sanitize]" > $OUT/memcheck-varlen.log 2>&1
echo "memcheck rc=$?"; grep -E "ERROR SUMMARY|Invalid|passed|failed" $OUT/memcheck-varlen.log | head -6
