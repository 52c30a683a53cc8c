#!/usr/bin/env bash
# v0.12 device call 3 (carry .device-carry: bundle/ = this tree at 017b262: packed sequences' epilogue through
# shared memory with coalesced 16-byte stores, and the mask density class of the cache key (branch h10);
# old/ = tilefuse and libtilefuse of 1567401).
#   run(command="bash docs/results/v0.12/scripts/c3.sh", carry=[".device-carry"], timeout_s=560)
# 1. The [varlen] GPU cases (lengths 1, 63, 64, 65, 4097 and empty sequences, both backends, fp64 reference).
# 2. compute-sanitizer memcheck of the packed kernels (sm90, the default backend here) on lengths 1, 63, 64,
#    65, 4097, causal and not.
# 3. Before / after on issue 10's packed batch (U[128, 4096], 65536 tokens, seed 1), heuristic defaults,
#    interleaved, then tools/device-bench-packed.sh (FlexAttention's document mask and SDPA on the padded
#    batch, same call) with this tree's binary.
# 4. The mask density class: document masks of 512- and 64-token documents (B4 H16 S4096 D128, the caller's
#    ids given with --capture) tuned into one cache, then each benched from it (each must find its own entry).
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-new >/dev/null
tf=/tmp/tf-new/bin/tilefuse
mkdir -p $OUT
timeout 150 /tmp/tf-new/bin/tilefuse_generated_gpu_tests "[varlen]" > $OUT/varlen.log 2>&1
echo "varlen rc=$? at $((SECONDS - T0)) s"; tail -n 3 $OUT/varlen.log
for spec in mha causal; do
  timeout 100 compute-sanitizer --tool memcheck --error-exitcode 9 $tf bench specs/varlen/$spec.json \
    --cu-seqlens 0,1,64,128,193,4290 --reps 1 --warmup 0 > $OUT/memcheck-$spec.log 2>&1
  echo "memcheck $spec rc=$? at $((SECONDS - T0)) s: $(grep -E 'ERROR SUMMARY' $OUT/memcheck-$spec.log) $(grep -oE 'check (passed|FAILED)[^,]*' $OUT/memcheck-$spec.log | head -1)"
done
rm -rf /tmp/tf-old && cp -r /tmp/tf-new /tmp/tf-old
xz -dc .device-carry/old/tilefuse.xz > /tmp/tf-old/bin/tilefuse && chmod +x /tmp/tf-old/bin/tilefuse
xz -dc .device-carry/old/libtilefuse.so.0.2.0.xz > /tmp/tf-old/lib/libtilefuse.so.0.2.0
ab() { # label args...
  local label=$1; shift
  a=$(TILEFUSE_CACHE_DIR=/tmp/c-new timeout 60 $tf bench "$@" --reps 30 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')
  b=$(LD_LIBRARY_PATH=/tmp/tf-old/lib:$LD_LIBRARY_PATH TILEFUSE_CACHE_DIR=/tmp/c-old timeout 60 /tmp/tf-old/bin/tilefuse \
      bench "$@" --reps 30 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')
  echo "$label: staged $a| before $b"
}
for round in 1 2; do
  ab "packed causal" specs/varlen/causal.json --seqlens-random 128,4096,65536,1
  ab "packed mha" specs/varlen/mha.json --seqlens-random 128,4096,65536,1
done 2>&1 | tee $OUT/ab.txt
echo "== mask density class at $((SECONDS - T0)) s"
for L in 512 64; do
  python3 -c "import sys; L = int(sys.argv[1]); print(' '.join(str(j // L) for b in range(4) for j in range(4096)))" \
    "$L" > /tmp/doc_ids_$L.txt
  TILEFUSE_CACHE_DIR=/tmp/c3-doc timeout 60 $tf tune specs/document_mask.json --B 4 --S 4096 \
    --capture doc_ids=/tmp/doc_ids_$L.txt --budget 30 > $OUT/tune-doc$L.log 2>&1
  echo "tune L=$L rc=$?"; grep -iE 'density' $OUT/tune-doc$L.log | head -2; tail -n 3 $OUT/tune-doc$L.log
done
for L in 512 64; do
  echo "bench L=$L: $(TILEFUSE_CACHE_DIR=/tmp/c3-doc timeout 60 $tf bench specs/document_mask.json --B 4 --S 4096 \
    --capture doc_ids=/tmp/doc_ids_$L.txt --reps 30 2>&1 | grep -iE 'schedule|median|density' | tr '\n' ' ')"
done 2>&1 | tee $OUT/density.txt
echo "peers at $((SECONDS - T0)) s"
TILEFUSE=$tf OUT=$OUT/packed BUDGET=$((530 - (SECONDS - T0))) bash tools/device-bench-packed.sh > $OUT/packed.log 2>&1
echo "packed bench rc=$? at $((SECONDS - T0)) s"; tail -n 8 $OUT/packed/packed-table.md 2>/dev/null
rm -f $OUT/packed/*.err
echo "done at $((SECONDS - T0)) s"
