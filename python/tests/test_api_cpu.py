"""Argument checking, flash-attn specs, the custom op's fake implementation and torch.compile, on CPU.

Tensors on the "meta" device stand in for CUDA tensors: they have shapes, dtypes and strides but no
data, so everything up to the launch runs without a GPU.
"""

import json

import pytest
import torch

import tilefuse
from tilefuse import _spec, api

import spec_eval


def meta(*shape, dtype=torch.bfloat16):
    return torch.empty(*shape, dtype=dtype, device="meta")


Q = meta(2, 8, 128, 64)


@pytest.mark.parametrize("args, kwargs, exc, words", [
    ((torch.zeros(2, 8, 128, 64, dtype=torch.bfloat16),) * 3, {}, ValueError, ["query is on cpu", "CUDA"]),
    ((Q, meta(2, 8, 128, 64, dtype=torch.float16), Q), {}, TypeError, ["key", "dtype", "one dtype"]),
    ((meta(2, 8, 128, 64, dtype=torch.float32),) * 3, {}, TypeError, ["bfloat16 or torch.float16"]),
    ((meta(2, 8, 128, 72),) * 3, {}, ValueError, ["head dim D = 72", "multiples of 16"]),
    ((meta(2, 8, 128, 512),) * 3, {}, ValueError, ["head dim D = 512"]),
    ((Q, meta(2, 8, 128, 64), meta(2, 8, 128, 40)), {}, ValueError, ["value head dim Dv = 40"]),
    ((meta(2, 8, 128, 64), meta(2, 3, 128, 64), meta(2, 3, 128, 64)), {"enable_gqa": True}, ValueError,
     ["not a multiple", "3 heads"]),
    ((meta(2, 8, 128, 64), meta(2, 2, 128, 64), meta(2, 2, 128, 64)), {}, ValueError, ["enable_gqa=True"]),
    ((meta(8, 128, 64),) * 3, {}, ValueError, ["4 dims"]),
    ((Q, Q, Q), {"scale": -1.0}, ValueError, ["scale"]),
    ((Q, Q, Q), {"score_mod": 3}, TypeError, ["score_mod must be a function"]),
    ((Q, Q, Q), {"mask_mod": lambda b, h, q, kv: (q - kv) * 0.5}, TypeError, ["mask_mod", "returned a float"]),
])
def test_flex_attention_argument_errors(args, kwargs, exc, words):
    with pytest.raises(exc) as e:
        tilefuse.flex_attention(*args, **kwargs)
    for w in words:
        assert w in str(e.value), str(e.value)


def test_flash_attn_not_implemented_options():
    q = meta(2, 128, 8, 64)
    with pytest.raises(NotImplementedError, match="dropout"):
        tilefuse.flash_attn_func(q, q, q, dropout_p=0.1)
    with pytest.raises(NotImplementedError, match="return_attn_probs"):
        tilefuse.flash_attn_func(q, q, q, return_attn_probs=True)
    with pytest.raises(ValueError, match="window_size"):
        tilefuse.flash_attn_func(q, q, q, window_size=(-2, 0))
    with pytest.raises(TypeError, match="alibi_slopes"):
        tilefuse.flash_attn_func(q, q, q, alibi_slopes=meta(8))


def _flash_mask(spec, B, H, Sq, Sk):
    score, b, h, qi, kv = spec_eval.grid(B, H, Sq, Sk)
    env = {"score": score, "b": b, "h": h, "q_idx": qi, "kv_idx": kv, "Sq": Sq, "Sk": Sk}
    if "mask_mod" not in spec:
        return torch.ones(B, H, Sq, Sk, dtype=torch.bool)
    return spec_eval.evaluate(spec["mask_mod"], env).expand(B, H, Sq, Sk)


@pytest.mark.parametrize("Sq, Sk", [(64, 64), (40, 100), (100, 40)])
@pytest.mark.parametrize("causal, window", [(False, (-1, -1)), (True, (-1, -1)), (False, (16, 8)),
                                            (True, (16, -1)), (False, (0, 0))])
