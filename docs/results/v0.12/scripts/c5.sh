#!/usr/bin/env bash
# v0.12 device call 5 (carry .device-carry: bundle/ = the binaries of 017b262 with this tree's device library;
# old/epilogue-017b262.cuh = warpgroup/epilogue.cuh before this change). The packed epilogue's copy-out as
# st.global.v4 (STG.E.128): a uint4 store through the T* row had compiled to four 4-byte STG.E.
#   run(command="bash docs/results/v0.12/scripts/c5.sh", carry=[".device-carry"], timeout_s=400)
# 1. [varlen] (lengths 1, 63, 64, 65, 4097, empty sequences; fp64 reference) and memcheck of both packed specs.
# 2. Before / after on issue 10's packed batch, heuristic defaults, interleaved (the same binary; "before"
#    compiles its kernels against the old header), then tools/device-bench-packed.sh with the peers.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-new >/dev/null
tf=/tmp/tf-new/bin/tilefuse
mkdir -p $OUT
timeout 150 /tmp/tf-new/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s"; tail -n 2 $OUT/varlen.log
for spec in mha causal; do
  timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 $tf bench specs/varlen/$spec.json \
    --cu-seqlens 0,1,64,128,193,4290 --reps 1 --warmup 0 > $OUT/memcheck-$spec.log 2>&1
  echo "memcheck $spec rc=$? at $((SECONDS - T0)) s: $(grep -E 'ERROR SUMMARY' $OUT/memcheck-$spec.log)"
done
rm -rf /tmp/dev-old && cp -r "$TILEFUSE_DEVICE_INCLUDE" /tmp/dev-old
cp .device-carry/old/epilogue-017b262.cuh /tmp/dev-old/tilefuse/device/warpgroup/epilogue.cuh
ab() { # label args...
  local label=$1; shift
  a=$(TILEFUSE_CACHE_DIR=/tmp/c-new timeout 60 $tf bench "$@" --reps 30 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')
  b=$(TILEFUSE_DEVICE_INCLUDE=/tmp/dev-old TILEFUSE_CACHE_DIR=/tmp/c-old timeout 60 $tf bench "$@" --reps 30 2>&1 |
      grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')
  echo "$label: v4 stores $a| 4-byte stores $b"
}
for round in 1 2; do
  ab "packed causal" specs/varlen/causal.json --seqlens-random 128,4096,65536,1
  ab "packed mha" specs/varlen/mha.json --seqlens-random 128,4096,65536,1
done 2>&1 | tee $OUT/ab.txt
echo "peers at $((SECONDS - T0)) s"
TILEFUSE=$tf OUT=$OUT/packed BUDGET=$((380 - (SECONDS - T0))) bash tools/device-bench-packed.sh > $OUT/packed.log 2>&1
echo "packed bench rc=$? at $((SECONDS - T0)) s"; tail -n 6 $OUT/packed/packed-table.md 2>/dev/null
cp $OUT/packed/packed-table.md $OUT/packed-table.md 2>/dev/null; rm -rf $OUT/packed
