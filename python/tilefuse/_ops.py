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
captured in a CUDA graph once the kernel is built (run it once before capturing). Backward raises
NotImplementedError.

Operands are taken as they are when the head dim is contiguous, the address is 16-byte aligned and
the other strides are multiples of 8 elements; otherwise they are copied (``.contiguous()``) with a
warning.
"""

from __future__ import annotations

import os
import sys
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
      on a miss it tunes on this GPU (seconds to a minute, once per shape bucket) and records it.
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


def _current_stream(device: int) -> int:
    """The current CUDA stream of ``device`` as an int (cudaStream_t)."""
    raw = getattr(torch._C, "_cuda_getCurrentRawStream", None)
    if raw is not None:
        return raw(device)
    return torch.cuda.current_stream(device).cuda_stream


def _run(q, k, v, captures, spec, layout, return_lse, lse_placeholder=True):
    if q.device.type != "cuda":
        raise ValueError(f"tilefuse runs on CUDA tensors; got {q.device}")
    B, Hq, Sq, D = dims(q, layout)
    _, Hkv, Sk, _ = dims(k, layout)
    Dv = v.shape[3]
    q, k, v = _operand(q, "query", layout), _operand(k, "key", layout), _operand(v, "value", layout)
    out_shape = (B, Hq, Sq, Dv) if layout == "bhsd" else (B, Sq, Hq, Dv)
    out = torch.empty(out_shape, dtype=q.dtype, device=q.device)
    if return_lse:
        lse = torch.empty((B, Hq, Sq), dtype=torch.float32, device=q.device)
    else:  # the op's schema returns a tensor; the eager path (lse_placeholder=False) skips it
        lse = torch.empty((0,), dtype=torch.float32, device=q.device) if lse_placeholder else None
    device = q.device.index if q.device.index is not None else torch.cuda.current_device()
    eng = _lib.engine(device)
    shape = (B, Hq, Hkv, Sq, Sk, D, Dv)
    key = (spec, shape, _policy)
    kernel = eng.kernels.get(key)
    if kernel is None:
        if _verbose:
            what = "tuning (once per shape bucket, cached on disk)" if _policy == "tune" else "building"
            print(f"tilefuse: {what} a kernel for B={B} Hq={Hq} Hkv={Hkv} Sq={Sq} Sk={Sk} D={D} Dv={Dv}",
                  file=sys.stderr, flush=True)
        kernel = eng.kernel(spec, shape, _policy)
        if _verbose:
            info = eng.info(kernel)
            print(f"tilefuse: {info['kernel_name']} on {info['arch']}, schedule {info['schedule_json']} "
                  f"({info['origin']}, NVRTC {info['compile_ms']:.0f} ms)", file=sys.stderr, flush=True)
    keep, cap_args = [], []
    for c in captures:
        if c.device != q.device:
            raise ValueError(f"a captured tensor is on {c.device}, the query on {q.device}; captured tensors "
                             "must be on the query's device")
        c, arg = _capture_arg(c)
        keep.append(c)
        cap_args.append(arg)
    stream = _current_stream(device)
    _lib.Launcher.launch(eng, kernel, (B, Hq, Hkv, Sq, Sk),
                         (q.data_ptr(), *_strides(q, layout)), (k.data_ptr(), *_strides(k, layout)),
                         (v.data_ptr(), *_strides(v, layout)), (out.data_ptr(), *_strides(out, layout)),
                         (lse.data_ptr(), Hq * Sq, Sq) if return_lse else None, cap_args, stream)
    return out, lse


@torch.library.custom_op("tilefuse::attention", mutates_args=(), device_types=None)
def attention_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, captures: List[torch.Tensor], spec: str,
                 layout: str, return_lse: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    return _run(q, k, v, captures, spec, layout, return_lse)


@attention_op.register_fake
def _attention_fake(q, k, v, captures, spec, layout, return_lse):
    B, Hq, Sq, _ = dims(q, layout)
    Dv = v.shape[3]
    out = q.new_empty((B, Hq, Sq, Dv) if layout == "bhsd" else (B, Sq, Hq, Dv))
    lse = q.new_empty((B, Hq, Sq) if return_lse else (0,), dtype=torch.float32)
    return out, lse


def _setup_context(ctx, inputs, output):
    pass


def _backward(ctx, grad_out, grad_lse):
    raise NotImplementedError("tilefuse: the backward pass is not implemented yet (forward only); "
                              "call tilefuse under torch.no_grad() or use torch's attention for training")


attention_op.register_autograd(_backward, setup_context=_setup_context)


def call(q, k, v, captures, spec: str, layout: str, return_lse: bool):
    """Runs the op: directly in eager mode when no input needs a gradient (saves the dispatcher's
    few microseconds), through ``torch.ops.tilefuse.attention`` otherwise (torch.compile, autograd)."""
    if (torch.compiler.is_compiling() or (torch.is_grad_enabled() and
                                          (q.requires_grad or k.requires_grad or v.requires_grad))):
        return attention_op(q, k, v, list(captures), spec, layout, return_lse)
    return _run(q, k, v, captures, spec, layout, return_lse, lse_placeholder=False)
