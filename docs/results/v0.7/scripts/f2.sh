#!/usr/bin/env bash
# Final bench (v0.7): Tilefuse's heuristic defaults (persistent grid without a mask; BLOCK_M 192 at D64
# and BLOCK_N 192 at Sk >= 8192 for plain attention) and 128 x 192 pingpong on every case, cuDNN / FA2 /
# FlexAttention in the same call (tools/device-bench.sh via tools/device-all.sh).
set -u
S1='{"mma":"wgmma","block_m":128,"block_n":192,"warps":8,"kv_stages":2,"q":"smem","overlap":"pingpong"}'
OUT=$OUT SKIP_CHECKS=1 TF_SCHEDULES="$S1" timeout 560 bash tools/device-all.sh > $OUT/all.log 2>&1
echo "rc=$?"
tail -n 30 $OUT/bench-table.md
