#!/usr/bin/env bash
# v0.14 device call 7 (carry .device-carry: bundle/ as in call 4). Does the warm-up drift of calls 5-6 (the
# board reaching its power limit) move the dense rows of the README too? Each case with the default 5
# warmup launches and with 200, then cuDNN / FA2 / Flex (peers.py: triton do_bench) in the same call.
#   run(command="bash docs/results/v0.14/scripts/c7.sh", carry=[".device-carry"], timeout_s=300)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
one() { # label args...
  local label=$1; shift
  echo "$label: $(TILEFUSE_CACHE_DIR=/tmp/c-d timeout 60 $tf bench "$@" --reps 50 2>&1 | grep -oE "median [0-9.]+ ms \(min [0-9.]+, max [0-9.]+|FAIL[A-Z]*" | tr '\n' ' ')"
}
for w in 5 200; do
  one "S4k non-causal, warmup $w" specs/mha.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --warmup $w
  one "S4k causal, warmup $w" specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --warmup $w
  one "Llama causal, warmup $w" specs/causal.json --B 1 --Hq 32 --Hkv 8 --S 8192 --D 128 --warmup $w
done 2>&1 | tee $OUT/dense.txt
PYTHONUNBUFFERED=1 timeout 150 python3 .device-carry/peers/peers.py --case 4,16,16,4096,128,0 --case 4,16,16,4096,128,1 \
  --case 1,32,8,8192,128,1 2>&1 | grep -E "^\{" | sed -E "s/'tflops'.*//" | tee -a $OUT/dense.txt
echo "done at $((SECONDS - T0)) s"
