#!/usr/bin/env bash
# v0.21 call 3: paired Q tiles on the persistent grid (Schedule q_tile_order = "paired").
#   1. correctness: the generated sweep ([generated]) on causal, gqa, alibi and document_mask with the sm90 default and
#      the new variant only (TILEFUSE_TEST_BACKENDS=sm90, TILEFUSE_TEST_VARIANTS=paired), FlashAttention's rule
#      against fp64; compute-sanitizer memcheck of one small case per spec; [gpu][varlen] on "sm90:paired" alone.
#   2. speed in steady state: each case's tuned schedule (calls 1-2) against the same schedule on a persistent grid
#      of paired Q tiles, interleaved, 2 rounds (tilefuse bench: 500 ms of warm-up, 50 runs, median);
#   3. the peers in the same call: cuDNN / FA2 / Flex on the dense causal cases, Flex's ALiBi, the packed causal
#      batch's Flex and SDPA.
#   run(command="bash docs/results/v0.21/scripts/c3.sh", carry=[".device-carry"], timeout_s=595)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
limit=${C3_LIMIT:-580}
left() { echo $((limit - (SECONDS - T0))); }
OUT=${OUT:-/tmp/v021-c3}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse

# 1. correctness
TILEFUSE_TEST_BACKENDS=sm90 TILEFUSE_TEST_VARIANTS=paired SWEEP_SPECS="causal gqa alibi document_mask" \
  SWEEP_TAGS="[generated]" SWEEP_TIMEOUT=150 CHECK_STEPS="sweep sanitize" OUT=/tmp/gen \
  timeout 200 bash tests/gpu/run_generated_checks.sh > /tmp/gen.log 2>&1
echo "generated rc=$? at $((SECONDS - T0)) s" | tee "$OUT/generated.txt"
grep -E "test cases|assertions|FAILED|ERROR SUMMARY|exit [0-9]+," /tmp/gen.log | head -12 | tee -a "$OUT/generated.txt"
[ -f /tmp/gen/generated_sweep.md ] && awk -F'|' 'NR > 2 { split($2, w, " "); k = w[1] " " w[2]; n[k]++;
    if ($0 ~ /\| ok \|$/) ok[k]++; else if ($0 ~ /FAIL/) f[k]++; else sk[k]++ }
  END { for (k in n) printf "%s: %d ok, %d skipped, %d failed\n", k, ok[k], sk[k], f[k] }' /tmp/gen/generated_sweep.md |
  sort | tee -a "$OUT/generated.txt"
grep -E "paired" /tmp/gen/generated_sweep.md 2>/dev/null | grep -vc "| ok |$" | sed 's/^/paired rows not ok: /' | tee -a "$OUT/generated.txt"
TILEFUSE_TEST_BACKENDS=sm90:paired SWEEP_TAGS="[gpu][varlen]" CHECK_STEPS="sweep" OUT=/tmp/genv SWEEP_TIMEOUT=70 \
  timeout 80 bash tests/gpu/run_generated_checks.sh > /tmp/genv.log 2>&1
echo "varlen tests (sm90:paired) rc=$? at $((SECONDS - T0)) s" | tee "$OUT/varlen-tests.txt"
grep -E "test cases|assertions|FAILED|failed|exit [0-9]+," /tmp/genv.log | cut -c1-240 | head -12 | tee -a "$OUT/varlen-tests.txt"

# 2. A/B in steady state
python3 python/bench/bench_packed_peers.py --write-lengths /tmp/lengths.txt --seed 1 --min 128 --max 4096 --total 65536 >/dev/null
W='"mma":"wgmma","kv_stages":2,"overlap":"pingpong","block_m":128,"warps":8'
P=',"persistent":true,"q_tile_order":"paired"'
cases=("causal_s4k|specs/causal.json|--B 4 --Hq 16 --Hkv 16 --S 4096|$W,\"block_n\":128,\"q\":\"registers\"|4,16,16,4096,128,1"
       "causal_s16k|specs/causal.json|--B 1 --Hq 16 --Hkv 16 --S 16384|$W,\"block_n\":176,\"q\":\"smem\"|1,16,16,16384,128,1"
       "llama|specs/causal.json|--B 1 --Hq 32 --Hkv 8 --S 8192|$W,\"block_n\":192,\"q\":\"smem\"|1,32,8,8192,128,1"
       "alibi_causal|specs/alibi.json|--B 4 --S 4096|$W,\"block_n\":128,\"q\":\"registers\"|"
       "packed_causal|specs/varlen/causal.json|--seqlens-file /tmp/lengths.txt --Hq 16 --Hkv 16 --D 128|$W,\"block_n\":128,\"q\":\"registers\",\"lazy_rescale\":true|")
for round in 1 2; do
  for c in "${cases[@]}"; do
    IFS='|' read -r name spec flags sched peer <<<"$c"
    for v in base paired; do
      [ "$(left)" -gt 170 ] || { echo "$name $v round $round: skipped (budget)"; continue; }
      s="{$sched}"; [ $v = paired ] && s="{$sched$P}"
      # shellcheck disable=SC2086
      r=$(TILEFUSE_CACHE_DIR=/tmp/c3-cache timeout 60 $tf bench $spec $flags --schedule "$s" --reps 50 2>&1 |
          grep -oE "median [0-9.]+ ms|accuracy check [a-z]+|FAIL[A-Z]*|error: .{0,160}" | head -3 | tr '\n' ' ')
      echo "$name $v round $round: $r"
    done
  done
done 2>&1 | tee "$OUT/ab.txt"
echo "peers at $((SECONDS - T0)) s"

# 3. peers
pc=()
for c in "${cases[@]}"; do IFS='|' read -r _ _ _ _ peer <<<"$c"; [ -n "$peer" ] && pc+=(--case "$peer"); done
t=$(( $(left) - 110 )); [ $t -gt 120 ] && t=120
[ $t -gt 40 ] && timeout $t python3 python/bench/bench_dense_peers.py "${pc[@]}" --json "$OUT/peers.json" 2>&1 |
  grep -v Warning | tail -12 | tee "$OUT/peers.txt"
t=$(( $(left) - 55 )); [ $t -gt 50 ] && t=50
[ $t -gt 25 ] && timeout $t python3 python/bench/bench_dense_peers.py --variant alibi_causal --case 4,16,16,4096,128,1 \
  --json "$OUT/flex-alibi_causal.json" 2>&1 | grep -v Warning | tail -3 | tee -a "$OUT/peers.txt"
t=$(( $(left) - 3 )); [ $t -gt 60 ] && t=60
[ $t -gt 25 ] && timeout $t python3 python/bench/bench_packed_peers.py --seqlens-file /tmp/lengths.txt --heads 16 \
  --head-dim 128 --causal --reps 30 --seed 1 --json "$OUT/peers-packed-causal.json" 2>&1 | grep -vi warn | tail -6 |
  tee -a "$OUT/peers.txt"
echo "done at $((SECONDS - T0)) s"
