#!/usr/bin/env bash
# v0.16 call 5: memcheck of q = registers kernels (call 4's runs were refused: --Hq 4 without --Hkv), then
# issue 10's sliding windows and ALiBi + causal re-tuned with q = registers in the tuner's space and timed
# in steady state against FlexAttention in the same call (both after 500 ms of warm-up; Flex as in call 2).
#   run(command="bash docs/results/v0.16/scripts/c5.sh", carry=[".device-carry"], timeout_s=480)
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
mkdir -p $OUT
Q='"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"registers","overlap":"pingpong"'
for v in "causal|--B 1 --Hq 4 --Hkv 4 --S 1000|,\"persistent\":true" "alibi|--B 1 --Hq 4 --Hkv 4 --S 777|" \
         "document_mask|--B 1 --Hq 4 --Hkv 4 --S 1500|,\"persistent\":true"; do
  IFS='|' read -r spec flags extra <<<"$v"
  # shellcheck disable=SC2086
  TILEFUSE_CACHE_DIR=/tmp/c-ms timeout 90 compute-sanitizer --tool memcheck --print-limit 5 $tf bench specs/$spec.json $flags \
    --schedule "{$Q$extra}" --reps 2 --warmup 1 --warmup-ms 0 > /tmp/ms.log 2>&1
  echo "memcheck $spec q=registers rc=$?: $(grep -E 'ERROR SUMMARY' /tmp/ms.log) $(grep -c PASS /tmp/ms.log) PASS $(grep -m1 -E 'error' /tmp/ms.log | cut -c1-160)"
done 2>&1 | tee $OUT/memcheck-summary.log
variants=("sliding1024_causal|specs/bench/sliding1024_causal.json|"
          "sliding4096_causal_s16k|specs/sliding_window.json|--B 1 --Hq 16 --Hkv 16 --S 16384"
          "alibi_causal|specs/alibi.json|--B 4 --S 4096")
for v in "${variants[@]}"; do
  IFS='|' read -r name spec flags <<<"$v"
  # shellcheck disable=SC2086
  TILEFUSE_CACHE_DIR=/tmp/c5 timeout 45 $tf tune $spec $flags --budget 30 > /tmp/tune_$name.log 2>&1
  w=$(grep -E "^winner" /tmp/tune_$name.log | cut -c1-170)
  for round in 1 2; do
    # shellcheck disable=SC2086
    ms=$(TILEFUSE_CACHE_DIR=/tmp/c5 timeout 60 $tf bench $spec $flags --reps 50 2>&1 | grep -oE "median [0-9.]+ ms|FAIL[A-Z]*" | head -2 | tr '\n' ' ')
    echo "tilefuse $name: $ms | round $round | tune: $w"
  done
done 2>&1 | tee $OUT/tilefuse.txt
echo "flex at $((SECONDS - T0)) s"
timeout 150 python3 - <<'PY' 2>&1 | grep -v Warning | tee $OUT/flex.txt
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
    "alibi_causal": (4, 4096, lambda s, b, h, i, j: s + slopes[h] * (j - i), lambda b, h, i, j: i >= j),
}
for name, (B, S, sm, mk) in variants.items():
    torch.manual_seed(0)
    q = torch.randn(B, H, S, 128, device="cuda", dtype=torch.bfloat16)
    k = torch.randn_like(q)
    v = torch.randn_like(q)
    bm = create_block_mask(mk, None, None, S, S)
    fn = lambda: flex(q, k, v, score_mod=sm, block_mask=bm)
    for rnd in (1, 2):
        r = time_ms(torch, fn, 5, 50, "cuda", warmup_ms=500.0)
        print(f"flex {name}: median {r['ms']:.3f} ms | round {rnd}", flush=True)
    del q, k, v
PY
python3 - $OUT <<'PY' | tee $OUT/masks-table.md
import re, sys, collections
out = sys.argv[1]
def read(f):
    d = collections.defaultdict(list)
    for line in open(f"{out}/{f}"):
        m = re.match(r"(\w+) (\w+): median ([0-9.]+) ms", line)
        if m: d[m.group(2)].append(float(m.group(3)))
    return d
t, f = read("tilefuse.txt"), read("flex.txt")
print("| variant | Tilefuse ms (tuned, 2 rounds) | Flex ms (2 rounds) | x Flex (medians of rounds) |\n| --- | --- | --- | --- |")
for n in t:
    a, b = sorted(t[n]), sorted(f.get(n, []))
    if a and b:
        print(f"| {n} | {' '.join(f'{x:.3f}' for x in a)} | {' '.join(f'{x:.3f}' for x in b)} | {sum(b) / len(b) / (sum(a) / len(a)):.2f} |")
PY
echo "done at $((SECONDS - T0)) s"
