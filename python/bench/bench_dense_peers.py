"""The peers of Tilefuse's batched attention kernels (issue 9's table), timed
in steady state on one GPU in one process.

    python3 python/bench/bench_dense_peers.py --case 4,16,16,4096,128,0 \\
        [--case B,Hq,Hkv,S,D,causal ...] [--json peers.json]
    # Tilefuse on the same cases (tools/device-bench-steady.sh runs both):
    tilefuse bench specs/mha.json --B 4 --Hq 16 --Hkv 16 --S 4096 --D 128 --json

The peers, bf16, random normal Q [B, Hq, S, D], K and V [B, Hkv, S, D], scale
1 / sqrt(D), causal top-left (Sq = Sk, so it is also bottom-right):
  sdpa_cudnn  scaled_dot_product_attention under
              sdpa_kernel(SDPBackend.CUDNN_ATTENTION), enable_gqa when Hq > Hkv;
  sdpa_flash  the same under SDPBackend.FLASH_ATTENTION (FlashAttention-2);
  flex        FlexAttention (torch.compile'd flex_attention), with a causal
              BlockMask for causal cases.

Timing is bench_packed_peers.time_ms. After --warmup calls (5), calls go on
until --warmup-ms (500) have passed, so the board is at its power limit as it
is for `tilefuse bench` (default --warmup-ms 500). Then come --reps calls (50),
queued back to back with CUDA events around each, and the median in ms. Under
sustained load an H200 runs a long D128 kernel 10-15% slower than in its
first launches (docs/results/v0.14, calls 5-9). A burst timing (--warmup-ms 0)
therefore favours whichever side is timed first after an idle period.

--variant NAME times FlexAttention alone on each case with a score_mod / mask_mod
that SDPA cannot express (peers.py --variants' definitions; Tilefuse's specs in
specs/bench/README.md), query i and key j:
  alibi_causal        score + slopes[h] (j - i), slopes[h] = 2^(-8 (h + 1) / Hq); j <= i
  sliding1024_causal  i - 1024 < j <= i
  sliding4096_causal  i - 4096 < j <= i
Run one variant per process when timing several: Flex recompiles after a few
mask_mods in one process (docs/results/v0.15, call 8).

FLOPs: 4 B Hq S^2 D, halved when causal. A peer that fails (not installed,
refused for the case) is reported as unavailable with the reason. --device
cpu runs the same code on the CPU at small sizes: a test of the script, not a
measurement (cuDNN is then unavailable).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_packed_peers import first_call, time_ms  # noqa: E402

# The README's cases (B, Hq, Hkv, S, D, causal).
DEFAULT_CASES = ["16,16,16,1024,128,0", "4,16,16,4096,128,0", "1,16,16,16384,128,0",
                 "4,16,16,4096,128,1", "1,16,16,16384,128,1", "4,32,32,4096,64,0",
                 "1,32,8,8192,128,1"]


def parse_case(text):
    """B,Hq,Hkv,S,D,causal as six ints; SystemExit naming the field otherwise."""
    fields = ("B", "Hq", "Hkv", "S", "D", "causal")
    parts = text.split(",")
    if len(parts) != len(fields):
        raise SystemExit(f"--case {text!r}: expected {len(fields)} comma-separated "
                         f"integers {','.join(fields)}")
    values = {}
    for name, part in zip(fields, parts):
        try:
            values[name] = int(part)
        except ValueError:
            raise SystemExit(f"--case {text!r}: {name} = {part!r} is not an integer")
        if values[name] < (0 if name == "causal" else 1):
            raise SystemExit(f"--case {text!r}: {name} = {values[name]} is out of range")
    if values["causal"] not in (0, 1):
        raise SystemExit(f"--case {text!r}: causal = {values['causal']}; allowed: 0, 1")
    if values["Hq"] % values["Hkv"]:
        raise SystemExit(f"--case {text!r}: Hkv = {values['Hkv']} does not divide "
                         f"Hq = {values['Hq']}")
    return values


def variant_mods(name, Hq, torch, dev):
    """(score_mod or None, mask_mod) of --variant `name`; SystemExit listing the names otherwise."""
    if name == "alibi_causal":
        slopes = torch.exp2(-8.0 * torch.arange(1, Hq + 1, device=dev) / Hq)
        return (lambda s, b, h, i, j: s + slopes[h] * (j - i)), (lambda b, h, i, j: i >= j)
    for w in (1024, 4096):
        if name == f"sliding{w}_causal":
            return None, (lambda b, h, i, j, w=w: (i >= j) & (i - j < w))
    raise SystemExit(f"--variant {name!r}: allowed: alibi_causal, sliding1024_causal, sliding4096_causal")


def run_variant(args, case, variant, torch, flex, create_block_mask):
    """Times FlexAttention on one case with --variant `variant`; returns {"flex": result or {"error": why}}."""
    B, Hq, Hkv, S, D = (case[k] for k in ("B", "Hq", "Hkv", "S", "D"))
    dev = args.device
    score_mod, mask_mod = variant_mods(variant, Hq, torch, dev)
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    q = torch.randn(B, Hq, S, D, device=dev, dtype=torch.bfloat16, generator=gen)
    k = torch.randn(B, Hkv, S, D, device=dev, dtype=torch.bfloat16, generator=gen)
    v = torch.randn(B, Hkv, S, D, device=dev, dtype=torch.bfloat16, generator=gen)
    mask = create_block_mask(mask_mod, None, None, S, S, device=dev)

    def run_flex():
        return flex(q, k, v, score_mod=score_mod, block_mask=mask, enable_gqa=Hq != Hkv)
    _, why = first_call(run_flex)
    return {"flex": {"error": why} if why else time_ms(torch, run_flex, args.warmup, args.reps, dev, args.warmup_ms)}


def run_case(args, case, torch, F, SDPBackend, sdpa_kernel, flex, create_block_mask):
    """Times every peer on one case; returns {peer: result or {"error": why}}."""
    B, Hq, Hkv, S, D = (case[k] for k in ("B", "Hq", "Hkv", "S", "D"))
    causal = bool(case["causal"])
    dev = args.device
    gen = torch.Generator(device=dev).manual_seed(args.seed)
    q = torch.randn(B, Hq, S, D, device=dev, dtype=torch.bfloat16, generator=gen)
    k = torch.randn(B, Hkv, S, D, device=dev, dtype=torch.bfloat16, generator=gen)
    v = torch.randn(B, Hkv, S, D, device=dev, dtype=torch.bfloat16, generator=gen)
    gqa = Hq != Hkv
    out = {}
    for name, backend in (("sdpa_cudnn", SDPBackend.CUDNN_ATTENTION),
                          ("sdpa_flash", SDPBackend.FLASH_ATTENTION)):
        def sdpa(backend=backend):
            with sdpa_kernel(backend):
                return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=gqa)
        _, why = first_call(sdpa)
        out[name] = {"error": why} if why else time_ms(
            torch, sdpa, args.warmup, args.reps, dev, args.warmup_ms)
    mask = None
    if causal:
        mask = create_block_mask(lambda b, h, qi, ki: qi >= ki, None, None, S, S, device=dev)

    def run_flex():
        return flex(q, k, v, block_mask=mask, enable_gqa=gqa)
    _, why = first_call(run_flex)
    out["flex"] = {"error": why} if why else time_ms(
        torch, run_flex, args.warmup, args.reps, dev, args.warmup_ms)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", action="append", metavar="B,Hq,Hkv,S,D,causal",
                   help="a case (repeatable; default the README's seven)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls")
    p.add_argument("--warmup-ms", type=float, default=500.0,
                   help="then untimed calls until this many ms have passed (0: none)")
    p.add_argument("--reps", type=int, default=50, help="timed calls")
    p.add_argument("--seed", type=int, default=0, help="seed of Q, K, V")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--json", metavar="OUT", help="write the results here")
    p.add_argument("--variant", action="append", metavar="NAME",
                   help="time FlexAttention alone with this score_mod / mask_mod on each case (repeatable)")
    args = p.parse_args()
    if args.warmup < 0 or args.reps < 1 or not 0 <= args.warmup_ms <= 600000:
        raise SystemExit("--warmup >= 0, --reps >= 1 and 0 <= --warmup-ms <= 600000")
    cases = [parse_case(c) for c in (args.case or DEFAULT_CASES)]
    try:
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    except ImportError as e:
        raise SystemExit(f"bench_dense_peers.py: needs PyTorch: {e}")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_dense_peers.py: no CUDA device")
    flex = torch.compile(flex_attention, dynamic=False)
    results = []
    for case in cases:
        label = ",".join(str(case[k]) for k in ("B", "Hq", "Hkv", "S", "D", "causal"))
        flops = 4 * case["B"] * case["Hq"] * case["S"] ** 2 * case["D"] / (2 if case["causal"] else 1)
        runs = [(None, run_case(args, case, torch, F, SDPBackend, sdpa_kernel, flex, create_block_mask))] \
            if not args.variant else \
            [(v, run_variant(args, case, v, torch, flex, create_block_mask)) for v in args.variant]
        for variant, peers in runs:
            for name, r in peers.items():
                who = name if variant is None else f"{name}:{variant}"
                if "ms" in r:
                    r["tflops"] = flops / r["ms"] / 1e9
                    print(f"{label:<24} {who:<11} {r['ms']:8.3f} ms {r['tflops']:7.1f} TFLOP/s", flush=True)
                else:
                    print(f"{label:<24} {who:<11} unavailable: {r['error'][:120]}", flush=True)
            results.append({"case": label, "flops": flops, "peers": peers} |
                           ({} if variant is None else {"variant": variant}))
    timed = [r for c in results for r in c["peers"].values() if "ms" in r]
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"device": args.device, "warmup": args.warmup, "warmup_ms": args.warmup_ms,
                       "reps": args.reps, "cases": results}, f, indent=2)
    if not timed:
        raise SystemExit("bench_dense_peers.py: no peer ran")


if __name__ == "__main__":
    main()
