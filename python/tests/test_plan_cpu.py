"""The launch plan cache (the per-call path, _ops.Plan) on CPU.

A ctypes callback stands in for tilefuse_launch and records the argument struct it is given; CPU
tensors stand in for CUDA ones (``_ops.DEVICE_TYPE``), a fake engine hands out kernel handles.
Each test counts the calls that took the slow path (``_ops._run``).
"""

import ctypes

import pytest
import torch

import tilefuse
from tilefuse import _lib, _ops, api


class _FakeEngine:
    def __init__(self, block_mask=False):
        self.handle = ctypes.c_void_p(0x1000)
        self.kernels = {}
        self.block_mask = block_mask
        self.clears = 0
        self.block_masks = _lib.BlockMaskGuard(self.clear_block_masks, limit=4)

    def kernel(self, spec_json, shape, policy, host_captures=None):
        self.host_captures = host_captures
        return self.kernels.setdefault((spec_json, shape, policy), 0x2000 + 16 * len(self.kernels))

    def has_block_mask(self, kernel):
        return self.block_mask

    def clear_block_masks(self):
        self.clears += 1


def _tensor(t):
    return (t.data, t.batch_stride, t.head_stride, t.row_stride)


class _Recorder:
    def __init__(self):
        self.launches = []
        self.slow = 0


@pytest.fixture
def rec(monkeypatch):
    r = _Recorder()

    def launch(engine, kernel, addr, stream):
        a = _lib.AttentionArgs.from_address(addr)
        r.launches.append({
            "kernel": kernel, "sizes": (a.B, a.Hq, a.Hkv, a.Sq, a.Sk), "q": _tensor(a.q), "k": _tensor(a.k),
            "v": _tensor(a.v), "o": _tensor(a.o), "lse": a.lse or 0,
            "captures": [(a.captures[i].data,
                          None if not a.captures[i].strides else a.captures[i].strides[0])
                         for i in range(a.num_captures)]})
        return 0

    fn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)(launch)
    monkeypatch.setattr(_lib, "_lib", type("StubLibrary", (), {"tilefuse_launch_raw": fn})())
    monkeypatch.setitem(_lib._engines, 0, _FakeEngine())
    monkeypatch.setattr(_ops, "DEVICE_TYPE", "cpu")
    monkeypatch.setattr(_ops, "_raw_stream", lambda device: 0)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(_ops, "_local", _ops._Local())  # an empty plan cache
    monkeypatch.setattr(api, "_checked", {})  # signatures that passed with CPU tensors stay here
    run = _ops._run

    def counted(*args, **kwargs):
        r.slow += 1
        return run(*args, **kwargs)

    monkeypatch.setattr(_ops, "_run", counted)
    return r


def _bshd(B=2, S=64, H=4, D=64, dtype=torch.bfloat16):
    return tuple(torch.randn(B, S, H, D, dtype=dtype) for _ in range(3))


def _ptr(t):
    return t.data_ptr()


def test_repeated_call_takes_the_plan(rec):
    q, k, v = _bshd()
    out = tilefuse.flash_attn_func(q, k, v, causal=True)
    assert rec.slow == 1 and len(rec.launches) == 1
    q2, k2, v2 = _bshd()  # new tensors, same layout: the plan, with their addresses
    out2 = tilefuse.flash_attn_func(q2, k2, v2, causal=True)
    assert rec.slow == 1 and len(rec.launches) == 2
    first, second = rec.launches
    assert second["q"] == (_ptr(q2),) + first["q"][1:] and second["k"][0] == _ptr(k2)
    assert second["v"][0] == _ptr(v2) and second["o"][0] == _ptr(out2)
    assert first["o"][0] == _ptr(out) and first["sizes"] == second["sizes"] == (2, 4, 4, 64, 64)
    assert first["q"][1:] == (64 * 4 * 64, 64, 4 * 64)  # bshd: batch, head, row strides
    assert second["kernel"] == first["kernel"] and second["lse"] == 0
    assert out2.shape == (2, 64, 4, 64) and out2.dtype == torch.bfloat16 and out2.is_contiguous()


