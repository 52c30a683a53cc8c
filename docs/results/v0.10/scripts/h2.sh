#!/usr/bin/env bash
# v0.10 device call 2 (carry .device-carry: bundle/, peers/peers.py): the [varlen] GPU cases that call 1's
# sweep leaves out, then the bench of the heuristic defaults with the peers in the same call
# (tools/device-all.sh, SKIP_CHECKS=1: bench-table.md).
#   run(command="bash docs/results/v0.10/scripts/h2.sh", carry=[".device-carry"], timeout_s=600)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-smoke-bundle >/dev/null
echo "== [varlen] at $((SECONDS - T0)) s"
timeout 120 /tmp/tf-smoke-bundle/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$?"; tail -n 4 $OUT/varlen.log
mkdir -p $OUT/bench
OUT=$OUT/bench SKIP_CHECKS=1 timeout 300 bash tools/device-all.sh > $OUT/bench/all.log 2>&1
echo "bench rc=$? at $((SECONDS - T0)) s"
tail -n 45 $OUT/bench/bench-table.md 2>/dev/null
