#!/usr/bin/env bash
# Final GPU checks (v0.7): the generated sweep on both backends (sm80, the sm90 default, sm90-none,
# sm90-pingpong-persistent, sm90-pingpong_intra-persistent), the Engine / C API, the example.
set -u
OUT=$OUT CHECK_STEPS="cpu sweep example" SWEEP_TIMEOUT=430 SKIP_BENCH=1 timeout 580 bash tools/device-all.sh 2>&1 | tail -40
