"""Host cost per call of the Python entry points, on a machine without a GPU (a benchmark, not a test).

    python3 python/bench/bench_host_cpu.py [--calls 20000] [--profile NAME]

Everything up to the launch runs as it does on a GPU machine: argument checks, the trace cache, the
launch plan cache, output allocation, writing the argument struct. What differs:

* tensors are CPU tensors, let through by ``_ops.DEVICE_TYPE = "cpu"``;
* the C launch (``tilefuse_launch``) is a C function that returns 0, compiled here with ``cc``
  (without a compiler: a Python ctypes callback, which costs about a microsecond more);
* the engine is a stand-in that hands out a fake kernel handle (nothing is compiled), the stream is 0;
* outputs come from the CPU allocator, not PyTorch's CUDA caching allocator.

Per entry point: microseconds per call, the best of 5 runs of ``--calls`` back-to-back calls. The
first row is the floor: the stub called through ctypes with a prepared struct (what the C API costs
from Python before the C function does anything). ``--profile NAME`` adds a cProfile of one row.
"""

import argparse
import cProfile
import ctypes
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import torch  # noqa: E402

import tilefuse  # noqa: E402
from tilefuse import _lib, _ops  # noqa: E402
from bench_python import api_rows, causal_mask  # noqa: E402  (this folder: the rows both tables time)

_STUB_C = "int tilefuse_launch(void *e, void *k, void *a, void *s) { (void)e; (void)k; (void)a; (void)s; return 0; }\n"
_PROTO = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


def stub_launch():
    """(the no-op launch as a ctypes function, what it is)."""
    d = tempfile.mkdtemp(prefix="tilefuse-stub-")
    src, so = os.path.join(d, "stub.c"), os.path.join(d, "libstub.so")
    with open(src, "w") as f:
        f.write(_STUB_C)
    try:
        subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", so, src], check=True, capture_output=True)
        return _PROTO(("tilefuse_launch", ctypes.CDLL(so))), "a C no-op"
    except (OSError, subprocess.CalledProcessError):
        return _PROTO(lambda e, k, a, s: 0), "a Python callback (no cc): about 1 us more per call"


class FakeEngine:
    """Stands in for _lib.Engine: every (spec, shape) gets one fake kernel handle; a kernel has a run-time
    block mask when its spec's mask_mod reads a capture (as the compiler decides for these specs)."""

    def __init__(self):
        self.handle = ctypes.c_void_p(0x1000)
        self.kernels = {}
        self.masked = set()
        self.block_masks = _lib.BlockMaskGuard(self.clear_block_masks)

    def kernel(self, spec_json, shape, policy):
        key = (spec_json, shape, policy)
        if key not in self.kernels:
            self.kernels[key] = 0x2000 + len(self.kernels)
            spec = json.loads(spec_json)
            if any(name in spec.get("mask_mod", "") for name in spec.get("captures", {})):
                self.masked.add(self.kernels[key])
        return self.kernels[key]

    def has_block_mask(self, kernel):
        return kernel in self.masked

    def clear_block_masks(self):
        pass


def install(launch):
    """Points the package at the stub launch, the fake engine and CPU tensors."""
    _lib._lib = type("StubLibrary", (), {"tilefuse_launch_raw": launch})()
    _lib._engines[0] = FakeEngine()
    _ops.DEVICE_TYPE = "cpu"
    _ops._raw_stream = lambda device: 0
    torch.cuda.current_device = lambda: 0


def cases(launch):
    B, H, S, D = 1, 1, 128, 64
    q, k, v = (torch.randn(B, H, S, D, dtype=torch.bfloat16) for _ in range(3))
    qs, ks, vs = (t.transpose(1, 2).contiguous() for t in (q, k, v))
    slopes = torch.rand(H)

    def alibi(score, b, h, q_idx, kv_idx):
        return score + slopes[h] * (kv_idx - q_idx)

    spec = tilefuse.trace_spec(mask_mod=causal_mask, dtype=torch.bfloat16, head_dim=D, heads=(H, H))
    spec_text = _ops_spec_text(spec)
    args = _lib.AttentionArgs()
    slots = memoryview(args).cast("B").cast("Q")
    addr = ctypes.addressof(args)

    def c_api():
        slots[_ops._Q], slots[_ops._K], slots[_ops._V], slots[_ops._O] = (q.data_ptr(), k.data_ptr(), v.data_ptr(),
                                                                          q.data_ptr())
        launch(0x1000, 0x2000, addr, 0)

    return {"C API via ctypes (stub, prepared struct)": c_api, **api_rows(q, k, v, qs, ks, vs, alibi, spec_text),
            "tilefuse.attention(q, k, v, <JSON text>)": lambda: tilefuse.attention(q, k, v, spec_text)}


def _ops_spec_text(spec):
    from tilefuse import _spec
    return _spec.dumps(spec)


def per_call_us(fn, calls):
    for _ in range(200):
        fn()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter_ns() - t0) / calls / 1e3)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20000)
    ap.add_argument("--profile", help="a row name (a prefix is enough) to profile with cProfile")
    args = ap.parse_args()
    launch, what = stub_launch()
    install(launch)
    rows = cases(launch)
    print(f"torch {torch.__version__}, Python {sys.version.split()[0]}; the launch is {what}")
    for name, fn in rows.items():
        print(f"{name:44s} {per_call_us(fn, args.calls):7.2f} us per call", flush=True)
    print(f"launch plans cached on this thread: {len(_ops._local.plans)}")
    if args.profile:
        name = next(n for n in rows if n.startswith(args.profile))
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.calls):
            rows[name]()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(20)


if __name__ == "__main__":
    sys.exit(main())
