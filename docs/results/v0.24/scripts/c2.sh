#!/usr/bin/env bash
# v0.24 call 2: the tuner with the new twins, steady state, the peers in the same call.
#   1. sliding window 1024 + causal (B4 H16 S4096): tilefuse tune (v0.22's snake twins of a persistent default, and
#      the dynamic twins, --dynamic-tiles), tilefuse bench twice, FlexAttention (bench_dense_peers.py --variant);
#   2. the packed non-causal batch (U[128, 4096], 64k tokens, H16 D128): tilefuse tune (the dynamic twins), bench
#      twice, then the peers (bench_packed_peers.py: FlexAttention with the document BlockMask, SDPA padded).
#   run(command="bash docs/results/v0.24/scripts/c2.sh", carry=[".device-carry"], timeout_s=598)
source tools/device-call.sh "${C2_LIMIT:-585}" /tmp/v024-c2
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c2-cache
python3 python/bench/bench_packed_peers.py --write-lengths /tmp/lengths.txt --seed 1 --min 128 --max 4096 \
  --total 65536 > /dev/null 2>&1 || echo "lengths: failed"
for v in sliding1024 packed_mha; do
  case $v in
    sliding1024) spec=specs/bench/sliding1024_causal.json flags="--B 4 --S 4096" ;;
    packed_mha) spec=specs/varlen/mha.json flags="--seqlens-file /tmp/lengths.txt --Hq 16 --Hkv 16 --D 128" ;;
  esac
  [ "$(left)" -gt 150 ] || { echo "$v: skipped, $(left) s left"; continue; }
  # shellcheck disable=SC2086
  timeout 70 $tf tune $spec $flags --budget 45 --dynamic-tiles > /tmp/tune-$v.log 2>&1
  echo "tune $v rc=$? at $((SECONDS - T0)) s"
  grep -E "dynamic|snake|^steady state|^winner" /tmp/tune-$v.log | cut -c1-400 | head -12
  for round in 1 2; do
    # shellcheck disable=SC2086
    r=$(timeout 40 $tf bench $spec $flags --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*|schedule .{0,160}" |
        head -3 | tr '\n' ' ')
    echo "tilefuse $v tuned: $r | round $round"
  done
  t=$(( $(left) - 5 )); [ $t -gt 150 ] && t=150
  [ $t -gt 40 ] || { echo "$v peers: skipped"; continue; }
  if [ $v = sliding1024 ]; then
    timeout $t python3 python/bench/bench_dense_peers.py --case 4,16,16,4096,128,1 --variant sliding1024_causal 2>&1 |
      grep -E "flex|unavailable"
  else
    timeout $t python3 python/bench/bench_packed_peers.py --seqlens-file /tmp/lengths.txt --heads 16 --head-dim 128 \
      --reps 30 --seed 1 --json "$OUT/peers_mha.json" 2>&1 | grep -vi warn | tail -6
  fi
done 2>&1 | tee "$OUT/tuned.txt"
echo "done at $((SECONDS - T0)) s"