def test_plan_is_not_used_when_shape_dtype_strides_or_options_change(rec):
    q, k, v = _bshd()
    tilefuse.flash_attn_func(q, k, v, causal=True)
    calls = [
        lambda: tilefuse.flash_attn_func(*_bshd(S=128), causal=True),                   # shape
        lambda: tilefuse.flash_attn_func(*_bshd(dtype=torch.float16), causal=True),     # dtype
        lambda: tilefuse.flash_attn_func(*torch.randn(2, 64, 3, 4, 64, dtype=torch.bfloat16).unbind(2),
                                         causal=True),                                  # strides (packed qkv)
        lambda: tilefuse.flash_attn_func(q, k, v, causal=False),                        # options
        lambda: tilefuse.flash_attn_func(q, k, v, causal=True, softmax_scale=0.5),
        lambda: tilefuse.flash_attn_func(q, k, v, causal=True, window_size=(8, 0)),
    ]
    for i, call in enumerate(calls):
        call()
        assert rec.slow == i + 2, f"call {i} did not take the slow path"
        call()  # now planned
        assert rec.slow == i + 2, f"call {i} repeated took the slow path"
    packed = [c for c in rec.launches if c["q"][3] == 3 * 4 * 64]
    assert packed and packed[-1]["q"][1:] == (64 * 3 * 4 * 64, 64, 3 * 4 * 64)
    tilefuse.set_policy("tune")
    try:
        tilefuse.flash_attn_func(q, k, v, causal=True)  # another policy: another kernel, so another plan
        assert rec.slow == len(calls) + 2
    finally:
        tilefuse.set_policy("heuristic")


def test_misaligned_operand_leaves_the_plan_for_the_copy(rec):
    base = torch.randn(1, 2, 64, 72, dtype=torch.bfloat16)
    aligned, shifted = base[..., 8:72], base[..., 1:65]  # same shape and strides, address off by 2 bytes
    tilefuse.flex_attention(aligned, aligned, aligned)
    with pytest.warns(UserWarning, match="copied"):
        tilefuse.flex_attention(shifted, aligned, aligned)
    assert rec.slow == 2
    assert rec.launches[-1]["q"][0] % 16 == 0 and rec.launches[-1]["q"][0] != shifted.data_ptr()


def test_errors_still_raised_once_planned(rec):
    q, k, v = _bshd()
    tilefuse.flash_attn_func(q, k, v)
    with pytest.raises(TypeError, match="k has dtype torch.float16"):
        tilefuse.flash_attn_func(q, k.half(), v)
    with pytest.raises(ValueError, match="window_size"):
        tilefuse.flash_attn_func(q, k, v, window_size=(-2, 0))
    with pytest.raises(TypeError, match="softmax_scale|scale must be a Python float"):
        tilefuse.flash_attn_func(q, k, v, softmax_scale=True)
    with pytest.raises(NotImplementedError, match="dropout"):
        tilefuse.flash_attn_func(q, k, v, dropout_p=0.1)
    with pytest.raises(TypeError, match="alibi_slopes"):
        tilefuse.flash_attn_func(q, k, v, alibi_slopes=torch.ones(4, dtype=torch.float16))