def test_flash_attn_masks_follow_flash_attn(Sq, Sk, causal, window):
    # flash-attn 2's rule (tests/test_flash_attn.py, construct_local_mask): key j is hidden when
    # j > i + Sk - Sq + right or j < i + Sk - Sq - left (right = 0 when causal; -1 = unbounded).
    spec = json.loads(_spec.flash_attn_spec(torch.bfloat16, 64, 64, 4, 4, 0.125, causal, window, 0.0, None))
    i = torch.arange(Sq).view(Sq, 1)
    j = torch.arange(Sk).view(1, Sk)
    left, right = window
    if causal:
        right = 0
    hidden = torch.zeros(Sq, Sk, dtype=torch.bool)
    if right >= 0:
        hidden |= j > i + Sk - Sq + right
    if left >= 0:
        hidden |= j < i + Sk - Sq - left
    assert torch.equal(_flash_mask(spec, 1, 1, Sq, Sk)[0, 0], ~hidden)


def test_flash_attn_softcap_and_alibi_spec():
    spec = json.loads(_spec.flash_attn_spec(torch.float16, 128, 128, 8, 2, 0.1, True, (-1, -1), 30.0, (8,)))
    assert spec["dtype"] == "fp16" and spec["heads"] == {"q": 8, "kv": 2} and spec["scale"] == 0.1
    assert spec["score_mod"] == "30.0 * tanh(score / 30.0) - alibi_slopes[h] * abs((q_idx + Sk - Sq) - kv_idx)"
    assert spec["captures"] == {"alibi_slopes": {"shape": [8], "dtype": "f32"}}
    spec = json.loads(_spec.flash_attn_spec(torch.float16, 128, 128, 8, 8, 0.1, False, (-1, -1), 0.0, (2, 8)))
    assert "alibi_slopes[b, h]" in spec["score_mod"]


@pytest.mark.parametrize("causal, window, softcap, alibi", [
    (True, (-1, -1), 0.0, None), (False, (64, 0), 50.0, None), (True, (-1, -1), 0.0, (2, 4)),
    (False, (32, 32), 0.0, (4,))])
def test_flash_attn_specs_run_in_fp64_interpreter(run_cli, causal, window, softcap, alibi):
    spec = json.loads(_spec.flash_attn_spec(torch.bfloat16, 64, 64, 4, 2, 0.125, causal, window, softcap, alibi))
    report = run_cli(spec, "run", "--no-ir", "--B", "2", "--Hq", "4", "--Hkv", "2", "--seed", "3")
    assert report["check_unfused"]["passed"] and report["check_fused"]["passed"], report


def test_attention_spec_argument():
    names = api._attention_spec("alibi")
    assert names[1:] == (("slopes",), ("f32",), False, "bf16")
    assert api._attention_spec({"name": "x", "dtype": "fp16", "lse": True})[3:] == (True, "fp16")
    with pytest.raises(FileNotFoundError):
        api._attention_spec("no_such_spec")
    with pytest.raises(TypeError):
        api._attention_spec(3)
    q = meta(2, 16, 128, 128)
    with pytest.raises(ValueError, match="slopes"):
        tilefuse.attention(q, q, q, "alibi")
    with pytest.raises(ValueError, match="missing"):
        tilefuse.attention(q, q, q, "alibi", captures={"bias": q})
    with pytest.raises(TypeError, match="spec says f32"):
        tilefuse.attention(q, q, q, "alibi", captures={"slopes": meta(16, dtype=torch.float16)})
    with pytest.raises(TypeError, match="spec's dtype is bf16"):
        tilefuse.attention(meta(2, 16, 128, 128, dtype=torch.float16), *(meta(2, 16, 128, 128, dtype=torch.float16),) * 2,
                           "causal")


def test_policy():
    assert tilefuse.get_policy() == "heuristic"
    tilefuse.set_policy("tune", verbose=False)
    assert tilefuse.get_policy() == "tune"
    tilefuse.set_policy("heuristic")
    with pytest.raises(ValueError, match="heuristic"):
        tilefuse.set_policy("fast")


# --- the custom op ------------------------------------------------------------------------------------

def test_fake_implementation_shapes():
    q, k, v = meta(2, 8, 100, 64), meta(2, 2, 300, 64), meta(2, 2, 300, 32)
    out, lse = torch.ops.tilefuse.attention(q, k, v, [], "{}", "bhsd", True)
    assert out.shape == (2, 8, 100, 32) and out.dtype == torch.bfloat16
    assert lse.shape == (2, 8, 100) and lse.dtype == torch.float32
    qs, ks, vs = meta(2, 100, 8, 64), meta(2, 300, 2, 64), meta(2, 300, 2, 32)
    out, lse = torch.ops.tilefuse.attention(qs, ks, vs, [], "{}", "bshd", False)
    assert out.shape == (2, 100, 8, 32) and lse.shape == (0,)


