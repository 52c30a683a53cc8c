#!/usr/bin/env bash
# v0.15 call 9: call 8's FlexAttention times against its do_bench times, side by side. For issue 10's mask
# cases: Tilefuse `tilefuse bench` after --warmup-ms 0 (burst) and 500 (steady, default), untuned; Flex in one
# process, each case by triton.testing.do_bench (peers.py's bench: warmup 50 ms, rep 300 ms, median) and by
# bench_packed_peers.time_ms after 500 ms of calls (call 8's timing).
#   run(command="bash docs/results/v0.15/scripts/c9.sh", carry=[".device-carry"], timeout_s=200)
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
          "document_8docs|specs/document_mask.json|--B 4 --S 4096 --capture doc_ids=/tmp/doc_ids_512.txt"
          "document_64docs|specs/document_mask.json|--B 4 --S 4096 --capture doc_ids=/tmp/doc_ids_64.txt")
for v in "${variants[@]}"; do
  IFS='|' read -r name spec flags <<<"$v"
  for w in 0 500; do
    # shellcheck disable=SC2086
    ms=$(TILEFUSE_CACHE_DIR=/tmp/c9 timeout 60 $tf bench $spec $flags --reps 50 --warmup-ms $w 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | head -1)
    echo "tilefuse $name warmup-ms $w: $ms"
  done
done 2>&1 | tee $OUT/tilefuse.txt
timeout $((170 - (SECONDS - T0))) python3 - <<'PY' 2>&1 | grep -v Warning | tee $OUT/flex.txt
import sys, torch
sys.path.insert(0, "python/bench")
from bench_packed_peers import time_ms
from triton.testing import do_bench
from torch.nn.attention.flex_attention import flex_attention, create_block_mask
flex = torch.compile(flex_attention)
variants = {
    "sliding1024_causal": lambda b, h, i, j: (i >= j) & (i - j < 1024),
    "document_8docs": lambda b, h, i, j: (i // 512) == (j // 512),
    "document_64docs": lambda b, h, i, j: (i // 64) == (j // 64),
}
for name, mk in variants.items():
    torch.manual_seed(0)
    q = torch.randn(4, 16, 4096, 128, device="cuda", dtype=torch.bfloat16)
    k = torch.randn_like(q)
    v = torch.randn_like(q)
    bm = create_block_mask(mk, None, None, 4096, 4096)
    fn = lambda: flex(q, k, v, block_mask=bm)
    fn()
    a = do_bench(fn, warmup=50, rep=300, return_mode="median")
    b = time_ms(torch, fn, 5, 50, "cuda", warmup_ms=500.0)["ms"]
    c = do_bench(fn, warmup=50, rep=300, return_mode="median")
    print(f"flex {name}: do_bench {a:.3f} ms, steady {b:.3f} ms, do_bench again {c:.3f} ms", flush=True)
PY
echo "done at $((SECONDS - T0)) s"
