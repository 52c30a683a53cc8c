#!/usr/bin/env bash
# v0.22 call 4: the mask targets tuned again after call 3, now that a persistent default also gets the snake twins
# (SearchOptions::tileOrders): sliding window 1024 + causal first, then ALiBi + causal and window 4096 at S16k.
# Each: tilefuse tune, then tilefuse bench and Flex, interleaved, twice (steady state).
#   run(command="bash docs/results/v0.22/scripts/c4.sh", carry=[".device-carry"], timeout_s=420)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
limit=${C4_LIMIT:-400}
OUT=${OUT:-/tmp/v022-c4}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader | tee "$OUT/gpu.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c4-cache
for v in sliding1024 alibi sliding4096; do
  case $v in
    alibi) spec=specs/alibi.json variant=alibi_causal flags="--B 4 --S 4096" case=4,16,16,4096,128,1 ;;
    sliding1024) spec=specs/bench/sliding1024_causal.json variant=sliding1024_causal flags="--B 4 --S 4096" case=4,16,16,4096,128,1 ;;
    sliding4096) spec=specs/sliding_window.json variant=sliding4096_causal flags="--B 1 --Hq 16 --Hkv 16 --S 16384" case=1,16,16,16384,128,1 ;;
  esac
  left=$((limit - (SECONDS - T0)))
  [ $left -gt 120 ] || { echo "$v: skipped, $left s left"; continue; }
  # shellcheck disable=SC2086
  timeout 60 $tf tune $spec $flags --budget 40 > /tmp/tune-$v.log 2>&1
  echo "tune $v rc=$? at $((SECONDS - T0)) s"
  grep -E "snake|^steady state|^winner" /tmp/tune-$v.log | cut -c1-600
  for round in 1 2; do
    # shellcheck disable=SC2086
    r=$(timeout 40 $tf bench $spec $flags --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | head -2 | tr '\n' ' ')
    echo "tilefuse $variant tuned: $r | round $round"
    timeout 50 python3 python/bench/bench_dense_peers.py --case $case --variant $variant 2>&1 | grep -E "flex|unavailable"
  done
done 2>&1 | tee "$OUT/variants.txt"
echo "done at $((SECONDS - T0)) s"
