#!/usr/bin/env bash
# v0.25 call 4 (run as one command line; kept here as it ran): the sweep of the dynamic variant on every spec
# (stopped at its 230 s limit: no result, c4/checks.txt), then the packed causal batch tuned with the dynamic
# twins (the default since this session), benched twice, and its peers (FlexAttention with the document
# BlockMask, SDPA on the padded batch).
#   run(command="bash docs/results/v0.25/scripts/c4.sh", carry=[".device-carry"], timeout_s=420)
source tools/device-call.sh 400 /tmp/c4
TILEFUSE_TEST_BACKENDS=sm90 TILEFUSE_TEST_VARIANTS=dynamic SWEEP_TAGS="[generated]" SWEEP_TIMEOUT=230 \
  CHECK_STEPS="sweep" OUT=/tmp/gen timeout 260 bash tests/gpu/run_generated_checks.sh > /tmp/gen.log 2>&1
echo "generated rc=$? at $((SECONDS - T0)) s" | tee "$OUT/checks.txt"
grep -E "test cases|assertions|FAILED|exit [0-9]+,|NOT BUILT|^sweep " /tmp/gen.log | head -60 | tee -a "$OUT/checks.txt"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c4-cache
python3 python/bench/bench_packed_peers.py --write-lengths /tmp/lengths.txt --seed 1 --min 128 --max 4096 \
  --total 65536 > /dev/null 2>&1
PK="--seqlens-file /tmp/lengths.txt --Hq 16 --Hkv 16 --D 128"
# shellcheck disable=SC2086
timeout 70 $tf tune specs/varlen/causal.json $PK --budget 45 --dynamic-tiles > /tmp/t.log 2>&1
grep -E "^steady state|^winner" /tmp/t.log | cut -c1-400 | tee "$OUT/tuned.txt"
for r in 1 2; do
  # shellcheck disable=SC2086
  timeout 40 $tf bench specs/varlen/causal.json $PK --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | head -2 |
    tr '\n' ' ' | tee -a "$OUT/tuned.txt"
  echo
done
t=$(( $(left) - 3 ))
[ $t -gt 45 ] && timeout $t python3 python/bench/bench_packed_peers.py --seqlens-file /tmp/lengths.txt --heads 16 \
  --head-dim 128 --causal --reps 30 --seed 1 --json "$OUT/peers_causal.json" 2>&1 | grep -vi warn | tail -5 |
  tee "$OUT/peers.txt"
echo "done at $((SECONDS - T0)) s"
