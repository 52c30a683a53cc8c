#!/usr/bin/env bash
# v0.11 device call 6 (carry .device-carry: bundle/ at 1567401): the block diagonal with 64-row blocks
# (issue 10's target), tuned. specs/block_diagonal.json is classified statically (no capture);
# FlexAttention's peer is peers.py's "document_64docs", whose mask_mod is exactly (q // 64) == (kv // 64).
#   run(command="bash docs/results/v0.11/scripts/c6.sh", carry=[".device-carry"], timeout_s=400)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf-c6 >/dev/null
tf=/tmp/tf-c6/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c6-cache
timeout 120 $tf tune specs/block_diagonal.json --B 4 --S 4096 --budget 40 --json > /tmp/c6-bd.json 2> /dev/null
echo "tune rc=$? at $((SECONDS - T0)) s"
python3 docs/results/v0.11/scripts/tune_summary.py block_diagonal=/tmp/c6-bd.json
for r in 1 2; do
  timeout 60 $tf bench specs/block_diagonal.json --B 4 --S 4096 --reps 50 2>&1 | grep -E "^schedule|^time|-> " | tr '\n' ' '; echo
done
PYTHONUNBUFFERED=1 timeout 240 python3 .device-carry/peers/peers.py --case 1,16,16,1024,128,0 --variants 2>&1 | grep -E "document_64docs|document_8docs"
echo "done at $((SECONDS - T0)) s"
