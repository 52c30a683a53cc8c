#!/usr/bin/env python3
# usage, from the repository root on the GPU machine (about 2 min at the default sizes, more with --max-autotune):
#   run(command="python3 tools/bench_chains_peers.py --check --json $OUT/chains-peers.json", timeout_s=600)
#   quick: python3 tools/bench_chains_peers.py --T 256 --D 512 --F 1024 --iters 20 --warmup-ms 100 --check
"""The PyTorch peers of Tilefuse's non-attention chains (issue 13, item 2): eager
and torch.compile (Inductor) on one GPU, in steady state.

The chains, bf16 in and out, Llama-3-8B sizes by default (T 4096 tokens,
D 4096 hidden, F 14336 FFN), eps 1e-5, weights in nn.Linear layout [out, in]:
  rmsnorm_matmul    N = x * rsqrt(mean(x^2, -1) + eps) * g  (f32, cast to bf16)
                    Y = N W^T          X [T, D], g [D], W [F, D] -> Y [T, F]
  layernorm_matmul  N = layer_norm(x, (D,), g, b, eps)
                    Y = N W^T          X [T, D], g, b [D], W [F, D] -> Y [T, F]
  rmsnorm_swiglu    N = RMSNorm(x; g)
                    Y = (silu(N W1^T) * (N W3^T)) W2^T
                                       W1, W3 [F, D], W2 [D, F] -> Y [T, D]
(examples/chains/rmsnorm_matmul.mlir is the first as Tilefuse IR.)

Inputs, from a seeded CUDA generator (--seed): x ~ N(0, 1), g ~ 1 + 0.1 N(0, 1),
b ~ 0.1 N(0, 1), W ~ N(0, 1) / sqrt(fan_in) (fan_in D for W, W1, W3 and F for
W2), so every output is O(1).

The implementations:
  eager                   the functions below, called as they are;
  inductor                torch.compile(fn, dynamic=False), default mode;
  inductor-max-autotune   mode="max-autotune-no-cudagraphs" (--max-autotune).
Dynamo's caches are reset before each compile, so no compiled graph is shared
between modes or sizes. Compile + first call is not timed; it is reported in s.

Timing (as python/bench/bench_packed_peers.py and `tilefuse bench` do): batches
of 10 back-to-back calls, synchronised, until --warmup-ms (500) of wall time
have passed, so the board is at its power limit (docs/results/v0.14, calls
5-9). Then --iters intervals, recorded back to back, each a CUDA event pair
around one call, or around k calls where one call takes under 0.1 ms (k so
that an interval is >= 0.1 ms, far above the events' ~0.5 us resolution);
per-call time = interval / k; reported: median and min in ms. The L2 cache is
not flushed (at the default sizes W alone is 117 MB, over an H200's 50 MB).

FLOPs: 2 T D F for the two matmul chains, 6 T D F for the SwiGLU FFN (three
matmuls); the norms' and the gate's O(T D) and O(T F) are not counted.
TFLOP/s = FLOPs / median time.

"What dominates": a few calls under torch.profiler, each GPU kernel classed as
matmul (cuBLAS / CUTLASS / Inductor template kernels, by name) or other (norm,
pointwise, reduction, copies); the note gives the matmul share of kernel time,
kernels per call, and the GPU's idle share of the median when it is large
(then launches, not the GPU, bound the call).

--check compares every implementation's Y with an fp64 reference (the same
formulas written out again in float64, matmuls in float64 on the GPU, from the
same bf16 inputs) at the small size --check-size (256,512,1024), printing
max |error| and max |reference|; it fails when max |error| > 2e-2 max |ref|
(bf16 rounding of N, of the gate and of Y gives about 4e-3).

Output: progress lines, then a Markdown table, last, on stdout; --json PATH
writes the rows (one object per chain and implementation, with the torch,
triton, CUDA versions and the GPU's name). An implementation that fails (out
of memory, compile error) becomes a row with its error; the exit status is 1
when a check fails or no implementation ran, 0 otherwise.
"""

