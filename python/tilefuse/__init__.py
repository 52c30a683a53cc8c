"""Tilefuse attention kernels from PyTorch.

    import tilefuse
    out = tilefuse.flex_attention(q, k, v, score_mod=..., mask_mod=...)   # (B, H, S, D)
    out = tilefuse.flash_attn_func(q, k, v, causal=True)                  # (B, S, H, D)
    out, lse = tilefuse.attention(q, k, v, "causal")                      # a JSON spec

Each call runs one fused kernel generated for the variant (JIT-compiled with NVRTC on first use,
memoized per process). ``tilefuse.set_policy`` chooses between the heuristic schedule (default)
and the tuner. The native library is loaded on the first kernel call, so importing and tracing
work on a machine without a GPU.
"""

from ._expr import TraceError
from ._lib import NoGpuError, SpecError, TilefuseError, UnsupportedError, library_path
from ._ops import get_policy, set_policy
from .api import attention, flash_attn_func, flex_attention, trace_spec

__version__ = "0.2.0"


def clear_block_masks() -> None:
    """Forgets the run-time block masks kept for kernels whose mask_mod reads a captured tensor (document
    ids, a block table), on every device this process used, after waiting for the work on each. The
    package already rebuilds a mask when PyTorch saw its captures change (an in-place write bumps the
    tensor's version); call this after a write it cannot see, e.g. by a foreign kernel through
    ``data_ptr()``. Raises TilefuseError when a device fails."""
    from . import _lib
    for eng in list(_lib._engines.values()):
        with eng.block_masks.lock:
            eng.clear_block_masks()
            eng.block_masks.entries.clear()
            eng.block_masks.held_bytes = 0


def native_version() -> str:
    """The loaded libtilefuse.so's version (loads the library)."""
    from . import _lib
    return _lib.version()


__all__ = ["flex_attention", "flash_attn_func", "attention", "trace_spec", "set_policy", "get_policy",
           "TraceError", "TilefuseError", "NoGpuError", "SpecError", "UnsupportedError", "library_path",
           "native_version", "clear_block_masks"]