def test_opcheck_fake_and_schema():
    q, k, v = meta(1, 2, 64, 64), meta(1, 2, 64, 64), meta(1, 2, 64, 64)
    torch.library.opcheck(torch.ops.tilefuse.attention.default, (q, k, v, [], "{}", "bhsd", True),
                          test_utils=("test_schema", "test_faketensor"))


def test_backward_raises_not_implemented():
    q = meta(1, 2, 64, 64).requires_grad_()
    out = torch.ops.tilefuse.attention(q, q.detach(), q.detach(), [], "{}", "bhsd", False)[0]
    with pytest.raises(NotImplementedError, match="backward"):
        out.sum().backward()


class _Recorder:
    def __init__(self):
        self.graphs = []

    def __call__(self, gm, example_inputs):
        self.graphs.append(gm)
        return gm.forward

    def ops(self):
        return [n.target for g in self.graphs for n in g.graph.nodes if n.op == "call_function"]


SLOPES = torch.linspace(0.1, 1.0, 8, device="meta")


def _alibi(score, b, h, q_idx, kv_idx):
    return score + SLOPES[h] * (kv_idx - q_idx)


def _causal(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


class _Layer(torch.nn.Module):
    """A small decoder attention block: projections, tilefuse attention, output projection."""

    def __init__(self, entry):
        super().__init__()
        self.qkv = torch.nn.Linear(512, 3 * 512, device="meta", dtype=torch.bfloat16)
        self.out = torch.nn.Linear(512, 512, device="meta", dtype=torch.bfloat16)
        self.entry = entry

    def forward(self, x):
        B, S, _ = x.shape
        q, k, v = self.qkv(x).view(B, S, 3, 8, 64).unbind(2)
        if self.entry == "flash":
            o = tilefuse.flash_attn_func(q, k, v, causal=True, softcap=30.0)
        elif self.entry == "flex":
            o = tilefuse.flex_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2),
                                        score_mod=_alibi, mask_mod=_causal).transpose(1, 2)
        else:
            o, _ = tilefuse.attention(q, k, v, {"name": "c", "dtype": "bf16", "head_dim": 64,
                                                "heads": {"q": 8, "kv": 8}, "lse": True,
                                                "mask_mod": "q_idx >= kv_idx", "shape": {"B": 1, "Sq": 1, "Sk": 1}},
                                      layout="bshd")
        return self.out(o.reshape(B, S, 512))


@pytest.mark.parametrize("entry", ["flash", "flex", "attention"])
def test_torch_compile_fullgraph(entry):
    torch._dynamo.reset()
    rec = _Recorder()
    layer = _Layer(entry)
    x = torch.empty(2, 128, 512, dtype=torch.bfloat16, device="meta")
    with torch.no_grad():
        y = torch.compile(layer, fullgraph=True, backend=rec)(x)
    assert y.shape == (2, 128, 512)
    assert torch.ops.tilefuse.attention.default in rec.ops()
    if entry == "flex":
        node = [n for g in rec.graphs for n in g.graph.nodes if n.target == torch.ops.tilefuse.attention.default][0]
        spec = json.loads(node.args[4])
        assert spec["score_mod"] == "(score + (SLOPES[h] * (kv_idx - q_idx)))"
        assert len(node.args[3]) == 1  # SLOPES is a graph input, not a constant


def test_torch_compile_with_aot_eager_backend():
    # AOTAutograd traces the op through its fake implementation.
    torch._dynamo.reset()
    q = meta(2, 128, 8, 64)
    f = torch.compile(lambda q, k, v: tilefuse.flash_attn_func(q, k, v, causal=True) + 1,
                      fullgraph=True, backend="aot_eager")
    with torch.no_grad():
        assert f(q, q, q).shape == (2, 128, 8, 64)


CAP = 30.0


def _softcap(score, b, h, q_idx, kv_idx):
    return CAP * torch.tanh(score / CAP)


def test_torch_compile_retraces_when_a_scalar_or_function_changes():
    global CAP
    torch._dynamo.reset()
    rec = _Recorder()
    fn = {"mod": _softcap}
    f = torch.compile(lambda q: tilefuse.flex_attention(q, q, q, score_mod=fn["mod"]), fullgraph=True, backend=rec)
    q = meta(1, 2, 128, 64)

    def specs():
        return [json.loads(n.args[4]).get("score_mod") for g in rec.graphs for n in g.graph.nodes
                if n.target == torch.ops.tilefuse.attention.default]

    try:
        f(q)
        CAP = 50.0
        f(q)
        fn["mod"] = lambda score, b, h, q_idx, kv_idx: score * 0.5
        f(q)
    finally:
        CAP = 30.0
    assert specs() == ["(30.0 * tanh((score / 30.0)))", "(50.0 * tanh((score / 50.0)))", "(score * 0.5)"]