import argparse
import json
import math
import os
import re
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    TORCH_IMPORT_ERROR = None
except ImportError as e:  # --help and argument errors need no torch
    torch = F = None
    TORCH_IMPORT_ERROR = str(e)

PROG = "bench_chains_peers.py"
EPS = 1e-5
CHAINS = ("rmsnorm_matmul", "layernorm_matmul", "rmsnorm_swiglu")
FLOPS_PER_TDF = {"rmsnorm_matmul": 2, "layernorm_matmul": 2, "rmsnorm_swiglu": 6}
MODES = {"inductor": "default", "inductor-max-autotune": "max-autotune-no-cudagraphs"}
DEVICE = "cuda"       # the inputs' device (a CPU smoke test of this script may set "cpu")
MIN_EVENT_MS = 0.1    # shortest interval timed by one CUDA event pair
CHECK_TOLERANCE = 2e-2  # max |Y - ref| / max |ref|
# GPU kernels counted as matmul: cuBLAS (gemm, nvjet, xmma, splitKreduce), CUTLASS, Inductor templates.
MATMUL_KERNEL = re.compile(r"gemm|nvjet|xmma|cutlass|cublas|splitkreduce|triton_tem|matmul|wgmma", re.I)


# --- the chains (bf16 in, bf16 out) -----------------------------------------

def rms_norm(x, g):
    """x [T, D] bf16, g [D] bf16 -> x * rsqrt(mean(x^2, -1) + eps) * g, in f32, as bf16."""
    xf = x.float()
    n = xf * torch.rsqrt(xf.square().mean(-1, keepdim=True) + EPS) * g.float()
    return n.to(x.dtype)


def rmsnorm_matmul(x, g, w):
    """Y [T, F] = RMSNorm(x; g) W^T; W [F, D]."""
    return F.linear(rms_norm(x, g), w)


def layernorm_matmul(x, g, b, w):
    """Y [T, F] = layer_norm(x; g, b) W^T; W [F, D]."""
    return F.linear(F.layer_norm(x, (x.shape[-1],), g, b, EPS), w)


def rmsnorm_swiglu(x, g, w1, w3, w2):
    """Y [T, D] = (silu(N W1^T) * (N W3^T)) W2^T, N = RMSNorm(x; g); W1, W3 [F, D], W2 [D, F]."""
    n = rms_norm(x, g)
    return F.linear(F.silu(F.linear(n, w1)) * F.linear(n, w3), w2)


CHAIN_FNS = {"rmsnorm_matmul": rmsnorm_matmul, "layernorm_matmul": layernorm_matmul,
             "rmsnorm_swiglu": rmsnorm_swiglu}


def reference(chain, inputs):
    """Y in float64 from the same (bf16) inputs, each formula written out again; no rounding inside."""
    t = [a.double() for a in inputs]
    x = t[0]
    if chain == "layernorm_matmul":
        g, b, w = t[1:]
        mean = x.mean(-1, keepdim=True)
        var = (x - mean).square().mean(-1, keepdim=True)
        return ((x - mean) / torch.sqrt(var + EPS) * g + b) @ w.T
    n = x / torch.sqrt(x.square().mean(-1, keepdim=True) + EPS) * t[1]
    if chain == "rmsnorm_matmul":
        return n @ t[2].T
    w1, w3, w2 = t[2:]
    a = n @ w1.T
    return (a * torch.sigmoid(a) * (n @ w3.T)) @ w2.T


def make_inputs(chain, T, D, Fdim, seed):
    """The chain's bf16 inputs on the GPU (see the module docstring for their distributions)."""
    gen = torch.Generator(device=DEVICE).manual_seed(seed)

    def randn(*shape, scale=1.0, shift=0.0):
        v = torch.randn(*shape, device=DEVICE, dtype=torch.float32, generator=gen)
        return (v * scale + shift).to(torch.bfloat16)

    x = randn(T, D)
    g = randn(D, scale=0.1, shift=1.0)
    if chain == "rmsnorm_matmul":
        return [x, g, randn(Fdim, D, scale=D ** -0.5)]
    if chain == "layernorm_matmul":
        return [x, g, randn(D, scale=0.1), randn(Fdim, D, scale=D ** -0.5)]
    return [x, g, randn(Fdim, D, scale=D ** -0.5), randn(Fdim, D, scale=D ** -0.5),
            randn(D, Fdim, scale=Fdim ** -0.5)]


