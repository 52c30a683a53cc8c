#!/usr/bin/env bash
# Measures what an application pays to get a tuned kernel on the GPU machine, and the Q-tile order of
# causal kernels:
#   1. the Engine's GPU tests ([engine]: memoization, policies, a ScheduleSource's CUBIN loaded
#      without compiling, the tuner cache's CUBIN, the C API);
#   2. `tilefuse tune` for the example's shape (writes the cache), then the example
#      (examples/causal_attention) with Policy::FailOnMiss in three fresh processes: Engine
#      constructor (driver + primary context) and Engine::getKernel wall time (cache hit: read the
#      entry, check its SHA-256, load the CUBIN), then host overhead per launch; once more with
#      Policy::Heuristic (compiles) for comparison;
#   3. causal kernels with q_tile_order descending (the default) vs ascending, same schedule
#      otherwise, `tilefuse bench` on two shapes.
#
# usage (repository root on the GPU machine, carry [".device-carry"]):
#   OUT=$OUT/load bash tools/device-cache-load.sh
# Uses the bundle of tools/device-bundle.sh in .device-carry/bundle (the GPU machine has no MLIR).
set -u -o pipefail
root=$(pwd)
out=${OUT:-/tmp/tilefuse-load-out}
mkdir -p "$out"
work=/tmp/tilefuse-load-bundle
source "$root/tools/device-unpack.sh" "$work"
export TILEFUSE_CACHE_DIR=/tmp/tilefuse-load-cache
rm -rf "$TILEFUSE_CACHE_DIR"
tf="$work/bin/tilefuse"

echo "== 1. Engine GPU tests"
"$work/bin/tilefuse_generated_gpu_tests" "[engine]" -s 2>&1 | grep -E "cached CUBIN|tuner cache entry|engine:|C API|passed|failed|FAILED|SKIPPED" \
  | tee "$out/engine-tests.log"

echo "== 2. tune, then getKernel from the cache in fresh processes"
shape=(--B 4 --Hq 16 --S 4096 --D 128)
"$tf" tune specs/causal.json "${shape[@]}" > "$out/tune-causal.log" 2>&1
echo "tune rc=$?"; tail -n 4 "$out/tune-causal.log"
"$tf" cache ls > "$out/cache-ls.log" 2>&1; cat "$out/cache-ls.log"
for i in 1 2 3; do
  echo "-- fail-on-miss, fresh process $i"
  "$work/bin/causal_attention" specs/causal.json 4 16 4096 128 fail-on-miss 2>&1 | tee -a "$out/example-cache-hit.log" \
    | grep -E "origin|constructor|overhead|time:|error"
done
echo "-- heuristic (compiles), fresh process"
"$work/bin/causal_attention" specs/causal.json 4 16 4096 128 heuristic 2>&1 | tee "$out/example-heuristic.log" \
  | grep -E "origin|constructor|overhead|time:|error"

echo "== 3. causal: q_tile_order descending vs ascending"
base='"block_m":128,"block_n":64,"warps":8,"kv_stages":2'
printf "| shape | descending ms | ascending ms |\n|---|---|---|\n" > "$out/q-order.md"
for s in "4 16 16 4096" "1 32 8 8192" "16 16 16 1024"; do
  read -r B Hq Hkv S <<<"$s"
  row="| B=$B Hq=$Hq Hkv=$Hkv S=$S D=128 |"
  for order in descending ascending; do
    "$tf" bench specs/causal.json --B "$B" --Hq "$Hq" --Hkv "$Hkv" --S "$S" --D 128 --reps 30 --json \
      --schedule "{$base,\"q_tile_order\":\"$order\"}" > "$out/bench-$order-$S.json" 2> "$out/bench-$order-$S.err"
    ms=$(python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print('%.4f (%s)' % (j.get('median_ms') or j.get('ms'), 'PASS' if j.get('passed', j.get('accuracy_passed', True)) else 'FAIL'))" "$out/bench-$order-$S.json" 2>/dev/null || echo "error")
    row="$row $ms |"
  done
  echo "$row" >> "$out/q-order.md"
done
cat "$out/q-order.md"
