#!/usr/bin/env bash
# v0.17 call 3: issue 9's steady-state table with the peers in the same call, the tuner also timing the
# cluster twins of its default (`tilefuse tune --clusters`), after call 1's A/B of clusters.
#   run(command="bash docs/results/v0.17/scripts/c3.sh", carry=[".device-carry"], timeout_s=590)
set -u
T0=$SECONDS
mkdir -p $OUT
TUNE_ARGS="--clusters" BUDGET=570 OUT=/tmp/steady bash tools/device-bench-steady.sh > /tmp/steady.log 2>&1
grep -E "tune rc" /tmp/steady.log | cut -c1-220 > $OUT/tunes.txt
cp /tmp/steady/steady-table.md $OUT/steady-table.md
cat $OUT/tunes.txt $OUT/steady-table.md
echo "done at $((SECONDS - T0)) s"
