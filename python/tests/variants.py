"""FlexAttention-style variants used by the CPU (tracing) and GPU (accuracy) tests.

Each factory takes the sizes and a device and returns (score_mod, mask_mod) closing over any tensor
it reads, the way a model would write them.
"""

import math

import torch
from torch.nn.attention.flex_attention import and_masks, or_masks


def noop(B, H, Sq, Sk, dev):
    return None, None


def causal(B, H, Sq, Sk, dev):
    return None, lambda b, h, q_idx, kv_idx: q_idx >= kv_idx


def causal_bottom_right(B, H, Sq, Sk, dev):
    offset = Sk - Sq
    return None, lambda b, h, q_idx, kv_idx: q_idx + offset >= kv_idx


def sliding_window(B, H, Sq, Sk, dev):
    window = 37

    def causal_mask(b, h, q_idx, kv_idx):
        return q_idx >= kv_idx

    def window_mask(b, h, q_idx, kv_idx):
        return q_idx - kv_idx <= window

    return None, and_masks(causal_mask, window_mask)


def softcap(B, H, Sq, Sk, dev):
    cap = 20.0
    return (lambda score, b, h, q_idx, kv_idx: cap * torch.tanh(score / cap)), None


def alibi(B, H, Sq, Sk, dev):
    slopes = torch.tensor([2.0 ** (-8.0 * (i + 1) / H) for i in range(H)], device=dev)

    def score_mod(score, b, h, q_idx, kv_idx):
        return score + slopes[h] * (kv_idx - q_idx)

    return score_mod, lambda b, h, q_idx, kv_idx: q_idx >= kv_idx


def relative_bias(B, H, Sq, Sk, dev):
    g = torch.Generator().manual_seed(1)
    bias = torch.randn(H, Sq + Sk - 1, generator=g).to(dev)

    def score_mod(score, b, h, q_idx, kv_idx):
        return score + bias[h, kv_idx - q_idx + Sq - 1]

    return score_mod, None


def document_mask(B, H, Sq, Sk, dev):
    g = torch.Generator().manual_seed(2)
    doc_ids = torch.sort(torch.randint(0, 4, (B, max(Sq, Sk)), generator=g), dim=1).values.to(torch.int32).to(dev)

    def mask_mod(b, h, q_idx, kv_idx):
        return doc_ids[b, q_idx] == doc_ids[b, kv_idx]

    return None, mask_mod


def prefix_lm(B, H, Sq, Sk, dev):
    prefix = torch.tensor([min(5 + 9 * i, Sk) for i in range(B)], dtype=torch.int64, device=dev)

    def prefix_mask(b, h, q_idx, kv_idx):
        return kv_idx < prefix[b]

    return None, or_masks(prefix_mask, lambda b, h, q_idx, kv_idx: q_idx >= kv_idx)


def gated_where(B, H, Sq, Sk, dev):
    def score_mod(score, b, h, q_idx, kv_idx):
        near = torch.abs(q_idx - kv_idx) < 8
        return torch.where(near, score * torch.sigmoid(score), score - 1.5)

    return score_mod, None


def bool_mask_capture(B, H, Sq, Sk, dev):
    g = torch.Generator().manual_seed(3)
    allowed = (torch.rand(Sq, Sk, generator=g) < 0.7).to(dev)
    allowed[:, 0] = True

    return None, lambda b, h, q_idx, kv_idx: allowed[q_idx, kv_idx]


def dilated(B, H, Sq, Sk, dev):
    def mask_mod(b, h, q_idx, kv_idx):
        return ((q_idx - kv_idx) % 3 == 0) | (kv_idx // 16 == q_idx // 16)

    return None, mask_mod


def temperature_per_head(B, H, Sq, Sk, dev):
    temp = torch.linspace(0.5, 2.0, H, device=dev)
    bonus = torch.tensor(0.25, device=dev)  # a 0-d tensor, passed as shape [1]

    def score_mod(score, b, h, q_idx, kv_idx):
        return score / temp[h] + bonus * (h % 2).to(torch.float32) - torch.log(kv_idx.float() + 1.0)

    return score_mod, None


def clamp_and_exp(B, H, Sq, Sk, dev):
    def score_mod(score, b, h, q_idx, kv_idx):
        return torch.clamp(score, min=-4.0, max=4.0) + torch.exp(-(q_idx - kv_idx).abs().float() / 50.0)

    return score_mod, None


def log_distance_buckets(B, H, Sq, Sk, dev):
    # floor / ceil / log1p / expm1 traced to the spec's built-ins (issue 12's functions).
    def score_mod(score, b, h, q_idx, kv_idx):
        d = (q_idx - kv_idx).abs().float()
        return score - 0.1 * torch.floor(torch.log1p(d)) + 0.05 * torch.ceil(torch.expm1(score * 0.1))

    return score_mod, None


ALL = [noop, causal, causal_bottom_right, sliding_window, softcap, alibi, relative_bias, document_mask,
       prefix_lm, gated_where, bool_mask_capture, dilated, temperature_per_head, clamp_and_exp,
       log_distance_buckets]


def reference_scores(score_mod, mask_mod, s, B, H, Sq, Sk, dev):
    """Scores (B, H, Sq, Sk) after score_mod and mask_mod, run eagerly on broadcast index tensors."""
    b = torch.arange(B, device=dev).view(B, 1, 1, 1)
    h = torch.arange(H, device=dev).view(1, H, 1, 1)
    q = torch.arange(Sq, device=dev).view(1, 1, Sq, 1)
    kv = torch.arange(Sk, device=dev).view(1, 1, 1, Sk)
    if score_mod is not None:
        s = score_mod(s, b, h, q, kv).to(s.dtype)
    if mask_mod is not None:
        m = torch.as_tensor(mask_mod(b, h, q, kv), device=dev).expand(B, H, Sq, Sk)
        s = s.masked_fill(~m, -math.inf)
    return s


def reference_attention(q, k, v, score_mod, mask_mod, scale, dtype):
    """Attention of (B, H, S, D) tensors computed in ``dtype``: out (B, Hq, Sq, Dv) and lse (natural
    log); a fully masked row gives out = 0 and lse = -inf (FlexAttention's convention)."""
    B, Hq, Sq, D = q.shape
    Hkv, Sk = k.shape[1], k.shape[2]
    G = Hq // Hkv
    qd, kd, vd = q.to(dtype), k.to(dtype).repeat_interleave(G, 1), v.to(dtype).repeat_interleave(G, 1)
    s = (qd @ kd.transpose(-1, -2)) * scale
    s = reference_scores(score_mod, mask_mod, s, B, Hq, Sq, Sk, q.device)
    m = s.amax(-1, keepdim=True)
    m = torch.where(torch.isinf(m), torch.zeros_like(m), m)
    p = torch.exp(s - m)
    l = p.sum(-1, keepdim=True)
    out = (p @ vd) / torch.where(l == 0, torch.ones_like(l), l)
    lse = (torch.log(l) + m).squeeze(-1)
    return out, lse
