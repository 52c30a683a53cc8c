#!/usr/bin/env bash
# v0.14 device call 3 (carry .device-carry: bundle/ = this tree's binaries; the tuner's table now shows the
# sm90 choices, e.g. "pingpong+cmp64").
#   run(command="bash docs/results/v0.14/scripts/c3.sh", carry=[".device-carry"], timeout_s=600)
# 1. `tilefuse tune` of ALiBi + causal (B4 H16 S4096 D128): which candidate wins, and the cache entry.
# 2. The generated sweep of the 8 specs not swept in call 2 (both backends, every sm90 variant), with the
#    time left.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
TILEFUSE_CACHE_DIR=/tmp/c-tune timeout 120 $tf tune specs/alibi.json --B 4 --S 4096 > $OUT/alibi-tune.log 2>&1
echo "tune rc=$? at $((SECONDS - T0)) s"
sed -n 5,6p $OUT/alibi-tune.log; grep -E "cmp64|winner" $OUT/alibi-tune.log
cat /tmp/c-tune/*/alibi-*.json | python3 -c "import json,sys; e=json.load(sys.stdin); print('cache entry schedule:', json.dumps(e.get('schedule', e)))" 2>&1 | cut -c1-400
left=$((585 - (SECONDS - T0)))
echo "sweep from $((SECONDS - T0)) s, $left s left"
OUT=$OUT/checks SWEEP_SPECS="causal sliding_window alibi document_mask gqa mha relative_bias softcap" SWEEP_TAGS="[generated]" \
  CHECK_STEPS="sweep" SWEEP_TIMEOUT=$((left - 20)) timeout $((left - 5)) bash tests/gpu/run_generated_checks.sh 2>&1 | tail -4
echo "done at $((SECONDS - T0)) s"
