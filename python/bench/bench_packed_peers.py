"""The peers of Tilefuse's packed variable-length kernels (issue 10, target
"Packed sequences"), timed on one GPU in one process.

    # the lengths, once, for both this script and `tilefuse bench`:
    python3 python/bench/bench_packed_peers.py --write-lengths lens.txt \\
        --seed 1 --min 128 --max 4096 --total 65536
    # the peers on those lengths:
    python3 python/bench/bench_packed_peers.py --seqlens-file lens.txt \\
        [--heads 16] [--head-dim 128] [--causal] [--json peers.json]
    # Tilefuse on the same lengths (tools/device-bench-packed.sh runs all):
    tilefuse bench specs/varlen/causal.json --seqlens-file lens.txt --json

Lengths file: the format of `tilefuse bench --seqlens-file`
(compiler/lib/spec/Packed.cpp, parseSeqlensFile): offsets cu_seqlens
"0,L0,L0+L1,...", commas and / or white space between integers, '#' starts
a comment; or two lines "q: ..." and "k: ..." (the peers here are
self-attention, so k must equal q when given).

--write-lengths draws lengths uniformly from [--min, --max] until they hold
--total tokens; the last one is cut so that they sum to exactly --total (it
is then at least 1, possibly below --min). The draw is splitmix64 (Steele et
al. 2014), `min + x % (max - min + 1)` per length, as spec::randomLengths
draws it, so `--seed N` gives the lengths of
`tilefuse bench --seqlens-random MIN,MAX,TOTAL,N` too. It needs no torch.

The peers, bf16, random normal Q, K, V, scale 1 / sqrt(D), no LSE returned:
  flex        FlexAttention (torch.compile'd flex_attention, as its docs
              recommend) over the packed [1, H, total, D] tensors with a
              BlockMask from the document ids, doc[q_idx] == doc[kv_idx]
              (and q_idx >= kv_idx with --causal, which inside a document
              is the per-sequence causal mask);
  sdpa_cudnn  scaled_dot_product_attention under
              sdpa_kernel(SDPBackend.CUDNN_ATTENTION) on the zero-padded
              batch [B, H, max_len, D];
  sdpa_flash  the same under SDPBackend.FLASH_ATTENTION (FlashAttention-2).
The padded peers get is_causal with --causal: SDPA's causal mask is top-left
aligned, which is each sequence's own causal mask because Sq = Sk for every
sequence, and a valid row never sees a padding key. Without --causal they get
no key-padding mask (a mask would take them off their fast kernels; FA2
takes none): the padding costs them time but is not excluded from the
softmax, so only the longest sequence's output is exact. Padding and
unpadding copies are not timed. Both favour the padded peers.

Timing: CUDA events around every call, --warmup untimed calls first and more
until --warmup-ms (500) have passed, so the board is at its power limit as in
`tilefuse bench` (docs/results/v0.14), then the median (and min, max) of
--reps timed calls, in ms. Not timed, reported
apart in s: FlexAttention's create_block_mask and its compile + first call.
Effective FLOPs count only real tokens: per sequence 4 H L^2 D, halved with
--causal; TFLOP/s = effective FLOPs / time. A backend that fails (not
installed, refused for these sizes or this GPU, out of memory) is reported
as unavailable with the reason; the script still exits 0 unless no peer ran.

Check: each padded peer's output on the longest sequence is compared with
FlexAttention's on the same rows (max |difference|), so a wrong mask shows.

--device cpu runs the same code on the CPU at small sizes (host-clock
timings, meaningless as numbers; the cuDNN peer is then unavailable): a test
of this script on a machine without a GPU.
"""

import argparse
import json
import statistics
import sys
import time
import warnings

MASK64 = (1 << 64) - 1
# The padded peers: result name -> torch.nn.attention.SDPBackend member.
PADDED_PEERS = (("sdpa_cudnn", "CUDNN_ATTENTION"),
                ("sdpa_flash", "FLASH_ATTENTION"))


# --- lengths ----------------------------------------------------------------

def splitmix64(seed):
    """Endless splitmix64 stream (Steele, Lea and Flood 2014) from `seed`."""
    state = seed & MASK64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        yield z ^ (z >> 31)