def build(impl, chain):
    """The callable for `impl` (eager / inductor / inductor-max-autotune) on `chain`."""
    fn = CHAIN_FNS[chain]
    if impl == "eager":
        return fn
    torch._dynamo.reset()  # a fresh cache: nothing compiled for another mode or size is reused
    mode = MODES[impl]
    return torch.compile(fn, dynamic=False, mode=None if mode == "default" else mode)


# --- timing -------------------------------------------------------------------

def time_steady(fn, iters, warmup_ms):
    """Median, min and max ms per call of fn() in steady state (see the module docstring)."""
    sync = torch.cuda.synchronize
    # 1. warm-up: batches of 10 calls until warmup_ms of wall time have passed (at least one batch)
    sync()
    t0, warmup_calls = time.perf_counter(), 0
    while True:
        for _ in range(10):
            fn()
        warmup_calls += 10
        sync()
        if (time.perf_counter() - t0) * 1e3 >= warmup_ms:
            break
    # 2. an estimate of one call, from one event pair around 10 calls
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(10):
        fn()
    end.record()
    sync()
    estimate = start.elapsed_time(end) / 10
    # 3. calls per event pair, so that each interval is >= MIN_EVENT_MS
    per = max(1, math.ceil(MIN_EVENT_MS / max(estimate, 1e-6)))
    # 4. the timed intervals, back to back
    pairs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True))
             for _ in range(iters)]
    for s, e in pairs:
        s.record()
        for _ in range(per):
            fn()
        e.record()
    sync()
    times = sorted(s.elapsed_time(e) / per for s, e in pairs)
    return {"median_ms": statistics.median(times), "min_ms": times[0], "max_ms": times[-1],
            "calls_per_event": per, "warmup_calls": warmup_calls}


