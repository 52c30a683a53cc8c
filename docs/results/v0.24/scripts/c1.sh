#!/usr/bin/env bash
# v0.24 call 1: the dynamic tile scheduler (q_tile_order = "dynamic"), and the GPU checks owed since v0.22 call 3.
#   1. correctness: the generated sweep ([generated]) on causal, sliding_window and document_mask, the sm90
#      default and the variant sm90-pingpong-persistent-dynamic-qreg (TILEFUSE_TEST_VARIANTS=dynamic),
#      FlashAttention's rule against fp64, memcheck of one small case per spec. Each kernel runs 7 shapes in a row,
#      so a counter left unreset would skip tiles (NaN-poisoned O). It is also the first GPU run of v0.23's codegen
#      fixes (Plan.cpp's overflow-checked loop-range planner, TileSlice.cpp's tail clamp);
#   2. [gpu][varlen] on sm90:dynamic (packed sequences: the scheduler skips tiles past a sequence's end);
#   3. speed in steady state, interleaved, 2 rounds (tilefuse bench: 500 ms of warm-up, 50 runs, median): the packed
#      batch of tools/device-bench-packed.sh (U[128, 4096], 64k tokens, H16 D128), causal and not, on the plain grid
#      (v0.21's tuned schedules) and the dynamic persistent grid; causal S4k, ALiBi + causal and sliding window 1024
#      on their v0.22 schedules (paired / snake) against dynamic;
#   4. the packed batch's peers, non-causal (FlexAttention with the document BlockMask, SDPA on the padded batch).
#   run(command="C1_LIMIT=480 bash docs/results/v0.24/scripts/c1.sh", carry=[".device-carry"], timeout_s=495)
#   (C1_LIMIT: the seconds the script may take, under the device time left; each step is cut to what is left.
#   C1_SWEEP_SPECS, C1_SWEEP_SECONDS: the sweep's specs and seconds, for a shorter call.)
source tools/device-call.sh "${C1_LIMIT:-585}" /tmp/v024-c1

# 1. correctness
sweep_s=${C1_SWEEP_SECONDS:-130}
TILEFUSE_TEST_BACKENDS=sm90 TILEFUSE_TEST_VARIANTS=dynamic SWEEP_SPECS="${C1_SWEEP_SPECS:-causal sliding_window document_mask}" \
  SWEEP_TAGS="[generated]" SWEEP_TIMEOUT=$sweep_s CHECK_STEPS="sweep sanitize" OUT=/tmp/gen \
  timeout $((sweep_s + 40)) bash tests/gpu/run_generated_checks.sh > /tmp/gen.log 2>&1
echo "generated rc=$? at $((SECONDS - T0)) s" | tee "$OUT/checks.txt"
grep -E "test cases|assertions|FAILED|ERROR SUMMARY|exit [0-9]+,|NOT BUILT|^sweep " /tmp/gen.log | head -16 |
  tee -a "$OUT/checks.txt"
grep -E "FAIL" /tmp/gen/generated_sweep.md 2>/dev/null | head -5 | cut -c1-300 | tee -a "$OUT/checks.txt"
TILEFUSE_TEST_BACKENDS=sm90:dynamic SWEEP_TAGS="[gpu][varlen]" CHECK_STEPS="sweep" OUT=/tmp/genv SWEEP_TIMEOUT=60 \
  timeout 70 bash tests/gpu/run_generated_checks.sh > /tmp/genv.log 2>&1
echo "varlen tests (sm90:dynamic) rc=$? at $((SECONDS - T0)) s" | tee -a "$OUT/checks.txt"
grep -E "test cases|assertions|FAILED|failed|exit [0-9]+," /tmp/genv.log | cut -c1-240 | head -8 | tee -a "$OUT/checks.txt"

# 2. A/B in steady state
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
python3 python/bench/bench_packed_peers.py --write-lengths /tmp/lengths.txt --seed 1 --min 128 --max 4096 \
  --total 65536 > /dev/null 2>&1 || echo "lengths: failed"
W='"mma":"wgmma","kv_stages":2,"overlap":"pingpong","block_m":128,"warps":8,"block_n":128'
R="$W,\"q\":\"registers\""
S="$W,\"q\":\"smem\""
D=',"persistent":true,"q_tile_order":"dynamic"'
PK="--seqlens-file /tmp/lengths.txt --Hq 16 --Hkv 16 --D 128"
AB_DEADLINE=$((T0 + limit - 25)) TILEFUSE_CACHE_DIR=/tmp/c1-cache bash tools/device-ab.sh $tf <<AB 2>&1 | tee "$OUT/ab.txt"
packed_mha|specs/varlen/mha.json|$PK|plain={$S,"lazy_rescale":true};dyn={$S,"lazy_rescale":true$D};dynq={$R,"lazy_rescale":true$D}
sliding1024|specs/bench/sliding1024_causal.json|--B 4 --S 4096|snake={$R,"persistent":true,"q_tile_order":"snake"};dyn={$R$D}
packed_causal|specs/varlen/causal.json|$PK|plain={$R,"lazy_rescale":true};dyn={$R,"lazy_rescale":true$D}
causal_s4k|specs/causal.json|--B 4 --Hq 16 --Hkv 16 --S 4096|paired={$R,"persistent":true,"q_tile_order":"paired"};dyn={$R$D}
alibi_causal|specs/alibi.json|--B 4 --S 4096|snake={$R,"persistent":true,"q_tile_order":"snake"};dyn={$R$D}
AB

# 4. the packed peers, non-causal
t=$(( $(left) - 3 )); [ $t -gt 150 ] && t=150
[ $t -gt 45 ] && timeout $t python3 python/bench/bench_packed_peers.py --seqlens-file /tmp/lengths.txt --heads 16 \
  --head-dim 128 --reps 30 --seed 1 --json "$OUT/peers_mha.json" > /tmp/peers_mha.log 2>&1
grep -vi "warn" /tmp/peers_mha.log | tail -n 6 | tee "$OUT/peers.txt"
echo "done at $((SECONDS - T0)) s"
