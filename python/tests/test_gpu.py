"""GPU accuracy of the Python entry points, by FlashAttention's rule (tests/test_flash_attn.py):

    max |out - ref_fp64| <= 2 * max |out_lowp - ref_fp64| + 1e-5

where ref_fp64 is the same attention in float64 and out_lowp the same math in the input dtype
(PyTorch, unfused). LSE is compared the same way. Skipped, with the reason, without a CUDA GPU or
without the native library.
"""

import math
import warnings

import pytest
import torch

import tilefuse

import variants

if not torch.cuda.is_available():
    pytest.skip("no CUDA GPU: the GPU tests of the Python package need one", allow_module_level=True)
try:
    tilefuse.native_version()
except ImportError as e:  # pragma: no cover
    pytest.skip(f"libtilefuse.so cannot be loaded: {e}", allow_module_level=True)

DEV = "cuda"


def _rand(*shape, dtype, seed):
    g = torch.Generator(device=DEV).manual_seed(seed)
    return torch.randn(*shape, generator=g, device=DEV, dtype=torch.float32).to(dtype)


def _check(out, ref, lowp, what):
    err = (out.double() - ref).abs().max().item()
    bound = 2 * (lowp.double() - ref).abs().max().item() + 1e-5
    assert err <= bound, f"{what}: max error {err:.3e} > 2x low-precision error bound {bound:.3e}"


def _check_lse(lse, ref, lowp, what):
    fin = torch.isfinite(ref)
    assert torch.equal(torch.isfinite(lse), fin), f"{what}: -inf LSE rows differ"
    _check(lse[fin], ref[fin], lowp[fin], what + " lse")


SHAPES = [  # B, Hq, Hkv, Sq, Sk, D
    (2, 4, 4, 256, 256, 64),
    (1, 4, 4, 113, 203, 128),
    (2, 8, 2, 197, 197, 128),
]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "B{}_H{}-{}_S{}-{}_D{}".format(*s))
@pytest.mark.parametrize("factory", variants.ALL, ids=lambda f: f.__name__)
def test_flex_attention(factory, shape, dtype):
    B, Hq, Hkv, Sq, Sk, D = shape
    score_mod, mask_mod = factory(B, Hq, Sq, Sk, DEV)
    q, k, v = (_rand(B, h, s, D, dtype=dtype, seed=i) for i, (h, s) in enumerate([(Hq, Sq), (Hkv, Sk), (Hkv, Sk)]))
    out, lse = tilefuse.flex_attention(q, k, v, score_mod, mask_mod, enable_gqa=Hq != Hkv, return_lse=True)
    scale = 1 / math.sqrt(D)
    ref, ref_lse = variants.reference_attention(q, k, v, score_mod, mask_mod, scale, torch.float64)
    low, low_lse = variants.reference_attention(q, k, v, score_mod, mask_mod, scale, dtype)
    assert out.shape == (B, Hq, Sq, D) and out.dtype == dtype and lse.shape == (B, Hq, Sq)
    _check(out, ref, low, factory.__name__)
    _check_lse(lse, ref_lse, low_lse.float(), factory.__name__)


FA_SEQLENS = [(113, 203), (128, 217), (113, 211), (108, 256), (256, 512), (512, 256), (1024, 1024),
              (1023, 1024), (1024, 1023), (2048, 2048)]


def _flash_reference(q, k, v, scale, causal, window, softcap, alibi, dtype):
    """flash-attn's attention_ref on (B, S, H, D) tensors, through reference_attention."""
    Sq, Sk = q.shape[1], k.shape[1]
    left, right = window
    if causal:
        right = 0

    def mask_mod(b, h, i, j):
        m = torch.ones_like(i + j, dtype=torch.bool)
        if right >= 0:
            m = m & (j <= i + Sk - Sq + right)
        if left >= 0:
            m = m & (j >= i + Sk - Sq - left)
        return m

    def score_mod(s, b, h, i, j):
        if softcap > 0:
            s = softcap * torch.tanh(s / softcap)
        if alibi is not None:
            slope = alibi[h] if alibi.dim() == 1 else alibi[b, h]
            s = s - slope * (i + Sk - Sq - j).abs()
        return s

    out, _ = variants.reference_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), score_mod,
                                          mask_mod, scale, dtype)
    return out.transpose(1, 2)