def kernel_split(fn, median_ms, calls=5):
    """What dominates one call: matmul share of GPU kernel time, kernels per call, GPU idle share."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            fn()
        torch.cuda.synchronize()
    matmul_us = other_us = 0.0
    kernels = 0
    for ev in prof.events():
        if ev.device_type != DeviceType.CUDA:
            continue
        us = ev.time_range.elapsed_us()
        kernels += 1
        if MATMUL_KERNEL.search(ev.name):
            matmul_us += us
        else:
            other_us += us
    busy_ms = (matmul_us + other_us) / calls / 1e3
    if kernels == 0 or busy_ms <= 0:
        return {"dominates": "profile saw no GPU kernels"}
    share = matmul_us / (matmul_us + other_us)
    idle = max(0.0, 1.0 - busy_ms / median_ms)
    note = f"matmul {100 * share:.0f}% / other {100 * (1 - share):.0f}% of GPU time, " \
           f"{kernels / calls:g} kernels"
    if idle > 0.2:
        note += f"; GPU idle {100 * idle:.0f}% (launch-bound)"
    return {"dominates": note, "matmul_fraction": share, "kernel_ms_per_call": busy_ms,
            "kernels_per_call": kernels / calls}


# --- one chain ------------------------------------------------------------------

def describe(e):
    """'OutOfMemoryError: CUDA out of memory. ...': the type and the first line of the message."""
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0][:200]}" if lines else type(e).__name__


def bench_chain(chain, impls, args, versions):
    """Rows (dicts) for each implementation of `chain` at --T/--D/--F."""
    T, D, Fdim = args.T, args.D, args.F
    flops = FLOPS_PER_TDF[chain] * T * D * Fdim
    rows = []
    inputs = make_inputs(chain, T, D, Fdim, args.seed)
    for impl in impls:
        row = {"chain": chain, "T": T, "D": D, "F": Fdim, "implementation": impl, "flops": flops,
               "iters": args.iters, "warmup_ms": args.warmup_ms, **versions}
        try:
            fn = build(impl, chain)
            t0 = time.perf_counter()
            fn(*inputs)
            torch.cuda.synchronize()
            first_s = time.perf_counter() - t0
            row["compile_s"] = first_s if impl != "eager" else None
            row.update(time_steady(lambda: fn(*inputs), args.iters, args.warmup_ms))
            row["tflops"] = flops / row["median_ms"] / 1e9
            try:
                row.update(kernel_split(lambda: fn(*inputs), row["median_ms"]))
            except Exception as e:  # noqa: BLE001 (no profiler: the timing still stands)
                row["dominates"] = f"profile unavailable: {type(e).__name__}"
            extra = f", compile + first call {first_s:.1f} s" if impl != "eager" else ""
            print(f"{chain} {impl}: {row['median_ms']:.3f} ms median, {row['min_ms']:.3f} min, "
                  f"{row['tflops']:.1f} TFLOP/s{extra}; {row['dominates']}", flush=True)
        except Exception as e:  # noqa: BLE001 (any failure: a row that says why)
            row["error"] = describe(e)
            print(f"{chain} {impl}: failed: {row['error']}", file=sys.stderr, flush=True)
            torch.cuda.empty_cache()
        rows.append(row)
    inputs.clear()  # frees the tensors (the lambdas above still name the list)
    torch.cuda.empty_cache()
    return rows


def check_chain(chain, impls, size, seed):
    """{impl: check result} comparing each implementation's Y with the fp64 reference at `size`."""
    T, D, Fdim = size
    inputs = make_inputs(chain, T, D, Fdim, seed)
    ref = reference(chain, inputs)
    ref_max = ref.abs().max().item()
    out = {}
    for impl in impls:
        result = {"T": T, "D": D, "F": Fdim, "max_abs_ref": ref_max}
        try:
            y = build(impl, chain)(*inputs)
            torch.cuda.synchronize()
            err = (y.double() - ref).abs().max().item()
            result.update(max_abs_err=err, passed=bool(err <= CHECK_TOLERANCE * ref_max))
            verdict = "PASS" if result["passed"] else "FAIL"
            print(f"check {chain} {impl} T={T} D={D} F={Fdim}: max |err| {err:.3e}, "
                  f"max |ref| {ref_max:.3e}, err / max |ref| {err / ref_max:.2e} -> {verdict}", flush=True)
        except Exception as e:  # noqa: BLE001
            result.update(passed=False, error=describe(e))
            print(f"check {chain} {impl}: failed: {result['error']}", file=sys.stderr, flush=True)
        out[impl] = result
    del inputs, ref
    torch.cuda.empty_cache()
    return out


# --- output ---------------------------------------------------------------------