def test_flex_captures_are_reread_and_scalars_retrace(rec):
    q = torch.randn(1, 4, 64, 64, dtype=torch.bfloat16)
    slopes = torch.rand(4)
    cap = [30.0]

    def alibi(score, b, h, q_idx, kv_idx):
        return score + slopes[h] * (kv_idx - q_idx)

    def softcap(score, b, h, q_idx, kv_idx):
        return cap[0] * torch.tanh(score / cap[0])

    tilefuse.flex_attention(q, q, q, score_mod=alibi)
    assert rec.slow == 1 and rec.launches[-1]["captures"] == [(slopes.data_ptr(), None)]
    slopes = torch.rand(4)  # a new tensor in the closure cell, same shape: the plan, the new address
    out, lse = tilefuse.flex_attention(q, q, q, score_mod=alibi, return_lse=True)
    assert rec.slow == 2  # return_lse is another plan
    tilefuse.flex_attention(q, q, q, score_mod=alibi, return_lse=True)
    assert rec.slow == 2 and rec.launches[-1]["captures"] == [(slopes.data_ptr(), None)]
    assert rec.launches[-1]["lse"] != 0 and lse.shape == (1, 4, 64) and lse.dtype == torch.float32
    slopes = torch.rand(8)  # another shape: another spec
    tilefuse.flex_attention(q, q, q, score_mod=alibi)
    assert rec.slow == 3
    slopes = torch.rand(4, dtype=torch.float64)  # converted each call: a fresh tensor, the same plan
    tilefuse.flex_attention(q, q, q, score_mod=alibi)
    tilefuse.flex_attention(q, q, q, score_mod=alibi)
    assert rec.slow == 4
    tilefuse.flex_attention(q, q, q, score_mod=softcap)
    cap[0] = 50.0  # a Python scalar reached by the function: retraced, another kernel
    tilefuse.flex_attention(q, q, q, score_mod=softcap)
    assert rec.slow == 6 and rec.launches[-1]["kernel"] != rec.launches[-2]["kernel"]


def test_attention_and_op_plans(rec):
    q = torch.randn(1, 16, 64, 128, dtype=torch.bfloat16)
    slopes = torch.rand(16)
    for _ in range(3):
        tilefuse.attention(q, q, q, "alibi", captures={"slopes": slopes})
    assert rec.slow == 1 and rec.launches[-1]["captures"] == [(slopes.data_ptr(), None)]
    with pytest.raises(ValueError, match="missing"):
        tilefuse.attention(q, q, q, "alibi", captures={"bias": slopes})
    with pytest.raises(TypeError, match="spec says f32"):
        tilefuse.attention(q, q, q, "alibi", captures={"slopes": slopes.half()})
    spec = api._attention_spec("causal")[0]
    for _ in range(3):
        out, lse = torch.ops.tilefuse.attention(q, q, q, [], spec, "bhsd", False)
    assert rec.slow == 2 and out.shape == q.shape and lse.shape == (0,)


def test_plans_are_per_thread(rec):
    import threading
    q, k, v = _bshd()
    tilefuse.flash_attn_func(q, k, v)
    t = threading.Thread(target=lambda: tilefuse.flash_attn_func(q, k, v))
    t.start()
    t.join()
    assert rec.slow == 2  # the other thread built its own plan (its own argument struct)
    tilefuse.flash_attn_func(q, k, v)
    assert rec.slow == 2


def test_flex_plan_follows_closure_scalars_and_tensors_changed_in_place(rec):
    # A plain function (closure cells of scalars and tensors): its walk is memoized (_captures.walk_key);
    # every change the full walk would see must still leave the plan.
    q = torch.randn(1, 4, 64, 64, dtype=torch.bfloat16)
    cap = 30.0
    slopes = torch.rand(4)

    def mod(score, b, h, q_idx, kv_idx):
        return cap * torch.tanh(score / cap) + slopes[h]

    for _ in range(3):
        tilefuse.flex_attention(q, q, q, score_mod=mod)
    assert rec.slow == 1 and rec.launches[-1]["captures"] == [(slopes.data_ptr(), None)]
    cap = 50.0  # a rebound closure float: another spec, another kernel
    tilefuse.flex_attention(q, q, q, score_mod=mod)
    assert rec.slow == 2 and rec.launches[-1]["kernel"] != rec.launches[-2]["kernel"]
    slopes.data = torch.rand(4, dtype=torch.float64)  # the same tensor object, now float64: converted
    tilefuse.flex_attention(q, q, q, score_mod=mod)
    assert rec.slow == 3 and rec.launches[-1]["captures"][0][0] != slopes.data_ptr()  # a float32 copy
    tilefuse.flex_attention(q, q, q, score_mod=mod)
    assert rec.slow == 3
    slopes.data = torch.rand(4)  # back to float32 in place: passed as it is again
    tilefuse.flex_attention(q, q, q, score_mod=mod)
    assert rec.launches[-1]["captures"] == [(slopes.data_ptr(), None)]
    mod.__defaults__ = (1.0,)  # reassigned defaults: walked again (same spec here, so the same plan)
    tilefuse.flex_attention(q, q, q, score_mod=mod)
    assert rec.launches[-1]["kernel"] == rec.launches[-2]["kernel"]


