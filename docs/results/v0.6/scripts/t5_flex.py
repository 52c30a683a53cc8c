# T5 bucketed relative position bias (specs/t5_bias.json's score_mod, 32 buckets from a captured
# [Hq, 32] f32 table) through FlexAttention, B4 H16 S4096 D128 bf16 (issue 12's speed target).
import torch
from torch.nn.attention.flex_attention import flex_attention
B, H, S, D, dev, dt = 4, 16, 4096, 128, "cuda", torch.bfloat16
bias = torch.randn(H, 32, device=dev, dtype=torch.float32)
def t5(score, b, h, q_idx, kv_idx):
    rel = kv_idx - q_idx
    n = rel.abs()
    log_bucket = torch.clamp(8 + (2.0 * torch.log2(torch.clamp(n, min=8).float() / 8.0)).to(torch.int64), max=15)
    bucket = (rel > 0).to(torch.int64) * 16 + torch.where(n < 8, n, log_bucket)
    return score + bias[h, bucket]
q, k, v = (torch.randn(B, H, S, D, device=dev, dtype=dt) for _ in range(3))
flex = torch.compile(flex_attention)
for _ in range(5): flex(q, k, v, score_mod=t5)
torch.cuda.synchronize()
ts = []
for _ in range(30):
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    a.record(); flex(q, k, v, score_mod=t5); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
ts.sort(); ms = ts[len(ts) // 2]
print(f"flex t5_bias B{B} H{H} S{S} D{D}: {ms:.3f} ms, {4 * B * H * S * S * D / ms / 1e9:.0f} TFLOP/s")
