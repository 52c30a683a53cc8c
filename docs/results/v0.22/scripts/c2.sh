#!/usr/bin/env bash
# v0.22 call 2: the persistent grid dealt back and forth (Schedule q_tile_order = "snake").
#   1. correctness: the generated sweep ([generated]) on causal, alibi, sliding_window and document_mask with the
#      sm90 default and the snake variant only (TILEFUSE_TEST_VARIANTS=snake), FlashAttention's rule against fp64,
#      memcheck of one small case per spec; [gpu][varlen] on sm90 and sm90:snake.
#   2. speed in steady state, interleaved, 2 rounds (tilefuse bench: 500 ms of warm-up, 50 runs, median): the
#      persistent grid dealt one way (rr), in pairs, back and forth (snake), and call 1's lpt where it won;
#   3. the peers in the same call: cuDNN / FA2 / Flex on causal S4k and Llama, Flex on ALiBi and the windows.
#   run(command="bash docs/results/v0.22/scripts/c2.sh", carry=[".device-carry"], timeout_s=598)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
limit=${C2_LIMIT:-585}
left() { echo $((limit - (SECONDS - T0))); }
OUT=${OUT:-/tmp/v022-c2}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse

# 1. correctness
TILEFUSE_TEST_BACKENDS=sm90 TILEFUSE_TEST_VARIANTS=snake SWEEP_SPECS="causal alibi sliding_window document_mask" \
  SWEEP_TAGS="[generated]" SWEEP_TIMEOUT=150 CHECK_STEPS="sweep sanitize" OUT=/tmp/gen \
  timeout 200 bash tests/gpu/run_generated_checks.sh > /tmp/gen.log 2>&1
echo "generated rc=$? at $((SECONDS - T0)) s" | tee "$OUT/checks.txt"
grep -E "test cases|assertions|FAILED|ERROR SUMMARY|exit [0-9]+," /tmp/gen.log | head -12 | tee -a "$OUT/checks.txt"
[ -f /tmp/gen/generated_sweep.md ] && awk -F'|' 'NR > 2 { split($2, w, " "); k = w[1] " " w[2]; n[k]++;
    if ($0 ~ /\| ok \|$/) ok[k]++; else if ($0 ~ /FAIL/) f[k]++; else sk[k]++ }
  END { for (k in n) printf "%s: %d ok, %d skipped, %d failed\n", k, ok[k], sk[k], f[k] }' /tmp/gen/generated_sweep.md |
  sort | tee -a "$OUT/checks.txt"
TILEFUSE_TEST_BACKENDS=sm90:snake SWEEP_TAGS="[gpu][varlen]" CHECK_STEPS="sweep" OUT=/tmp/genv SWEEP_TIMEOUT=70 \
  timeout 80 bash tests/gpu/run_generated_checks.sh > /tmp/genv.log 2>&1
echo "varlen tests (sm90, sm90:snake) rc=$? at $((SECONDS - T0)) s" | tee -a "$OUT/checks.txt"
grep -E "test cases|assertions|FAILED|failed|exit [0-9]+," /tmp/genv.log | cut -c1-240 | head -8 | tee -a "$OUT/checks.txt"

# 2. A/B in steady state
python3 python/bench/bench_packed_peers.py --write-lengths /tmp/lengths.txt --seed 1 --min 128 --max 4096 --total 65536 >/dev/null
W='"mma":"wgmma","kv_stages":2,"overlap":"pingpong","block_m":128,"warps":8'
R="$W,\"block_n\":128,\"q\":\"registers\""
PS=',"persistent":true'
cases=("sliding1024|specs/bench/sliding1024_causal.json|--B 4 --S 4096|rr={$R$PS};snake={$R$PS,\"q_tile_order\":\"snake\"};paired={$R$PS,\"q_tile_order\":\"paired\"}"
       "causal_s4k|specs/causal.json|--B 4 --Hq 16 --Hkv 16 --S 4096|paired={$R$PS,\"q_tile_order\":\"paired\"};snake={$R$PS,\"q_tile_order\":\"snake\"}"
       "llama|specs/causal.json|--B 1 --Hq 32 --Hkv 8 --S 8192|paired={$R$PS,\"q_tile_order\":\"paired\"};snake={$R$PS,\"q_tile_order\":\"snake\"}"
       "alibi_causal|specs/alibi.json|--B 4 --S 4096|paired={$R$PS,\"q_tile_order\":\"paired\"};snake={$R$PS,\"q_tile_order\":\"snake\"}"
       "sliding4096_s16k|specs/sliding_window.json|--B 1 --Hq 16 --Hkv 16 --S 16384|lpt={$R,\"q_tile_order\":\"lpt\"};rr={$R$PS};snake={$R$PS,\"q_tile_order\":\"snake\"}"
       "packed_causal|specs/varlen/causal.json|--seqlens-file /tmp/lengths.txt --Hq 16 --Hkv 16 --D 128|plain={$R,\"lazy_rescale\":true};snake={$R$PS,\"lazy_rescale\":true,\"q_tile_order\":\"snake\"}")
for round in 1 2; do
  for c in "${cases[@]}"; do
    IFS='|' read -r name spec flags variants <<<"$c"
    IFS=';' read -r -a vs <<<"$variants"
    for v in "${vs[@]}"; do
      label=${v%%=*} s=${v#*=}
      [ "$(left)" -gt 170 ] || { echo "$name $label round $round: skipped (budget)"; continue; }
      # shellcheck disable=SC2086
      r=$(TILEFUSE_CACHE_DIR=/tmp/c2-cache timeout 60 $tf bench $spec $flags --schedule "$s" --reps 50 2>&1 |
          grep -oE "median [0-9.]+ ms|accuracy check [a-z]+|FAIL[A-Z]*|error: .{0,160}" | head -3 | tr '\n' ' ')
      echo "$name $label round $round: $r"
    done
  done
done 2>&1 | tee "$OUT/ab.txt"
echo "peers at $((SECONDS - T0)) s"

# 3. peers
t=$(( $(left) - 110 )); [ $t -gt 70 ] && t=70
[ $t -gt 40 ] && timeout $t python3 python/bench/bench_dense_peers.py --case 4,16,16,4096,128,1 --case 1,32,8,8192,128,1 \
  --json "$OUT/peers.json" 2>&1 | grep -v Warning | tail -6 | tee "$OUT/peers.txt"
for pv in "sliding1024_causal 4,16,16,4096,128,1" "alibi_causal 4,16,16,4096,128,1" "sliding4096_causal 1,16,16,16384,128,1"; do
  read -r v case <<<"$pv"
  t=$(( $(left) - 3 )); [ $t -gt 40 ] && t=40
  [ $t -gt 20 ] && timeout $t python3 python/bench/bench_dense_peers.py --variant "$v" --case "$case" 2>&1 |
    grep -E "flex|unavailable" | tail -2 | tee -a "$OUT/peers.txt"
done
echo "done at $((SECONDS - T0)) s"
