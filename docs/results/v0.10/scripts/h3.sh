#!/usr/bin/env bash
# v0.10 device call 3 (carry .device-carry: bundle/): issue 10's packed-sequences target, Tilefuse's packed
# kernels against FlexAttention (document BlockMask) and padded SDPA (cuDNN, FlashAttention-2) on the same
# lengths (uniform in [128, 4096], 65536 tokens, seed 1): tools/device-bench-packed.sh.
#   run(command="bash docs/results/v0.10/scripts/h3.sh", carry=[".device-carry"], timeout_s=600)
set -u
OUT=$OUT BUDGET=570 bash tools/device-bench-packed.sh 2>&1 | tail -30
