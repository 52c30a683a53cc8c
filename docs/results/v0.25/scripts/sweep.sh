#!/usr/bin/env bash
# v0.25 calls 5 and 6 (each run as one command line; kept here as they ran): the generated sweep ([generated],
# FlashAttention's rule against fp64) of the sm90 default and the dynamic variant
# (sm90-pingpong-persistent-dynamic-qreg) on a group of specs, in a fresh output folder.
#   call 5: SPECS="alibi softcap block_diagonal" SECONDS_MAX=150
#   call 6: SPECS="mha gqa attention_sink relative_bias sigmoid_attention softcap_decay stick_breaking t5_bias" SECONDS_MAX=110
#   run(command="SPECS=... SECONDS_MAX=... bash docs/results/v0.25/scripts/sweep.sh", carry=[".device-carry"])
source tools/device-call.sh $((SECONDS_MAX + 25)) /tmp/sweep
rm -rf /tmp/gen2
TILEFUSE_TEST_BACKENDS=sm90 TILEFUSE_TEST_VARIANTS=dynamic SWEEP_SPECS="$SPECS" SWEEP_TAGS="[generated]" \
  SWEEP_TIMEOUT=$SECONDS_MAX CHECK_STEPS="sweep" OUT=/tmp/gen2 timeout $((SECONDS_MAX + 15)) \
  bash tests/gpu/run_generated_checks.sh > /tmp/gen2.log 2>&1
echo "generated rc=$? at $((SECONDS - T0)) s" | tee "$OUT/checks.txt"
grep -E "test cases|assertions|FAILED|exit [0-9]+,|NOT BUILT|^sweep " /tmp/gen2.log | head -40 | tee -a "$OUT/checks.txt"