def test_native_library_loads_and_reports_no_gpu():
    try:
        version = tilefuse.native_version()
    except ImportError as e:
        pytest.skip(f"libtilefuse.so not loadable here: {e}")
    assert version == "0.2.0"
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from tilefuse import _lib
    with pytest.raises(tilefuse.NoGpuError, match="TILEFUSE_ERROR_NO_GPU"):
        _lib.engine(0)


# --- how operands reach the kernel (CPU tensors stand in for CUDA ones) -------------------------------

def test_operands_taken_in_place_or_copied():
    import warnings
    from tilefuse import _ops
    B, S, H, D = 2, 64, 4, 64
    qkv = torch.zeros(B, S, 3, H, D, dtype=torch.bfloat16)
    q, k, v = qkv.unbind(2)  # flash-attn's packed layout: strides taken as they are
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _ops._operand(k, "k", "bshd") is k
    assert _ops._strides(k, "bshd") == (S * 3 * H * D, D, 3 * H * D)
    assert _ops._strides(torch.zeros(1, H, S, D), "bhsd") == (0, S * D, D)  # size-1 dims: stride 0
    t = torch.zeros(B, H, D, S, dtype=torch.bfloat16).transpose(2, 3)  # head dim not contiguous
    with pytest.warns(UserWarning, match="copied"):
        c = _ops._operand(t, "query", "bhsd")
    assert c.is_contiguous()
    base = torch.zeros(B, H, S, D + 8, dtype=torch.bfloat16)
    with pytest.warns(UserWarning, match="copied"):  # row stride D + 8 is fine, the offset of 1 element is not
        _ops._operand(base[..., 1:D + 1], "key", "bhsd")
    assert _ops._operand(base[..., 8:D + 8], "key", "bhsd").data_ptr() == base[..., 8:].data_ptr()


def test_capture_arguments():
    from tilefuse import _ops
    table = torch.zeros(8, 100)
    t, (ptr, strides) = _ops._capture_arg(table[:, :50])  # rows strided: passed with its strides
    assert t.data_ptr() == table.data_ptr() and strides == (100,)
    col = table[:, 3]  # 1-D, stride 100: copied (1-D captures are read densely)
    t, (ptr, strides) = _ops._capture_arg(col)
    assert t.is_contiguous() and strides is None and t.data_ptr() != table.data_ptr()


class _FakeLib:
    """Records the engine's kernel lookups (no native library, no GPU)."""

    def __init__(self):
        self.calls = []

    def tilefuse_get_kernel_json(self, handle, spec, shape, policy, out):
        self.calls.append(("json", policy, None))
        out._obj.value = 0x1000
        return 0

    def tilefuse_get_kernel_captures(self, handle, path, spec, shape, policy, arr, n, out):
        self.calls.append(("captures", policy, [(arr[i].data, arr[i].bytes) for i in range(n)]))
        out._obj.value = 0x2000
        return 0


@pytest.mark.parametrize("policy, expect", [("heuristic", "json"), ("tune", "captures"), ("cache", "captures")])
def test_engine_passes_host_captures_under_tune_and_cache(monkeypatch, policy, expect):
    # Under the tune and cache policies the engine's lookup gets the captures' host copies (their mask density
    # class picks and tunes the schedule); the heuristic policy has no use for them.
    from tilefuse import _lib
    fake = _FakeLib()
    monkeypatch.setattr(_lib, "lib", lambda: fake)
    eng = object.__new__(_lib.Engine)
    eng.device, eng.handle, eng.kernels = 0, None, {}
    import threading
    eng.lock = threading.Lock()
    docs = torch.randint(0, 7, (2, 300), dtype=torch.int32)
    k = eng.kernel("{}", (2, 8, 8, 300, 300, 64, 64), policy, [docs])
    assert fake.calls[0][0] == expect
    assert k == (0x2000 if expect == "captures" else 0x1000)
    if expect == "captures":
        assert fake.calls[0][2] == [(docs.data_ptr(), 2 * 300 * 4)]
    # Memoized by (spec, shape, policy): the second call asks the library nothing.
    assert eng.kernel("{}", (2, 8, 8, 300, 300, 64, 64), policy, [docs]) == k
    assert len(fake.calls) == 1