def markdown(rows, args, versions):
    """The table, with a header line saying how it was measured."""
    lines = [f"PyTorch peers of the chains on {versions['gpu']} (torch {versions['torch']}, "
             f"triton {versions['triton']}, CUDA {versions['cuda']}), bf16. FLOPs: 2*T*D*F for "
             f"rmsnorm_matmul and layernorm_matmul, 6*T*D*F for rmsnorm_swiglu; TFLOP/s = FLOPs / median. "
             f"Median and min of {args.iters} timed calls (CUDA events) after {args.warmup_ms:g} ms of "
             f"warm-up calls; compile s = torch.compile's compile + first call, not timed.", "",
             "| chain | T | D | F | implementation | median ms | min ms | TFLOP/s | compile s | what dominates |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        head = f"| {r['chain']} | {r['T']} | {r['D']} | {r['F']} | {r['implementation']} |"
        if "error" in r:
            lines.append(f"{head} - | - | - | - | failed: {r['error'][:100].replace('|', '/')} |")
            continue
        compile_s = f"{r['compile_s']:.1f}" if r.get("compile_s") is not None else "-"
        lines.append(f"{head} {r['median_ms']:.3f} | {r['min_ms']:.3f} | {r['tflops']:.1f} | "
                     f"{compile_s} | {r['dominates']} |")
    return "\n".join(lines)


# --- arguments ------------------------------------------------------------------

def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range (must be >= 1)")
    return value


def nonnegative_ms(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 600000:
        raise argparse.ArgumentTypeError(f"{text} is out of range (0 to 600000 ms)")
    return value


def chain_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError("no chain named; choose from " + ", ".join(CHAINS))
    for n in names:
        if n not in CHAINS:
            raise argparse.ArgumentTypeError(f"unknown chain {n!r}; choose from " + ", ".join(CHAINS))
    return list(dict.fromkeys(names))


def size_triple(text):
    parts = text.split(",")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"{text!r}: expected three comma-separated integers T,D,F")
    return tuple(positive_int(p) for p in parts)


def parse_args(argv):
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--T", type=positive_int, default=4096, help="tokens (rows of X); default 4096")
    p.add_argument("--D", type=positive_int, default=4096, help="hidden size; default 4096")
    p.add_argument("--F", type=positive_int, default=14336, help="output / FFN size; default 14336")
    p.add_argument("--chains", type=chain_list, default=list(CHAINS), metavar="A,B",
                   help="chains to run, comma-separated; default all: " + ",".join(CHAINS))
    p.add_argument("--iters", type=positive_int, default=100, help="timed intervals; default 100")
    p.add_argument("--warmup-ms", type=nonnegative_ms, default=500.0,
                   help="untimed back-to-back calls for this long first; default 500")
    p.add_argument("--seed", type=int, default=0, help="seed of the inputs; default 0")
    p.add_argument("--max-autotune", action="store_true",
                   help='also torch.compile(mode="max-autotune-no-cudagraphs")')
    p.add_argument("--check", action="store_true",
                   help="compare every implementation with an fp64 reference at --check-size first")
    p.add_argument("--check-size", type=size_triple, default=(256, 512, 1024), metavar="T,D,F",
                   help="the size of --check; default 256,512,1024")
    p.add_argument("--json", metavar="PATH", help="write the rows here as JSON")
    args = p.parse_args(argv)
    if args.json:
        folder = os.path.dirname(os.path.abspath(args.json))
        if not os.path.isdir(folder):
            p.error(f"argument --json: folder {folder!r} does not exist")
    return args


def main(argv=None):
    args = parse_args(argv)
    if torch is None:
        raise SystemExit(f"{PROG}: PyTorch is not installed ({TORCH_IMPORT_ERROR}); "
                         f"this script needs PyTorch and a CUDA device")
    if not torch.cuda.is_available():
        raise SystemExit(f"{PROG}: no CUDA device (torch {torch.__version__} sees none)")
    try:
        import triton
        triton_version = triton.__version__
    except ImportError:
        triton_version = "not installed"
    versions = {"torch": torch.__version__, "triton": triton_version, "cuda": torch.version.cuda,
                "gpu": torch.cuda.get_device_name()}
    impls = ["eager", "inductor"] + (["inductor-max-autotune"] if args.max_autotune else [])
    print(f"{PROG}: {versions['gpu']}, torch {versions['torch']}, triton {versions['triton']}, "
          f"CUDA {versions['cuda']}; chains {','.join(args.chains)}; T={args.T} D={args.D} F={args.F}",
          flush=True)

    checks, failed_checks = {}, 0
    if args.check:
        for chain in args.chains:
            checks[chain] = check_chain(chain, impls, args.check_size, args.seed)
            failed_checks += sum(not c["passed"] for c in checks[chain].values())
    rows = []
    for chain in args.chains:
        for row in bench_chain(chain, impls, args, versions):
            if chain in checks:
                row["check"] = checks[chain][row["implementation"]]
            rows.append(row)

    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if failed_checks:
        print(f"{PROG}: {failed_checks} check(s) FAILED (see above)", flush=True)
    print()
    print(markdown(rows, args, versions), flush=True)
    if failed_checks or not any("median_ms" in r for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
