#!/usr/bin/env bash
# v0.10 device call 5 (carry .device-carry: bundle/ and python/ packed by tools/device-python-pack.sh with its
# lib/ and bin/ emptied, filled here from the bundle): the Python package's tests on the GPU (every variant
# traced from Python through the library's code generator, FlashAttention's rule against fp64), after the
# epilogue and diagonal-table changes, and its host overhead.
#   run(command="bash docs/results/v0.10/scripts/h5.sh", carry=[".device-carry"], timeout_s=560)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
mkdir -p .device-carry/python/lib .device-carry/python/bin
for f in .device-carry/bundle/lib/*; do case "$f" in *libtilefuse*) ;; *) cp "$f" .device-carry/python/lib/ ;; esac; done
OUT=$OUT/py BENCH_ARGS=--overhead-only timeout 520 bash .device-carry/python/run.sh > $OUT/python.log 2>&1
echo "python rc=$? at $((SECONDS - T0)) s"; grep -E "passed|failed|error" $OUT/python.log | tail -5; tail -n 12 $OUT/python.log
