#!/usr/bin/env bash
# v0.22 call 4: sliding window 1024 + causal (B4 H16 S4096) tuned again after call 3, now that a persistent default
# also gets the snake twins (SearchOptions::tileOrders); tilefuse bench twice (steady state) and Flex, twice each,
# interleaved.
#   run(command="bash docs/results/v0.22/scripts/c4.sh", carry=[".device-carry"], timeout_s=300)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
OUT=${OUT:-/tmp/v022-c4}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c4-cache
spec=specs/bench/sliding1024_causal.json
{
  timeout 60 $tf tune $spec --B 4 --S 4096 --budget 40 > /tmp/tune.log 2>&1
  echo "tune sliding1024 rc=$? at $((SECONDS - T0)) s"
  grep -E "snake|^steady state|^winner" /tmp/tune.log | cut -c1-600
  for round in 1 2; do
    r=$(timeout 40 $tf bench $spec --B 4 --S 4096 --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | head -2 | tr '\n' ' ')
    echo "tilefuse sliding1024_causal tuned: $r | round $round"
    timeout 50 python3 python/bench/bench_dense_peers.py --case 4,16,16,4096,128,1 --variant sliding1024_causal 2>&1 |
      grep -E "flex|unavailable"
  done
} 2>&1 | tee "$OUT/variants.txt"
echo "done at $((SECONDS - T0)) s"