@pytest.mark.parametrize("seqlens", FA_SEQLENS, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("D", [64, 128, 256])
@pytest.mark.parametrize("causal", [False, True])
def test_flash_attn_func(seqlens, D, causal):
    Sq, Sk = seqlens
    B, Hq, Hkv, dtype = 2, 4, 2, torch.bfloat16
    q, k, v = _rand(B, Sq, Hq, D, dtype=dtype, seed=1), _rand(B, Sk, Hkv, D, dtype=dtype, seed=2), \
        _rand(B, Sk, Hkv, D, dtype=dtype, seed=3)
    out = tilefuse.flash_attn_func(q, k, v, causal=causal)
    scale = D ** -0.5
    ref = _flash_reference(q, k, v, scale, causal, (-1, -1), 0.0, None, torch.float64)
    low = _flash_reference(q, k, v, scale, causal, (-1, -1), 0.0, None, dtype)
    assert out.shape == (B, Sq, Hq, D)
    _check(out, ref, low, f"flash_attn_func {Sq}x{Sk} D{D} causal={causal}")


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
@pytest.mark.parametrize("causal, window, softcap, alibi_shape", [
    (True, (-1, -1), 30.0, None), (False, (64, 16), 0.0, None), (True, (100, -1), 0.0, "h"),
    (False, (-1, -1), 50.0, "bh"), (False, (0, 0), 0.0, None)])
def test_flash_attn_func_options(causal, window, softcap, alibi_shape, dtype):
    B, Sq, Sk, Hq, Hkv, D = 2, 300, 517, 8, 8, 128
    q, k, v = _rand(B, Sq, Hq, D, dtype=dtype, seed=4), _rand(B, Sk, Hkv, D, dtype=dtype, seed=5), \
        _rand(B, Sk, Hkv, D, dtype=dtype, seed=6)
    alibi = None
    if alibi_shape:
        alibi = torch.rand(Hq if alibi_shape == "h" else (B, Hq), device=DEV) * 0.3
    out = tilefuse.flash_attn_func(q, k, v, softmax_scale=0.09, causal=causal, window_size=window,
                                   softcap=softcap, alibi_slopes=alibi)
    ref = _flash_reference(q, k, v, 0.09, causal, window, softcap, alibi, torch.float64)
    low = _flash_reference(q, k, v, 0.09, causal, window, softcap, alibi, dtype)
    _check(out, ref, low, "flash_attn_func options")


def test_attention_with_shipped_specs():
    B, H, S, D = 2, 16, 384, 128
    q, k, v = (_rand(B, H, S, D, dtype=torch.bfloat16, seed=i) for i in range(3))
    slopes = torch.tensor([2.0 ** (-8.0 * (i + 1) / H) for i in range(H)], device=DEV)
    out = tilefuse.attention(q, k, v, "alibi", captures={"slopes": slopes})
    _, mask = variants.causal(B, H, S, S, DEV)
    sm = lambda s, b, h, i, j: s + slopes[h] * (j - i)  # noqa: E731
    ref, _ = variants.reference_attention(q, k, v, sm, mask, D ** -0.5, torch.float64)
    low, _ = variants.reference_attention(q, k, v, sm, mask, D ** -0.5, torch.bfloat16)
    _check(out, ref, low, "attention(alibi)")
    out, lse = tilefuse.attention(q, k, v, "causal")
    ref, ref_lse = variants.reference_attention(q, k, v, None, mask, D ** -0.5, torch.float64)
    low, low_lse = variants.reference_attention(q, k, v, None, mask, D ** -0.5, torch.bfloat16)
    _check(out, ref, low, "attention(causal)")
    _check_lse(lse, ref_lse, low_lse.float(), "attention(causal)")


def test_strided_inputs_taken_in_place_or_copied():
    B, S, H, D = 2, 256, 8, 64
    qkv = _rand(B, S, 3, H, D, dtype=torch.bfloat16, seed=7)
    q, k, v = qkv.unbind(2)  # strided views of a packed projection: taken as they are
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = tilefuse.flash_attn_func(q, k, v, causal=True)
    ref = _flash_reference(q, k, v, D ** -0.5, True, (-1, -1), 0.0, None, torch.float64)
    low = _flash_reference(q, k, v, D ** -0.5, True, (-1, -1), 0.0, None, torch.bfloat16)
    _check(out, ref, low, "packed qkv")
    qt = _rand(B, H, D, S, dtype=torch.bfloat16, seed=8).transpose(2, 3)  # head dim not contiguous
    with pytest.warns(UserWarning, match="copied"):
        out = tilefuse.flex_attention(qt, qt, qt)
    ref, _ = variants.reference_attention(qt, qt, qt, None, None, D ** -0.5, torch.float64)
    low, _ = variants.reference_attention(qt, qt, qt, None, None, D ** -0.5, torch.bfloat16)
    _check(out, ref, low, "transposed q")


def test_cuda_graph_capture():
    B, H, S, D = 2, 8, 512, 128
    q, k, v = (_rand(B, H, S, D, dtype=torch.bfloat16, seed=10 + i) for i in range(3))
    _, mask = variants.sliding_window(B, H, S, S, DEV)
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        tilefuse.flex_attention(q, k, v, mask_mod=mask)  # builds the kernel before capture
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        out = tilefuse.flex_attention(q, k, v, mask_mod=mask)
    for seed in (20, 30):
        for t, i in zip((q, k, v), range(3)):
            t.copy_(_rand(B, H, S, D, dtype=torch.bfloat16, seed=seed + i))
        g.replay()
        torch.cuda.synchronize()
        ref, _ = variants.reference_attention(q, k, v, None, mask, D ** -0.5, torch.float64)
        low, _ = variants.reference_attention(q, k, v, None, mask, D ** -0.5, torch.bfloat16)
        _check(out, ref, low, f"CUDA graph replay {seed}")


class _DecoderLayer(torch.nn.Module):
    def __init__(self, dim=1024, heads=16, kv_heads=4):
        super().__init__()
        self.h, self.kvh, self.d = heads, kv_heads, dim // heads
        self.norm = torch.nn.RMSNorm(dim)
        self.q = torch.nn.Linear(dim, heads * self.d, bias=False)
        self.kv = torch.nn.Linear(dim, 2 * kv_heads * self.d, bias=False)
        self.o = torch.nn.Linear(heads * self.d, dim, bias=False)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, 4 * dim), torch.nn.GELU(), torch.nn.Linear(4 * dim, dim))

    def forward(self, x, attn):
        B, S, _ = x.shape
        y = self.norm(x)
        q = self.q(y).view(B, S, self.h, self.d)
        k, v = self.kv(y).view(B, S, 2, self.kvh, self.d).unbind(2)
        o = attn(q, k, v)
        x = x + self.o(o.reshape(B, S, -1))
        return x + self.mlp(self.norm(x))


