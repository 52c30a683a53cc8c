#!/usr/bin/env bash
# v0.16 call 3: Q in registers on the sm90 backend (q = registers: ldmatrix once per Q tile, S = Q K^T as
# wgmma RS), first GPU run.
# 1. Correctness: `tilefuse bench --schedule` (fp64 check) of q = registers on odd shapes, specs and the
#    overlap modes; packed sequences with odd lengths.
# 2. Speed in steady state (--warmup-ms 500, --energy): issue 9's 7 cases with their v0.15 tuned schedules,
#    ALiBi + causal, sliding window 1024 and the packed 64k-token batch, q = smem against q = registers,
#    2 interleaved rounds.
#   run(command="bash docs/results/v0.16/scripts/c3.sh", carry=[".device-carry"], timeout_s=560)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
W='"mma":"wgmma","kv_stages":2,"q":"registers"'
for v in "causal|--B 2 --S 1000|pingpong|128|true" "mha|--B 2 --S 777|none|128|false" \
         "softcap|--B 2 --S 1024|pingpong_intra|128|false" "alibi|--B 2 --S 1500|pingpong|128|false" \
         "sliding_window|--B 1 --S 3000|pingpong|128|true" "document_mask|--B 2 --S 2048|pingpong|128|true" \
         "attention_sink|--B 2 --S 999|pingpong|128|false" "gqa|--B 2 --S 1111|intra|64|false" \
         "causal|--B 2 --Sq 300 --Sk 1000 --D 64|pingpong|192|true" "mha|--B 2 --S 1000 --D 256|pingpong|128|false" \
         "varlen/causal|--cu-seqlens 0,1,64,128,193,4290,4291,4355|pingpong|128|false" \
         "varlen/mha|--cu-seqlens 0,1,64,128,193,4290,4291,4355|pingpong|128|true"; do
  IFS='|' read -r spec flags ov bm pers <<<"$v"
  bn=128; [[ "$flags" == *"D 256"* ]] && bn=64
  s='{"block_m":'$bm',"block_n":'$bn',"warps":'$((bm / 16))','$W',"overlap":"'$ov'","persistent":'$pers'}'
  # shellcheck disable=SC2086
  r=$(TILEFUSE_CACHE_DIR=/tmp/c3 timeout 60 $tf bench specs/$spec.json $flags --schedule "$s" --reps 3 --warmup-ms 0 2>&1 |
      grep -oE -- "-> (PASS|FAIL.{0,80})|error: .{0,200}" | head -3 | tr '\n' ' ')
  echo "check $spec $flags $ov bm=$bm persistent=$pers: $r"
done 2>&1 | tee $OUT/checks.txt
echo "speed at $((SECONDS - T0)) s"
cases=("mha|--B 16 --S 1024|128|128|true|" "mha|--B 4 --S 4096|128|128|true|" "mha|--B 1 --S 16384|128|192|true|"
       "causal|--B 4 --S 4096|128|128|false|" "causal|--B 1 --S 16384|128|128|false|,\"compares64\":true"
       "mha|--B 4 --Hq 32 --Hkv 32 --S 4096 --D 64|192|128|true|" "causal|--B 1 --Hq 32 --Hkv 8 --S 8192|128|192|false|"
       "alibi|--B 4 --S 4096|128|128|false|,\"compares64\":true" "bench/sliding1024_causal||128|128|true|"
       "varlen/causal|--seqlens-random 128,4096,65536,1|128|128|false|" "varlen/mha|--seqlens-random 128,4096,65536,1|128|128|false|")
for round in 1 2; do
  for c in "${cases[@]}"; do
    IFS='|' read -r spec flags bm bn pers extra <<<"$c"
    for q in smem registers; do
      [ $((SECONDS - T0)) -gt 520 ] && continue
      s='{"block_m":'$bm',"block_n":'$bn',"warps":'$((bm / 16))',"mma":"wgmma","kv_stages":2,"q":"'$q'","overlap":"pingpong","persistent":'$pers$extra'}'
      # shellcheck disable=SC2086
      r=$(TILEFUSE_CACHE_DIR=/tmp/c3 timeout 60 $tf bench specs/$spec.json $flags --schedule "$s" --reps 50 --energy 2>&1 |
          grep -oE "median [0-9.]+ ms|[0-9.]+ J per call|FAIL[A-Z]*|error: .{0,120}" | tr '\n' ' ')
      echo "round $round $spec $flags|q=$q: $r"
    done
  done
done 2>&1 | tee $OUT/ab.txt
python3 - $OUT/ab.txt <<'PY' | tee $OUT/ab-table.md
import re, sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"round \d+ (.+)\|q=(\w+): median ([0-9.]+) ms(?: ([0-9.]+) J)?", line)
    if m: t[(m.group(1), m.group(2))].append((float(m.group(3)), float(m.group(4) or 'nan')))
print("| case | q = smem ms | q = registers ms | smem / registers (best) | J smem | J registers |\n| --- | --- | --- | --- | --- | --- |")
for case in dict.fromkeys(k[0] for k in t):
    a, b = t.get((case, "smem"), []), t.get((case, "registers"), [])
    if not a or not b: continue
    print(f"| {case} | {' '.join(f'{x[0]:.3f}' for x in a)} | {' '.join(f'{x[0]:.3f}' for x in b)} | "
          f"{min(x[0] for x in a) / min(x[0] for x in b):.3f} | {' '.join(f'{x[1]:.3f}' for x in a)} | "
          f"{' '.join(f'{x[1]:.3f}' for x in b)} |")
PY
echo "done at $((SECONDS - T0)) s"
