#!/usr/bin/env bash
# v0.18 call 1: the non-attention chains of examples/chains (issue 13, item 2; commit 584422d) on a GPU for
# the first time.
# 1. Unpack the bundle (tools/device-unpack.sh) and the chain test binary (.device-carry/gpu).
# 2. tests/gpu/test_chains.cpp: "[chains]" (rmsnorm_matmul, layernorm_matmul, rmsnorm_swiglu, BLOCK_N 64 and 32,
#    (T, D, F) in {(1,8,1), (64,64,64), (65,72,63), (200,200,130), (130,520,257)}, padded and dense (even F)
#    rows, against the fp64 interpreter on the unfused program: max|Y - ref| <= 2^-7 max|ref|, no NaN, the
#    padding untouched; and its CPU cases).
# 3. `tilefuse bench --json` of rmsnorm_matmul and layernorm_matmul at T=4096 D=4096 F=14336 (Llama-3-8B's
#    FFN up projection), and of rmsnorm_swiglu at T=1024 D=1024 F=2816 when `tilefuse emit` builds it.
# 5. compute-sanitizer memcheck of the rmsnorm_matmul bench at T=130 D=520 F=257 (odd F: bench pads rows to
#    16 bytes) and at F=258. Run before 4 so that the peers cannot crowd it out.
# 4. tools/bench_chains_peers.py --check --json (eager and Inductor, default sizes: all three chains at
#    4096 / 4096 / 14336), and rmsnorm_swiglu again at Tilefuse's small size when step 3 ran it.
# 6. A Markdown table, last: Tilefuse / eager / Inductor ms, Tilefuse TFLOP/s, eager/Tilefuse and
#    inductor/Tilefuse (> 1: Tilefuse is faster), matched by chain and (T, D, F).
# Before the call, on the CPU machine after `ninja -C build` (the bundle's CLI must have the chain commands):
#   bash tools/device-bundle.sh build
#   strip --strip-unneeded -o /tmp/tilefuse_chain_tests build/tests/gpu/tilefuse_chain_tests &&
#     xz -T2 -6 -c /tmp/tilefuse_chain_tests > .device-carry/gpu/tilefuse_chain_tests.xz
#   run(command="bash docs/results/v0.18/scripts/c1.sh", carry=[".device-carry"], timeout_s=590)
# 7. When time is left: call 2's packed tuning and benchmark (c2.sh without its tests), then 8. "[engine]".
# Back under $OUT: tests.txt, bench.json, bench.txt, memcheck.txt, chains-peers.json,
# chains-peers-swiglu.json (when step 3 ran rmsnorm_swiglu), table.md; c2/ (tune.txt, packed/), engine-tests.txt.
set -u
export PATH=/usr/local/cuda/bin:$PATH
T0=$SECONDS
left() { echo $((${C1_LIMIT:-580} - (SECONDS - T0))); }  # C1_LIMIT: seconds for the whole call
mkdir -p "$OUT"
source tools/device-unpack.sh /tmp/tf >/dev/null
tf=/tmp/tf/bin/tilefuse
echo "device: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1 | head -1)"
$tf bench --help 2>&1 | grep -q -- '--size' ||
  echo "WARNING: the bundle's tilefuse has no bench --size (it predates 584422d): rebuild it, tools/device-bundle.sh build"

# 1. the chain test binary; it reads examples/chains from this checkout and NVRTC's -I tests/gpu at the
#    build machine's path
export TILEFUSE_EXAMPLES_DIR=$PWD/examples
[ -e /work/main/tests/gpu ] || { mkdir -p /work/main/tests && ln -s "$PWD/tests/gpu" /work/main/tests/gpu; }
ct=/tmp/tf/bin/tilefuse_chain_tests
if [ -f .device-carry/gpu/tilefuse_chain_tests.xz ]; then
  xz -dc .device-carry/gpu/tilefuse_chain_tests.xz > $ct && chmod +x $ct
fi

# 2. the GPU test, two processes
{
  if [ -x $ct ]; then
    for tags in "[chains]"; do
      timeout 150 $ct "$tags" > /tmp/ct.log 2>&1
      echo "== $ct \"$tags\": exit $? (0 passed, 77 skipped: no GPU)"
      grep -E "^chain |FAILED|SKIPPED|CUDA|error|test cases|assertions" /tmp/ct.log | cut -c1-300 | head -60
    done
  else
    echo "== no .device-carry/gpu/tilefuse_chain_tests.xz: the chain test did not run"
  fi
} 2>&1 | tee "$OUT/tests.txt"
echo "bench at $((SECONDS - T0)) s"

