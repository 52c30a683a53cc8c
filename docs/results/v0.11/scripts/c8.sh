#!/usr/bin/env bash
# v0.11 device call 8 (carry .device-carry: bundle/ at 028eaa0 is not main; this call uses old/, the tilefuse and
# libtilefuse of 1567401, whose kernels are main's): the warp stall reasons of S1k against S4k (Nsight Compute,
# one launch each), for the next session's work on S1k's per-tile cost.
#   run(command="bash docs/results/v0.11/scripts/c8.sh", carry=[".device-carry"], timeout_s=200)
set -u
export PATH=/usr/local/cuda/bin:$PATH
source tools/device-unpack.sh /tmp/tf-c8 >/dev/null
xz -dc .device-carry/old/tilefuse.xz > /tmp/tf-c8/bin/tilefuse && chmod +x /tmp/tf-c8/bin/tilefuse
xz -dc .device-carry/old/libtilefuse.so.0.2.0.xz > /tmp/tf-c8/lib/libtilefuse.so.0.2.0
tf=/tmp/tf-c8/bin/tilefuse
export TILEFUSE_CACHE_DIR=/tmp/c8-cache
for sb in 1024:16 4096:4; do
  s=${sb%:*} b=${sb#*:}
  timeout 80 ncu --clock-control none -k regex:tilefuse_ --launch-skip 1 -c 1 \
    --metrics "regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio,regex:sm__pipe_tensor.*pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed" \
    $tf bench specs/mha.json --B $b --Hq 16 --Hkv 16 --S $s --D 128 --reps 1 --warmup 0 > $OUT/stalls-s$s.txt 2>&1
  echo "S$s rc=$?"
done
python3 - $OUT/stalls-s1024.txt $OUT/stalls-s4096.txt <<'PY' | tee $OUT/stalls.md
import re, sys
def read(p):
    d = {}
    for line in open(p):
        m = re.match(r"\s+(\S+)\s+(\S*)\s+([0-9.,]+)\s*$", line)
        if m:
            d[m.group(1)] = float(m.group(3).replace(",", ""))
    return d
a, b = read(sys.argv[1]), read(sys.argv[2])
print("| metric | S1k | S4k |\n| --- | --- | --- |")
for k in sorted(set(a) | set(b)):
    va, vb = a.get(k), b.get(k)
    if (va or 0) >= 0.05 or (vb or 0) >= 0.05:
        name = k.replace("smsp__average_warps_issue_stalled_", "stall ").replace("_per_issue_active.ratio", "")
        print("| %s | %s | %s |" % (name, "-" if va is None else "%.2f" % va, "-" if vb is None else "%.2f" % vb))
PY