def test_op_skips_the_second_dispatch_only_for_plain_tensors(rec):
    from torch.utils._python_dispatch import TorchDispatchMode

    class Seen(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.funcs = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.funcs.append(str(func))
            return func(*args, **(kwargs or {}))

    q = torch.randn(1, 2, 64, 64, dtype=torch.bfloat16)
    spec = api._attention_spec("causal")[0]
    out1, lse1 = torch.ops.tilefuse.attention(q, q, q, [], spec, "bhsd", False)
    out2, lse2 = torch.ops.tilefuse.attention(q, q, q, [], spec, "bhsd", False)
    assert rec.slow == 1 and len(rec.launches) == 2 and rec.launches[-1]["o"][0] == out2.data_ptr()
    assert lse1 is not lse2 and lse2.shape == (0,) and lse2.dtype == torch.float32 and lse2.device == q.device
    assert out1 is not out2 and out1.data_ptr() != out2.data_ptr()
    mode = Seen()
    with mode:  # a dispatch mode must see the op (the Python key is below autograd)
        torch.ops.tilefuse.attention(q, q, q, [], spec, "bhsd", False)
    assert "tilefuse.attention.default" in mode.funcs and len(rec.launches) == 3
    out, lse = torch.ops.tilefuse.attention(q, q, q, [], spec, "bhsd", True)  # lse: a fresh fp32 tensor
    assert lse.shape == (1, 2, 64) and lse.dtype == torch.float32 and rec.launches[-1]["lse"] == lse.data_ptr()
    qg = q.clone().requires_grad_()
    out = torch.ops.tilefuse.attention(qg, q, q, [], spec, "bhsd", False)[0]
    with pytest.raises(NotImplementedError, match="backward"):
        out.float().sum().backward()


def test_spec_files_are_read_again_when_edited_and_shipped_names_once(rec, tmp_path, monkeypatch):
    import json
    import os
    q = torch.randn(1, 2, 64, 64, dtype=torch.bfloat16)
    spec = {"name": "mine", "dtype": "bf16", "head_dim": 64, "heads": {"q": 2, "kv": 2},
            "shape": {"B": 1, "Sq": 64, "Sk": 64}, "mask_mod": "q_idx >= kv_idx"}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(spec))
    for _ in range(2):
        tilefuse.attention(q, q, q, str(path))
    assert rec.slow == 1
    del spec["mask_mod"]
    path.write_text(json.dumps(spec))
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # an mtime the edit surely changed
    tilefuse.attention(q, q, q, str(path))
    assert rec.slow == 2 and rec.launches[-1]["kernel"] != rec.launches[-2]["kernel"]
    tilefuse.attention(q, q, q, "causal")
    stats = []
    real = os.stat
    monkeypatch.setattr(os, "stat", lambda *a, **k: stats.append(a[0]) or real(*a, **k))
    for _ in range(2):
        tilefuse.attention(q, q, q, "causal")
    tilefuse.attention(q, q, q, str(path))
    assert rec.slow == 3 and stats == [str(path)]  # the shipped name is not looked at again, the file is


def test_unhashable_options_take_the_slow_path(rec):
    q, k, v = _bshd()
    for _ in range(2):
        tilefuse.flash_attn_func(q, k, v, window_size=[8, 0])  # a list: no plan key, every call checked
    assert rec.slow == 2 and len(rec.launches) == 2


def _doc_mask(doc_ids):
    def mask_mod(b, h, q_idx, kv_idx):
        return doc_ids[b, q_idx] == doc_ids[b, kv_idx]
    return mask_mod


