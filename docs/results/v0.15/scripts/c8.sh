#!/usr/bin/env bash
# v0.15 call 8: issue 10's mask targets in steady state on both sides. Tilefuse: `tilefuse bench` (heuristic
# default schedules, untuned; --warmup-ms 500). FlexAttention: the cases of ../shared/bench/peers.py
# --variants (torch.compile'd flex_attention with a BlockMask) timed by bench_packed_peers.time_ms after
# 500 ms of calls (50 calls back to back, CUDA events). Block diagonal 64 is the document mask of 64-token
# documents here. Prints a markdown table last (x = Flex ms / Tilefuse ms; target >= 1.5).
#   run(command="bash docs/results/v0.15/scripts/c8.sh", carry=[".device-carry"], timeout_s=270)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
for L in 512 64; do
  python3 -c "import sys; L = int(sys.argv[1]); print(' '.join(str(j // L) for b in range(4) for j in range(4096)))" \
    "$L" > /tmp/doc_ids_$L.txt
done
variants=("sliding1024_causal|specs/bench/sliding1024_causal.json|"
          "sliding4096_causal_s16k|specs/sliding_window.json|--B 1 --Hq 16 --Hkv 16 --S 16384"
          "document_8docs|specs/document_mask.json|--B 4 --S 4096 --capture doc_ids=/tmp/doc_ids_512.txt"
          "document_64docs|specs/document_mask.json|--B 4 --S 4096 --capture doc_ids=/tmp/doc_ids_64.txt"
          "alibi_causal|specs/alibi.json|--B 4 --S 4096")
for v in "${variants[@]}"; do
  IFS='|' read -r name spec flags <<<"$v"
  # shellcheck disable=SC2086
  ms=$(TILEFUSE_CACHE_DIR=/tmp/c8 timeout 60 $tf bench $spec $flags --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | head -2 | tr '\n' ' ')
  echo "tilefuse $name: $ms"
done 2>&1 | tee $OUT/tilefuse.txt
echo "flex at $((SECONDS - T0)) s"
timeout $((250 - (SECONDS - T0))) python3 - <<'PY' 2>&1 | grep -v Warning | tee $OUT/flex.txt
import sys, torch
sys.path.insert(0, "python/bench")
from bench_packed_peers import time_ms
from torch.nn.attention.flex_attention import flex_attention, create_block_mask
flex = torch.compile(flex_attention)
H = 16
slopes = torch.exp2(-8.0 * torch.arange(1, H + 1, device="cuda") / H)
variants = {
    "sliding1024_causal": (4, 4096, None, lambda b, h, i, j: (i >= j) & (i - j < 1024)),
    "sliding4096_causal_s16k": (1, 16384, None, lambda b, h, i, j: (i >= j) & (i - j < 4096)),
    "document_8docs": (4, 4096, None, lambda b, h, i, j: (i // 512) == (j // 512)),
    "document_64docs": (4, 4096, None, lambda b, h, i, j: (i // 64) == (j // 64)),
    "alibi_causal": (4, 4096, lambda s, b, h, i, j: s + slopes[h] * (j - i), lambda b, h, i, j: i >= j),
}
for name, (B, S, sm, mk) in variants.items():
    torch.manual_seed(0)
    q = torch.randn(B, H, S, 128, device="cuda", dtype=torch.bfloat16)
    k = torch.randn_like(q)
    v = torch.randn_like(q)
    bm = create_block_mask(mk, None, None, S, S)
    fn = lambda: flex(q, k, v, score_mod=sm, block_mask=bm)
    r = time_ms(torch, fn, 5, 50, "cuda", warmup_ms=500.0)
    print(f"flex {name}: median {r['ms']:.3f} ms", flush=True)
    del q, k, v
PY
python3 - $OUT <<'PY'
import re, sys
out = sys.argv[1]
def read(f):
    d = {}
    for line in open(f"{out}/{f}"):
        m = re.match(r"(\w+) (\w+): median ([0-9.]+) ms", line)
        if m: d[m.group(2)] = float(m.group(3))
    return d
t, f = read("tilefuse.txt"), read("flex.txt")
print("| variant | Tilefuse ms | Flex ms | x Flex |\n| --- | --- | --- | --- |")
for n in t.keys() | f.keys():
    a, b = t.get(n), f.get(n)
    print(f"| {n} | {a or '-'} | {b or '-'} | {b / a:.2f} |" if a and b else f"| {n} | {a or '-'} | {b or '-'} | - |")
PY
echo "done at $((SECONDS - T0)) s"
