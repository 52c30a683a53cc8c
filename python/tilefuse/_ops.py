"""The kernel call as a PyTorch custom op: ``torch.ops.tilefuse.attention``.

    attention(q, k, v, captures, spec, layout, return_lse) -> (out, lse)

* ``layout`` "bhsd": q (B, Hq, Sq, D), k (B, Hkv, Sk, D), v (B, Hkv, Sk, Dv) -> out (B, Hq, Sq, Dv);
  "bshd" (flash-attn's): q (B, Sq, Hq, D), k (B, Sk, Hkv, D), v (B, Sk, Hkv, Dv) -> out (B, Sq, Hq, Dv).
  bf16 or fp16, all of the spec's dtype, on one CUDA device.
* ``spec``: compact spec JSON (``_spec``); ``captures``: its captured tensors in spec order (sorted by
  name), on the same device, of the spec's shapes and dtypes.
* ``lse``: (B, Hq, Sq) fp32, natural log, when ``return_lse`` (the spec must say "lse": true); else
  an empty (0,) fp32 tensor.

The fake implementation gives the shapes for ``torch.compile`` (Dynamo, AOTAutograd, Inductor),
so ``torch.compile(fullgraph=True)`` keeps the call in one graph. The launch goes on the current
CUDA stream and allocates only ``out`` and ``lse`` (through PyTorch's caching allocator), so it can be
captured in a CUDA graph once the kernel is built (run it once before capturing). A tuned kernel with the
dynamic tile scheduler (``"q_tile_order": "dynamic"``, which the tuner picks for some packed and masked specs)
also allocates its tile counter on its first launch on each stream, which capture does not allow: run it once
on the capturing stream first (``torch.cuda.graph(g, stream=s)``), or tune with ``tilefuse tune
--no-dynamic-tiles`` and use the ``"cache"`` policy. Backward raises NotImplementedError.

Operands are taken as they are when the head dim is contiguous, the address is 16-byte aligned and
the other strides are multiples of 8 elements; otherwise they are copied (``.contiguous()``) with a
warning.

The per-call path is a cached launch ``Plan`` (below): the public functions look one up under their
own arguments and the operands' layout before doing any other work, and so does the op's kernel.
The op is defined with ``torch.library.Library`` (not ``custom_op``, whose Python wrappers cost
15-20 us per call); in eager mode the public functions call the plan directly and reach the op only
under torch.compile or when an operand requires grad. A call of the op on plain CUDA tensors makes
one trip through the dispatcher: its Autograd kernel launches itself where a redispatch could only
reach the launch kernel (fake tensors, dispatch modes, functionalization still redispatch).
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
import warnings
from typing import List, Optional, Tuple

import torch

from . import _lib

_policy = os.environ.get("TILEFUSE_POLICY", "heuristic")
_verbose = os.environ.get("TILEFUSE_VERBOSE", "") not in ("", "0")


def set_policy(policy: str, verbose: Optional[bool] = None) -> None:
    """How a kernel is chosen the first time a (spec, shape) is asked for in this process.

    * ``"heuristic"`` (default, also env ``TILEFUSE_POLICY``): the generator's default schedule for
      the head dim and GPU; the first call compiles with NVRTC (0.1-1 s), nothing is tuned.
    * ``"tune"``: the tuner's on-disk cache (``$TILEFUSE_CACHE_DIR``, else ``~/.cache/tilefuse``);
      on a miss it tunes on this GPU (seconds to a minute, once per shape bucket) and records it
      (CUDA graphs: see the module's note on the dynamic tile scheduler).
    * ``"cache"``: the cache only; a miss raises TilefuseError (TILEFUSE_ERROR_CACHE_MISS).

    ``verbose`` (env ``TILEFUSE_VERBOSE=1``): print to stderr when a kernel is built or tuned.
    Raises ValueError for another policy.
    """
    global _policy, _verbose
    if policy not in _lib.POLICIES:
        raise ValueError(f"policy must be one of {', '.join(_lib.POLICIES)}, not {policy!r}")
    _policy = policy
    if verbose is not None:
        _verbose = bool(verbose)


def get_policy() -> str:
    return _policy


def dims(t: torch.Tensor, layout: str) -> Tuple[int, int, int, int]:
    """(B, H, S, D) of an operand in ``layout``."""
    if layout == "bhsd":
        return t.shape[0], t.shape[1], t.shape[2], t.shape[3]
    return t.shape[0], t.shape[2], t.shape[1], t.shape[3]


def _strides(t: torch.Tensor, layout: str):
    """(batch, head, row) strides in elements; a dim of size 1 gets stride 0."""
    s = t.stride()
    sh = t.shape
    order = (0, 1, 2) if layout == "bhsd" else (0, 2, 1)
    return tuple(0 if sh[i] == 1 else s[i] for i in order)


def _usable(t: torch.Tensor, layout: str) -> bool:
    if t.shape[3] != 1 and t.stride(3) != 1:
        return False
    if t.data_ptr() % 16:
        return False
    return all(s >= 0 and s % 8 == 0 for s in _strides(t, layout))


def _operand(t: torch.Tensor, name: str, layout: str):
    if not _usable(t, layout):
        warnings.warn(f"tilefuse: {name} of strides {tuple(t.stride())} is copied: the kernel needs the head "
                      "dim contiguous, a 16-byte aligned address and the other strides multiples of 8 "
                      "elements", stacklevel=4)
        t = t.contiguous()
        if not _usable(t, layout):
            raise ValueError(f"{name}: head dim {t.shape[3]} gives strides that are not multiples of 8 "
                             "elements; head dims must be multiples of 16")
    return t


def _capture_arg(t: torch.Tensor):
    """(tensor kept alive, (address, strides of every dim but the last or None)); the last dim must be
    contiguous, else the tensor is copied."""
    if t.dim() >= 1 and t.shape[-1] > 1 and t.stride(-1) != 1:
        t = t.contiguous()
    if t.dim() <= 1:
        return t, (t.data_ptr(), None)
    return t, (t.data_ptr(), tuple(int(s) for s in t.stride()[:-1]))


# Where a launch can run. The CPU benchmark harness (python/bench/bench_host_cpu.py) widens it to
# "cpu" with a stub in place of the C launch; nothing else changes it.
DEVICE_TYPE = "cuda"

_raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None)


def _current_stream(device: int) -> int:
    """The current CUDA stream of ``device`` as an int (cudaStream_t)."""
    if _raw_stream is not None:
        return _raw_stream(device)
    return torch.cuda.current_stream(device).cuda_stream


# --- launch plans: the per-call path ------------------------------------------------------------------
#
# A plan is one launch prepared for an entry point's arguments and the operands' layout: the kernel,
# the tilefuse_attention_args_t with every size and stride filled in, the output shapes. It is cached
# (per thread: each thread writes only its own argument structs) under a key of the entry point's
# own arguments ("head") and every operand's shape, strides, dtype and device, so a repeated call
# costs one dict lookup, the outputs' allocation, writing the data pointers into the struct and the
# ctypes call. A key is only stored after the slow path has checked the arguments it stands for.

_U64 = 8
_Q, _K, _V, _O = ((_lib.AttentionArgs.q.offset + _lib.TensorArg.data.offset) // _U64,
                  (_lib.AttentionArgs.k.offset + _lib.TensorArg.data.offset) // _U64,
                  (_lib.AttentionArgs.v.offset + _lib.TensorArg.data.offset) // _U64,
                  (_lib.AttentionArgs.o.offset + _lib.TensorArg.data.offset) // _U64)
_LSE = _lib.AttentionArgs.lse.offset // _U64
_CAPTURE_SLOTS = ctypes.sizeof(_lib.CaptureArg) // _U64  # uint64 slots per CaptureArg (data first)
_MAX_PLANS = 1024  # per thread; the cache is emptied when full


class _Local(threading.local):
    def __init__(self):
        self.plans = {}


_local = _Local()


def lookup(head, q, k, v, eager=False):
    """(key, plan) for a call of an entry point. The key: ``head`` (the entry point's arguments that decide
    the spec), the policy and q, k, v's shapes, strides, dtypes and devices; the plan: the one stored
    under it on this thread, or None. Both are None where no plan may be used or stored: under
    torch.compile, when autograd must see the call (an operand requires grad), for non-tensors (the slow
    path says what is wrong) and for an unhashable argument in ``head``. ``eager``: the caller has seen
    ``torch.compiler.is_compiling()`` return False (it is not asked again)."""
    if not eager and torch.compiler.is_compiling():
        return None, None
    try:
        if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad):
            return None, None
        key = (head, _policy, q.shape, q.stride(), q.dtype, q.device, k.shape, k.stride(), k.dtype, k.device,
               v.shape, v.stride(), v.dtype, v.device)
        return key, _local.plans.get(key)
    except (AttributeError, TypeError):  # not tensors, or an unhashable argument (a list for a tuple, ...)
        return None, None


class Plan:
    """One prepared launch (see above). ``plan(q, k, v, captures)`` -> (out, lse), or None when this
    call's data cannot use it (an address not 16-byte aligned, captures of another layout): the
    caller then takes the slow path. ``extra`` is the entry point's own data (capture paths)."""

    __slots__ = ("engine", "kernel", "device", "args", "slots", "addr", "cap_array", "cap_slots", "cap_keep",
                 "cap_sig", "out_shape", "out_like_q", "lse_shape", "placeholder", "f32", "launch", "extra",
                 "mask_guard", "sizes")

    def __call__(self, q, k, v, captures):
        qp, kp, vp = q.data_ptr(), k.data_ptr(), v.data_ptr()
        if (qp | kp | vp) & 15:
            return None
        sig = self.cap_sig
        if sig or captures:
            if len(captures) != len(sig):
                return None
            cs = self.cap_slots
            i = 0
            for c, want in zip(captures, sig):
                if (c.shape, c.stride(), c.dtype, c.device) != want:
                    return None
                cs[i] = c.data_ptr()
                i += _CAPTURE_SLOTS
        out = torch.empty_like(q) if self.out_like_q else q.new_empty(self.out_shape)
        s = self.slots
        s[_Q] = qp
        s[_K] = kp
        s[_V] = vp
        s[_O] = out.data_ptr()
        # Outputs in fp32 come from a 0-element fp32 tensor on the device (new_empty without dtype= parses
        # fewer arguments); a fresh tensor every call, never a shared one.
        if self.lse_shape is not None:
            lse = self.f32.new_empty(self.lse_shape)
            s[_LSE] = lse.data_ptr()
        elif self.placeholder:
            lse = self.f32.new_empty(0)
        else:
            lse = None
        if self.mask_guard is not None:  # a run-time block mask: kept true to the captures' contents
            self.mask_guard.check(self.kernel, self.sizes, captures)
        status = self.launch(self.engine, self.kernel, self.addr, _raw_stream(self.device))
        if status:
            _lib.check(status)
        return out, lse


def _build_plan(eng, kernel, device, q, k, v, out, lse, captures, layout, placeholder) -> Plan:
    """A plan for these (checked, usable) operands; ``out`` / ``lse`` a sample of the outputs."""
    B, Hq, Sq, _ = dims(q, layout)
    _, Hkv, Sk, _ = dims(k, layout)
    p = Plan()
    p.engine, p.kernel, p.device = eng.handle.value, kernel, device
    a = p.args = _lib.AttentionArgs()
    a.B, a.Hq, a.Hkv, a.Sq, a.Sk = B, Hq, Hkv, Sq, Sk
    for name, t in (("q", q), ("k", k), ("v", v), ("o", out)):
        ta = getattr(a, name)
        ta.batch_stride, ta.head_stride, ta.row_stride = _strides(t, layout)
    if lse is not None and lse.numel():
        a.lse_batch_stride, a.lse_head_stride = Hq * Sq, Sq
        p.lse_shape = tuple(lse.shape)
    else:
        p.lse_shape = None
    p.cap_keep, p.cap_sig = [], tuple((c.shape, c.stride(), c.dtype, c.device) for c in captures)
    if captures:
        arr = p.cap_array = (_lib.CaptureArg * len(captures))()
        for i, c in enumerate(captures):
            _, (ptr, strides) = _capture_arg(c)
            if strides is not None:
                st = (ctypes.c_int64 * len(strides))(*strides)
                p.cap_keep.append(st)
                arr[i].strides = ctypes.cast(st, ctypes.POINTER(ctypes.c_int64))
        a.captures = ctypes.cast(arr, ctypes.POINTER(_lib.CaptureArg))
        a.num_captures = len(captures)
        p.cap_slots = memoryview(arr).cast("B").cast("Q")
    else:
        p.cap_array = p.cap_slots = None
    p.slots = memoryview(a).cast("B").cast("Q")
    p.addr = ctypes.addressof(a)
    p.out_shape = tuple(out.shape)
    p.out_like_q = q.is_contiguous() and tuple(q.shape) == p.out_shape
    p.placeholder = placeholder
    p.f32 = q.new_empty((0,), dtype=torch.float32)
    p.launch = _lib.lib().tilefuse_launch_raw
    p.extra = None
    p.sizes = (B, Hq, Sq, Sk)
    p.mask_guard = eng.block_masks if captures and eng.has_block_mask(kernel) else None
    return p


def _run(q, k, v, captures, spec, layout, return_lse, placeholder=True, key=None, extra=None):
    """The slow path of a launch: checks, copies of unusable operands, the kernel (built on first use),
    a plan; the plan is stored under ``key`` when the call needed no copies."""
    if q.device.type != DEVICE_TYPE:
        raise ValueError(f"tilefuse runs on CUDA tensors; got {q.device}")
    B, Hq, Sq, D = dims(q, layout)
    _, Hkv, Sk, _ = dims(k, layout)
    Dv = v.shape[3]
    q0, k0, v0 = q, k, v
    q, k, v = _operand(q, "query", layout), _operand(k, "key", layout), _operand(v, "value", layout)
    out_shape = (B, Hq, Sq, Dv) if layout == "bhsd" else (B, Sq, Hq, Dv)
    out = torch.empty(out_shape, dtype=q.dtype, device=q.device)
    if return_lse:
        lse = torch.empty((B, Hq, Sq), dtype=torch.float32, device=q.device)
    else:  # the op's schema returns a tensor; the eager path (placeholder=False) returns None
        lse = torch.empty((0,), dtype=torch.float32, device=q.device) if placeholder else None
    device = q.device.index if q.device.index is not None else torch.cuda.current_device()
    eng = _lib.engine(device)
    shape = (B, Hq, Hkv, Sq, Sk, D, Dv)
    kernel = eng.kernels.get((spec, shape, _policy))
    if kernel is None:
        if _verbose:
            what = "tuning (once per shape bucket, cached on disk)" if _policy == "tune" else "building"
            print(f"tilefuse: {what} a kernel for B={B} Hq={Hq} Hkv={Hkv} Sq={Sq} Sk={Sk} D={D} Dv={Dv}",
                  file=sys.stderr, flush=True)
        # Tune / cache policies: the captures' host copies, so that a mask that reads them is tuned on (and
        # looked up for) their density class, not on synthetic ones.
        host = [c.detach().contiguous().cpu() for c in captures] if captures and _policy != "heuristic" else None
        kernel = eng.kernel(spec, shape, _policy, host)
        if _verbose:
            info = eng.info(kernel)
            print(f"tilefuse: {info['kernel_name']} on {info['arch']}, schedule {info['schedule_json']} "
                  f"({info['origin']}, NVRTC {info['compile_ms']:.0f} ms)", file=sys.stderr, flush=True)
    keep = []
    for c in captures:
        if c.device != q.device:
            raise ValueError(f"a captured tensor is on {c.device}, the query on {q.device}; captured tensors "
                             "must be on the query's device")
        keep.append(_capture_arg(c)[0])
    plan = _build_plan(eng, kernel, device, q, k, v, out, lse, keep, layout, placeholder)
    plan.extra = extra
    if (key is not None and q is q0 and k is k0 and v is v0
            and all(a is b for a, b in zip(keep, captures))):
        plans = _local.plans
        if len(plans) >= _MAX_PLANS:
            plans.clear()
        plans[key] = plan
    result = plan(q, k, v, keep)
    if result is None:  # cannot happen for the usable operands above; kept as a guard
        raise RuntimeError("tilefuse: internal error: a fresh launch plan refused its own operands")
    return result


# The op is defined with torch.library.Library rather than torch.library.custom_op: the dispatcher then
# calls _op_kernel directly, where custom_op's wrappers cost 15-20 us per call. Its pieces:
# CompositeExplicitAutograd: the launch (CPU tensors reach it and get the ValueError); Meta / fake
# tensors: _attention_fake; Autograd: _op_autograd (a backward that raises NotImplementedError; for plain
# dense tensors it also does _op_kernel's work, see there).
_SCHEMA = ("attention(Tensor q, Tensor k, Tensor v, Tensor[] captures, str spec, str layout, bool return_lse) "
           "-> (Tensor, Tensor)")
_library = torch.library.Library("tilefuse", "DEF")
_library.define(_SCHEMA)
attention_op = torch.ops.tilefuse.attention.default


def _op_kernel(q, k, v, captures, spec, layout, return_lse):
    # Below autograd (or called by _op_autograd in its place, see there). The plan key is lookup's
    # without its torch.compile and requires_grad conditions, which are the entry points' (this kernel
    # only sees real tensors, and autograd has been dealt with above it), and with the head flattened
    # (it starts with a str, the entry points' keys with a tuple).
    try:
        key = (spec, layout, return_lse, _policy, q.shape, q.stride(), q.dtype, q.device,
               k.shape, k.stride(), k.dtype, k.device, v.shape, v.stride(), v.dtype, v.device)
        plan = _local.plans.get(key)
    except (AttributeError, TypeError):
        key = plan = None
    if plan is not None:
        result = plan(q, k, v, captures)
        if result is not None:
            return result
    return _run(q, k, v, captures, spec, layout, return_lse, key=key)


@torch.library.register_fake("tilefuse::attention", lib=_library)
def _attention_fake(q, k, v, captures, spec, layout, return_lse):
    B, Hq, Sq, _ = dims(q, layout)
    Dv = v.shape[3]
    out = q.new_empty((B, Hq, Sq, Dv) if layout == "bhsd" else (B, Sq, Hq, Dv))
    lse = q.new_empty((B, Hq, Sq) if return_lse else (0,), dtype=torch.float32)
    return out, lse


class _NoBackward(torch.autograd.Function):
    """The op's forward below autograd; its backward raises."""

    @staticmethod
    def forward(ctx, q, k, v, captures, spec, layout, return_lse):
        with torch._C._AutoDispatchBelowAutograd():
            return attention_op(q, k, v, captures, spec, layout, return_lse)

    @staticmethod
    def backward(ctx, grad_out, grad_lse):
        raise NotImplementedError("tilefuse: the backward pass is not implemented yet (forward only); "
                                  "call tilefuse under torch.no_grad() or use torch's attention for training")


_BELOW_AUTOGRAD = torch._C._after_autograd_keyset
_redispatch = getattr(getattr(attention_op, "_handle", None), "redispatch_boxed", attention_op.redispatch)

# The dispatch keys below autograd after which the next kernel is _op_kernel (CompositeExplicitAutograd)
# for plain dense tensors. Anything else (Python: fake tensors, FunctionalTensor, a TorchDispatchMode;
# Conjugate, Negative, Functionalize, Meta, sparse, ...) goes through the dispatcher as before.
_DENSE = frozenset((torch._C.DispatchKey.CPU, torch._C.DispatchKey.CUDA))
_direct = {}  # DispatchKeySet.raw_repr() -> whether _op_autograd may call _op_kernel itself


def _op_autograd(keyset, q, k, v, captures, spec, layout, return_lse):
    if torch.is_grad_enabled() and (q.requires_grad or k.requires_grad or v.requires_grad
                                    or (captures and any(c.requires_grad for c in captures))):
        return _NoBackward.apply(q, k, v, captures, spec, layout, return_lse)
    # Redispatching costs a second trip through the dispatcher (a few microseconds, boxing every argument
    # again); when it could only land in _op_kernel, call it here, as the dispatcher would.
    raw = keyset.raw_repr()
    direct = _direct.get(raw)
    if direct is None:
        direct = _direct[raw] = (keyset & _BELOW_AUTOGRAD).highestPriorityTypeId() in _DENSE
    if not direct:
        return _redispatch(keyset & _BELOW_AUTOGRAD, q, k, v, captures, spec, layout, return_lse)
    return _op_kernel(q, k, v, captures, spec, layout, return_lse)


_library.impl("attention", _op_kernel, "CompositeExplicitAutograd")
_library.impl("attention", _op_autograd, "Autograd", with_keyset=True)


def call(q, k, v, captures, spec: str, layout: str, return_lse: bool, key=None, extra=None):
    """Runs the op: directly in eager mode when no input needs a gradient (the dispatcher costs
    microseconds), through ``torch.ops.tilefuse.attention`` otherwise (torch.compile, autograd).
    ``key`` (from ``lookup``): where the slow path stores its plan, with ``extra`` (the entry point's data)."""
    if (torch.compiler.is_compiling() or (torch.is_grad_enabled() and
                                          (q.requires_grad or k.requires_grad or v.requires_grad))):
        return attention_op(q, k, v, list(captures), spec, layout, return_lse)
    return _run(q, k, v, captures, spec, layout, return_lse, placeholder=False, key=key, extra=extra)
