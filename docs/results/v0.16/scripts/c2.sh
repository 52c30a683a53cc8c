#!/usr/bin/env bash
# v0.16 call 2: issue 10's mask targets and issue 9's variants, TUNED, both sides in steady state, in one
# call. Tilefuse: `tilefuse tune --budget 25`, then `tilefuse bench` of the cached winner (--warmup-ms 500).
# FlexAttention: peers.py --variants' cases, timed by bench_packed_peers.time_ms after 500 ms of calls, three
# variants per process (more recompile the kernel in one process: v0.15 call 8). Then the packed 64k-token
# batch (tools/device-bench-packed.sh, both sides after 500 ms of warm-up). Markdown tables last.
#   run(command="bash docs/results/v0.16/scripts/c2.sh", carry=[".device-carry"], timeout_s=580)
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
          "alibi_causal|specs/alibi.json|--B 4 --S 4096"
          "softcap30|specs/bench/softcap30.json|")
for v in "${variants[@]}"; do
  IFS='|' read -r name spec flags <<<"$v"
  # shellcheck disable=SC2086
  TILEFUSE_CACHE_DIR=/tmp/c2 timeout 40 $tf tune $spec $flags --budget 25 > /tmp/tune_$name.log 2>&1
  w=$(grep -E "^winner" /tmp/tune_$name.log | cut -c1-150)
  # shellcheck disable=SC2086
  ms=$(TILEFUSE_CACHE_DIR=/tmp/c2 timeout 60 $tf bench $spec $flags --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*|schedule: .{0,140}" | head -3 | tr '\n' ' ')
  echo "tilefuse $name: $ms | tune: $w"
done 2>&1 | tee $OUT/tilefuse.txt
echo "flex at $((SECONDS - T0)) s"
flex() {
timeout 150 python3 - "$@" <<'PY' 2>&1 | grep -v Warning
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
    "softcap30": (4, 4096, lambda s, b, h, i, j: 30.0 * torch.tanh(s / 30.0), None),
}
for name in sys.argv[1:]:
    B, S, sm, mk = variants[name]
    torch.manual_seed(0)
    q = torch.randn(B, H, S, 128, device="cuda", dtype=torch.bfloat16)
    k = torch.randn_like(q)
    v = torch.randn_like(q)
    bm = create_block_mask(mk, None, None, S, S) if mk else None
    fn = lambda: flex(q, k, v, score_mod=sm, block_mask=bm)
    r = time_ms(torch, fn, 5, 50, "cuda", warmup_ms=500.0)
    print(f"flex {name}: median {r['ms']:.3f} ms", flush=True)
    del q, k, v
PY
}
{ flex sliding1024_causal sliding4096_causal_s16k document_8docs; flex document_64docs alibi_causal softcap30; } | tee $OUT/flex.txt
python3 - $OUT <<'PY' | tee $OUT/masks-table.md
import re, sys
out = sys.argv[1]
def read(f):
    d = {}
    for line in open(f"{out}/{f}"):
        m = re.match(r"(\w+) (\w+): median ([0-9.]+) ms", line)
        if m: d[m.group(2)] = float(m.group(3))
    return d
t, f = read("tilefuse.txt"), read("flex.txt")
print("| variant | Tilefuse ms (tuned) | Flex ms | x Flex |\n| --- | --- | --- | --- |")
for n in t.keys() | f.keys():
    a, b = t.get(n), f.get(n)
    print(f"| {n} | {a or '-'} | {b or '-'} | {b / a:.2f} |" if a and b else f"| {n} | {a or '-'} | {b or '-'} | - |")
PY
echo "packed at $((SECONDS - T0)) s"
left=$((565 - (SECONDS - T0)))
OUT=/tmp/packed BUDGET=$left PEERS_ARGS="--warmup-ms 500" TILEFUSE=$tf bash tools/device-bench-packed.sh > /tmp/packed.log 2>&1
cp /tmp/packed/packed-table.md $OUT/packed-table.md 2>/dev/null; tail -8 /tmp/packed.log
echo "done at $((SECONDS - T0)) s"
