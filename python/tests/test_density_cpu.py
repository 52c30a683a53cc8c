"""The masks of the density benchmark (python/bench/bench_density.py), on CPU.

* Its exact densities agree with closed forms (documents, random tables, windows, causal).
* Every mask_mod it gives Tilefuse traces to a spec whose mask, evaluated by the independent parser
  (spec_eval.py), equals the Python function run eagerly.
* How the compiler classifies their tiles at the benchmark's shape (`tilefuse run` / `emit`): causal,
  the windows and the block diagonal are classified per tile from the tile's coordinates (no run-time
  block mask, the IO report's fused matmul FLOPs shrink with the density); the document mask and the
  random block table read captured tensors, so their kernels carry a run-time block mask.
"""

import importlib.util
import os

import pytest
import torch

import tilefuse

import spec_eval

_BENCH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "bench_density.py")


@pytest.fixture(scope="module")
def bench():
    if not os.path.isfile(_BENCH):
        pytest.skip(f"{_BENCH} not found")
    spec = importlib.util.spec_from_file_location("bench_density", _BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_densities_match_closed_forms(bench):
    B, S = 2, 512
    d = lambda m, per_batch=False: bench.density_of(m, B, S, "cpu", per_batch, chunk=128)  # noqa: E731
    assert d(None) == 1.0
    assert d(bench.causal_mask()) == (S + 1) / (2 * S)
    for w in (1, 40, 256):
        assert d(bench.window_mask(w)) == (w * S - w * (w - 1) // 2) / S ** 2
    assert d(bench.block_diagonal_mask()) == 64 / S
    assert d(bench.document_mask(bench.equal_documents(B, S, 4, "cpu")), True) == 0.25
    lengths = torch.bincount(bench.equal_documents(B, S, 3, "cpu")[0].long())
    assert sorted(lengths.tolist()) == [170, 171, 171]
    assert d(bench.document_mask(bench.equal_documents(B, S, 3, "cpu")), True) == \
        float((lengths.double() ** 2).sum() / S ** 2)
    table = bench.random_block_table(S, 0.25, 7, "cpu")
    assert table.dtype == torch.int32 and tuple(table.shape) == (4, 4) and int(table.sum()) == 4
    assert d(bench.block_table_mask(table)) == 4 * 128 * 128 / S ** 2
    assert torch.equal(table, bench.random_block_table(S, 0.25, 7, "cpu"))  # seeded


def test_cases_keep_their_captures_and_trace(bench):
    B, S, H = 2, 512, 4
    keep = []
    cases = bench.build_cases(bench.FAMILIES, B, S, "cpu", 0, False, keep)
    fams = {c.family for c in cases}
    assert fams == set(bench.FAMILIES)
    assert [c.param for c in cases if c.family == "window"] == [w for w in bench.WINDOWS if w < S]
    n_keep = len(keep)
    assert n_keep == sum(c.family in ("document", "random") for c in cases)
    fresh = next(c for c in cases if c.family == "random").fresh_mask_mod()
    assert len(keep) == n_keep + 1  # a fresh copy is kept too (its address must not be reused)

    score, b, h, q, kv = spec_eval.grid(B, 1, S, S)
    for c in cases + [bench.Case("random", "fresh", fresh)]:
        if c.mask_mod is None or c.spec_path is not None:
            continue
        spec = tilefuse.trace_spec(mask_mod=c.mask_mod, head_dim=64, heads=(H, H))
        env = {"score": score, "b": b, "h": h, "q_idx": q, "kv_idx": kv, "B": B, "Hq": H, "Hkv": H, "Sq": S, "Sk": S}
        names = sorted((spec.get("captures") or {}).keys())
        _, tensors = tilefuse.api._flex_prepare(None, c.mask_mod, torch.bfloat16, 64, 64, H, H, None, False)
        env.update(zip(names, tensors))
        got = spec_eval.evaluate(spec["mask_mod"], env).expand(B, 1, S, S)
        want = torch.as_tensor(c.mask_mod(b, h, q, kv)).expand(B, 1, S, S)
        assert torch.equal(got, want), (c.label, spec["mask_mod"])
        if c.family in ("document", "random"):
            assert names, c.label  # read as captured tensors (int32, passed as they are: no copy per call)
            assert all(spec["captures"][n]["dtype"] == "i32" for n in names)


def _specs(bench):
    S = 4096
    return {
        "causal": tilefuse.trace_spec(mask_mod=bench.causal_mask()),
        "window 256": tilefuse.trace_spec(mask_mod=bench.window_mask(256)),
        "window 40": tilefuse.trace_spec(mask_mod=bench.window_mask(40)),
        "block diagonal (traced)": tilefuse.trace_spec(mask_mod=bench.block_diagonal_mask()),
        "document": tilefuse.trace_spec(mask_mod=bench.document_mask(bench.equal_documents(4, S, 64, "cpu"))),
        "random": tilefuse.trace_spec(mask_mod=bench.block_table_mask(bench.random_block_table(S, 0.01, 0, "cpu"))),
    }


# name -> bound on fused / unfused matmul FLOPs at B4 S4096 (None: a run-time block mask instead)
_STATIC = {"causal": 0.52, "window 256": 0.08, "window 40": 0.032, "block diagonal (traced)": 1 / 64 + 1e-9,
           "document": None, "random": None}


@pytest.mark.parametrize("name", list(_STATIC))
def test_tile_classification_at_the_benchmark_shape(bench, run_cli, name):
    spec = _specs(bench)[name]
    bound = _STATIC[name]
    run = run_cli(spec, "run", "--no-ir", "--B", "4", "--S", "4096")
    assert all(c["fused"]["passed"] and c["unfused"]["passed"] for c in run["checks"]), name
    ratio = run["io_fused"]["total"]["flops"]["matmul"] / run["io_unfused"]["total"]["flops"]["matmul"]
    text = run_cli(spec, "emit", "--B", "4", "--S", "4096", "--arch", "sm_90a")["text"]
    if bound is not None:
        assert ratio <= bound, (name, ratio)
        assert "kv_num_blocks" not in text, f"{name}: classified statically, yet the kernel reads block-mask lists"
    else:
        assert "kv_num_blocks" in text, f"{name}: reads a captured tensor, the kernel should take a run-time block mask"


def test_shipped_block_diagonal_spec(bench, run_cli):
    import json
    from tilefuse import _spec
    path = bench.BLOCK_DIAGONAL_SPEC  # the checkout's; in the packed copy for the GPU machine, the wheel's
    if not os.path.isfile(path):
        path = _spec.shipped_spec_path("block_diagonal")
    if path is None:
        pytest.skip("specs/block_diagonal.json is neither in this checkout nor in the installed package")
    with open(path) as fh:
        spec = json.load(fh)
    run = run_cli(spec, "run", "--no-ir", "--B", "4", "--S", "4096")
    assert all(c["fused"]["passed"] and c["unfused"]["passed"] for c in run["checks"])
    assert run["io_fused"]["total"]["flops"]["matmul"] * 64 == run["io_unfused"]["total"]["flops"]["matmul"]
    assert run["fusion_diagnostics"] == ""
    assert "kv_num_blocks" not in run_cli(spec, "emit", "--arch", "sm_90a")["text"]
    # Sq != Sk: bottom-right aligned blocks, and Sq > Sk reads nothing out of range (no captures).
    for sq, sk in (("300", "1000"), ("1000", "300")):
        r = run_cli(spec, "run", "--Sq", sq, "--Sk", sk, "--B", "1")
        assert all(c["fused"]["passed"] and c["unfused"]["passed"] for c in r["checks"])
