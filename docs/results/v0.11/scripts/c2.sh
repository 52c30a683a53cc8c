#!/usr/bin/env bash
# v0.11 device call 2 (carry .device-carry: bundle/ at 1567401, the tuner's sm90 space with the default
# schedule exactly, persistent twins and small anchors; exp/ = tilefuse + codegen.cuh built with
# docs/experiments/conditional-rescale.patch applied).
#   run(command="bash docs/results/v0.11/scripts/c2.sh", carry=[".device-carry"], timeout_s=600)
# 1. Tunes S1k, sliding window 1024 + causal and 64 documents with the new space (fresh cache), summarised.
# 2. Conditional rescaling (skip O *= alpha when no row max of the warp moved) against main, heuristic
#    schedules, twice interleaved: mha S1k, S4k, causal S4k.
# 3. The tuned winners against the peers in one process (tools/device-bench.sh reads the cache).
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-c2 >/dev/null
tf=/tmp/tf-c2/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c2-cache
mkdir -p $OUT/tune
tune() { # name spec args...
  local name=$1 spec=$2; shift 2
  timeout 150 $tf tune "$spec" "$@" --budget 90 --json > $OUT/tune/$name.json 2> /dev/null
  echo "tune $name rc=$? at $((SECONDS - T0)) s"
}
tune mha_s1k specs/mha.json --B 16 --Hq 16 --Hkv 16 --S 1024 --D 128
tune sliding1024_causal specs/bench/sliding1024_causal.json
TILEFUSE_BENCH_DOC_LENGTH=64 tune document_64docs specs/document_mask.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128
python3 docs/results/v0.11/scripts/tune_summary.py mha_s1k=$OUT/tune/mha_s1k.json \
  sliding1024=$OUT/tune/sliding1024_causal.json doc64=$OUT/tune/document_64docs.json | tee $OUT/tune-summary.txt

echo "== conditional rescale A/B at $((SECONDS - T0)) s"
rm -rf /tmp/tf-exp && cp -r /tmp/tf-c2 /tmp/tf-exp
xz -dc .device-carry/exp/tilefuse.xz > /tmp/tf-exp/bin/tilefuse && chmod +x /tmp/tf-exp/bin/tilefuse
cp .device-carry/exp/codegen.cuh /tmp/tf-exp/device/tilefuse/codegen_support/codegen.cuh
ab() { # label spec args...
  local label=$1; shift
  for round in 1 2; do
    a=$(TILEFUSE_CACHE_DIR=/tmp/ab-main timeout 60 $tf bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms" | head -1)
    b=$(TILEFUSE_CACHE_DIR=/tmp/ab-exp TILEFUSE_DEVICE_INCLUDE=/tmp/tf-exp/device timeout 60 /tmp/tf-exp/bin/tilefuse \
        bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | head -1)
    echo "$label round $round: main $a | conditional rescale $b"
  done
}
ab "mha S1k" specs/mha.json --B 16 --Hq 16 --Hkv 16 --S 1024 --D 128 | tee -a $OUT/ab.txt
ab "mha S4k" specs/mha.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 | tee -a $OUT/ab.txt
ab "causal S4k" specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 | tee -a $OUT/ab.txt
TILEFUSE_DEVICE_INCLUDE=/tmp/tf-exp/device TILEFUSE_CACHE_DIR=/tmp/ab-exp timeout 60 /tmp/tf-exp/bin/tilefuse \
  bench specs/softcap.json --B 2 --Hq 8 --Hkv 8 --S 1000 --D 128 --reps 5 2>&1 | grep -E "check|PASS|FAIL|rror" | head -3

echo "== bench with the peers at $((SECONDS - T0)) s"
TILEFUSE_BENCH_DOC_LENGTH=64 OUT=$OUT/bench TF_ONLY='sliding1024|document_64' timeout $((590 - (SECONDS - T0))) \
  bash tools/device-bench.sh > $OUT/bench.log 2>&1
echo "bench rc=$?"; tail -n 30 $OUT/bench/table.md 2>/dev/null
rm -f $OUT/bench/tf_* $OUT/bench/*.err
