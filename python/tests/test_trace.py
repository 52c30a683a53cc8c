"""Tracing score_mod / mask_mod into spec expressions (CPU only, no GPU).

Every variant of variants.py is traced; the spec text is evaluated by an independent parser
(spec_eval.py) and compared with the Python functions run eagerly, then read by the C++ spec reader
and checked by the fp64 interpreter (`tilefuse run`: unfused and fused programs against a naive
attention) and the code generator (`tilefuse emit --format ptx`, NVRTC, sm_90a and sm_80).
"""

import math

import pytest
import torch

import tilefuse
from tilefuse import TraceError, api

import spec_eval
import variants

B, H, SQ, SK = 2, 4, 48, 64


def _trace(factory, Sq=SQ, Sk=SK, D=64):
    score_mod, mask_mod = factory(B, H, Sq, Sk, "cpu")
    spec = tilefuse.trace_spec(score_mod, mask_mod, head_dim=D, heads=(H, H))
    return score_mod, mask_mod, spec


def _capture_env(score_mod, mask_mod, spec):
    """Capture name -> the tensor the trace reads (via the same path the launch uses)."""
    _, tensors = api._flex_prepare(score_mod, mask_mod, torch.bfloat16, 64, 64, H, H, None, False)
    names = sorted((spec.get("captures") or {}).keys())
    return dict(zip(names, tensors))


@pytest.mark.parametrize("factory", variants.ALL, ids=lambda f: f.__name__)
def test_trace_matches_python(factory):
    score_mod, mask_mod, spec = _trace(factory)
    score, b, h, q, kv = spec_eval.grid(B, H, SQ, SK)
    env = {"score": score, "b": b, "h": h, "q_idx": q, "kv_idx": kv, "B": B, "Hq": H, "Hkv": H, "Sq": SQ, "Sk": SK}
    env.update(_capture_env(score_mod, mask_mod, spec))
    if score_mod is not None:
        want = score_mod(score, b, h, q, kv).double().expand(B, H, SQ, SK)
        got = spec_eval.evaluate(spec.get("score_mod", "score"), env).double().expand(B, H, SQ, SK)
        assert torch.allclose(got, want, rtol=1e-5, atol=1e-5), spec["score_mod"]
    else:
        assert "score_mod" not in spec
    if mask_mod is not None:
        want = torch.as_tensor(mask_mod(b, h, q, kv)).expand(B, H, SQ, SK)
        got = spec_eval.evaluate(spec["mask_mod"], env).expand(B, H, SQ, SK)
        assert got.dtype == torch.bool
        assert torch.equal(got, want), spec["mask_mod"]
    else:
        assert "mask_mod" not in spec


@pytest.mark.parametrize("factory", variants.ALL, ids=lambda f: f.__name__)
def test_trace_runs_in_fp64_interpreter(factory, run_cli):
    # `tilefuse run` reads the spec (C++ reader), lowers and fuses it, and checks both programs in the
    # fp64 interpreter against a naive attention at the requested Sq = 113, Sk = 203 (the shape the trace
    # was made for and its captures are sized for; the check's extra shapes, Sq > Sk and Sq = 1, read
    # such captures out of range and are reported as not checked).
    _, _, spec = _trace(factory, Sq=113, Sk=203)
    report = run_cli(spec, "run", "--no-ir", "--B", "2", "--Hq", str(H), "--Hkv", str(H), "--Sq", "113", "--Sk", "203",
                     "--seed", "7")
    assert report["checks"][0]["shape"]["Sq"] == 113 and report["checks"][0]["shape"]["Sk"] == 203, report["checks"]
    assert report["check_unfused"]["passed"] and report["check_fused"]["passed"], report


@pytest.mark.parametrize("arch", ["sm_90a", "sm_80"])
@pytest.mark.parametrize("factory", [variants.alibi, variants.document_mask, variants.gated_where,
                                     variants.temperature_per_head], ids=lambda f: f.__name__)
def test_trace_compiles_with_nvrtc(factory, arch, run_cli):
    _, _, spec = _trace(factory, Sq=256, Sk=256)
    report = run_cli(spec, "emit", "--format", "ptx", "--arch", arch, "--B", str(B), "--S", "256")
    assert report["text"], report


def test_captures_and_spec_fields():
    _, _, spec = _trace(variants.document_mask)
    assert spec["captures"] == {"doc_ids": {"shape": [B, max(SQ, SK)], "dtype": "i32"}}
    assert spec["mask_mod"] == "(doc_ids[b, q_idx] == doc_ids[b, kv_idx])"
    _, _, spec = _trace(variants.bool_mask_capture)
    assert spec["captures"]["allowed"]["dtype"] == "i32"  # bool is passed as int32
    _, _, spec = _trace(variants.temperature_per_head)
    assert spec["captures"]["bonus"]["shape"] == [1]      # a 0-d tensor is read as bonus[0]
    assert "bonus[0]" in spec["score_mod"]


