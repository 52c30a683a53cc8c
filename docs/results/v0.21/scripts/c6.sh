#!/usr/bin/env bash
# v0.21 call 6, after the review (one median helper in the timing code, SearchOptions::pairedTiles): a short
# check that tuning, timing and the paired kernels still work, with cuDNN in the same call.
#   1. [gpu][varlen] on the sm90 default and sm90:paired;
#   2. tune causal B4 H16 S4096 (steady finalists, paired twins), bench it in steady state, cuDNN / FA2 / Flex.
#   run(command="bash docs/results/v0.21/scripts/c6.sh", carry=[".device-carry"], timeout_s=150)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
OUT=${OUT:-/tmp/v021-c6}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
TILEFUSE_TEST_BACKENDS=sm90:paired SWEEP_TAGS="[gpu][varlen]" CHECK_STEPS="sweep" OUT=/tmp/genv SWEEP_TIMEOUT=55 \
  timeout 60 bash tests/gpu/run_generated_checks.sh > /tmp/genv.log 2>&1
echo "varlen tests (sm90, sm90:paired) rc=$? at $((SECONDS - T0)) s" | tee "$OUT/checks.txt"
grep -E "test cases|assertions|FAILED" /tmp/genv.log | head -4 | tee -a "$OUT/checks.txt"
export TILEFUSE_CACHE_DIR=/tmp/c6-cache
timeout 30 $tf tune specs/causal.json --B 4 --S 4096 --budget 20 > /tmp/tune.log 2>&1
echo "tune rc=$? at $((SECONDS - T0)) s" | tee "$OUT/causal.txt"
grep -E "^steady state|^winner" /tmp/tune.log | cut -c1-400 | tee -a "$OUT/causal.txt"
timeout 20 $tf bench specs/causal.json --B 4 --S 4096 --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|accuracy check [a-z]+|FAIL[A-Z]*" |
  tr '\n' ' ' | sed 's/^/tilefuse causal S4k tuned: /' | tee -a "$OUT/causal.txt"; echo
timeout 40 python3 python/bench/bench_dense_peers.py --case 4,16,16,4096,128,1 --json "$OUT/peers.json" 2>&1 |
  grep -E "sdpa|flex" | tee -a "$OUT/causal.txt"
echo "done at $((SECONDS - T0)) s"
