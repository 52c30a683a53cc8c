#!/usr/bin/env bash
# v0.12 device call 4 (carry .device-carry: bundle/ = this tree at 017b262). The generated sweep of the
# specs call 1 did not cover (both backends, every sm90 variant: the epilogue through shared memory is in
# every sm90 kernel of D <= 128), compute-sanitizer on one small case per spec (memcheck: sm80 and sm90;
# racecheck: sm80 only, it does not model TMA writes), and the SASS step (HGMMA, UTMALDG, UTMASTG).
#   run(command="bash docs/results/v0.12/scripts/c4.sh", carry=[".device-carry"], timeout_s=500)
set -u
export PATH=/usr/local/cuda/bin:$PATH
OUT=$OUT/checks SWEEP_SPECS="alibi attention_sink block_diagonal relative_bias sigmoid_attention softcap softcap_decay t5_bias" \
  SWEEP_TAGS="[generated]" CHECK_STEPS="sweep sanitize sass" SWEEP_TIMEOUT=380 timeout 480 \
  bash tests/gpu/run_generated_checks.sh 2>&1 | tail -16