def test_identity_and_constant_mods_are_dropped():
    spec = tilefuse.trace_spec(lambda s, b, h, q, kv: s, lambda b, h, q, kv: q.new_ones((), dtype=torch.bool))
    assert "score_mod" not in spec and "mask_mod" not in spec


def test_scale_gqa_lse_value_dim():
    spec = tilefuse.trace_spec(None, None, head_dim=128, value_dim=64, heads=(32, 8), scale=0.125, lse=True)
    assert spec["heads"] == {"q": 32, "kv": 8} and spec["value_dim"] == 64 and spec["scale"] == 0.125
    assert spec["lse"] is True


# --- what cannot be traced ------------------------------------------------------------------------

def _mask_if(b, h, q, kv):
    if q >= kv:
        return True
    return False


def _and_keyword(b, h, q, kv):
    return (q >= kv) and (kv >= 0)


def _math_exp(score, b, h, q, kv):
    return math.exp(score)


def _sin(score, b, h, q, kv):
    return torch.sin(score)


def _round(score, b, h, q, kv):
    return torch.round(score)


def _item(score, b, h, q, kv):
    return score + score.item()


def _float_to_int(score, b, h, q, kv):
    return score + score.to(torch.int32)


def _bitwise_int(b, h, q, kv):
    return (q & 3) == 0


_SCALES = [1.0, 2.0]


def _list_index(score, b, h, q, kv):
    return score * _SCALES[h]


def _builtin_min(score, b, h, q, kv):
    return min(score, 5.0)


_TABLE = torch.zeros(4, 8)


def _whole_tensor(score, b, h, q, kv):
    return score + _TABLE


def _partial_index(score, b, h, q, kv):
    return score + _TABLE[h]


def _slice_index(score, b, h, q, kv):
    return score + _TABLE[:, kv]


@pytest.mark.parametrize("fn, kind, words", [
    (_mask_if, "mask", ["`if q >= kv:`", "truth value", "torch.where"]),
    (_and_keyword, "mask", ["`and`", "&"]),
    (_math_exp, "score", ["math.", "torch.exp"]),
    (_sin, "score", ["torch.sin is not traceable"]),
    (_round, "score", ["round is not traceable", "halves to even", "floor(x + 0.5)"]),
    (_item, "score", [".item()"]),
    (_float_to_int, "score", ["float-to-int"]),
    (_bitwise_int, "mask", ["'&'", "bools"]),
    (_builtin_min, "score", ["min()", "torch.minimum"]),
    (_list_index, "score", ["Python index", "tensor"]),
    (_whole_tensor, "score", ["used whole", "_TABLE"]),
    (_partial_index, "score", ["_TABLE", "one index per dimension"]),
    (_slice_index, "score", ["slice"]),
    (lambda b, h, q, kv: (q - kv) * 1.0, "mask", ["returned a float", "must return a bool"]),
    (lambda score, b, h, q, kv: score > 0, "score", ["returned a bool"]),
    (lambda score, b, h, q, kv: score * float("nan"), "score", ["NaN"]),
], ids=lambda x: getattr(x, "__name__", None) if callable(x) else None)
def test_untraceable_constructs_name_themselves(fn, kind, words):
    with pytest.raises(TraceError) as e:
        if kind == "mask":
            tilefuse.trace_spec(None, fn)
        else:
            tilefuse.trace_spec(fn, None)
    for w in words:
        assert w in str(e.value), str(e.value)
    assert isinstance(e.value, TypeError)


# --- the trace cache --------------------------------------------------------------------------------

def test_trace_cache_keys(monkeypatch):
    calls = []
    real = api.trace
    monkeypatch.setattr(api, "trace", lambda *a: calls.append(1) or real(*a))
    api._flex_cache.clear()

    def make(cap):
        return lambda score, b, h, q, kv: cap * torch.tanh(score / cap)

    for _ in range(3):
        tilefuse.trace_spec(make(30.0))
    assert len(calls) == 1  # same code, same closure values: traced once
    spec = tilefuse.trace_spec(make(50.0))
    assert len(calls) == 2 and "50.0" in spec["score_mod"]  # a closure float is part of the key

    bias = torch.zeros(4)
    fn = lambda score, b, h, q, kv: score + bias[h]  # noqa: E731
    tilefuse.trace_spec(fn)
    tilefuse.trace_spec(fn)
    assert len(calls) == 3
    bias = torch.ones(4)  # noqa: F841 - a new tensor of the same shape: no retrace, re-read at call time
    _, tensors = api._flex_prepare(fn, None, torch.bfloat16, 128, 128, 16, 16, None, False)
    assert len(calls) == 3 and torch.equal(tensors[0], torch.ones(4))
    bias = torch.ones(8)  # noqa: F841 - another shape: retrace
    spec = tilefuse.trace_spec(fn)
    assert len(calls) == 4 and spec["captures"]["bias"]["shape"] == [8]


