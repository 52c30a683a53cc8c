"""Time against mask density: Tilefuse's masked kernels next to its dense kernel and FlexAttention
(issue 10, "Masks that pay"), in one process on one GPU.

    python3 python/bench/bench_density.py [--out DIR] [--reps 30] [--families dense,causal,...]
    python3 python/bench/bench_density.py --dry-run          # CPU: the cases, densities, traced specs
    python3 python/bench/bench_density.py --plot-only DIR/density.json --out DIR   # redraw the plot
    device: docs/results/v0.8/scripts/density.sh (installs the wheel as tools/device-python.sh does)

Problem: B4 H16 S4096 D128 bf16 (--B --H --S --D), the shape of issue 10's measurements. Families
and their densities (the fraction of (query, key) pairs the mask keeps, counted exactly):
  dense           no mask (1.0): the dense kernel;
  causal          q >= kv (about 0.5);
  window          causal sliding window q - kv < W, W = 2048 ... 40 (0.375 down to 0.0097);
  document        doc[b, q] == doc[b, kv] with n equal documents, n = 2 ... 100 (0.5 down to 0.01);
                  doc is a captured int32 [B, S] tensor, so Tilefuse builds a run-time block mask;
  random          table[q // 128, kv // 128] != 0 for a captured int32 [S/128, S/128] table with a
                  fixed number of random blocks set (0.5 down to 0.0098; rows with no block at all
                  are fully masked: O = 0 there);
  block_diagonal  specs/block_diagonal.json through tilefuse.attention: q // 64 == kv // 64 (64 / S),
                  classified per tile from its coordinates (no capture, no run-time block mask);
                  issue 10's target: >= 1.5x FlexAttention.
Tilefuse runs tilefuse.flex_attention with the same mask_mod closures FlexAttention gets (or the
spec file for block_diagonal); FlexAttention is torch.compile(flex_attention, dynamic=False) with
create_block_mask of that mask_mod (BLOCK_SIZE 128).

Timing: CUDA events around each call, the median of --reps (>= 20) after --warmup calls, both in
this process. Excluded from it, and reported apart: Tilefuse's first call (NVRTC compile, or tuning
with --policy tune, and the build of a run-time block mask), FlexAttention's compile and its
create_block_mask. A run-time block mask is built on the first launch for given capture addresses
and kept, so the timed calls reuse it; its build is estimated by calls with freshly copied captures
(new addresses: build + launch, CUDA events; the median of 3) minus the median
("tf_block_mask_build_ms").
Effective TFLOP/s = 4 B H S^2 D x density / time.

Check: on the slices (b, h) = (0, 0) and (B-1, H-1) both outputs are compared with an fp32
softmax(Q K^T scale + mask) V computed with the explicit mask (rows without keys give 0); a case
fails when Tilefuse's max abs error exceeds 2x FlexAttention's + 1e-4 (FlashAttention's rule, with
FlexAttention as the low-precision peer). The max abs difference of the whole outputs is printed too.

Outputs in --out (default $OUT, else ./density-out): density.json (raw numbers, rewritten after
every case), density.md (table), density.png and density.svg (matplotlib: time and effective
TFLOP/s against density). --budget stops starting new cases after that many seconds (default 200,
for a 240 s device slot); skipped cases are listed.
"""

from __future__ import annotations

import argparse
import json
import importlib
import math
import os
import signal
import statistics
import sys
import time
import traceback

import torch

import tilefuse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # this folder, also when loaded from a file path
from bench_python import cuda_ms  # noqa: E402  (the same CUDA-event timing as the entry points' bench)

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BLOCK_DIAGONAL_SPEC = os.path.join(ROOT, "specs", "block_diagonal.json")

