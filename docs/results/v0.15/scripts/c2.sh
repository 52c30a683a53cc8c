#!/usr/bin/env bash
# v0.15 call 2: which schedule is fastest in steady state? For six of issue 9's cases, call 1's tuned
# winner (the tuner times candidates in bursts) and its neighbours (BLOCK_N, BLOCK_M 192, 3 stages,
# exp2 on the FMA pipe, the other grid), each by `tilefuse bench --warmup-ms 500 --energy` (J per
# call from NVML), the winner again last to see the drift.
#   run(command="bash docs/results/v0.15/scripts/c2.sh", carry=[".device-carry"], timeout_s=600)
set -u
export PATH=/usr/local/cuda/bin:$PATH
source tools/device-unpack.sh /tmp/tf >/dev/null
export TF=/tmp/tf/bin/tilefuse
mkdir -p "$OUT"
timeout 570 python3 - <<'PY' 2>&1 | tee "$OUT/c2-schedules.txt"
import json, os, subprocess, time
T0 = time.time()
base = {"block_m": 128, "block_n": 128, "kv_stages": 2, "mma": "wgmma", "overlap": "pingpong",
        "persistent": True, "q": "smem", "warps": 8}
def mod(b, **kw):
    s = dict(b); s.update(kw)
    if s["block_m"] == 192: s["warps"] = 12
    if s["block_m"] == 128: s["warps"] = 8
    return s
cases = [  # (args, spec, tuned winner of call 1)
    ("16,16,16,1024,128,0", base),
    ("4,16,16,4096,128,0", base),
    ("1,16,16,16384,128,0", mod(base, block_n=192)),
    ("4,16,16,4096,128,1", mod(base, persistent=False)),
    ("4,32,32,4096,64,0", mod(base, block_m=192)),
    ("1,32,8,8192,128,1", mod(base, block_n=192, persistent=False)),
]
rows = []
for c, win in cases:
    B, Hq, Hkv, S, D, causal = c.split(",")
    spec = "specs/causal.json" if causal == "1" else "specs/mha.json"
    cands = [("winner", win),
             ("bn" + ("128" if win["block_n"] != 128 else "192"), mod(win, block_n=128 if win["block_n"] != 128 else 192)),
             ("bn160", mod(win, block_n=160)),
             ("bm" + ("128" if win["block_m"] == 192 else "192"), mod(win, block_m=128 if win["block_m"] == 192 else 192)),
             ("stages3", mod(win, kv_stages=3)),
             ("fma1", mod(win, exp2_fma=1)),
             ("fma2", mod(win, exp2_fma=2)),
             ("persist" + ("-off" if win["persistent"] else "-on"), mod(win, persistent=not win["persistent"])),
             ("winner-again", win)]
    for name, s in cands:
        if time.time() - T0 > 540:
            print(c, name, "skipped: budget"); continue
        cmd = [os.environ["TF"], "bench", spec, "--B", B, "--Hq", Hq, "--Hkv", Hkv, "--S", S, "--D", D,
               "--schedule", json.dumps(s), "--energy", "--json", "--seed", "1"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        try:
            d = json.loads(p.stdout); e = d.get("energy") or {}
            rows.append((c, name, d["median_ms"], e.get("joules_per_call"), e.get("watts"), d["passed"]))
        except Exception as ex:
            rows.append((c, name, None, None, None, (p.stderr or str(ex)).strip().splitlines()[-1][:80]))
        print(*rows[-1], f"{time.time() - T0:.0f}s", flush=True)
print("\n| case | schedule | ms | x winner | J/call | W | check |\n| --- | --- | --- | --- | --- | --- | --- |")
ref = {}
for c, name, ms, j, w, ok in rows:
    if name == "winner": ref[c] = ms
    x = f"{ref[c] / ms:.3f}" if ms and ref.get(c) else "-"
    print(f"| {c} | {name} | {ms and f'{ms:.3f}'} | {x} | {j and f'{j:.3f}'} | {w and f'{w:.0f}'} | {ok} |")
PY
