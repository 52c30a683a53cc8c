#!/usr/bin/env bash
# v0.14 device call 9 (carry .device-carry: bundle/ as in call 4). Steady state on both sides: Tilefuse after
# 600 warmup launches (tilefuse bench --warmup 600) and cuDNN SDPA after 1 s of calls (CUDA events around each call, the calls queued back to back as `tilefuse bench` does; call 8 synchronized after each call, so its cuDNN times held the host launch overhead; median
# of 50), each case right after the other, alternating twice: the board at its power limit on both.
#   run(command="bash docs/results/v0.14/scripts/c9.sh", carry=[".device-carry"], timeout_s=300)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
cat > /tmp/cudnn_steady.py <<'PY'
import sys, time, torch
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
B, Hq, Hkv, S, D, causal = (int(x) for x in sys.argv[1].split(","))
torch.manual_seed(0)
q = torch.randn(B, Hq, S, D, device="cuda", dtype=torch.bfloat16)
k = torch.randn(B, Hkv, S, D, device="cuda", dtype=torch.bfloat16)
v = torch.randn(B, Hkv, S, D, device="cuda", dtype=torch.bfloat16)
def run():
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal), enable_gqa=Hq != Hkv)
run(); torch.cuda.synchronize()
t = time.time()
while time.time() - t < 1.0:  # 1 s of calls: the board reaches its steady clock
    for _ in range(20):
        run()
    torch.cuda.synchronize()
events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(50)]
for a, b in events:  # queued back to back: the GPU never waits for the host
    a.record(); run(); b.record()
torch.cuda.synchronize()
ms = sorted(a.elapsed_time(b) for a, b in events)
print(f"cuDNN {sys.argv[1]} steady: median {ms[25]:.3f} ms (min {ms[0]:.3f}, max {ms[-1]:.3f})")
PY
tfone() { # label args...
  local label=$1; shift
  echo "Tilefuse $label steady: $(TILEFUSE_CACHE_DIR=/tmp/c-d timeout 60 $tf bench "$@" --reps 50 --warmup 600 2>&1 | grep -oE "median [0-9.]+ ms \(min [0-9.]+, max [0-9.]+|FAIL[A-Z]*" | tr '\n' ' ')"
}
for round in 1; do
  tfone "4,16,16,4096,128,0" specs/mha.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128
  timeout 60 python3 /tmp/cudnn_steady.py 4,16,16,4096,128,0
  tfone "4,16,16,4096,128,1" specs/causal.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128
  timeout 60 python3 /tmp/cudnn_steady.py 4,16,16,4096,128,1
  tfone "1,32,8,8192,128,1" specs/causal.json --B 1 --Hq 32 --Hkv 8 --S 8192 --D 128
  timeout 60 python3 /tmp/cudnn_steady.py 1,32,8,8192,128,1
  tfone "16,16,16,1024,128,0" specs/mha.json --B 16 --Hq 16 --Hkv 16 --S 1024 --D 128
  timeout 60 python3 /tmp/cudnn_steady.py 16,16,16,1024,128,0
done 2>&1 | grep -vi warn | tee $OUT/steady-dense.txt
echo "done at $((SECONDS - T0)) s"