FAMILIES = ("dense", "block_diagonal", "causal", "document", "random", "window")  # window last: 7 Flex compiles
WINDOWS = (2048, 1024, 512, 256, 128, 64, 40)            # causal sliding windows
DOCUMENTS = (2, 4, 8, 16, 32, 64, 100)                   # equal documents per row
RANDOM_FRACTIONS = (0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.01)  # of the 128x128 blocks
QUICK = {"window": (1024, 256, 64, 40), "document": (2, 8, 32, 100), "random": (0.5, 0.125, 0.03125, 0.01)}
TABLE_BLOCK = 128  # the random table's granularity (FlexAttention's and Tilefuse's default tile)


# --- mask_mods: one closure per case, given to both Tilefuse and FlexAttention --------------------

def causal_mask():
    def causal(b, h, q_idx, kv_idx):
        return q_idx >= kv_idx
    return causal


def window_mask(w: int):
    def window(b, h, q_idx, kv_idx):
        return (q_idx >= kv_idx) & (q_idx - kv_idx < w)
    return window


def document_mask(doc: torch.Tensor):
    """doc: int32 [B, S], the document of every position."""
    def document(b, h, q_idx, kv_idx):
        return doc[b, q_idx] == doc[b, kv_idx]
    return document


def block_table_mask(table: torch.Tensor):
    """table: int32 [ceil(S / 128), ceil(S / 128)], nonzero where a 128x128 block is kept."""
    def block_table(b, h, q_idx, kv_idx):
        return table[q_idx // 128, kv_idx // 128] != 0
    return block_table


def block_diagonal_mask():
    def block_diagonal(b, h, q_idx, kv_idx):
        return q_idx // 64 == kv_idx // 64
    return block_diagonal


def equal_documents(B: int, S: int, n: int, device) -> torch.Tensor:
    """int32 [B, S]: n documents of S / n positions (the first S % n one longer), ids sorted."""
    if not 1 <= n <= S:
        raise ValueError(f"{n} documents do not fit in S = {S}")
    ids = (torch.arange(S, device=device, dtype=torch.int64) * n) // S
    return ids.to(torch.int32).unsqueeze(0).expand(B, S).contiguous()


def random_block_table(S: int, fraction: float, seed: int, device) -> torch.Tensor:
    """int32 [nb, nb] (nb = ceil(S / 128)) with round(fraction nb^2) blocks set (at least 1), at
    positions drawn without replacement from a generator seeded with ``seed``."""
    nb = -(-S // TABLE_BLOCK)
    k = max(1, round(fraction * nb * nb))
    g = torch.Generator(device="cpu").manual_seed(seed)
    flat = torch.zeros(nb * nb, dtype=torch.int32)
    flat[torch.randperm(nb * nb, generator=g)[:k]] = 1
    return flat.view(nb, nb).to(device)


def mask_rows(mask_mod, b: int, S: int, rows: slice, device) -> torch.Tensor:
    """The mask of batch entry b (head 0) for query rows ``rows`` as a bool [rows, S] tensor, by
    broadcasting index tensors through mask_mod (the closures above are elementwise)."""
    q = torch.arange(rows.start, rows.stop, device=device).view(-1, 1)
    kv = torch.arange(S, device=device).view(1, -1)
    bt = torch.tensor(b, device=device)
    m = mask_mod(bt, torch.tensor(0, device=device), q, kv)
    return torch.as_tensor(m).to(device).expand(rows.stop - rows.start, S)


def density_of(mask_mod, B: int, S: int, device, batch_dependent: bool, chunk: int = 1024) -> float:
    """Exact fraction of kept (q, kv) pairs over the batch (b = 0 only when the mask ignores b)."""
    if mask_mod is None:
        return 1.0
    kept = 0
    batches = range(B) if batch_dependent else range(1)
    for b in batches:
        for r0 in range(0, S, chunk):
            kept += int(mask_rows(mask_mod, b, S, slice(r0, min(S, r0 + chunk)), device).sum().item())
    return kept / (len(batches) * S * S)


class Case:
    """One row: ``tf`` / ``flex`` (and ``tf_fresh``, a Tilefuse call with copies of the captures at
    new addresses) are built by ``bind(q, k, v, flex_fn)``."""

    def __init__(self, family, label, mask_mod, batch_dependent=False, fresh_mask_mod=None, spec_path=None,
                 param=None):
        self.family, self.label, self.mask_mod = family, label, mask_mod
        self.batch_dependent = batch_dependent
        self.fresh_mask_mod = fresh_mask_mod   # a function making the mask_mod again over copied captures
        self.spec_path = spec_path             # Tilefuse via tilefuse.attention(spec) instead
        self.param = param

    def tilefuse_call(self, q, k, v, mask_mod=None):
        if self.spec_path is not None:
            path = self.spec_path
            return lambda: tilefuse.attention(q, k, v, path)
        mm = mask_mod if mask_mod is not None else self.mask_mod
        return lambda: tilefuse.flex_attention(q, k, v, mask_mod=mm)


def build_cases(families, B: int, S: int, device, seed: int, quick: bool, keep: list):
    """The cases of ``families`` in order. Every captured tensor is appended to ``keep`` and kept for
    the process: a run-time block mask is cached under its captures' addresses, so an address must
    not be reused for other contents (see the module docstring)."""
    cases = []
    for fam in families:
        if fam == "dense":
            cases.append(Case("dense", "dense", None, param=None))
        elif fam == "causal":
            cases.append(Case("causal", "causal", causal_mask()))
        elif fam == "block_diagonal":
            cases.append(Case("block_diagonal", "block diagonal 64", block_diagonal_mask(),
                              spec_path=BLOCK_DIAGONAL_SPEC if os.path.isfile(BLOCK_DIAGONAL_SPEC)
                              else "block_diagonal", param=64))
        elif fam == "window":
            for w in (QUICK["window"] if quick else WINDOWS):
                if w < S:
                    cases.append(Case("window", f"causal window {w}", window_mask(w), param=w))
        elif fam == "document":
            for n in (QUICK["document"] if quick else DOCUMENTS):
                if n <= S:
                    doc = equal_documents(B, S, n, device)
                    keep.append(doc)

                    def fresh(doc=doc):
                        c = doc.clone()
                        keep.append(c)
                        return document_mask(c)
                    cases.append(Case("document", f"{n} documents", document_mask(doc), batch_dependent=True,
                                      fresh_mask_mod=fresh, param=n))
        elif fam == "random":
            for i, p in enumerate(QUICK["random"] if quick else RANDOM_FRACTIONS):
                table = random_block_table(S, p, seed + 1000 + i, device)
                keep.append(table)

                def fresh(table=table):
                    c = table.clone()
                    keep.append(c)
                    return block_table_mask(c)
                nset = int(table.sum().item())
                cases.append(Case("random", f"random blocks {nset}/{table.numel()}", block_table_mask(table),
                                  fresh_mask_mod=fresh, param=nset))
        else:
            raise ValueError(f"unknown family {fam!r}; choose from {', '.join(FAMILIES)}")
    return cases


# --- timing and checking ------------------------------------------------------------------------------

def once_ms(fn) -> float:
    """One call of fn() timed by CUDA events (whatever it enqueues and waits for), ms."""
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    fn()
    end.record()
    end.synchronize()
    return start.elapsed_time(end)


def wall_s(fn):
    """(result, seconds) of fn() from a synchronized GPU to a synchronized GPU."""
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    r = fn()
    torch.cuda.synchronize()
    return r, time.perf_counter() - t0


def reference_slice(q, k, v, mask_mod, b: int, h: int, scale: float) -> torch.Tensor:
    """fp32 softmax(Q K^T scale, masked) V for one (b, h); rows without keys are 0."""
    S = q.shape[2]
    qf, kf, vf = q[b, h].float(), k[b, h].float(), v[b, h].float()
    s = (qf @ kf.T) * scale
    if mask_mod is not None:
        s = s.masked_fill(~mask_rows(mask_mod, b, S, slice(0, S), q.device), float("-inf"))
    p = torch.softmax(s, dim=-1)
    return torch.nan_to_num(p, nan=0.0) @ vf


def kernel_infos(eng, before):
    """Info of the Tilefuse kernels built since ``before`` (a set of the engine's kernel keys)."""
    out = []
    for key, handle in list(eng.kernels.items()):
        if key in before:
            continue
        try:
            info = eng.info(handle)
            out.append({"schedule": info.get("schedule_json"), "origin": info.get("origin"),
                        "compile_ms": info.get("compile_ms"), "kernel": info.get("kernel_name"),
                        "registers": info.get("registers")})
        except Exception as e:  # the info is decoration; never lose a row for it
            out.append({"error": str(e)})
    return out


def run_case(case: Case, q, k, v, flex, create_block_mask, args, flop_dense: float) -> dict:
    from tilefuse import _lib
    B, H, S, D = q.shape
    row = {"family": case.family, "label": case.label, "param": case.param}
    row["density"] = density_of(case.mask_mod, B, S, q.device, case.batch_dependent)
    flop = flop_dense * row["density"]
    print(f"-- {case.label} (density {row['density']:.4f})", flush=True)
    out_tf = out_fx = None

    # Tilefuse: the first call builds the kernel (and the run-time block mask); then the timed calls.
    try:
        eng = _lib.engine(q.device.index if q.device.index is not None else torch.cuda.current_device())
        before = set(eng.kernels)
        tf = case.tilefuse_call(q, k, v)
        out_tf, first = wall_s(tf)
        row["tf_first_call_s"] = first
        row["tf_kernels"] = kernel_infos(eng, before) or "reused (built by an earlier case)"
        row["tf_ms"] = cuda_ms(tf, args.reps, args.warmup)
        row["tf_tflops"] = flop / row["tf_ms"] / 1e9
        if case.fresh_mask_mod is not None:  # 3 calls, each with captures copied to new addresses
            fresh = [once_ms(case.tilefuse_call(q, k, v, case.fresh_mask_mod())) for _ in range(3)]
            row["tf_fresh_captures_call_ms"] = statistics.median(fresh)
            row["tf_block_mask_build_ms"] = row["tf_fresh_captures_call_ms"] - row["tf_ms"]
    except Exception as e:
        row["tf_error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc()

    # FlexAttention: create_block_mask, the compile (first call), the timed calls.
    try:
        if case.mask_mod is not None:
            bm, bm_s = wall_s(lambda: create_block_mask(case.mask_mod, B if case.batch_dependent else None, None,
                                                        S, S, device=q.device))
            row["flex_create_block_mask_ms"] = bm_s * 1e3
            row["flex_blocks_skipped_fraction"] = float(bm.sparsity()) / 100.0 if hasattr(bm, "sparsity") else None
        else:
            bm = None
        fx = lambda: flex(q, k, v, block_mask=bm)  # noqa: E731
        out_fx, first = wall_s(fx)
        row["flex_first_call_s"] = first
        row["flex_ms"] = cuda_ms(fx, args.reps, args.warmup)
        row["flex_tflops"] = flop / row["flex_ms"] / 1e9
    except Exception as e:
        row["flex_error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc()

    if "tf_ms" in row and "flex_ms" in row:
        row["x_flex"] = row["flex_ms"] / row["tf_ms"]

    # Correctness on two (b, h) slices against fp32 with the explicit mask.
    try:
        scale = 1.0 / math.sqrt(D)
        tf_err = fx_err = 0.0
        for b, h in ((0, 0), (B - 1, H - 1)):
            ref = reference_slice(q, k, v, case.mask_mod, b, h, scale)
            if out_tf is not None:
                tf_err = max(tf_err, (out_tf[b, h].float() - ref).abs().max().item())
            if out_fx is not None:
                fx_err = max(fx_err, (out_fx[b, h].float() - ref).abs().max().item())
            del ref
        if out_tf is not None:
            row["tf_max_abs_err"] = tf_err
        if out_fx is not None:
            row["flex_max_abs_err"] = fx_err
        if out_tf is not None and out_fx is not None:
            row["tf_vs_flex_max_abs_diff"] = (out_tf.float() - out_fx.float()).abs().max().item()
            row["ok"] = bool(tf_err <= 2 * fx_err + 1e-4) and math.isfinite(tf_err)
        else:
            row["ok"] = False
    except Exception as e:
        row["check_error"] = f"{type(e).__name__}: {e}"
        row["ok"] = False
        traceback.print_exc()

    def f(key, fmt):
        return format(row[key], fmt) if row.get(key) is not None else "-"
    print(f"   tilefuse {f('tf_ms', '8.4f')} ms ({f('tf_tflops', '5.0f')} TFLOP/s eff)  "
          f"flex {f('flex_ms', '8.4f')} ms ({f('flex_tflops', '5.0f')})  x flex {f('x_flex', '5.2f')}  "
          f"err tf {f('tf_max_abs_err', '.2e')} flex {f('flex_max_abs_err', '.2e')}  "
          f"{'ok' if row['ok'] else 'FAIL'}", flush=True)
    if "tf_block_mask_build_ms" in row:
        print(f"   tilefuse block-mask build (fresh captures, estimate) {row['tf_block_mask_build_ms']:.3f} ms; "
              f"flex create_block_mask {f('flex_create_block_mask_ms', '.3f')} ms", flush=True)
    return row


# --- outputs --------------------------------------------------------------------------------------------

def write_json(path, meta, rows, skipped):
    with open(path + ".tmp", "w") as fh:
        json.dump({"meta": meta, "rows": rows, "skipped": skipped}, fh, indent=1)
    os.replace(path + ".tmp", path)


def markdown(meta, rows, skipped) -> str:
    def num(r, key, fmt):
        v = r.get(key)
        return format(v, fmt) if isinstance(v, (int, float)) else "–"
    lines = [f"# Time against mask density ({meta.get('gpu', '?')})", "",
             f"B{meta['B']} H{meta['H']} S{meta['S']} D{meta['D']} bf16; torch {meta.get('torch')}, tilefuse "
             f"{meta.get('tilefuse')} (policy {meta.get('policy')}). Median of {meta['reps']} CUDA-event timings "
             f"after {meta['warmup']} warm-up calls, both in one process. Effective TFLOP/s = 4 B H S² D × "
             "density / time; × Flex = Flex ms / Tilefuse ms.", "",
             "Not in the times: Tilefuse's first call (compile, run-time block-mask build) and FlexAttention's "
             "compile and create_block_mask; both builds are listed (Tilefuse's: one call with fresh capture "
             "addresses minus the median, an estimate).", "",
             f"Command: `{meta.get('command')}`", "",
             "| family | case | density | Tilefuse ms | Flex ms | × Flex | Tilefuse TFLOP/s | Flex TFLOP/s | "
             "TF block-mask build ms | Flex create_block_mask ms | max err TF / Flex | ok |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['family']} | {r['label']} | {num(r, 'density', '.4f')} | {num(r, 'tf_ms', '.4f')} | "
                     f"{num(r, 'flex_ms', '.4f')} | {num(r, 'x_flex', '.2f')} | {num(r, 'tf_tflops', '.0f')} | "
                     f"{num(r, 'flex_tflops', '.0f')} | {num(r, 'tf_block_mask_build_ms', '.3f')} | "
                     f"{num(r, 'flex_create_block_mask_ms', '.2f')} | {num(r, 'tf_max_abs_err', '.1e')} / "
                     f"{num(r, 'flex_max_abs_err', '.1e')} | {'yes' if r.get('ok') else '**FAIL**'} |")
    fails = [r for r in rows if not r.get("ok")]
    if fails:
        lines += ["", "Failures:"]
        for r in fails:
            why = r.get("tf_error") or r.get("flex_error") or r.get("check_error") or (
                f"Tilefuse err {r.get('tf_max_abs_err')} > 2 × Flex err {r.get('flex_max_abs_err')} + 1e-4")
            lines.append(f"- {r['label']}: {why}")
    if skipped:
        lines += ["", f"Skipped (time budget): {', '.join(skipped)}"]
    bd = [r for r in rows if r["family"] == "block_diagonal" and r.get("x_flex")]
    if bd:
        lines += ["", f"Block diagonal 64: {bd[0]['x_flex']:.2f}× FlexAttention (target ≥ 1.5: "
                      f"{'met' if bd[0]['x_flex'] >= 1.5 else 'missed'})."]
    return "\n".join(lines) + "\n"


COLORS = {"causal": "tab:red", "window": "tab:orange", "document": "tab:green", "random": "tab:purple",
          "block_diagonal": "tab:brown"}


def plot(meta, rows, out_base):
    """density.png / density.svg: time (log-log) and effective TFLOP/s against density."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_t, ax_f) = plt.subplots(1, 2, figsize=(15, 5.4))
    dense = next((r for r in rows if r["family"] == "dense"), None)
    for ax in (ax_t, ax_f):
        ax.set_xscale("log")
        ax.set_xlabel("mask density (fraction of scores kept)")
        ax.grid(True, which="both", alpha=0.3)
    ax_t.set_yscale("log")
    ax_t.set_ylabel("time per call (ms, median)")
    ax_f.set_ylabel("effective TFLOP/s (dense FLOPs × density / time)")
    xs_all = [r["density"] for r in rows if r.get("density")]
    if dense is not None and xs_all:
        lo, hi = min(xs_all) * 0.8, 1.05
        if dense.get("tf_ms"):
            ax_t.hlines(dense["tf_ms"], lo, hi, colors="black", label="Tilefuse dense kernel")
            ax_t.plot([lo, 1.0], [dense["tf_ms"] * lo, dense["tf_ms"]], ":", color="gray",
                      label="dense kernel × density (ideal)")
        if dense.get("flex_ms"):
            ax_t.hlines(dense["flex_ms"], lo, hi, colors="black", linestyles="dashed", label="Flex dense")
        for key, style, name in (("tf_tflops", "solid", "Tilefuse dense kernel"), ("flex_tflops", "dashed", "Flex dense")):
            if dense.get(key):
                ax_f.hlines(dense[key], lo, hi, colors="black", linestyles=style, label=name)
    for fam in [f for f in FAMILIES if f != "dense"]:
        fr = sorted((r for r in rows if r["family"] == fam), key=lambda r: r["density"])
        if not fr:
            continue
        c = COLORS.get(fam, None)
        marker = "*" if fam == "block_diagonal" else "o"
        for key_t, key_f, style, who, m in (("tf_ms", "tf_tflops", "-", "Tilefuse", marker),
                                            ("flex_ms", "flex_tflops", "--", "Flex", "x")):
            pts = [(r["density"], r[key_t], r[key_f]) for r in fr if r.get(key_t)]
            if not pts:
                continue
            x = [p[0] for p in pts]
            size = 12 if len(pts) == 1 else 7  # a family of one point (causal, block diagonal) stands out
            for ax, ys in ((ax_t, [p[1] for p in pts]), (ax_f, [p[2] for p in pts])):
                ax.plot(x, ys, style, marker=m, color=c, label=f"{who} {fam}", markersize=size,
                        markerfacecolor="none" if who == "Flex" and m != "x" else c, zorder=3)
        for r in fr:
            if not r.get("ok"):
                ax_t.annotate("FAIL", (r["density"], r.get("tf_ms") or r.get("flex_ms") or 1), color="red")
    handles, labels = {}, []
    for ax in (ax_t, ax_f):
        for hnd, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in handles:
                handles[lab] = hnd
                labels.append(lab)
    fig.legend([handles[lab] for lab in labels], labels, fontsize=8, loc="center right", frameon=False)
    fig.suptitle(f"Time against mask density: B{meta['B']} H{meta['H']} S{meta['S']} D{meta['D']} bf16, "
                 f"{meta.get('gpu', '?')} (Tilefuse {meta.get('tilefuse')}, policy {meta.get('policy')}; "
                 f"torch {meta.get('torch')} FlexAttention)", fontsize=10)
    fig.text(0.01, 0.01, f"{meta.get('command')}", fontsize=6, color="gray")
    fig.tight_layout(rect=(0, 0.03, 0.83, 0.95))
    fig.savefig(out_base + ".png", dpi=150)
    fig.savefig(out_base + ".svg")
    plt.close(fig)
    return [out_base + ".png", out_base + ".svg"]


# --- main -----------------------------------------------------------------------------------------------

def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.environ.get("OUT") or "density-out",
                    help="output folder (default: $OUT, else ./density-out)")
    ap.add_argument("--B", type=int, default=4)
    ap.add_argument("--H", type=int, default=16)
    ap.add_argument("--S", type=int, default=4096)
    ap.add_argument("--D", type=int, default=128)
    ap.add_argument("--reps", type=int, default=30, help="timed calls per measurement (>= 20)")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--families", default=",".join(FAMILIES), help=f"comma list of {', '.join(FAMILIES)}")
    ap.add_argument("--quick", action="store_true", help="4 densities per family instead of 7")
    ap.add_argument("--policy", default="heuristic", choices=("heuristic", "tune", "cache"),
                    help="Tilefuse kernel policy (tilefuse.set_policy); tuning happens in the untimed first call")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=float, default=200.0,
                    help="seconds after which no new case is started (the outputs are still written)")
    ap.add_argument("--dry-run", action="store_true",
                    help="no GPU: list the cases with their densities and traced Tilefuse specs")
    ap.add_argument("--plot-only", metavar="JSON", help="redraw density.md / .png / .svg from a density.json")
    args = ap.parse_args(argv)
    fams = [f.strip() for f in args.families.split(",") if f.strip()]
    bad = [f for f in fams if f not in FAMILIES]
    if bad:
        ap.error(f"unknown families {bad}; choose from {', '.join(FAMILIES)}")
    args.family_list = fams
    if args.reps < 20 and not args.dry_run:
        print(f"warning: --reps {args.reps} < 20 (issue 10 asks for a median of >= 20)", file=sys.stderr)
    for name in ("B", "H", "S", "D"):
        if getattr(args, name) <= 0:
            ap.error(f"--{name} must be positive")
    return args


def dry_run(args):
    keep = []
    cases = build_cases(args.family_list, args.B, args.S, "cpu", args.seed, args.quick, keep)
    for c in cases:
        d = density_of(c.mask_mod, args.B, args.S, "cpu", c.batch_dependent)
        if c.spec_path is not None:
            how = f"tilefuse.attention({os.path.relpath(c.spec_path, ROOT) if os.path.isabs(c.spec_path) else c.spec_path})"
        elif c.mask_mod is None:
            how = "tilefuse.flex_attention (no mask)"
        else:
            spec = tilefuse.trace_spec(mask_mod=c.mask_mod, head_dim=args.D, heads=(args.H, args.H))
            caps = ", ".join(f"{n} {v['dtype']}{v['shape']}" for n, v in (spec.get("captures") or {}).items())
            how = f"mask_mod {spec['mask_mod']}" + (f"; captures {caps}" if caps else "")
        print(f"{c.family:15s} {c.label:26s} density {d:.4f}  {how}")
    print(f"{len(cases)} cases")
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.dry_run:
        return dry_run(args)
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, "density")
    if args.plot_only:
        with open(args.plot_only) as fh:
            data = json.load(fh)
        with open(base + ".md", "w") as fh:
            fh.write(markdown(data["meta"], data["rows"], data.get("skipped", [])))
        print("wrote", base + ".md", *plot(data["meta"], data["rows"], base))
        return 0
    if not torch.cuda.is_available():
        print("bench_density: no CUDA GPU here (torch.cuda.is_available() is False); use --dry-run on a CPU "
              "machine", file=sys.stderr)
        return 2

    # torch._dynamo through importlib: an `import torch._dynamo` here would make `torch` a local name of
    # main, unbound at the torch.cuda check above (UnboundLocalError on the GPU machine, v0.8 call 4).
    dynamo = importlib.import_module("torch._dynamo")
    from torch.nn.attention.flex_attention import create_block_mask
    from torch.nn.attention.flex_attention import flex_attention as torch_flex
    dynamo.config.cache_size_limit = 256
    if hasattr(dynamo.config, "recompile_limit"):
        dynamo.config.recompile_limit = 256
    tilefuse.set_policy(args.policy)
    flex = torch.compile(torch_flex, dynamic=False)

    def stop(signum, frame):  # `timeout` sends SIGTERM: leave through the finally below (outputs written)
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)

    t_start = time.perf_counter()
    B, H, S, D = args.B, args.H, args.S, args.D
    meta = {"B": B, "H": H, "S": S, "D": D, "dtype": "bf16", "reps": args.reps, "warmup": args.warmup,
            "policy": args.policy, "seed": args.seed, "gpu": torch.cuda.get_device_name(),
            "torch": torch.__version__, "tilefuse": tilefuse.native_version(),
            "library": tilefuse.library_path(), "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
            "timing": "median of CUDA-event timings; first calls, compiles and block-mask builds excluded",
            "block_mask_build_in_times": False,
            "check": "max abs error vs fp32 with the explicit mask on (b,h) = (0,0), (B-1,H-1); "
                     "ok when Tilefuse's <= 2 x Flex's + 1e-4"}
    print(f"torch {meta['torch']}, {meta['gpu']}, tilefuse {meta['tilefuse']} ({meta['library']}), "
          f"policy {args.policy}; B{B} H{H} S{S} D{D} bf16", flush=True)
    torch.manual_seed(args.seed)
    q, k, v = (torch.randn(B, H, S, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    flop_dense = 4.0 * B * H * S * S * D
    keep = []
    cases = build_cases(args.family_list, B, S, "cuda", args.seed, args.quick, keep)
    rows, skipped = [], []
    try:
        with torch.no_grad():
            for case in cases:
                if time.perf_counter() - t_start > args.budget:
                    skipped.append(case.label)
                    continue
                rows.append(run_case(case, q, k, v, flex, create_block_mask, args, flop_dense))
                meta["elapsed_s"] = time.perf_counter() - t_start
                write_json(base + ".json", meta, rows, skipped)
    finally:
        meta["elapsed_s"] = time.perf_counter() - t_start
        write_json(base + ".json", meta, rows, skipped)
        md = markdown(meta, rows, skipped)
        with open(base + ".md", "w") as fh:
            fh.write(md)
        print(md, flush=True)
        try:
            print("wrote", base + ".json", base + ".md", *plot(meta, rows, base), flush=True)
        except Exception:
            traceback.print_exc()
            print("bench_density: the plot failed (see above); the JSON and the table are written", file=sys.stderr)
    failed = [r["label"] for r in rows if not r.get("ok")]
    if failed:
        print(f"bench_density: {len(failed)} case(s) FAILED the check or did not run: {', '.join(failed)}",
              file=sys.stderr)
    print(f"done in {time.perf_counter() - t_start:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
