#!/usr/bin/env bash
# v0.8 device call 2 (carry .device-carry: bundle/, peers/peers.py, python/ packed by
# tools/device-python-pack.sh with its lib/ and bin/ emptied, filled here from the bundle):
# the bench of the heuristic defaults with the peers, `bench --energy` (and without NVML), the Python
# package's GPU tests and its per-call overhead.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
left() { echo $(( ${1} - (SECONDS - T0) )); }
mkdir -p $OUT/bench
OUT=$OUT/bench SKIP_CHECKS=1 timeout 240 bash tools/device-all.sh > $OUT/bench/all.log 2>&1
echo "bench rc=$? at $((SECONDS - T0)) s"
tail -n 40 $OUT/bench/bench-table.md 2>/dev/null
source tools/device-unpack.sh /tmp/tf-smoke-bundle >/dev/null
tf=/tmp/tf-smoke-bundle/bin/tilefuse
echo "== energy at $((SECONDS - T0)) s"
timeout 60 $tf bench specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --energy 2>&1 | tail -8
TILEFUSE_NVML_LIBRARY=/nonexistent timeout 60 $tf bench specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 1024 --D 128 --energy 2>&1 | tail -4
echo "nvml-missing rc=$?"
echo "== python at $((SECONDS - T0)) s"
mkdir -p .device-carry/python/lib .device-carry/python/bin
for f in .device-carry/bundle/lib/*; do case "$f" in *libtilefuse*) ;; *) cp "$f" .device-carry/python/lib/ ;; esac; done
cp .device-carry/bundle/bin/tilefuse .device-carry/python/bin/
OUT=$OUT/py BENCH_ARGS=--overhead-only timeout $(left 570) bash .device-carry/python/run.sh > $OUT/python.log 2>&1
echo "python rc=$?"; grep -E "passed|failed|error" $OUT/python.log | tail -5; tail -n 25 $OUT/python.log