def draw_lengths(min_len, max_len, total, seed):
    """Lengths uniform in [min_len, max_len] summing to exactly `total`.

    The last length is cut to what is left (>= 1). Raises ValueError for
    bounds outside 1 <= min_len <= max_len, total >= 1.
    """
    if min_len < 1 or max_len < min_len or total < 1:
        raise ValueError(f"need 1 <= --min <= --max and --total >= 1; got "
                         f"min {min_len}, max {max_len}, total {total}")
    span = max_len - min_len + 1
    stream = splitmix64(seed)
    lengths, used = [], 0
    while used < total:
        n = min(min_len + next(stream) % span, total - used)
        lengths.append(n)
        used += n
    return lengths


def offsets_of(lengths):
    """[5, 7] -> [0, 5, 12] (cu_seqlens)."""
    cu = [0]
    for n in lengths:
        cu.append(cu[-1] + n)
    return cu


def write_lengths(path, lengths, note):
    """Write `lengths` as one line of offsets, after a '#' comment line."""
    with open(path, "w", encoding="ascii") as f:
        f.write(f"# {note}\n")
        f.write(",".join(str(c) for c in offsets_of(lengths)) + "\n")


def parse_int_list(where, text):
    """'0,5, 12 20' -> [0, 5, 12, 20]; ValueError naming `where`."""
    tokens = text.replace(",", " ").split()
    if not tokens:
        raise ValueError(f"{where}: no integers")
    try:
        return [int(t) for t in tokens]
    except ValueError:
        raise ValueError(f"{where}: expected integers separated by commas, "
                         f"got '{text.strip()}'") from None


def read_lengths(path):
    """Sequence lengths from a --seqlens-file (see the module docstring).

    Raises ValueError for a malformed file, offsets that do not start at 0
    or decrease, or k offsets that differ from q's.
    """
    lists = {}
    with open(path, encoding="ascii") as f:
        for line_no, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            key = "q"
            if line[:2] in ("q:", "k:"):
                key, line = line[0], line[2:]
            elif "q" in lists:
                raise ValueError(f"{path}:{line_no}: a second list of "
                                 f"offsets; write 'q: ...' and 'k: ...'")
            if key in lists:
                raise ValueError(f"{path}:{line_no}: '{key}:' given twice")
            lists[key] = parse_int_list(f"{path}:{line_no}", line)
    cu = lists.get("q")
    if cu is None:
        raise ValueError(f"{path}: no cu_seqlens (a line such as 0,5,12)")
    if lists.get("k", cu) != cu:
        raise ValueError(f"{path}: cu_seqlens_k differs from cu_seqlens_q; "
                         f"the peers here are self-attention only")
    if len(cu) < 2 or cu[0] != 0:
        raise ValueError(f"{path}: offsets must start at 0 and hold at "
                         f"least one sequence")
    lengths = [b - a for a, b in zip(cu, cu[1:])]
    if min(lengths) < 0:
        raise ValueError(f"{path}: offsets must be non-decreasing")
    return lengths


# --- timing -----------------------------------------------------------------

def time_ms(torch, fn, warmup, reps, device, warmup_ms=0.0):
    """Median, min and max over `reps` calls of `fn`, in ms: CUDA events
    on a GPU, the host clock on the CPU (--device cpu, a smoke test).
    `warmup` calls first, then more until `warmup_ms` of wall time have
    passed: the board's steady state at its power limit, as `tilefuse bench
    --warmup-ms` times it (docs/results/v0.14, calls 5-9)."""
    for _ in range(warmup):
        fn()
    if device != "cpu":
        torch.cuda.synchronize()
    start = time.perf_counter()
    while (time.perf_counter() - start) * 1e3 < warmup_ms:
        for _ in range(10):
            fn()
        if device != "cpu":
            torch.cuda.synchronize()
    if device == "cpu":
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
        times.sort()
        return {"ms": statistics.median(times), "min_ms": times[0],
                "max_ms": times[-1], "reps": reps}
    torch.cuda.synchronize()
    events = [(torch.cuda.Event(enable_timing=True),
               torch.cuda.Event(enable_timing=True)) for _ in range(reps)]
    for start, end in events:
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    times = sorted(start.elapsed_time(end) for start, end in events)
    return {"ms": statistics.median(times), "min_ms": times[0],
            "max_ms": times[-1], "reps": reps}


