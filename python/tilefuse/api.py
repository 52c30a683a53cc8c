"""The public entry points: flex_attention, flash_attn_func, attention.

All three compute, per batch b, query head h and query row i (specs/README.md, "What a spec
computes"; FlashAttention-2, Dao 2023, Alg. 1, as one fused kernel):

    s_j = mask_mod(b, h, i, j) ? score_mod(scale * q_i . k_j, b, h, i, j) : -inf
    out_i = sum_j softmax(s)_j v_j,    lse_i = log sum_j exp(s_j)   (natural log)

with query head h reading K/V head h // (Hq / Hkv) (GQA). A row whose keys are all masked gives
out = 0 and lse = -inf, as FlexAttention does. Inputs are bf16 or fp16 CUDA tensors of one dtype
and device; head dims D and Dv are multiples of 16 from 16 to 256. Errors in the arguments raise
ValueError or TypeError naming the argument before anything runs.
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Optional, Sequence, Union

import torch

from . import _ops, _spec
from ._captures import walk, walk_key
from ._expr import TraceError
from ._trace import trace

_HEAD_DIMS = "multiples of 16 from 16 to 256"


_checked: Dict[tuple, tuple] = {}  # signatures of argument sets that passed _check_slow


def _check(q, k, v, layout: str, enable_gqa: bool, allow_gqa_flag: bool = True):
    """Validates q, k, v (dims, dtypes, devices, head dims, heads); returns (B, Hq, Hkv, Sq, Sk, D, Dv).

    A signature (shapes, dtypes, devices, options) that passed once is remembered, so a repeated call
    costs a dict lookup (the slow path raises the errors)."""
    if torch.compiler.is_compiling():  # traced once per graph; no global state for Dynamo to guard
        return _check_slow(q, k, v, layout, enable_gqa, allow_gqa_flag)
    try:
        sig = (q.shape, k.shape, v.shape, q.dtype, k.dtype, v.dtype, q.device, k.device, v.device, layout,
               enable_gqa, allow_gqa_flag)
        hit = _checked.get(sig)
    except (AttributeError, TypeError):  # not tensors, or symbolic sizes under torch.compile
        sig, hit = None, None
    if hit is not None:
        return hit
    result = _check_slow(q, k, v, layout, enable_gqa, allow_gqa_flag)
    if sig is not None and len(_checked) < 4096:
        _checked[sig] = result
    return result


def _check_slow(q, k, v, layout: str, enable_gqa: bool, allow_gqa_flag: bool):
    names = ("query", "key", "value") if layout == "bhsd" else ("q", "k", "v")
    for name, t in zip(names, (q, k, v)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, not {type(t).__name__}")
        if t.dim() != 4:
            want = "(B, H, S, D)" if layout == "bhsd" else "(B, S, H, D)"
            raise ValueError(f"{name} must have 4 dims {want}; got shape {tuple(t.shape)}")
        if t.dtype not in _spec.DTYPES:
            raise TypeError(f"{name} has dtype {t.dtype}; tilefuse kernels take torch.bfloat16 or torch.float16")
        if t.device.type not in (_ops.DEVICE_TYPE, "meta"):
            raise ValueError(f"{name} is on {t.device}; tilefuse runs on CUDA tensors (move it with .cuda())")
    for name, t in zip(names[1:], (k, v)):
        if t.dtype != q.dtype:
            raise TypeError(f"{name} has dtype {t.dtype} but {names[0]} has {q.dtype}; all must have one dtype")
        if t.device != q.device:
            raise ValueError(f"{name} is on {t.device} but {names[0]} on {q.device}; all must be on one device")
    B, Hq, Sq, D = _ops.dims(q, layout)
    Bk, Hkv, Sk, Dk = _ops.dims(k, layout)
    Bv, Hv, Sv, Dv = _ops.dims(v, layout)
    if Bk != B or Bv != B:
        raise ValueError(f"batch sizes differ: {names[0]} {B}, {names[1]} {Bk}, {names[2]} {Bv}")
    if Dk != D:
        raise ValueError(f"{names[1]} head dim {Dk} differs from {names[0]}'s {D}")
    if Hv != Hkv or Sv != Sk:
        raise ValueError(f"{names[2]} has {Hv} heads and {Sv} rows; {names[1]} has {Hkv} and {Sk}")
    for what, d in (("head dim D", D), ("value head dim Dv", Dv)):
        if d % 16 or not 16 <= d <= 256:
            raise ValueError(f"{what} = {d} is not supported; tilefuse kernels take {_HEAD_DIMS}")
    if Hq % Hkv:
        raise ValueError(f"{names[0]} has {Hq} heads, not a multiple of the {Hkv} heads of {names[1]} / "
                         f"{names[2]} (GQA needs Hq % Hkv == 0)")
    if Hq != Hkv and allow_gqa_flag and not enable_gqa:
        raise ValueError(f"{names[0]} has {Hq} heads and {names[1]} {Hkv}; pass enable_gqa=True for grouped-"
                         "query attention (query head h reads key/value head h // (Hq / Hkv))")
    return B, Hq, Hkv, Sq, Sk, D, Dv


def _check_scale(scale) -> Optional[float]:
    if scale is None:
        return None
    if isinstance(scale, torch.Tensor) or not isinstance(scale, (int, float)) or isinstance(scale, bool):
        raise TypeError(f"scale must be a Python float, not {type(scale).__name__}")
    s = float(scale)
    if not (math.isfinite(s) and 1.17549435e-38 <= s <= 3.4028234e38):
        raise ValueError(f"scale = {scale} is not supported; it must be a positive normal fp32 number")
    return s


# --- flex_attention ---------------------------------------------------------------------------------

class _Entry:
    __slots__ = ("spec", "paths", "converts")

    def __init__(self, spec, paths, converts):
        self.spec, self.paths, self.converts = spec, paths, converts


_flex_cache: Dict[object, _Entry] = {}


def _flex_prepare(score_mod, mask_mod, dtype, D, Dv, Hq, Hkv, scale, return_lse):
    """(spec JSON, captured tensors in spec order) for a flex_attention call; traces on a cache miss."""
    return _flex_inputs(score_mod, mask_mod, dtype, D, Dv, Hq, Hkv, scale, return_lse)[:2]


def _flex_inputs(score_mod, mask_mod, dtype, D, Dv, Hq, Hkv, scale, return_lse):
    """_flex_prepare's result and (capture paths, conversions) for the launch plan, or None when the
    trace cannot be reused."""
    if torch.compiler.is_compiling():
        spec, paths, converts, scalars = _flex_constant(score_mod, mask_mod, dtype, D, Dv, Hq, Hkv, scale,
                                                        return_lse)
        for p, value in scalars:  # the comparison makes Dynamo guard the value: a change recompiles
            if _fetch(score_mod, mask_mod, p) != value:
                raise RuntimeError(f"tilefuse: {p} changed while tracing")
        return spec, [_converted(_fetch(score_mod, mask_mod, p), cv) for p, cv in zip(paths, converts)], None
    w_score, w_mask = walk(score_mod, "score_mod"), walk(mask_mod, "mask_mod")
    key = (w_score.key, w_mask.key, dtype, D, Dv, Hq, Hkv, scale, return_lse)
    try:
        entry = _flex_cache.get(key)
    except TypeError:  # an unhashable value in a closure: trace every call
        key, entry = None, None
    found = {**w_score.tensors, **w_mask.tensors}
    if entry is None:
        paths = {id(t): p for p, t in found.items()}
        tr = trace(score_mod, mask_mod, paths)
        spec = _spec.flex_spec(tr.score_mod, tr.mask_mod, tr.captures, dtype, D, Dv, Hq, Hkv, scale, return_lse)
        converts = [c.convert for c in tr.captures]
        if not tr.reusable or key is None:
            return spec, [_converted(c.tensor, cv) for c, cv in zip(tr.captures, converts)], None
        entry = _Entry(spec, [c.path for c in tr.captures], converts)
        _flex_cache[key] = entry
    return (entry.spec, [_converted(found[p], cv) for p, cv in zip(entry.paths, entry.converts)],
            (entry.paths, entry.converts))


@torch.compiler.assume_constant_result
def _flex_constant(score_mod, mask_mod, dtype, D, Dv, Hq, Hkv, scale, return_lse):
    """Under torch.compile: (spec, capture paths, conversions), computed by Dynamo while tracing."""
    w_score, w_mask = walk(score_mod, "score_mod", True), walk(mask_mod, "mask_mod", True)
    found = {**w_score.tensors, **w_mask.tensors}
    tr = trace(score_mod, mask_mod, {id(t): p for p, t in found.items()})
    if not tr.reusable:
        raise TraceError("under torch.compile, score_mod / mask_mod may read tensors only from their closure, "
                         "defaults or globals (not through an object's attributes)")
    spec = _spec.flex_spec(tr.score_mod, tr.mask_mod, tr.captures, dtype, D, Dv, Hq, Hkv, scale, return_lse)
    return (spec, tuple(c.path for c in tr.captures), tuple(c.convert for c in tr.captures),
            tuple((p, _fetch(score_mod, mask_mod, p)) for p in w_score.scalars + w_mask.scalars))


def _fetch(score_mod, mask_mod, path):
    """The tensor at a walk path (``_captures.walk``), read the way Dynamo can follow."""
    v = score_mod if path[0] == "score_mod" else mask_mod
    for step in path[1:]:
        if isinstance(step, tuple) and step[0] == "cell":
            v = v.__closure__[v.__code__.co_freevars.index(step[1])].cell_contents
        elif isinstance(step, tuple) and step[0] == "global":
            v = v.__globals__[step[1]]
        elif step == "func":
            v = v.func if hasattr(v, "keywords") else v.__func__
        elif step == "args":
            v = v.args
        elif step == "keywords":
            v = v.keywords
        elif step == "defaults":
            v = v.__defaults__
        elif step == "kwdefaults":
            v = v.__kwdefaults__
        else:
            v = v[step]
    return v


def _converted(t: torch.Tensor, dtype):
    if dtype is not None:
        t = t.to(dtype)
    return t.reshape(1) if t.dim() == 0 else t


def flex_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                   score_mod: Optional[Callable] = None, mask_mod: Optional[Callable] = None,
                   scale: Optional[float] = None, enable_gqa: bool = False, return_lse: bool = False):
    """FlexAttention's forward (He et al., 2024; ``torch.nn.attention.flex_attention``) as one fused
    Tilefuse kernel.

    Args:
        query: (B, Hq, Sq, D); key: (B, Hkv, Sk, D); value: (B, Hkv, Sk, Dv). bf16 or fp16, one dtype,
            one CUDA device; D and Dv multiples of 16 from 16 to 256; the head dim contiguous (else
            copied, with a warning).
        score_mod: ``score_mod(score, b, h, q_idx, kv_idx) -> float`` on the scaled score, or None.
        mask_mod: ``mask_mod(b, h, q_idx, kv_idx) -> bool`` (True: the key is seen), or None. Positions
            are not aligned for you: with Sq != Sk, ``q_idx >= kv_idx`` is FlexAttention's top-left
            causal mask (write ``q_idx + Sk - Sq >= kv_idx`` with Python ints for bottom-right).
        scale: softmax scale; None: 1 / sqrt(D).
        enable_gqa: allow Hq a multiple of Hkv (query head h reads K/V head h // (Hq / Hkv)).
        return_lse: also return LSE (B, Hq, Sq), fp32, natural log.

    Returns:
        out (B, Hq, Sq, Dv) in the input dtype, or (out, lse) with ``return_lse``.

    score_mod and mask_mod are traced once with proxy values into the spec expression language
    (``tilefuse.trace`` shows the result): arithmetic, comparisons, ``& | ~``, ``torch.where``,
    ``tanh exp log sqrt abs sigmoid minimum maximum clamp`` and dtype casts. Tensors they read
    (``slopes[h]``, ``doc_ids[b, kv_idx]``) from their closure, defaults or globals are passed to the
    kernel as captures on every call (same device as ``query``; float64 / bool / int8 / uint8 / int16
    ones are converted each call). The trace is cached under the functions' code, their closures'
    Python values and their tensors' shapes and dtypes. A construct the language cannot express raises
    TraceError (a TypeError) naming it; a mask_mod returning a number raises it too.

    Under ``torch.compile`` the trace is made while Dynamo traces the caller and is a constant of
    the graph; the captured tensors are graph inputs (their values are read on every call), and
    every Python scalar the functions reach through closures and globals is guarded, so changing
    one recompiles.

    Raises ValueError / TypeError for bad arguments (CPU tensors, mismatched dtypes or devices,
    unsupported head dims, Hq not a multiple of Hkv or GQA without ``enable_gqa``), TilefuseError for
    a failure of the native library (NoGpuError without a GPU).
    """
    # The per-call path: a plan cached under the functions' walk keys and the operands' layout.
    pkey = None
    if not torch.compiler.is_compiling():
        k_score, t_score = walk_key(score_mod, "score_mod")
        k_mask, t_mask = walk_key(mask_mod, "mask_mod")
        pkey, plan = _ops.lookup(("flex", k_score, k_mask, type(scale), scale, enable_gqa, return_lse),
                                 query, key, value, eager=True)
        if plan is not None:
            paths, converts = plan.extra
            captures = [_converted((t_score if p[0] == "score_mod" else t_mask)[p], cv)
                        for p, cv in zip(paths, converts)] if paths else ()
            result = plan(query, key, value, captures)
            if result is not None:
                return result if return_lse else result[0]
    B, Hq, Hkv, Sq, Sk, D, Dv = _check(query, key, value, "bhsd", enable_gqa)
    scale = _check_scale(scale)
    for name, fn in (("score_mod", score_mod), ("mask_mod", mask_mod)):
        if fn is not None and not callable(fn):
            raise TypeError(f"{name} must be a function or None, not {type(fn).__name__}")
    spec, captures, extra = _flex_inputs(score_mod, mask_mod, query.dtype, int(D), int(Dv), int(Hq), int(Hkv),
                                          scale, bool(return_lse))
    out, lse = _ops.call(query, key, value, captures, spec, "bhsd", bool(return_lse),
                         key=pkey if extra is not None else None, extra=extra)
    return (out, lse) if return_lse else out


def trace_spec(score_mod: Optional[Callable] = None, mask_mod: Optional[Callable] = None, *,
               dtype: torch.dtype = torch.bfloat16, head_dim: int = 128, value_dim: Optional[int] = None,
               heads: tuple = (16, 16), scale: Optional[float] = None, lse: bool = False) -> dict:
    """The spec (as a dict, specs/README.md) flex_attention builds for these functions and sizes;
    runs on any machine (no GPU). ``heads`` = (Hq, Hkv). Raises TraceError as flex_attention does."""
    import json
    spec, _ = _flex_prepare(score_mod, mask_mod, dtype, head_dim, value_dim or head_dim, heads[0], heads[1],
                            _check_scale(scale), lse)
    return json.loads(spec)


# --- flash_attn_func --------------------------------------------------------------------------------

def flash_attn_func(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, dropout_p: float = 0.0,
                    softmax_scale: Optional[float] = None, causal: bool = False,
                    window_size: tuple = (-1, -1), softcap: float = 0.0,
                    alibi_slopes: Optional[torch.Tensor] = None, deterministic: bool = False,
                    return_attn_probs: bool = False):
    """flash-attn 2's ``flash_attn_func`` forward (Dao 2023), so code written against it runs unchanged.

    Args:
        q: (B, Sq, Hq, D); k: (B, Sk, Hkv, D); v: (B, Sk, Hkv, Dv); bf16 or fp16 CUDA tensors; Hq a
            multiple of Hkv (MQA / GQA); taken in place when the head dim is contiguous.
        dropout_p: must be 0.0 (dropout is not implemented: NotImplementedError).
        softmax_scale: None: 1 / sqrt(D).
        causal: bottom-right aligned when Sq != Sk (query i sees keys j <= i + Sk - Sq).
        window_size: (left, right) sliding window, -1 = unbounded: keys with
            i + Sk - Sq - left <= j <= i + Sk - Sq + right.
        softcap: > 0: scores become softcap * tanh(score / softcap).
        alibi_slopes: (Hq,) or (B, Hq) fp32: adds -slope * |i + Sk - Sq - j| to the score.
        deterministic: accepted and ignored (the forward is deterministic).
        return_attn_probs: must be False (NotImplementedError).

    Returns:
        out (B, Sq, Hq, Dv), the input dtype.
    """
    if dropout_p != 0.0:
        raise NotImplementedError(f"tilefuse.flash_attn_func: dropout_p = {dropout_p} is not implemented "
                                  "(forward without dropout only); pass dropout_p=0.0")
    if return_attn_probs:
        raise NotImplementedError("tilefuse.flash_attn_func: return_attn_probs=True is not implemented "
                                  "(the fused kernel never materialises the probabilities)")
    pkey, plan = _ops.lookup(("flash", type(softmax_scale), softmax_scale, causal, window_size, softcap,
                              alibi_slopes is None), q, k, v)
    if plan is not None:
        result = plan(q, k, v, () if alibi_slopes is None else (alibi_slopes,))
        if result is not None:
            return result[0]
    B, Hq, Hkv, Sq, Sk, D, Dv = _check(q, k, v, "bshd", True, allow_gqa_flag=False)
    scale = _check_scale(softmax_scale)
    if not (isinstance(window_size, (tuple, list)) and len(window_size) == 2):
        raise ValueError(f"window_size must be a pair (left, right), got {window_size!r}")
    window = (int(window_size[0]), int(window_size[1]))
    if any(w < -1 for w in window):
        raise ValueError(f"window_size entries must be >= 0 or -1 (unbounded), got {window}")
    if not isinstance(softcap, (int, float)) or softcap < 0:
        raise ValueError(f"softcap must be a float >= 0, got {softcap!r}")
    captures = []
    alibi = None
    if alibi_slopes is not None:
        if not isinstance(alibi_slopes, torch.Tensor) or alibi_slopes.dtype != torch.float32:
            raise TypeError("alibi_slopes must be a float32 tensor of shape (Hq,) or (B, Hq)")
        if tuple(alibi_slopes.shape) not in ((Hq,), (B, Hq)):
            raise ValueError(f"alibi_slopes has shape {tuple(alibi_slopes.shape)}; expected ({Hq},) or ({B}, {Hq})")
        if alibi_slopes.device != q.device:
            raise ValueError(f"alibi_slopes is on {alibi_slopes.device}, q on {q.device}")
        alibi = tuple(int(s) for s in alibi_slopes.shape)
        captures = [alibi_slopes]
    spec = _spec.flash_attn_spec(q.dtype, int(D), int(Dv), int(Hq), int(Hkv),
                                 scale if scale is not None else _spec.default_scale(int(D)),
                                 bool(causal), window, float(softcap), alibi)
    out, _ = _ops.call(q, k, v, captures, spec, "bshd", False, key=pkey)
    return out


# --- attention (a JSON spec) ------------------------------------------------------------------------

def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, spec: Union[str, dict],
              captures: Optional[Union[Dict[str, torch.Tensor], Sequence[torch.Tensor]]] = None,
              layout: str = "bhsd"):
    """Attention for a Tilefuse spec (specs/README.md).

    Args:
        q, k, v: (B, Hq, Sq, D), (B, Hkv, Sk, D), (B, Hkv, Sk, Dv) with ``layout="bhsd"``, or
            (B, S, H, D) with ``layout="bshd"``; of the spec's dtype. The sizes (B, heads, Sq, Sk, D, Dv)
            are the tensors'; the spec's own ``heads``, ``head_dim`` and ``shape`` are overridden.
        spec: a dict, JSON text, a path to a spec file, or a shipped spec's name ("causal", "alibi",
            "models/llama3_8b_prefill").
        captures: the spec's captured tensors, a dict by name or a sequence in spec order (sorted by
            name); on q's device, of the shapes the spec's size expressions give.
        layout: "bhsd" or "bshd".

    Returns:
        out in q's layout, or (out, lse) when the spec has ``"lse": true`` (lse (B, Hq, Sq) fp32).

    Raises ValueError / TypeError for bad arguments, SpecError for a spec the reader rejects.
    """
    pkey = None
    if type(spec) is str:  # a dict may change between calls: only text and files (by mtime) get a plan
        pkey, plan = _ops.lookup(("attention", spec, _spec.spec_version(spec), layout), q, k, v)
        if plan is not None:
            names, lse = plan.extra
            try:
                if captures is None:
                    caps = ()
                elif isinstance(captures, dict):
                    caps = [captures[n] for n in names] if len(captures) == len(names) else None
                else:
                    caps = list(captures)
            except KeyError:  # the slow path names what is missing
                caps = None
            result = plan(q, k, v, caps) if caps is not None else None
            if result is not None:
                return result if lse else result[0]
    if layout not in ("bhsd", "bshd"):
        raise ValueError(f"layout must be 'bhsd' or 'bshd', not {layout!r}")
    B, Hq, Hkv, Sq, Sk, D, Dv = _check(q, k, v, layout, True, allow_gqa_flag=False)
    text, names, cap_dtypes, lse, dtype = _attention_spec(spec)
    want = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(dtype)
    if want is not None and want != q.dtype:
        raise TypeError(f"the spec's dtype is {dtype} but q is {q.dtype}")
    if captures is None:
        captures = []
    elif isinstance(captures, dict):
        missing = [n for n in names if n not in captures]
        extra = [n for n in captures if n not in names]
        if missing or extra:
            raise ValueError(f"captures: the spec reads {list(names)}; missing {missing}, unknown {extra}")
        captures = [captures[n] for n in names]
    else:
        captures = list(captures)
    if len(captures) != len(names):
        raise ValueError(f"captures: the spec reads {len(names)} tensors ({', '.join(names) or 'none'}), "
                         f"got {len(captures)}")
    for n, t, dt in zip(names, captures, cap_dtypes):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"capture '{n}' must be a torch.Tensor, not {type(t).__name__}")
        if t.device != q.device:
            raise ValueError(f"capture '{n}' is on {t.device}, q on {q.device}")
        if _CAPTURE_DTYPES.get(dt, t.dtype) != t.dtype:
            raise TypeError(f"capture '{n}' has dtype {t.dtype}; the spec says {dt} ({_CAPTURE_DTYPES[dt]})")
    out, lse_t = _ops.call(q, k, v, captures, text, layout, lse, key=pkey, extra=(names, lse))
    return (out, lse_t) if lse else out


@torch.compiler.assume_constant_result
def _attention_spec(spec):
    """(compact JSON, capture names in spec order, their dtypes, lse, dtype) of a spec argument of
    attention()."""
    d = _spec.load_spec(spec)
    if not isinstance(d, dict):
        raise TypeError("spec: a JSON object was expected")
    caps = d.get("captures") or {}
    names = tuple(sorted(caps.keys()))
    dtypes = tuple(caps[n].get("dtype") if isinstance(caps[n], dict) else None for n in names)
    return _spec.dumps(d), names, dtypes, bool(d.get("lse", False)), d.get("dtype")


_CAPTURE_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16, "i32": torch.int32,
                   "i64": torch.int64}


__all__ = ["flex_attention", "flash_attn_func", "attention", "trace_spec", "TraceError"]
