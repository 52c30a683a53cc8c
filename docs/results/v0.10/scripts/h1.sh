#!/usr/bin/env bash
# v0.10 device call 1 (carry .device-carry: bundle/ from tools/device-bundle.sh): the generated sweep on both
# backends (sm80, the sm90 default, sm90-none, sm90-pingpong-persistent, sm90-pingpong_intra-persistent)
# without the [varlen] cases (call 2 runs them), the Engine / C API and the example, after the epilogue's
# row factor became a row vector (DeferNormalization: one reciprocal per row, not one division per element).
#   run(command="bash docs/results/v0.10/scripts/h1.sh", carry=[".device-carry"], timeout_s=600)
set -u
OUT=$OUT CHECK_STEPS="cpu sweep example" SWEEP_TAGS="[gpu]~[varlen]" SWEEP_TIMEOUT=500 SKIP_BENCH=1 \
  timeout 590 bash tools/device-all.sh 2>&1 | tail -40