# 3. tilefuse bench (fp64 check at min(size, 200), then steady-state timing)
chains=(rmsnorm_matmul layernorm_matmul)
declare -A size=([rmsnorm_matmul]="T=4096 D=4096 F=14336" [layernorm_matmul]="T=4096 D=4096 F=14336"
                 [rmsnorm_swiglu]="T=1024 D=1024 F=2816")
if $tf emit examples/chains/rmsnorm_swiglu.mlir -o /tmp/swiglu.cu > /dev/null 2> /tmp/swiglu-emit.err; then
  chains+=(rmsnorm_swiglu)
else
  echo "rmsnorm_swiglu: not benched, tilefuse emit fails: $(grep -m1 -i error /tmp/swiglu-emit.err | cut -c1-240)"
fi
{
  for c in "${chains[@]}"; do
    flags=()
    for s in ${size[$c]}; do flags+=(--size "$s"); done
    timeout 120 $tf bench "examples/chains/$c.mlir" "${flags[@]}" --json > "/tmp/bench-$c.json" 2> "/tmp/bench-$c.err"
    echo "bench $c ${size[$c]}: exit $?; $(grep -hoE '"(median_ms|tflops|registers|spill_bytes|max_err|bound|passed|error)": [^,]*' \
      "/tmp/bench-$c.json" | tr '\n' ' ' | cut -c1-400)"
  done
} 2>&1 | tee "$OUT/bench.txt"
python3 - "${chains[@]}" > "$OUT/bench.json" <<'EOF'
import json, sys
out = []
for c in sys.argv[1:]:
    text = open(f"/tmp/bench-{c}.json").read()
    try:
        out.append({"chain": c, **json.loads(text)})
    except ValueError:
        out.append({"chain": c, "error": "no JSON: " + (text + open(f"/tmp/bench-{c}.err").read())[-600:]})
print(json.dumps(out, indent=1))
EOF
echo "memcheck at $((SECONDS - T0)) s"

# 5. memcheck (the timing launch runs at the given sizes; the check at min(size, 200) = 130 x 200 x 200)
for F in 257 258; do
  timeout 120 compute-sanitizer --tool memcheck --print-limit 5 $tf bench examples/chains/rmsnorm_matmul.mlir \
    --size T=130 --size D=520 --size F=$F --reps 1 --warmup-ms 0 > /tmp/ms.log 2>&1
  echo "memcheck rmsnorm_matmul T=130 D=520 F=$F: exit $?; $(grep -m1 'ERROR SUMMARY' /tmp/ms.log);" \
       "$(grep -oE -- '-> (PASS|FAIL)' /tmp/ms.log | head -1)"
  grep -m3 -E "Invalid|misaligned|Address|error:" /tmp/ms.log | cut -c1-200 | sed 's/^/  /'
done 2>&1 | tee "$OUT/memcheck.txt"
echo "peers at $((SECONDS - T0)) s"

# 4. the PyTorch peers
t=$(left); t=$((t - 60))
if [ $t -gt 60 ]; then
  timeout $t python3 tools/bench_chains_peers.py --check --json "$OUT/chains-peers.json" > /tmp/peers.log 2>&1
  rc=$?; echo "peers: exit $rc"; grep -E "^check |failed|FAILED" /tmp/peers.log | cut -c1-200
  [ $rc = 0 ] || tail -3 /tmp/peers.log | cut -c1-300
else
  echo "peers: skipped, $((SECONDS - T0)) s gone"
fi
t=$(left); t=$((t - 15))
if [[ " ${chains[*]} " == *" rmsnorm_swiglu "* ]] && [ $t -gt 30 ]; then
  timeout $t python3 tools/bench_chains_peers.py --chains rmsnorm_swiglu --T 1024 --D 1024 --F 2816 --iters 30 \
    --warmup-ms 200 --json "$OUT/chains-peers-swiglu.json" > /tmp/peers-swiglu.log 2>&1
  rc=$?; echo "peers rmsnorm_swiglu T=1024 D=1024 F=2816: exit $rc"
  [ $rc = 0 ] || tail -3 /tmp/peers-swiglu.log | cut -c1-300
