#!/usr/bin/env bash
# v0.16 call 6: issue 9's steady-state table again (tools/device-bench-steady.sh, whose table now names the
# q placement and compares64 of each tuned schedule), a second sample of call 4's.
#   run(command="bash docs/results/v0.16/scripts/c6.sh", carry=[".device-carry"], timeout_s=300)
set -u
T0=$SECONDS
mkdir -p $OUT
BUDGET=280 OUT=/tmp/steady bash tools/device-bench-steady.sh > /tmp/steady.log 2>&1
grep -E "tune rc" /tmp/steady.log | cut -c1-200 > $OUT/tunes.txt
cp /tmp/steady/steady-table.md $OUT/steady-table.md
cat $OUT/tunes.txt $OUT/steady-table.md
echo "done at $((SECONDS - T0)) s"
