"""A model of how evenly each order of the Q tiles (codegen::QTileOrder) spreads attention's work over the SMs.

    python3 python/bench/tile_order_model.py [--sms 132] [--overhead 1.2]

Each Q tile of BLOCK_M = 128 rows costs the K/V tiles it visits (BLOCK_N = 128) plus `--overhead` K/V tiles
for its prologue and epilogue; a causal Q tile i visits i + 1, one under a causal window of W keys
min(i + 1, W / 128 + 1). The orders:
  rr       the persistent grid, tiles dealt one by one (block b: tiles b, b + P, ...), the default order
           (a head's Q tiles consecutive, the last first);
  paired   the persistent grid dealing pairs (n - 1 - i, i) of one head;
  snake    the persistent grid dealing round k to blocks 0..P-1 when k is even, P-1..0 when odd;
  grid     one block per Q tile in the default order, dispatched greedily (each block to the first free
           SM, as the hardware does);
  lpt      the same grid, every head's heaviest Q tile first in sections of G heads (G from 32 MiB of
           L2 over the K and V of a head, as codegen_support/tile_order.h computes it).
It prints the slowest SM's work over the mean (1.000 is a perfect balance). The model has no L2: the
orders that interleave heads lose reuse that it does not count (docs/results/v0.22/README.md).
"""
import argparse
import heapq


def cases():
    """name -> (Q tiles per head, heads, cost of Q tile i in K/V tiles, K and V bytes per head, Q heads per KV head)."""
    kv = lambda s: s * 256 * 2  # noqa: E731  (D + Dv) * bf16 per key
    return {
        "causal B4 H16 S4096": (32, 64, lambda i: i + 1, kv(4096), 1),
        "causal B1 H16 S16384": (128, 16, lambda i: i + 1, kv(16384), 1),
        "Llama-3-8B B1 Hq32 Hkv8 S8192": (64, 32, lambda i: i + 1, kv(8192), 4),
        "ALiBi + causal B4 H16 S4096": (32, 64, lambda i: i + 1, kv(4096), 1),
        "sliding window 1024 B4 H16 S4096": (32, 64, lambda i: min(i + 1, 9), kv(4096), 1),
        "sliding window 4096 B1 H16 S16384": (128, 16, lambda i: min(i + 1, 33), kv(16384), 1),
    }


def deal(costs, sms, snake=False):
    """Static dealing of `costs` in order over `sms` blocks; the largest load."""
    loads = [0.0] * sms
    for n, c in enumerate(costs):
        rnd, k = divmod(n, sms)
        loads[sms - 1 - k if snake and rnd % 2 else k] += c
    return max(loads)


def greedy(costs, sms):
    """Greedy list scheduling of `costs` in order: each to the first free SM; the makespan."""
    free = [0.0] * sms
    for c in costs:
        heapq.heappush(free, heapq.heappop(free) + c)
    return max(free)


def section_heads(kv_bytes, q_per_kv, heads):
    return max(1, min(heads, (32 << 20) // max(1, kv_bytes) * q_per_kv))


def balance(tiles, heads, cost, kv_bytes, q_per_kv, sms, overhead):
    """{order: slowest SM / mean} for one case."""
    c = [cost(i) + overhead for i in range(tiles)]  # by Q tile index
    default = [c[tiles - 1 - x] for _ in range(heads) for x in range(tiles)]
    pairs = [c[tiles - 1 - i] + (c[i] if i != tiles - 1 - i else 0.0) for _ in range(heads)
             for i in range((tiles + 1) // 2)]
    g = section_heads(kv_bytes, q_per_kv, heads)
    lpt = []
    for first in range(0, heads, g):
        width = min(g, heads - first)
        lpt += [c[tiles - 1 - r] for r in range(tiles) for _ in range(width)]
    mean = sum(default) / sms
    return {"rr": deal(default, sms) / mean, "paired": deal(pairs, sms) / mean,
            "snake": deal(default, sms, snake=True) / mean, "grid": greedy(default, sms) / mean,
            "lpt": greedy(lpt, sms) / mean}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sms", type=int, default=132, help="SMs (blocks of the persistent grid); default 132")
    p.add_argument("--overhead", type=float, default=1.2, help="per-tile cost in K/V tiles; default 1.2")
    a = p.parse_args(argv)
    orders = ["rr", "paired", "snake", "grid", "lpt"]
    print("| case | " + " | ".join(orders) + " |")
    print("| --- |" + " --- |" * len(orders))
    for name, (tiles, heads, cost, kv_bytes, q_per_kv) in cases().items():
        b = balance(tiles, heads, cost, kv_bytes, q_per_kv, a.sms, a.overhead)
        print(f"| {name} | " + " | ".join(f"{b[o]:.3f}" for o in orders) + " |")


if __name__ == "__main__":
    main()
