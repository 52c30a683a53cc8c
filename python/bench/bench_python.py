"""Times the Python entry points against PyTorch's FlexAttention and SDPA, in one process, and the
host overhead of a call through each layer (GPU machine only).

    python3 python/bench/bench_python.py [--reps 30] [--json OUT.json] [--overhead-only]

Kernel times: CUDA events around each call, median of --reps after 5 warm-ups, ms; TFLOP/s =
4 B H Sq Sk D / t, halved for causal. Overhead: host time per call on a tiny problem (B1 H1 S128
D64), microseconds: the median over 200 batches of 50 back-to-back calls, each batch timed from a
synchronized GPU and only while the host issues it (50 launches never fill the launch queue, so the
GPU's own time per kernel is not measured). Rows:
  * C API via ctypes: tilefuse_launch through ctypes with a prepared argument struct (the floor the
    Python layers add to);
  * tilefuse.flash_attn_func / flex_attention / attention: the public functions (a repeated call
    takes the cached launch plan: operand signature, output allocation, data pointers, launch);
  * torch.ops.tilefuse.attention: the op through PyTorch's dispatcher (what torch.compile calls);
  * torch sdpa: PyTorch's own per-call cost on the same problem, for scale.
"over C API" is the row minus the first; the target for the public functions is <= 10 us.
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
from tilefuse import _lib, _ops, _spec

torch._dynamo.config.cache_size_limit = 256
if hasattr(torch._dynamo.config, "recompile_limit"):
    torch._dynamo.config.recompile_limit = 256


def cuda_ms(fn, reps, warmup=5):
    """Median of ``reps`` CUDA-event timings of fn() after ``warmup`` untimed calls, ms (bench_density too)."""
    for _ in range(warmup):
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


def host_us(fn, batches=200, per_batch=50):
    for _ in range(50):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(batches):
        torch.cuda.synchronize()
        t0 = time.perf_counter_ns()
        for _ in range(per_batch):
            fn()
        times.append((time.perf_counter_ns() - t0) / per_batch / 1e3)
    torch.cuda.synchronize()
    return statistics.median(times)


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


def api_rows(q, k, v, qs, ks, vs, alibi, spec_text):
    """The Python entry points the overhead tables time, on one problem: q, k, v (B, H, S, D); qs, ks, vs
    the same as (B, S, H, D) for flash_attn_func; alibi a score_mod; spec_text the causal spec as JSON
    text (the op's argument). Shared with bench_host_cpu.py (the same rows with a stubbed launch). The
    document mask reads a captured tensor: a kernel with a run-time block mask, so its row includes the
    block-mask guard's check (_lib.BlockMaskGuard)."""
    doc_ids = torch.zeros(q.shape[0], q.shape[2], dtype=torch.int32, device=q.device)

    def document_mask(b, h, q_idx, kv_idx):
        return doc_ids[b, q_idx] == doc_ids[b, kv_idx]

    return {
        "tilefuse.flex_attention(document mask_mod)": lambda: tilefuse.flex_attention(q, k, v, mask_mod=document_mask),
        "tilefuse.flash_attn_func(causal)": lambda: tilefuse.flash_attn_func(qs, ks, vs, causal=True),
        "tilefuse.flex_attention(mask_mod)": lambda: tilefuse.flex_attention(q, k, v, mask_mod=causal_mask),
        "tilefuse.flex_attention(alibi, mask_mod)":
            lambda: tilefuse.flex_attention(q, k, v, score_mod=alibi, mask_mod=causal_mask),
        "tilefuse.attention(\"causal\")": lambda: tilefuse.attention(q, k, v, "causal"),
        "torch.ops.tilefuse.attention": lambda: torch.ops.tilefuse.attention(q, k, v, [], spec_text, "bhsd", False),
    }


def overhead_table():
    B, H, S, D = 1, 1, 128, 64
    q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    qs, ks, vs = (t.transpose(1, 2).contiguous() for t in (q, k, v))
    alibi = alibi_factory(H)
    spec = _spec.dumps(tilefuse.trace_spec(mask_mod=causal_mask, dtype=torch.bfloat16, head_dim=D, heads=(H, H)))
    with torch.no_grad():  # builds the kernels and the launch plans
        tilefuse.flex_attention(q, k, v, mask_mod=causal_mask)
        tilefuse.flex_attention(q, k, v, score_mod=alibi, mask_mod=causal_mask)
        tilefuse.flash_attn_func(qs, ks, vs, causal=True)
        tilefuse.attention(q, k, v, "causal")
    torch.ops.tilefuse.attention(q, k, v, [], spec, "bhsd", False)
    torch.cuda.synchronize()
    eng = _lib.engine(0)
    kernel = eng.kernels[(spec, (B, H, H, S, S, D, D), _ops.get_policy())]
    o = torch.empty_like(q)
    plan = _ops._build_plan(eng, kernel, 0, q, k, v, o, None, [], "bhsd", False)
    plan.slots[_ops._Q], plan.slots[_ops._K], plan.slots[_ops._V], plan.slots[_ops._O] = (
        q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr())
    launch, engine, addr = _lib.lib().tilefuse_launch_raw, plan.engine, plan.addr
    stream = torch.cuda.current_stream().cuda_stream

    def c_api():
        launch(engine, kernel, addr, stream)

    rows = {"C API via ctypes (prepared args)": c_api, **api_rows(q, k, v, qs, ks, vs, alibi, spec),
            "torch sdpa(is_causal) (for scale)": lambda: sdpa(q, k, v, is_causal=True)}
    result = {}
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            print(f"-- grad mode {'on' if grad else 'off (torch.no_grad)'}")
            base = None
            for name, fn in rows.items():
                us = host_us(fn)
                base = us if base is None else base
                result[f"{name}{'' if grad else ' [no_grad]'}"] = us
                print(f"{name:42s} {us:7.2f} us per call   over C API {us - base:+7.2f} us", flush=True)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=30)
    ap.add_argument("--json")
    ap.add_argument("--overhead-only", action="store_true", help="only the per-call host overhead table")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, tilefuse {tilefuse.native_version()}, "
          f"library {tilefuse.library_path()}", flush=True)
    print("== overhead per call (host, tiny problem)")
    overhead = overhead_table()
    kernels = None
    if not args.overhead_only:
        print("== kernels (bf16, ms, median of CUDA-event timings)")
        kernels = kernel_table(args.reps)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"overhead_us": overhead, "kernels": kernels, "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name()}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
