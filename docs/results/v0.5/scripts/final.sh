# Final device call: the new variant-language specs and the packed GPU test after the last changes.
set -u
source tools/device-unpack.sh /tmp/tfb >/dev/null
export PATH=/usr/local/cuda/bin:$PATH
b=/tmp/tfb/bin
for s in specs/t5_bias.json specs/softcap_decay.json tests/lit/cli/Inputs/varlang_approx.json tests/lit/cli/Inputs/varlang_exact.json; do
  for sched in "" '{"mma":"mma_sync_m16n8k16","block_m":128,"block_n":64,"warps":8,"kv_stages":2}'; do
    echo "== $s ${sched:+sm80}"
    timeout 40 $b/tilefuse bench $s --B 2 --Hq 8 --Hkv 8 --S 1000 --reps 5 ${sched:+--schedule "$sched"} 2>&1 | grep -E "schedule:|time:|error|PASS|FAIL" | cut -c1-200
  done
done
echo "== [varlen]"
TILEFUSE_SPECS_DIR=$PWD/specs timeout 90 $b/tilefuse_generated_gpu_tests "[varlen]" 2>&1 | tail -3