def test_tensor_behind_an_attribute_is_traced_every_call(monkeypatch):
    calls = []
    real = api.trace
    monkeypatch.setattr(api, "trace", lambda *a: calls.append(1) or real(*a))

    class Model:
        def __init__(self):
            self.slopes = torch.ones(16)

        def score_mod(self, score, b, h, q, kv):
            return score + self.slopes[h]

    m = Model()
    for _ in range(2):
        spec, tensors = api._flex_prepare(m.score_mod, None, torch.bfloat16, 128, 128, 16, 16, None, False)
    assert len(calls) == 2 and tensors[0] is m.slopes
    m.slopes = torch.full((16,), 2.0)
    _, tensors = api._flex_prepare(m.score_mod, None, torch.bfloat16, 128, 128, 16, 16, None, False)
    assert tensors[0] is m.slopes


def test_spec_text_is_read_back_by_the_cpp_reader(run_cli):
    # Precedence and literals: every binary operation is parenthesized; negative and tiny constants.
    fn = lambda score, b, h, q, kv: -score * 1e-3 - (-2) * (q - kv) // 3 % 5 + 2 ** 0.5  # noqa: E731
    spec = tilefuse.trace_spec(fn, None, head_dim=64, heads=(2, 2))
    report = run_cli(spec, "lower")
    assert report["ir"]
    score, b, h, q, kv = spec_eval.grid(1, 2, 8, 8)
    got = spec_eval.evaluate(spec["score_mod"], {"score": score, "b": b, "h": h, "q_idx": q, "kv_idx": kv})
    assert torch.allclose(got, fn(score, b, h, q, kv).double())


def test_chained_indexing_reads_one_element():
    bias = torch.zeros(4, 8)
    spec = tilefuse.trace_spec(lambda score, b, h, q, kv: score + bias[h][kv])
    assert spec["score_mod"] == "(score + bias[h, kv_idx])"


def _same_walk(fn):
    from tilefuse._captures import walk, walk_key
    key, tensors = walk_key(fn, "score_mod")
    w = walk(fn, "score_mod")
    assert key == w.key and tensors.keys() == w.tensors.keys()
    assert all(tensors[p] is w.tensors[p] for p in tensors)
    return key


def test_walk_key_is_the_walk_key_after_every_change():
    import gc
    from tilefuse import _captures
    bias = torch.zeros(4)
    cap = 30.0

    def fn(score, b, h, q, kv):
        return cap * torch.tanh(score / cap) + bias[h] * _late_scale  # noqa: F821 (defined below)

    k0 = _same_walk(fn)
    assert _same_walk(fn) == k0 and _captures._memos[id(fn)].ref() is fn  # memoized
    keys = [k0]
    cap = 50.0  # noqa: F841 - a rebound closure scalar
    keys.append(_same_walk(fn))
    bias = torch.zeros(8)  # a rebound closure tensor of another shape
    keys.append(_same_walk(fn))
    bias.data = torch.zeros(8, dtype=torch.float64)  # the same tensor object, another dtype
    keys.append(_same_walk(fn))
    globals()["_late_scale"] = 2.0  # a global the code names appears
    try:
        keys.append(_same_walk(fn))
        globals()["_late_scale"] = 3.0
        keys.append(_same_walk(fn))
    finally:
        del globals()["_late_scale"]
    assert _same_walk(fn) == keys[3]
    fn.__defaults__ = (1,)
    keys.append(_same_walk(fn))
    fn.__code__ = (lambda score, b, h, q, kv: score + bias[h] + cap).__code__  # same free variables
    keys.append(_same_walk(fn))
    assert len(set(keys)) == len(keys)
    box = [1.0]  # a list can change in place: never memoized, walked every call
    listed = lambda score, b, h, q, kv: score * box[0]  # noqa: E731
    k1 = _same_walk(listed)
    box[0] = 2.0
    assert _same_walk(listed) != k1 and id(listed) not in _captures._memos
    fid = id(fn)
    del fn
    gc.collect()
    assert fid not in _captures._memos  # an entry goes with its function
