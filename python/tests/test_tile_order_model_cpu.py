"""python/bench/tile_order_model.py: the balance model behind codegen::QTileOrder's docs (CPU only)."""
import importlib.util
import pathlib

_PATH = pathlib.Path(__file__).resolve().parents[1] / "bench" / "tile_order_model.py"
_spec = importlib.util.spec_from_file_location("tile_order_model", _PATH)
model = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(model)


def test_equal_tiles_balance_to_the_round_count():
    # 264 tiles of equal cost on 132 SMs: two rounds, every order perfect.
    one = lambda i: 1  # noqa: E731
    b = model.balance(4, 66, one, 1 << 20, 1, 132, 0.0)
    assert all(abs(v - 1.0) < 1e-9 for v in b.values()), b


def test_the_documented_orders():
    c = model.cases()
    sliding = model.balance(*c["sliding window 1024 B4 H16 S4096"], 132, 1.2)
    assert sliding["snake"] < sliding["rr"] - 0.03  # Schedule.h: 7% -> 3%
    causal = model.balance(*c["causal B4 H16 S4096"], 132, 1.2)
    assert causal["paired"] < causal["rr"] - 0.05
    assert causal["lpt"] < causal["grid"] - 0.04  # Schedule.h: 5-7% -> 1%
    for b in (sliding, causal):
        assert all(v >= 1.0 - 1e-9 for v in b.values()), b


def test_sections_follow_the_l2_budget():
    assert model.section_heads(2 << 20, 1, 64) == 16  # 2 MiB of K and V a head: 16 in 32 MiB
    assert model.section_heads(2 << 20, 4, 64) == 64  # GQA 4
    assert model.section_heads(64 << 20, 1, 64) == 1


def test_main_prints_a_table(capsys):
    model.main(["--sms", "132"])
    out = capsys.readouterr().out
    assert out.startswith("| case | rr | paired | snake | grid | lpt |")
    assert "sliding window 1024" in out
