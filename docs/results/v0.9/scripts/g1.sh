#!/usr/bin/env bash
# v0.9 device call 1 (carry .device-carry): the generated sweep on both backends (sm80, the sm90 default,
# sm90-none, sm90-pingpong-persistent, sm90-pingpong_intra-persistent), the [varlen] cases, the Engine /
# C API and the example, on the tree of this commit (main + kv-range-cut + sigmoid-exp-affine, merged as 71e765b).
# The sweep (468 kernels now) needs about 520 s: at 510 s it stopped inside [varlen], which call 2 ran alone.
set -u
OUT=$OUT CHECK_STEPS="cpu sweep example" SWEEP_TIMEOUT=510 SKIP_BENCH=1 timeout 590 bash tools/device-all.sh 2>&1 | tail -40
