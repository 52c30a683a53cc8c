#!/usr/bin/env bash
# Prepared for the next session, not run yet. The issue 9 / 10 targets that miss untuned (S1k, sliding window
# 1024, 64 documents) are judged on tuned kernels. This call tunes those three shapes with the runtime's
# tuner (`tilefuse tune`, 60 s budget each), then times the cached winners and the peers in the same call
# (tools/device-bench.sh reads the cache).
#   run(command="bash docs/results/v0.10/scripts/next-tuned.sh", carry=[".device-carry"], timeout_s=600)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-tune-bundle >/dev/null
tf=/tmp/tf-tune-bundle/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/next-tuned-cache
mkdir -p $OUT/tune
tune() { # name spec args...
  local name=$1 spec=$2; shift 2
  echo "== tune $name at $((SECONDS - T0)) s"
  timeout 120 $tf tune "$spec" "$@" --budget 60 > $OUT/tune/$name.txt 2>&1
  echo "rc=$?"; grep -E "winner|best|cached" $OUT/tune/$name.txt | head -3
}
tune mha_s1k specs/mha.json --B 16 --Hq 16 --Hkv 16 --S 1024 --D 128
tune sliding1024_causal specs/bench/sliding1024_causal.json
TILEFUSE_BENCH_DOC_LENGTH=64 tune document_64docs specs/document_mask.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128
echo "== bench with the peers at $((SECONDS - T0)) s"
TILEFUSE_BENCH_DOC_LENGTH=64 OUT=$OUT/bench TF_ONLY='sliding1024|document_64' timeout $((590 - (SECONDS - T0))) \
  bash tools/device-bench.sh > $OUT/bench.log 2>&1
echo "bench rc=$?"; tail -n 30 $OUT/bench/table.md 2>/dev/null
