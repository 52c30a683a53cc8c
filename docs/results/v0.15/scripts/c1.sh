#!/usr/bin/env bash
# v0.15 call 1: issue 9's main table in steady state (tools/device-bench-steady.sh: tune, then
# `tilefuse bench` after --warmup-ms 500, and cuDNN / FA2 / Flex through bench_dense_peers.py after
# --warmup-ms 500), the first GPU run of both.
#   run(command="bash docs/results/v0.15/scripts/c1.sh", carry=[".device-carry"], timeout_s=600)
set -u
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm --format=csv,noheader
OUT=$OUT/steady BUDGET=575 bash tools/device-bench-steady.sh