def _tilefuse_attn(q, k, v):
    return tilefuse.flash_attn_func(q, k, v, causal=True, softcap=30.0)


def _torch_attn(q, k, v):
    q, k, v = (t.transpose(1, 2).double() for t in (q, k, v))
    G = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(G, 1), v.repeat_interleave(G, 1)
    s = (q @ k.transpose(-1, -2)) * q.shape[-1] ** -0.5
    s = 30.0 * torch.tanh(s / 30.0)
    S = s.shape[-1]
    s = s.masked_fill(torch.ones(S, S, dtype=torch.bool, device=s.device).triu(1), -math.inf)
    return (torch.softmax(s, -1) @ v).transpose(1, 2)


def test_decoder_layer_torch_compile_and_cuda_graph():
    torch.manual_seed(0)
    layer = _DecoderLayer().to(DEV, torch.bfloat16).eval()
    x = torch.randn(2, 512, 1024, device=DEV, dtype=torch.bfloat16)
    with torch.no_grad():
        eager = layer(x, _tilefuse_attn)
        ref = layer.double()(x.double(), _torch_attn)
        layer.to(torch.bfloat16)
        compiled = torch.compile(lambda x: layer(x, _tilefuse_attn), fullgraph=True)(x)
        graphed = torch.compile(lambda x: layer(x, _tilefuse_attn), fullgraph=True, mode="reduce-overhead")
        for _ in range(3):  # reduce-overhead records a CUDA graph after warm-up runs
            g_out = graphed(x)
    for name, y in (("eager", eager), ("compiled", compiled), ("cuda graph", g_out)):
        err = (y.double() - ref).abs().max().item()
        assert err < 0.1 * ref.abs().max().item(), f"{name}: {err}"
    assert (compiled.double() - eager.double()).abs().max().item() < 0.05


