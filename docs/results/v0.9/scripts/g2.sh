#!/usr/bin/env bash
# v0.9 device call 2 (carry .device-carry: bundle/, peers/peers.py, python/ packed by
# tools/device-python-pack.sh with its lib/ and bin/ emptied, filled here from the bundle):
# the packed-sequence GPU tests that call 1's sweep did not reach ([varlen], 90 s limit, so a hang shows),
# the bench of the heuristic defaults with the peers, then the Python package's GPU tests and overhead.
#   run(command="bash docs/results/v0.9/scripts/g2.sh", carry=[".device-carry"], timeout_s=600)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
left() { echo $(( ${1} - (SECONDS - T0) )); }
source tools/device-unpack.sh /tmp/tf-smoke-bundle >/dev/null
echo "== [varlen] at $((SECONDS - T0)) s"
timeout 90 /tmp/tf-smoke-bundle/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$?"; tail -n 4 $OUT/varlen.log
mkdir -p $OUT/bench
OUT=$OUT/bench SKIP_CHECKS=1 timeout 240 bash tools/device-all.sh > $OUT/bench/all.log 2>&1
echo "bench rc=$? at $((SECONDS - T0)) s"
tail -n 45 $OUT/bench/bench-table.md 2>/dev/null
echo "== python at $((SECONDS - T0)) s"
mkdir -p .device-carry/python/lib .device-carry/python/bin
for f in .device-carry/bundle/lib/*; do case "$f" in *libtilefuse*) ;; *) cp "$f" .device-carry/python/lib/ ;; esac; done
cp .device-carry/bundle/bin/tilefuse .device-carry/python/bin/ 2>/dev/null
OUT=$OUT/py BENCH_ARGS=--overhead-only timeout $(left 585) bash .device-carry/python/run.sh > $OUT/python.log 2>&1
echo "python rc=$? at $((SECONDS - T0)) s"; grep -E "passed|failed|error" $OUT/python.log | tail -5; tail -n 20 $OUT/python.log
