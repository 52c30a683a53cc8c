#!/usr/bin/env bash
# v0.10 device call 4 (carry .device-carry: bundle/ at the diagonal-table commit): the specs whose kernels the
# diagonal tables change (t5_bias, relative_bias, softcap_decay; mha as a control) through the generated
# sweep on both backends and compute-sanitizer, then T5's bias against FlexAttention with the same
# score_mod (docs/results/v0.6/scripts/t5_flex.py), and the other two specs' times.
#   run(command="bash docs/results/v0.10/scripts/h4.sh", carry=[".device-carry"], timeout_s=600)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
OUT=$OUT/checks SWEEP_SPECS="t5_bias relative_bias softcap_decay mha" SWEEP_TAGS="[generated]" \
  CHECK_STEPS="sweep sanitize" SWEEP_TIMEOUT=300 timeout 420 bash tests/gpu/run_generated_checks.sh 2>&1 | tail -25
echo "checks at $((SECONDS - T0)) s"
source tools/device-unpack.sh /tmp/tf-smoke-bundle >/dev/null
tf=/tmp/tf-smoke-bundle/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/h4-cache
for s in t5_bias relative_bias softcap_decay mha; do
  echo "== $s B4 H16 S4096 D128"
  timeout 60 $tf bench specs/$s.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --reps 30 2>&1 | grep -E "median|PASS|FAIL|rror" | head -3
done
echo "== FlexAttention, T5 score_mod"
timeout 120 python3 docs/results/v0.6/scripts/t5_flex.py 2>&1 | grep -v Warn | tail -2
echo "done at $((SECONDS - T0)) s"
# The same benches with the bundle of call 1 (d2e29c3, before the diagonal tables): .device-carry/old holds its
# tilefuse and libtilefuse.
rm -rf /tmp/old-bundle && cp -r /tmp/tf-smoke-bundle /tmp/old-bundle
xz -dc .device-carry/old/tilefuse.xz > /tmp/old-bundle/bin/tilefuse && chmod +x /tmp/old-bundle/bin/tilefuse
xz -dc .device-carry/old/libtilefuse.so.0.2.0.xz > /tmp/old-bundle/lib/libtilefuse.so.0.2.0
export TILEFUSE_CACHE_DIR=/tmp/h4-cache-old
for s in t5_bias relative_bias softcap_decay; do
  echo "== before: $s B4 H16 S4096 D128"
  LD_LIBRARY_PATH=/tmp/old-bundle/lib:$LD_LIBRARY_PATH timeout 60 /tmp/old-bundle/bin/tilefuse bench specs/$s.json \
    --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --reps 30 2>&1 | grep -E "median|PASS|FAIL|rror" | head -3
done
echo "done at $((SECONDS - T0)) s"