def test_block_masks_follow_the_captures_contents(rec, monkeypatch):
    # A kernel with a run-time block mask: the engine keeps the mask by the captures' addresses, so the
    # guard must clear it when PyTorch saw the contents change, and only then.
    eng = _FakeEngine(block_mask=True)
    monkeypatch.setitem(_lib._engines, 0, eng)
    q, k, v = (torch.randn(2, 4, 64, 64, dtype=torch.bfloat16) for _ in range(3))
    doc_ids = torch.randint(0, 3, (2, 64), dtype=torch.int32).sort(dim=1).values
    mask = _doc_mask(doc_ids)
    tilefuse.flex_attention(q, k, v, mask_mod=mask)
    tilefuse.flex_attention(q, k, v, mask_mod=mask)
    assert len(rec.launches) == 2 and rec.slow == 1 and eng.clears == 0
    doc_ids[:, 32:] += 1  # in place: the same address, other contents
    tilefuse.flex_attention(q, k, v, mask_mod=mask)
    assert eng.clears == 1, "an in-place write to a capture must clear the kept block mask"
    tilefuse.flex_attention(q, k, v, mask_mod=mask)
    assert eng.clears == 1, "unchanged contents must reuse the mask"
    view = doc_ids[:, :]  # a view shares the version counter: a write through it is seen too
    view.fill_(0)
    tilefuse.flex_attention(q, k, v, mask_mod=mask)
    assert eng.clears == 2
    # The guard holds the captures it launched with: their memory cannot go to another tensor.
    other = torch.zeros(2, 64, dtype=torch.int32)
    tilefuse.flex_attention(q, k, v, mask_mod=_doc_mask(other))
    key_tensors = [t for entry in eng.block_masks.entries.values() for t in entry[0]]
    assert any(t is other for t in key_tensors) and eng.clears == 2
    # Past its limit (4 keys) the guard clears the engine's masks and starts over.
    for _ in range(4):
        tilefuse.flex_attention(q, k, v, mask_mod=_doc_mask(torch.zeros(2, 64, dtype=torch.int32)))
    assert eng.clears == 3 and len(eng.block_masks.entries) <= 4
    # Past its byte budget (the captures' storages it keeps alive) too.
    eng.block_masks.limit_bytes = 2 * 64 * 4 * 2  # two [2, 64] int32 tables
    eng.block_masks.entries.clear()
    eng.block_masks.held_bytes = 0
    before = eng.clears
    for _ in range(3):
        tilefuse.flex_attention(q, k, v, mask_mod=_doc_mask(torch.zeros(2, 64, dtype=torch.int32)))
    assert eng.clears == before + 1 and eng.block_masks.held_bytes <= eng.block_masks.limit_bytes


def test_kernels_without_block_masks_skip_the_guard(rec, monkeypatch):
    eng = _FakeEngine(block_mask=False)
    monkeypatch.setitem(_lib._engines, 0, eng)
    q, k, v = (torch.randn(2, 4, 64, 64, dtype=torch.bfloat16) for _ in range(3))
    doc_ids = torch.zeros(2, 64, dtype=torch.int32)
    tilefuse.flex_attention(q, k, v, mask_mod=_doc_mask(doc_ids))
    doc_ids += 1
    tilefuse.flex_attention(q, k, v, mask_mod=_doc_mask(doc_ids))
    assert eng.clears == 0 and not eng.block_masks.entries


def test_tune_policy_passes_host_copies_of_the_captures(rec, monkeypatch):
    # Under the tune policy the engine's kernel lookup gets host copies of the call's captures (their mask
    # density class picks and tunes the schedule); under the heuristic policy it gets none.
    q = torch.randn(1, 4, 64, 64, dtype=torch.bfloat16)
    slopes = torch.rand(4)

    def alibi(score, b, h, q_idx, kv_idx):
        return score + slopes[h] * (kv_idx - q_idx)

    eng = _lib._engines[0]
    tilefuse.flex_attention(q, q, q, score_mod=alibi)
    assert eng.host_captures is None
    monkeypatch.setattr(_ops, "_policy", "tune")
    q2 = torch.randn(1, 4, 128, 64, dtype=torch.bfloat16)  # another shape: a new kernel lookup
    tilefuse.flex_attention(q2, q2, q2, score_mod=alibi)
    assert len(eng.host_captures) == 1
    host = eng.host_captures[0]
    assert host.device.type == "cpu" and host.is_contiguous() and torch.equal(host, slopes)
