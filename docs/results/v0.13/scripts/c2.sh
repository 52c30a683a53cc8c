#!/usr/bin/env bash
# v0.13 device call 2 (carry .device-carry: bundle/ = this tree; old/ = tilefuse of 68c11f7; var/ = two
# experiment builds of this tree: "diagonly" turns only comparisons that read both row and col into 32-bit
# position compares (the K/V tail compare stays 64-bit), "tailonly" only those that read col alone).
#   run(command="bash docs/results/v0.13/scripts/c2.sh", carry=[".device-carry"], timeout_s=590)
# 1. Call 1 found ALiBi + causal (sm90) 4.6% and causal sm80 128x64 2.6% slower after the change, sliding
#    window 1024 6% faster: which of the two compare kinds does what. Heuristic defaults, interleaved, 2 rounds.
# 2. With the time left: the generated sweep of the specs call 1 did not cover (both backends, every sm90
#    variant), compute-sanitizer on one small case per spec (memcheck: sm80 and sm90; racecheck: sm80 only,
#    it does not model TMA writes), and the SASS step (HGMMA, UTMALDG, UTMASTG).
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-new >/dev/null
mkdir -p $OUT
declare -A bin=([new]=/tmp/tf-new/bin/tilefuse)
for f in .device-carry/old/tilefuse.xz .device-carry/var/tilefuse-diagonly.xz .device-carry/var/tilefuse-tailonly.xz; do
  n=$(basename "$f" .xz); n=${n#tilefuse-}; [ "$n" = tilefuse ] && n=old
  xz -dc "$f" > /tmp/tilefuse-$n && chmod +x /tmp/tilefuse-$n && bin[$n]=/tmp/tilefuse-$n
done
one() { # binary-name label args...
  local n=$1 label=$2; shift 2
  echo "$label [$n]: $(TILEFUSE_CACHE_DIR=/tmp/c-$n timeout 60 ${bin[$n]} bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL" | tr '\n' ' ')"
}
for round in 1 2; do
  for n in old new diagonly tailonly; do
    one $n "alibi causal" specs/alibi.json --B 4 --S 4096
    one $n "causal S4k sm80" specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 \
      --schedule '{"mma":"mma_sync_m16n8k16","block_m":128,"block_n":64,"warps":8,"kv_stages":2}'
    one $n "sliding1024" specs/bench/sliding1024_causal.json
    one $n "causal S4k" specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128
  done
done 2>&1 | tee $OUT/variants.txt
left=$((580 - (SECONDS - T0)))
echo "checks from $((SECONDS - T0)) s, $left s left"
OUT=$OUT/checks SWEEP_SPECS="${C2_SPECS:-mha gqa attention_sink block_diagonal relative_bias sigmoid_attention softcap softcap_decay t5_bias}" \
  SWEEP_TAGS="[generated]" CHECK_STEPS="sweep sanitize sass" SWEEP_TIMEOUT=$((left - 60)) timeout $((left - 10)) \
  bash tests/gpu/run_generated_checks.sh 2>&1 | tail -14
echo "done at $((SECONDS - T0)) s"