def test_backward_raises():
    q = _rand(1, 4, 128, 64, dtype=torch.bfloat16, seed=0).requires_grad_()
    out = tilefuse.flex_attention(q, q, q)
    with pytest.raises(NotImplementedError, match="backward"):
        out.sum().backward()


def test_errors_on_gpu_tensors():
    q = _rand(1, 4, 128, 64, dtype=torch.bfloat16, seed=0)
    with pytest.raises(ValueError, match="on cpu"):
        tilefuse.flex_attention(q, q.cpu(), q)
    slopes_cpu = torch.ones(4)
    with pytest.raises(ValueError, match="device"):
        tilefuse.flex_attention(q, q, q, score_mod=lambda s, b, h, i, j: s + slopes_cpu[h])


def _documents(B, S, n_docs, seed):
    g = torch.Generator(device=DEV).manual_seed(seed)
    cuts = torch.rand(B, S, generator=g, device=DEV) < n_docs / S
    return cuts.cumsum(dim=1).to(torch.int32)


def test_block_mask_follows_captures_written_in_place_or_reallocated():
    # A mask_mod reading a captured tensor runs with a run-time block mask that the engine keeps per
    # capture address. New contents at the same address (an in-place write; a freed tensor's memory
    # handed to the next one) must give a new mask, never the old one's skipped tiles.
    B, H, S, D, dtype = 2, 4, 512, 128, torch.bfloat16
    q, k, v = (_rand(B, H, S, D, dtype=dtype, seed=40 + i) for i in range(3))
    scale = 1 / math.sqrt(D)

    def run_and_check(doc_ids, what):
        def mask_mod(b, h, i, j):
            return doc_ids[b, i] == doc_ids[b, j]
        out = tilefuse.flex_attention(q, k, v, mask_mod=mask_mod)
        ref, _ = variants.reference_attention(q, k, v, None, mask_mod, scale, torch.float64)
        low, _ = variants.reference_attention(q, k, v, None, mask_mod, scale, dtype)
        _check(out, ref, low, what)

    doc_ids = _documents(B, S, 16, seed=1)
    run_and_check(doc_ids, "first documents")
    doc_ids.copy_(_documents(B, S, 3, seed=2))  # in place: three long documents where there were sixteen
    run_and_check(doc_ids, "documents written in place")
    del doc_ids
    for seed in (3, 4, 5):  # fresh tensors, likely at the freed address
        run_and_check(_documents(B, S, 2 + 5 * seed, seed=seed), f"reallocated documents {seed}")
    tilefuse.clear_block_masks()
    run_and_check(_documents(B, S, 7, seed=6), "after clear_block_masks")
