"""The steady-state peers script of issue 9's table (python/bench/bench_dense_peers.py), on CPU.

* `--case` is parsed into its six fields, and a bad one is refused naming the field.
* The timing helper honours its steady-state warm-up: calls go on until `warmup_ms` have passed.
* `--variant` times FlexAttention alone with ALiBi or a sliding window, and refuses an unknown name.
* The script runs end to end on the CPU on a tiny GQA causal case (`--device cpu`). It writes a JSON
  with a time for FlashAttention-2's and FlexAttention's paths, and reports cuDNN as unavailable with a
  reason.
"""

import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest
import torch

_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench")
_SCRIPT = os.path.join(_DIR, "bench_dense_peers.py")


@pytest.fixture(scope="module")
def peers():
    if not os.path.isfile(_SCRIPT):
        pytest.skip(f"{_SCRIPT} not found")
    sys.path.insert(0, _DIR)
    spec = importlib.util.spec_from_file_location("bench_dense_peers", _SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_case_parsing(peers):
    assert peers.parse_case("1,32,8,8192,128,1") == {"B": 1, "Hq": 32, "Hkv": 8, "S": 8192, "D": 128, "causal": 1}
    for bad, says in (("1,2,3", "expected 6"), ("1,2,x,4,5,0", "Hkv = 'x'"), ("1,2,2,0,16,0", "S = 0"),
                      ("1,2,2,4,16,2", "causal = 2"), ("1,4,3,4,16,0", "Hkv = 3 does not divide")):
        with pytest.raises(SystemExit, match=says):
            peers.parse_case(bad)


def test_timing_warms_up_for_the_time_asked(peers):
    calls = []

    def fn():
        calls.append(time.perf_counter())

    start = time.perf_counter()
    r = peers.time_ms(torch, fn, 2, 3, "cpu", warmup_ms=60.0)
    assert time.perf_counter() - start >= 0.06
    assert r["reps"] == 3 and len(calls) > 2 + 3  # the warm-up went on past its 2 calls
    calls.clear()
    peers.time_ms(torch, fn, 2, 3, "cpu", warmup_ms=0.0)
    assert len(calls) == 2 + 3


def test_script_runs_on_cpu(tmp_path):
    out = tmp_path / "peers.json"
    r = subprocess.run([sys.executable, _SCRIPT, "--device", "cpu", "--case", "1,2,1,32,16,1", "--reps", "2",
                        "--warmup", "1", "--warmup-ms", "5", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    data = json.loads(out.read_text())
    assert data["warmup_ms"] == 5.0
    (case,) = data["cases"]
    assert case["case"] == "1,2,1,32,16,1"
    assert case["flops"] == 4 * 1 * 2 * 32 ** 2 * 16 / 2
    got = case["peers"]
    assert got["sdpa_flash"]["ms"] > 0 and got["flex"]["ms"] > 0
    assert "error" in got["sdpa_cudnn"]


def test_variants_run_on_cpu(tmp_path, peers):
    # The variants' mods match their definitions at a few positions (ALiBi's slope of head 0 of 2 is 2^-4).
    score, mask = peers.variant_mods("alibi_causal", 2, torch, "cpu")
    h0 = torch.tensor(0)
    assert float(score(torch.tensor(1.0), 0, h0, torch.tensor(5), torch.tensor(3))) == 1.0 - 2 * 2.0 ** -4
    assert bool(mask(0, 0, torch.tensor(5), torch.tensor(5))) and not bool(mask(0, 0, torch.tensor(4), torch.tensor(5)))
    _, window = peers.variant_mods("sliding1024_causal", 2, torch, "cpu")
    i = torch.tensor(2000)
    assert bool(window(0, 0, i, torch.tensor(977))) and not bool(window(0, 0, i, torch.tensor(976)))
    with pytest.raises(SystemExit, match="allowed: alibi_causal"):
        peers.variant_mods("sliding99_causal", 2, torch, "cpu")
    out = tmp_path / "variants.json"
    r = subprocess.run([sys.executable, _SCRIPT, "--device", "cpu", "--case", "1,2,1,32,16,1", "--reps", "2",
                        "--warmup", "1", "--warmup-ms", "5", "--variant", "alibi_causal",
                        "--variant", "sliding1024_causal", "--json", str(out)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    cases = json.loads(out.read_text())["cases"]
    assert [c["variant"] for c in cases] == ["alibi_causal", "sliding1024_causal"]
    for c in cases:
        assert set(c["peers"]) == {"flex"} and c["peers"]["flex"]["ms"] > 0
    assert "flex:alibi_causal" in r.stdout
