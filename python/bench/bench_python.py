"""Times the Python entry points against PyTorch's FlexAttention and SDPA, in one process, and the
host overhead of a call through each layer (GPU machine only).

    python3 python/bench/bench_python.py [--reps 30] [--json OUT.json]

Kernel times: CUDA events around each call, median of --reps after 5 warm-ups, ms; TFLOP/s =
4 B H Sq Sk D / t, halved for causal. Overhead: host wall time per call of 2000 back-to-back calls
on a tiny problem (B1 H1 S128 D64, so the GPU is never the bottleneck), microseconds, for
  * ctypes launch: _lib.Launcher.launch with prebuilt arguments (the C API plus ctypes marshalling);
  * torch.ops.tilefuse.attention: the custom op through PyTorch's dispatcher;
  * tilefuse.flash_attn_func / tilefuse.flex_attention: the public functions (checks, cached trace,
    output allocation, launch).
The C API's own per-launch host cost (Engine::launch, 3.4-4.7 us on an H100) is in README.md.
"""

import argparse
import json
import statistics
import sys
import time

import torch
import torch._dynamo
from torch.nn.attention.flex_attention import create_block_mask
from torch.nn.attention.flex_attention import flex_attention as torch_flex
from torch.nn.functional import scaled_dot_product_attention as sdpa

import tilefuse
from tilefuse import _lib, _ops, api

torch._dynamo.config.cache_size_limit = 256
if hasattr(torch._dynamo.config, "recompile_limit"):
    torch._dynamo.config.recompile_limit = 256


def cuda_ms(fn, reps):
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def host_us(fn, n=2000):
    for _ in range(50):
        fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    t1 = time.perf_counter()
    torch.cuda.synchronize()
    return (t1 - t0) / n * 1e6


def softcap_mod(score, b, h, q_idx, kv_idx):
    return 30.0 * torch.tanh(score / 30.0)


def causal_mask(b, h, q_idx, kv_idx):
    return q_idx >= kv_idx


def alibi_factory(H):
    slopes = torch.tensor([2.0 ** (-8.0 * (i + 1) / H) for i in range(H)], device="cuda")

    def alibi(score, b, h, q_idx, kv_idx):
        return score + slopes[h] * (kv_idx - q_idx)
    return alibi


CASES = [  # name, B, H, S, D, score_mod, mask_mod
    ("causal", 4, 16, 4096, 128, None, causal_mask),
    ("causal S16k", 1, 16, 16384, 128, None, causal_mask),
    ("softcap30", 4, 16, 4096, 128, softcap_mod, None),
    ("softcap30 + causal", 4, 16, 4096, 128, softcap_mod, causal_mask),
    ("alibi + causal", 4, 16, 4096, 128, "alibi", causal_mask),
    ("dense", 4, 16, 4096, 128, None, None),
]


def kernel_table(reps):
    rows = []
    flex_compiled = torch.compile(torch_flex)
    for name, B, H, S, D, score_mod, mask_mod in CASES:
        if score_mod == "alibi":
            score_mod = alibi_factory(H)
        q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        t0 = time.perf_counter()
        out = tilefuse.flex_attention(q, k, v, score_mod=score_mod, mask_mod=mask_mod)
        torch.cuda.synchronize()
        first_s = time.perf_counter() - t0
        tf = cuda_ms(lambda: tilefuse.flex_attention(q, k, v, score_mod=score_mod, mask_mod=mask_mod), reps)
        bm = create_block_mask(mask_mod, None, None, S, S) if mask_mod else None
        ref = flex_compiled(q, k, v, score_mod=score_mod, block_mask=bm)
        fx = cuda_ms(lambda: flex_compiled(q, k, v, score_mod=score_mod, block_mask=bm), reps)
        err = (out.float() - ref.float()).abs().max().item()
        sd = None
        if score_mod is None:
            sd = cuda_ms(lambda: sdpa(q, k, v, is_causal=mask_mod is not None), reps)
        flop = 4 * B * H * S * S * D / (2 if mask_mod else 1)
        rows.append({"case": name, "B": B, "H": H, "S": S, "D": D, "tilefuse_ms": tf, "flex_ms": fx,
                     "sdpa_ms": sd, "tilefuse_tflops": flop / tf / 1e9, "flex_tflops": flop / fx / 1e9,
                     "x_flex": fx / tf, "max_abs_diff_vs_flex": err, "first_call_s": first_s})
        print(f"{name:22s} tilefuse {tf:7.3f} ms ({flop / tf / 1e9:5.0f} TFLOP/s)  flex {fx:7.3f} ms "
              f"({flop / fx / 1e9:5.0f})  x{fx / tf:4.2f}" + (f"  sdpa {sd:7.3f} ms" if sd else "")
              + f"  |diff| {err:.2e}  first call {first_s:.2f} s", flush=True)
    return rows


def overhead_table():
    B, H, S, D = 1, 1, 128, 64
    q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    qs, ks, vs = (t.transpose(1, 2).contiguous() for t in (q, k, v))
    tilefuse.flex_attention(q, k, v, mask_mod=causal_mask)
    spec, _ = api._flex_prepare(None, causal_mask, torch.bfloat16, D, D, H, H, None, False)
    eng = _lib.engine(0)
    kernel = eng.kernels[(spec, (B, H, H, S, S, D, D), _ops.get_policy())]
    o = torch.empty_like(q)
    stream = torch.cuda.current_stream().cuda_stream
    strides = (H * S * D, S * D, D)

    def raw():
        _lib.Launcher.launch(eng, kernel, (B, H, H, S, S), (q.data_ptr(), *strides), (k.data_ptr(), *strides),
                             (v.data_ptr(), *strides), (o.data_ptr(), *strides), None, [], stream)

    rows = {
        "ctypes launch (C API + ctypes)": host_us(raw),
        "torch.ops.tilefuse.attention": host_us(lambda: torch.ops.tilefuse.attention(q, k, v, [], spec, "bhsd", False)),
        "tilefuse.flash_attn_func(causal)": host_us(lambda: tilefuse.flash_attn_func(qs, ks, vs, causal=True)),
        "tilefuse.flex_attention(mask_mod)": host_us(lambda: tilefuse.flex_attention(q, k, v, mask_mod=causal_mask)),
        "tilefuse.flex_attention(alibi, mask)": None,
        "torch sdpa (for scale)": host_us(lambda: sdpa(q, k, v, is_causal=True)),
    }
    alibi = alibi_factory(H)
    rows["tilefuse.flex_attention(alibi, mask)"] = host_us(
        lambda: tilefuse.flex_attention(q, k, v, score_mod=alibi, mask_mod=causal_mask))
    for name, us in rows.items():
        print(f"{name:40s} {us:7.2f} us per call", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--json")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, tilefuse {tilefuse.native_version()}, "
          f"library {tilefuse.library_path()}", flush=True)
    print("== overhead per call (host, tiny problem)")
    overhead = overhead_table()
    print("== kernels (bf16, ms, median of CUDA-event timings)")
    kernels = kernel_table(args.reps)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"overhead_us": overhead, "kernels": kernels, "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name()}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
