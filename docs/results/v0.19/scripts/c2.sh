#!/usr/bin/env bash
# v0.19 call 2, after call 1 (the tail guard before exp: generated sweep passed, sliding window 1024 1.50x Flex):
#   1. the packed GPU tests ([gpu][varlen]: fp64 checks of packed batches on both backends, memcheck) on the
#      tail-guard code, whose partial tiles of packed sequences changed too;
#   2. the chains' GPU test again. Call 2's one failure, an exception in the rmsnorm_swiglu cases
#      (test_chains.cpp:362), was packParams refusing an F that is not a multiple of 8: W2's loaded last dim.
#      The test now rounds the FFN's F up. Also memcheck of rmsnorm_swiglu at two sizes;
#   3. issue 10's packed target: v0.18's c2.sh steps 2-3 (tune on the benchmark's packed batch, then
#      tools/device-bench-packed.sh with FlexAttention and SDPA) with the cache entry's packed flag now kept
#      (call 2: "packParams: cu_seqlens given, but the kernel is for batched tensors");
#   4. ALiBi + causal (B4 H16 S4096) tuned by this code (q = registers no longer spills), benched in steady
#      state, and FlexAttention's ALiBi in its own process (python/bench/bench_dense_peers.py --variant).
#   run(command="bash docs/results/v0.19/scripts/c2.sh", carry=[".device-carry"], timeout_s=595)
# C2_STEPS (default "1 2 3 4") picks steps; C2_LIMIT (default 575) bounds the script in seconds.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
OUT=${OUT:-/tmp/v019-c2}
limit=${C2_LIMIT:-575}
steps=" ${C2_STEPS:-1 2 3 4} "
want() { [[ "$steps" == *" $1 "* ]]; }
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
# 1. packed GPU tests
if want 1; then
SWEEP_TAGS="[gpu][varlen]" CHECK_STEPS="sweep" OUT=/tmp/genv SWEEP_TIMEOUT=110 \
  timeout 130 bash tests/gpu/run_generated_checks.sh > /tmp/genv.log 2>&1
echo "varlen tests rc=$? at $((SECONDS - T0)) s" | tee "$OUT/varlen-tests.txt"
grep -E "test cases|assertions|FAILED|failed|exit [0-9]+," /tmp/genv.log | cut -c1-240 | head -12 | tee -a "$OUT/varlen-tests.txt"
fi

# 2. the chains' GPU test, with the failure's message
if want 2; then
ct=/tmp/tf/bin/tilefuse_chain_tests
xz -dc .device-carry/gpu/tilefuse_chain_tests.xz > $ct && chmod +x $ct
TILEFUSE_EXAMPLES_DIR=$PWD/examples timeout 90 $ct "[gpu][chains]" > /tmp/ct.log 2>&1
echo "chain test rc=$? at $((SECONDS - T0)) s" | tee "$OUT/chain-test.txt"
grep -E "^chain rmsnorm_swiglu" /tmp/ct.log | cut -c1-260 | head -12 | tee -a "$OUT/chain-test.txt"
grep -A12 "FAILED" /tmp/ct.log | cut -c1-300 | head -30 | tee -a "$OUT/chain-test.txt"
grep -E "test cases|assertions" /tmp/ct.log | tee -a "$OUT/chain-test.txt"
# memcheck of rmsnorm_swiglu at the test's odd sizes (an illegal access would surface as the exception)
for sz in "1 8 8" "65 72 64"; do
  read -r T D F <<<"$sz"
  timeout 60 compute-sanitizer --tool memcheck --print-limit 5 $tf bench examples/chains/rmsnorm_swiglu.mlir \
    --size T=$T --size D=$D --size F=$F --reps 1 --warmup-ms 0 > /tmp/ms.log 2>&1
  echo "memcheck rmsnorm_swiglu T=$T D=$D F=$F: exit $?; $(grep -m1 'ERROR SUMMARY' /tmp/ms.log); $(grep -oE -- '-> (PASS|FAIL)' /tmp/ms.log | head -1)"
  grep -m4 -E "Invalid|misaligned|Address|error" /tmp/ms.log | cut -c1-220 | sed 's/^/  /'
done 2>&1 | tee -a "$OUT/chain-test.txt"
fi

# 3. packed: tune, then bench with the peers
b=$((limit - (SECONDS - T0) - 100)); [ $b -gt 250 ] && b=250
if want 3 && [ $b -gt 150 ]; then
C2_SKIP_TESTS=1 C2_BUDGET=$b OUT="$OUT/packed-call" bash docs/results/v0.18/scripts/c2.sh > /tmp/c2p.log 2>&1
echo "packed rc=$? at $((SECONDS - T0)) s"
grep -E "tune varlen|rc=" /tmp/c2p.log | cut -c1-300
cp "$OUT/packed-call/packed/packed-table.md" "$OUT/" 2>/dev/null && cat "$OUT/packed-table.md"
fi

# 4. ALiBi + causal: tune, steady-state bench, Flex
left=$((limit - (SECONDS - T0)))
if want 4 && [ $left -gt 100 ]; then
  TILEFUSE_CACHE_DIR=/tmp/c2-alibi timeout 50 $tf tune specs/alibi.json --B 4 --S 4096 --budget 30 > /tmp/tune-alibi.log 2>&1
  echo "tune alibi rc=$?: $(grep -E '^winner' /tmp/tune-alibi.log | cut -c1-200)" | tee "$OUT/alibi.txt"
  for round in 1 2; do
    r=$(TILEFUSE_CACHE_DIR=/tmp/c2-alibi timeout 40 $tf bench specs/alibi.json --B 4 --S 4096 --reps 50 2>&1 |
        grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | head -2 | tr '\n' ' ')
    echo "tilefuse alibi_causal tuned: $r | round $round" | tee -a "$OUT/alibi.txt"
  done
  t=$((limit - (SECONDS - T0)))
  [ $t -gt 30 ] && timeout $t python3 python/bench/bench_dense_peers.py --case 4,16,16,4096,128,1 \
    --variant alibi_causal --json "$OUT/flex-alibi.json" 2>&1 | grep -E "flex|unavailable" | tee -a "$OUT/alibi.txt"
fi
echo "done at $((SECONDS - T0)) s"