fi
# 4b. rmsnorm_matmul at BLOCK_N 128 (218 registers, no spill, NVRTC sm_90) when time is left
t=$(left); t=$((t - 15))
if [ $t -gt 40 ]; then
  timeout $t $tf bench examples/chains/rmsnorm_matmul.mlir --size T=4096 --size D=4096 --size F=14336 \
    --schedule '{"block_n":128}' --json > /tmp/bench-bn128.json 2> /tmp/bench-bn128.err
  echo "bench rmsnorm_matmul T=4096 D=4096 F=14336 block_n 128: exit $?; $(grep -hoE '"(median_ms|tflops|registers|spill_bytes|passed|error)": [^,]*' \
    /tmp/bench-bn128.json | tr '\n' ' ' | cut -c1-300)" | tee -a "$OUT/bench.txt"
fi
echo "chains done at $((SECONDS - T0)) s"

# 7. what is left of the call: call 2's packed tuning and benchmark (docs/results/v0.18/scripts/c2.sh, without
#    its GPU tests), its table under $OUT/c2/packed
t=$(left); t=$((t - 20))
if [ $t -gt 200 ]; then
  C2_SKIP_TESTS=1 C2_BUDGET=$t OUT="$OUT/c2" bash docs/results/v0.18/scripts/c2.sh > /tmp/c2.log 2>&1
  echo "c2 (packed) rc=$? at $((SECONDS - T0)) s"; tail -25 /tmp/c2.log
else
  echo "c2 (packed): skipped, $((SECONDS - T0)) s gone"
fi
# 8. what is left after that: the Engine and C API GPU tests ("[engine]", the launch path of 880ae29)
t=$(left); t=$((t - 15))
if [ $t -gt 60 ]; then
  SWEEP_TAGS="[engine]" CHECK_STEPS="sweep" OUT=/tmp/gen SWEEP_TIMEOUT=$((t - 15)) \
    timeout $t bash tests/gpu/run_generated_checks.sh > /tmp/gen.log 2>&1
  echo "engine tests rc=$?" | tee "$OUT/engine-tests.txt"
  grep -E "test cases|assertions|FAILED|failed|error:|skipped" /tmp/gen.log /tmp/gen/generated.log 2>/dev/null |
    cut -c1-240 | head -20 | tee -a "$OUT/engine-tests.txt"
else
  echo "engine tests: skipped, $((SECONDS - T0)) s gone"
fi
echo "done at $((SECONDS - T0)) s"

# 6. the table
python3 - "$OUT" > "$OUT/table.md" <<'EOF'
import json, os, sys
out = sys.argv[1]
def load(name):
    try:
        return json.load(open(os.path.join(out, name)))
    except (OSError, ValueError):
        return []
peers = load("chains-peers.json") + load("chains-peers-swiglu.json")
def peer(chain, sizes, impl):
    for r in peers:
        if (r.get("chain"), r.get("T"), r.get("D"), r.get("F"), r.get("implementation")) == (chain, *sizes, impl):
            return r.get("median_ms")
    return None
fmt = lambda v, f="{:.3f}": f.format(v) if isinstance(v, (int, float)) else "-"
gpu = next((r.get("gpu") for r in peers if r.get("gpu")), None)
print(f"Chains on {gpu or 'the GPU'}, bf16; Tilefuse: `tilefuse bench` median (fp64 check at min(size, 200)); "
      "peers: tools/bench_chains_peers.py median; ratio = peer ms / Tilefuse ms (> 1: Tilefuse faster).\n")
print("| chain | T, D, F | Tilefuse ms | eager ms | inductor ms | Tilefuse TFLOP/s | eager/Tilefuse | inductor/Tilefuse | check |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for b in load("bench.json"):
    s = b.get("sizes", {})
    sizes = (s.get("T"), s.get("D"), s.get("F"))
    ms = b.get("median_ms")
    e, i = peer(b["chain"], sizes, "eager"), peer(b["chain"], sizes, "inductor")
    ratio = lambda p: fmt(p / ms, "{:.2f}") if p and ms else "-"
    check = ("PASS" if b.get("passed") else "FAIL") if "passed" in b else "error: " + str(b.get("error", ""))[:80]
    print(f"| {b['chain']} | {', '.join(map(str, sizes)) if ms else '-'} | {fmt(ms)} | {fmt(e)} | {fmt(i)} | "
          f"{fmt(b.get('tflops'), '{:.1f}')} | {ratio(e)} | {ratio(i)} | {check.replace('|', '/')} |")
EOF
cat "$OUT/table.md"
