#!/usr/bin/env bash
# v0.16 call 1: row sums on the tensor cores (Schedule::rowSumMma, issue 13 item 4), first GPU run.
# 1. Correctness: `tilefuse bench --schedule` (fp64 check of sampled rows) of row_sum_mma on 8 specs and the
#    3 ways P V is issued; [varlen] on sm90:row_sum_mma (packed: odd lengths, empty rows, fully masked rows).
# 2. Speed in steady state (--warmup-ms 500): each of issue 9's 7 cases with its v0.15 tuned schedule, without
#    and with row_sum_mma, 2 interleaved rounds, NVML joules per call (--energy).
#   run(command="bash docs/results/v0.16/scripts/c1.sh", carry=[".device-carry"], timeout_s=540)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
W='"mma":"wgmma","q":"smem","kv_stages":2'
for v in "causal|--B 2 --S 1000|pingpong" "mha|--B 2 --S 777|none" "softcap|--B 2 --S 1024|pingpong_intra" \
         "alibi|--B 2 --S 1500|pingpong" "sliding_window|--B 1 --S 3000|pingpong" "document_mask|--B 2 --S 2048|pingpong" \
         "attention_sink|--B 2 --S 999|pingpong" "gqa|--B 2 --S 1111|intra" "causal|--B 2 --Sq 300 --Sk 1000 --D 64|pingpong" \
         "mha|--B 2 --S 1000 --D 256|pingpong"; do
  IFS='|' read -r spec flags ov <<<"$v"
  bm=128; [ "$ov" = intra ] && bm=64
  s='{"block_m":'$bm',"block_n":128,"warps":'$((bm / 16))','$W',"overlap":"'$ov'","row_sum_mma":true}'
  # shellcheck disable=SC2086
  r=$(TILEFUSE_CACHE_DIR=/tmp/c1 timeout 60 $tf bench specs/$spec.json $flags --schedule "$s" --reps 3 --warmup-ms 0 2>&1 |
      grep -oE -- "-> (PASS|FAIL.{0,80})|error: .{0,200}" | head -3 | tr '\n' ' ')
  echo "check $spec $flags $ov: $r"
done 2>&1 | tee $OUT/checks.txt
TILEFUSE_TEST_BACKENDS=sm90:row_sum_mma timeout 150 /tmp/tf/bin/tilefuse_generated_gpu_tests "[varlen]" > /tmp/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s: $(tail -n 2 /tmp/varlen.log | tr '\n' ' ')" | tee $OUT/varlen-summary.log
grep -E "^  sequence|elements of O|FAILED|with message" -A2 /tmp/varlen.log | head -20 | tee -a $OUT/varlen-summary.log
cases=("16,16,16,1024,128,0|128|128|true" "4,16,16,4096,128,0|128|128|true" "1,16,16,16384,128,0|128|192|true"
       "4,16,16,4096,128,1|128|128|false" "1,16,16,16384,128,1|128|128|false" "4,32,32,4096,64,0|192|128|true"
       "1,32,8,8192,128,1|128|192|false")
for round in 1 2; do
  for c in "${cases[@]}"; do
    IFS='|' read -r shape bm bn pers <<<"$c"
    IFS=, read -r B Hq Hkv S D causal <<<"$shape"
    spec=mha; [ "$causal" = 1 ] && spec=causal
    for rs in false true; do
      [ $((SECONDS - T0)) -gt 500 ] && continue
      s='{"block_m":'$bm',"block_n":'$bn',"warps":'$((bm / 16))','$W',"overlap":"pingpong","persistent":'$pers',"row_sum_mma":'$rs'}'
      r=$(TILEFUSE_CACHE_DIR=/tmp/c1 timeout 60 $tf bench specs/$spec.json --B $B --Hq $Hq --Hkv $Hkv --S $S --D $D \
          --schedule "$s" --reps 50 --energy 2>&1 | grep -oE "median [0-9.]+ ms|[0-9.]+ J per call|FAIL[A-Z]*" | tr '\n' ' ')
      echo "round $round $shape row_sum_mma=$rs: $r"
    done
  done
done 2>&1 | tee $OUT/ab.txt
python3 - $OUT/ab.txt <<'PY' | tee $OUT/ab-table.md
import re, sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"round \d+ (\S+) row_sum_mma=(\w+): median ([0-9.]+) ms(?: ([0-9.]+) J)?", line)
    if m: t[(m.group(1), m.group(2))].append((float(m.group(3)), float(m.group(4) or 'nan')))
print("| case | plain ms | row_sum_mma ms | plain / row_sum_mma | plain J | row_sum_mma J |\n| --- | --- | --- | --- | --- | --- |")
for shape in dict.fromkeys(k[0] for k in t):
    a, b = t.get((shape, "false"), []), t.get((shape, "true"), [])
    if not a or not b: continue
    ma, mb = min(x[0] for x in a), min(x[0] for x in b)
    print(f"| {shape} | {' '.join(f'{x[0]:.3f}' for x in a)} | {' '.join(f'{x[0]:.3f}' for x in b)} | {ma / mb:.3f} | "
          f"{' '.join(f'{x[1]:.3f}' for x in a)} | {' '.join(f'{x[1]:.3f}' for x in b)} |")
PY
echo "done at $((SECONDS - T0)) s"
