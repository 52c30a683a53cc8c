#!/usr/bin/env bash
# v0.12 device call 6 (carry .device-carry: bundle/ as in call 5). The packed non-causal batch took 2.45 ms in
# some runs and 2.72-2.84 ms in others (calls 3 and 5, same kernel). Eight timed runs of it, each followed by
# the SM clock, power and temperature, then the packed table with the peers once more, then four runs more.
#   run(command="bash docs/results/v0.12/scripts/c6.sh", carry=[".device-carry"], timeout_s=300)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-new >/dev/null
tf=/tmp/tf-new/bin/tilefuse
mkdir -p $OUT
runs() { # n label
  for i in $(seq 1 "$1"); do
    t=$(TILEFUSE_CACHE_DIR=/tmp/c-new timeout 60 $tf bench specs/varlen/mha.json --seqlens-random 128,4096,65536,1 \
        --reps 30 2>&1 | grep -oE "median [0-9.]+ ms")
    echo "$2 run $i: $t | $(nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader)"
  done
}
runs 8 before-peers 2>&1 | tee $OUT/repeats.txt
TILEFUSE=$tf OUT=$OUT/packed BUDGET=150 bash tools/device-bench-packed.sh > $OUT/packed.log 2>&1
echo "packed bench rc=$? at $((SECONDS - T0)) s"; tail -n 4 $OUT/packed/packed-table.md 2>/dev/null | tee -a $OUT/repeats.txt
cp $OUT/packed/packed-table.md $OUT/packed-table.md 2>/dev/null; rm -rf $OUT/packed
runs 4 after-peers 2>&1 | tee -a $OUT/repeats.txt
echo "done at $((SECONDS - T0)) s"
