#!/usr/bin/env bash
# v0.13 device call 4 (carry .device-carry: bundle/ = the tree of call 3, "B" compares). The generated sweep
# of the 5 specs call 3 did not cover, so that every shipped spec's sm90 kernel in the final form has run
# (calls 1-2 swept all 13 in form A; the sm80 kernels are the v0.12 ones again: only unread position
# declarations differ).
#   run(command="bash docs/results/v0.13/scripts/c4.sh", carry=[".device-carry"], timeout_s=200)
set -u
export PATH=/usr/local/cuda/bin:$PATH
OUT=$OUT/checks SWEEP_SPECS="block_diagonal attention_sink sigmoid_attention softcap_decay t5_bias" SWEEP_TAGS="[generated]" \
  CHECK_STEPS="sweep" SWEEP_TIMEOUT=160 timeout 185 bash tests/gpu/run_generated_checks.sh 2>&1 | tail -3
