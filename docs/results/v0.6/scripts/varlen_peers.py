# Packed-sequence peers (issue 10): lengths uniform in [128, 4096] until 65536 tokens (seed 1), written
# as cu_seqlens to argv[1] for `tilefuse bench --seqlens-file`; times FlexAttention with the equivalent
# document + causal mask, and SDPA (cuDNN, FlashAttention-2) on the zero-padded batch. H16 D128 bf16.
import random, sys, torch
import torch.nn.functional as F
from torch.nn.attention import sdpa_kernel, SDPBackend
from torch.nn.attention.flex_attention import flex_attention, create_block_mask
random.seed(1)
lens, total = [], 0
while total < 65536:
    n = min(random.randint(128, 4096), 65536 - total)
    lens.append(n); total += n
cu = [0]
for n in lens: cu.append(cu[-1] + n)
open(sys.argv[1], "w").write(",".join(map(str, cu)))
H, D, dev, dt = 16, 128, "cuda", torch.bfloat16
flops = sum(4 * H * n * n * D for n in lens) / 2  # causal: half
def timeit(fn, reps=30):
    for _ in range(5): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
    ts.sort(); return ts[len(ts) // 2]
q, k, v = (torch.randn(1, H, total, D, device=dev, dtype=dt) for _ in range(3))
doc = torch.repeat_interleave(torch.arange(len(lens), device=dev), torch.tensor(lens, device=dev))
def mask(b, h, qi, ki): return (doc[qi] == doc[ki]) & (qi >= ki)
bm = create_block_mask(mask, None, None, total, total, device=dev)
flex = torch.compile(flex_attention)
res = {"flex": timeit(lambda: flex(q, k, v, block_mask=bm))}
S = max(lens)
qp, kp, vp = (torch.randn(len(lens), H, S, D, device=dev, dtype=dt) for _ in range(3))
for name, be in (("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION), ("sdpa_flash", SDPBackend.FLASH_ATTENTION)):
    with sdpa_kernel(be):
        try: res[name] = timeit(lambda: F.scaled_dot_product_attention(qp, kp, vp, is_causal=True))
        except Exception as e: print(name, "failed:", e)
print(f"packed: {len(lens)} sequences, {total} tokens, max {S}; effective causal FLOPs {flops:.3e}")
for n, ms in res.items(): print(f"{n:12s} {ms:.3f} ms  {flops / ms / 1e9:.0f} TFLOP/s effective")
