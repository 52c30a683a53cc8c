#!/usr/bin/env bash
# v0.17 call 1: clusters of 2 with TMA multicast of K/V on the sm90 backend (Schedule::cluster = 2), first
# GPU run.
# 1. Correctness: `tilefuse bench --schedule` (fp64 check) of cluster = 2 on odd Q-tile counts, the
#    mask-free specs (captures, score_mods), GQA, Sq != Sk, D 64 / 256, both grids and overlap modes.
# 2. memcheck of two clustered kernels (persistent, odd tile count; plain grid).
# 3. Speed in steady state (--warmup-ms 500, --energy): issue 9's non-causal cases and softcap with their
#    tuned schedules, cluster = 1 against cluster = 2, 2 interleaved rounds.
#   run(command="bash docs/results/v0.17/scripts/c1.sh", carry=[".device-carry"], timeout_s=560)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
for v in "mha|--B 2 --S 777|pingpong|128|true|registers" "mha|--B 2 --S 777|pingpong|128|false|smem" \
         "softcap|--B 2 --S 1024|pingpong_intra|128|false|smem" "relative_bias|--B 2 --S 1500|pingpong|128|true|registers" \
         "t5_bias|--B 1 --S 999|pingpong|128|true|smem" "mha|--B 2 --Hq 8 --Hkv 2 --S 1111|intra|64|false|registers" \
         "mha|--B 2 --Sq 300 --Sk 1000 --D 64|pingpong|192|true|smem" "mha|--B 2 --Sq 1000 --Sk 300 --D 64|none|128|false|smem" \
         "mha|--B 2 --S 1000 --D 256|pingpong|128|true|smem" "mha|--B 1 --Hq 3 --Hkv 3 --S 100|pingpong|128|true|registers"; do
  IFS='|' read -r spec flags ov bm pers q <<<"$v"
  bn=128; [[ "$flags" == *"D 256"* ]] && bn=64
  s='{"block_m":'$bm',"block_n":'$bn',"warps":'$((bm / 16))',"mma":"wgmma","kv_stages":2,"q":"'$q'","overlap":"'$ov'","persistent":'$pers',"cluster":2}'
  # shellcheck disable=SC2086
  r=$(TILEFUSE_CACHE_DIR=/tmp/c1 timeout 60 $tf bench specs/$spec.json $flags --schedule "$s" --reps 3 --warmup-ms 0 2>&1 |
      grep -oE -- "-> (PASS|FAIL.{0,80})|error: .{0,240}" | head -3 | tr '\n' ' ')
  echo "check $spec $flags $ov bm=$bm persistent=$pers q=$q cluster=2: $r"
done 2>&1 | tee $OUT/checks.txt
Q='"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"registers","overlap":"pingpong","cluster":2'
for v in "mha|--B 1 --Hq 3 --Hkv 3 --S 1000|,\"persistent\":true" "softcap|--B 1 --Hq 2 --Hkv 2 --S 777|"; do
  IFS='|' read -r spec flags extra <<<"$v"
  # shellcheck disable=SC2086
  TILEFUSE_CACHE_DIR=/tmp/c-ms timeout 90 compute-sanitizer --tool memcheck --print-limit 5 $tf bench specs/$spec.json $flags \
    --schedule "{$Q$extra}" --reps 2 --warmup 1 --warmup-ms 0 > /tmp/ms.log 2>&1
  echo "memcheck $spec $flags cluster=2 rc=$?: $(grep -E 'ERROR SUMMARY' /tmp/ms.log) $(grep -c PASS /tmp/ms.log) PASS $(grep -m1 -E 'error' /tmp/ms.log | cut -c1-160)"
done 2>&1 | tee $OUT/memcheck.txt
echo "speed at $((SECONDS - T0)) s"
# case | flags | block_m | block_n | persistent | q (the v0.16 call 6 tuned schedules)
cases=("mha|--B 16 --S 1024|128|128|true|registers" "mha|--B 4 --S 4096|128|128|true|registers"
       "mha|--B 1 --S 16384|128|192|true|smem" "mha|--B 4 --Hq 32 --Hkv 32 --S 4096 --D 64|192|128|true|smem"
       "softcap|--B 4 --S 4096|128|128|true|smem" "mha|--B 4 --S 4096|128|128|false|registers")
for round in 1 2; do
  for c in "${cases[@]}"; do
    IFS='|' read -r spec flags bm bn pers q <<<"$c"
    for cl in 1 2; do
      [ $((SECONDS - T0)) -gt 520 ] && continue
      s='{"block_m":'$bm',"block_n":'$bn',"warps":'$((bm / 16))',"mma":"wgmma","kv_stages":2,"q":"'$q'","overlap":"pingpong","persistent":'$pers',"cluster":'$cl'}'
      # shellcheck disable=SC2086
      r=$(TILEFUSE_CACHE_DIR=/tmp/c1 timeout 60 $tf bench specs/$spec.json $flags --schedule "$s" --reps 50 --energy 2>&1 |
          grep -oE "median [0-9.]+ ms|[0-9.]+ J per call|FAIL[A-Z]*|error: .{0,160}" | tr '\n' ' ')
      echo "round $round $spec $flags bm=$bm bn=$bn persistent=$pers q=$q|cluster=$cl: $r"
    done
  done
done 2>&1 | tee $OUT/ab.txt
python3 - $OUT/ab.txt <<'PY' | tee $OUT/ab-table.md
import re, sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"round \d+ (.+)\|cluster=(\d): median ([0-9.]+) ms(?: ([0-9.]+) J)?", line)
    if m: t[(m.group(1), m.group(2))].append((float(m.group(3)), float(m.group(4) or 'nan')))
print("| case | cluster 1 ms | cluster 2 ms | 1 / 2 (best) | J cluster 1 | J cluster 2 |\n| --- | --- | --- | --- | --- | --- |")
for case in dict.fromkeys(k[0] for k in t):
    a, b = t.get((case, "1"), []), t.get((case, "2"), [])
    if not a or not b: continue
    print(f"| {case} | {' '.join(f'{x[0]:.3f}' for x in a)} | {' '.join(f'{x[0]:.3f}' for x in b)} | "
          f"{min(x[0] for x in a) / min(x[0] for x in b):.3f} | {' '.join(f'{x[1]:.3f}' for x in a)} | "
          f"{' '.join(f'{x[1]:.3f}' for x in b)} |")
PY
echo "done at $((SECONDS - T0)) s"