def first_call(fn):
    """Run `fn` once, turning a failure into a reason that includes the
    warnings it raised (SDPA says there why a backend was refused)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return fn(), None
        except Exception as e:  # noqa: BLE001 (any failure: "unavailable")
            notes = "; ".join(str(w.message).strip() for w in caught)
            reason = f"{type(e).__name__}: {str(e).strip()}"
            return None, reason + (f" (warnings: {notes})" if notes else "")


# --- the peers --------------------------------------------------------------

def run_peers(args, lengths):
    """Time every peer on `lengths`; returns the result object."""
    try:  # here, not at the top: --write-lengths needs no torch
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError as e:
        raise SystemExit(f"bench_packed_peers.py: needs PyTorch: {e}")
    dev, dtype = args.device, torch.bfloat16
    if dev == "cuda" and not torch.cuda.is_available():
        raise SystemExit("bench_packed_peers.py: no CUDA device")

    def sync():
        if dev == "cuda":
            torch.cuda.synchronize()

    heads, dim, causal = args.heads, args.head_dim, args.causal
    lengths = [n for n in lengths if n > 0]  # empty sequences: no tokens
    total, batch, max_len = sum(lengths), len(lengths), max(lengths)
    flops = sum(4 * heads * n * n * dim for n in lengths)
    if causal:
        flops /= 2
    result = {
        "case": "causal" if causal else "non-causal",
        "lengths_file": args.seqlens_file, "sequences": batch,
        "total_tokens": total, "min_len": min(lengths), "max_len": max_len,
        "heads": heads, "head_dim": dim, "dtype": "bf16",
        "effective_flops": flops, "warmup": args.warmup, "warmup_ms": args.warmup_ms,
        "reps": args.reps,
        "torch": torch.__version__,
        "cudnn": torch.backends.cudnn.version(),
        "device": torch.cuda.get_device_name() if dev == "cuda" else "cpu",
        "peers": {},
    }
    print(f"packed batch: {batch} sequences, {total} tokens, lengths "
          f"{min(lengths)}..{max_len} ({args.seqlens_file}); H{heads} D{dim} "
          f"bf16, {result['case']}; {result['device']}, torch "
          f"{torch.__version__}")
    print(f"effective FLOPs: {flops:.4e} (per sequence 4 H L^2 D"
          f"{', halved for causal' if causal else ''})")

    gen = torch.Generator(device=dev).manual_seed(args.seed)
    q, k, v = (torch.randn(1, heads, total, dim, device=dev, dtype=dtype,
                           generator=gen) for _ in range(3))
    longest = max(range(batch), key=lambda b: lengths[b])
    start = offsets_of(lengths)[longest]
    reference = None  # FlexAttention's O on the longest sequence

    def report(name, timing, setup=None, extra=None):
        entry = dict(timing)
        entry["tflops"] = flops / timing["ms"] / 1e9
        entry.update(setup or {})
        entry.update(extra or {})
        result["peers"][name] = entry
        notes = ", ".join(f"{key} {val:.3g}" for key, val in entry.items()
                          if key.endswith("_s") or key.startswith("max_abs"))
        print(f"{name:11s} {entry['ms']:8.3f} ms  {entry['tflops']:6.1f} "
              f"TFLOP/s effective" + (f"  ({notes})" if notes else ""))

    def unavailable(name, reason):
        result["peers"][name] = {"error": reason}
        print(f"{name:11s} unavailable: {reason}")

    # (a) FlexAttention with the document (+ causal) BlockMask.
    try:
        from torch.nn.attention.flex_attention import (create_block_mask,
                                                       flex_attention)
        doc = torch.repeat_interleave(
            torch.arange(batch, device=dev, dtype=torch.int32),
            torch.tensor(lengths, device=dev))

        def document(b, h, q_idx, kv_idx):
            return doc[q_idx] == doc[kv_idx]

        def document_causal(b, h, q_idx, kv_idx):
            return (doc[q_idx] == doc[kv_idx]) & (q_idx >= kv_idx)

        mask_mod = document_causal if causal else document
        t0 = time.perf_counter()
        try:  # compiled, as its docs advise: no total x total mask in memory
            block_mask = torch.compile(create_block_mask)(
                mask_mod, None, None, total, total, device=dev)
        except Exception as e:  # noqa: BLE001
            print(f"flex: compiled create_block_mask failed ({e}); eager")
            block_mask = create_block_mask(mask_mod, None, None, total, total,
                                           device=dev)
        sync()
        mask_s = time.perf_counter() - t0
        flex = torch.compile(flex_attention, dynamic=False)
        t0 = time.perf_counter()
        out, why = first_call(lambda: flex(q, k, v, block_mask=block_mask))
        sync()
        setup = {"block_mask_s": mask_s,
                 "compile_s": time.perf_counter() - t0}
        if why:
            unavailable("flex", why)
        else:
            reference = out[0, :, start:start + max_len].float()
            del out
            report("flex", time_ms(torch, lambda: flex(
                q, k, v, block_mask=block_mask), args.warmup, args.reps, dev,
                args.warmup_ms),
                setup)
    except Exception as e:  # noqa: BLE001
        unavailable("flex", f"{type(e).__name__}: {str(e).strip()}")

    # (b), (c) SDPA on the zero-padded batch [B, H, max_len, D].
    padded = []
    for packed in (q, k, v):
        x = torch.zeros(batch, heads, max_len, dim, device=dev, dtype=dtype)
        for b, (lo, n) in enumerate(zip(offsets_of(lengths), lengths)):
            x[b, :, :n] = packed[0, :, lo:lo + n]
        padded.append(x)
    result["padded_shape"] = [batch, heads, max_len, dim]

    def sdpa():
        return F.scaled_dot_product_attention(*padded, is_causal=causal)

    for name, backend in PADDED_PEERS:
        try:
            with sdpa_kernel(getattr(SDPBackend, backend)):
                out, why = first_call(sdpa)
                if why:
                    unavailable(name, why)
                    continue
                check = {}
                if reference is not None:
                    diff = out[longest, :, :max_len].float() - reference
                    check["max_abs_diff_vs_flex"] = diff.abs().max().item()
                del out
                report(name, time_ms(torch, sdpa, args.warmup, args.reps, dev,
                                     args.warmup_ms),
                       extra=check)
        except Exception as e:  # noqa: BLE001
            unavailable(name, f"{type(e).__name__}: {str(e).strip()}")
        if dev == "cuda":
            torch.cuda.empty_cache()

    ran = {n: p["ms"] for n, p in result["peers"].items() if "ms" in p}
    if ran:
        fastest = min(ran, key=ran.get)
        result["faster_peer"] = fastest
        result["faster_peer_ms"] = ran[fastest]
        print(f"faster peer: {fastest} {ran[fastest]:.3f} ms")
    return result


# --- command line -----------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(
        description="Time FlexAttention (document BlockMask) and SDPA "
                    "(cuDNN, FlashAttention-2; zero-padded batch) on packed "
                    "variable-length sequences, or write their lengths.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--seqlens-file", metavar="PATH",
                   help="lengths as cu_seqlens offsets (the format of "
                   "tilefuse bench --seqlens-file)")
    p.add_argument("--heads", type=int, default=16, help="H (q = kv)")
    p.add_argument("--head-dim", type=int, default=128, help="D")
    p.add_argument("--causal", action="store_true",
                   help="causal inside each sequence")
    p.add_argument("--json", metavar="OUT", help="write the results here")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls")
    p.add_argument("--warmup-ms", type=float, default=500.0,
                   help="then untimed calls until this many ms have passed (the "
                        "board's steady state, as tilefuse bench --warmup-ms; 0: none)")
    p.add_argument("--reps", type=int, default=30, help="timed calls")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                   help="cpu: a smoke test of this script at small sizes")
    p.add_argument("--write-lengths", metavar="PATH",
                   help="draw lengths, write them to PATH and exit")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of the lengths (and of the inputs)")
    p.add_argument("--min", type=int, default=128, help="shortest length")
    p.add_argument("--max", type=int, default=4096, help="longest length")
    p.add_argument("--total", type=int, default=65536, help="tokens in all")
    args = p.parse_args(argv)

    if args.write_lengths:
        try:
            lengths = draw_lengths(args.min, args.max, args.total, args.seed)
        except ValueError as e:
            p.error(str(e))
        write_lengths(args.write_lengths, lengths,
                      f"{len(lengths)} lengths uniform in [{args.min}, "
                      f"{args.max}] (last cut), {args.total} tokens, seed "
                      f"{args.seed} (= tilefuse bench --seqlens-random "
                      f"{args.min},{args.max},{args.total},{args.seed})")
        print(f"wrote {args.write_lengths}: {len(lengths)} sequences, "
              f"{sum(lengths)} tokens, lengths {min(lengths)}.."
              f"{max(lengths)}")
        return 0
    if not args.seqlens_file:
        p.error("give --seqlens-file (or --write-lengths)")
    if args.heads < 1 or args.head_dim < 1 or args.reps < 1:
        p.error("--heads, --head-dim and --reps must be positive")
    try:
        lengths = read_lengths(args.seqlens_file)
    except (OSError, ValueError) as e:
        p.error(str(e))
    if sum(lengths) == 0:
        p.error(f"{args.seqlens_file}: no tokens")

    result = run_peers(args, lengths)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
    return 0 if "faster_peer" in result else 1


if __name__ == "__main__":
    sys.exit(main())
