#!/usr/bin/env bash
# On the GPU machine, from the repository root, with the bundle of tools/device-bundle.sh carried in
# .device-carry/bundle (the device has CUDA but no MLIR, so nothing is built there):
#   unpacks the bundle into /tmp, then runs
#   1. the runtime library's CPU tests (Params packing, launch errors)      tilefuse_runtime_api_tests
#   2. the generated-kernel sweep and the Engine / C API tests ([gpu])     tilefuse_generated_gpu_tests
#   3. the example application (causal attention, B=4 H=16 S=4096 D=128)   causal_attention
#   4. compute-sanitizer memcheck + racecheck on one small case per spec   "[sanitize]"
#   5. the SASS of generated kernels (HMMA.16816 = mma.sync, LDSM = ldmatrix, LDGSTS = cp.async;
#      sm90 backend: HGMMA = wgmma, UTMALDG = TMA tensor loads, UTMASTG = TMA tensor stores of the epilogue)
# Files in $OUT (default /tmp/tilefuse-gpu-out): summary.log (this script's output), generated.log,
# generated_sweep.md (the sweep table), example.log, sanitizer-memcheck.log, sanitizer-racecheck.log.
# Usage: bash tests/gpu/run_generated_checks.sh
set -uo pipefail
root=$(pwd)
out=${OUT:-/tmp/tilefuse-gpu-out}
work=/tmp/tilefuse-bundle
mkdir -p "$out"
exec > >(tee "$out/summary.log") 2>&1
rm -rf "$work" && cp -r "$root/.device-carry/bundle" "$work"
find "$work" -name '*.xz' -print0 | xargs -0 -r -n1 -P8 xz -d
chmod +x "$work"/bin/*
export LD_LIBRARY_PATH="$work/lib:/usr/local/cuda/lib64:/usr/local/cuda/lib:/usr/local/cuda/targets/x86_64-linux/lib:${LD_LIBRARY_PATH:-}"
export TILEFUSE_DEVICE_INCLUDE="$work/device" TILEFUSE_SPECS_DIR="$work/specs" TILEFUSE_RESULTS_DIR="$out"
# SWEEP_SPECS="t5_bias relative_bias": the tests that take every shipped spec take only these (a change
# that touches only some specs' kernels, checked in a fraction of the whole sweep's time). Tests that read
# one named spec need it in the list: with SWEEP_SPECS, run SWEEP_TAGS="[generated]" and CHECK_STEPS="sweep sanitize".
if [ -n "${SWEEP_SPECS:-}" ]; then
  mkdir -p "$work/specs-subset"
  for s in $SWEEP_SPECS; do cp "$work/specs/$s.json" "$work/specs-subset/" || exit 2; done
  export TILEFUSE_SPECS_DIR="$work/specs-subset"
fi
export TILEFUSE_CACHE_DIR=/tmp/tilefuse-cache
[ -d /usr/local/cuda/include ] && export TILEFUSE_CUDA_INCLUDE=/usr/local/cuda/include
export PATH=/usr/local/cuda/bin:$PATH

# Binaries built on Debian 12 (glibc 2.36): on an older glibc, run them with the bundled loader.
run=()
glibc=$(ldd --version | head -1 | grep -o '[0-9]*\.[0-9]*$')
if [ "$(printf '%s\n2.36\n' "$glibc" | sort -V | head -1)" != "2.36" ]; then
  chmod +x "$work/glibc/ld-linux-x86-64.so.2"
  run=("$work/glibc/ld-linux-x86-64.so.2" --library-path "$work/glibc:$LD_LIBRARY_PATH")
fi
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
echo "glibc $glibc; loader: ${run[*]:-system}; $(nproc) cores"
ldd "$work/bin/tilefuse_generated_gpu_tests" | grep "not found"

status=0
step() { echo "== $1"; }
# CHECK_STEPS picks steps (default all): cpu sweep example sanitize sass. SWEEP_TIMEOUT: seconds (default 400).
# SWEEP_TAGS: the Catch2 test spec of the sweep step (default "[gpu]"). The whole sweep (468 kernels, v0.9)
# takes about 520 s, more than one device call holds with the other steps: split it, e.g.
# SWEEP_TAGS="[gpu]~[varlen]" in one call and SWEEP_TAGS="[varlen]" in the next.
steps=" ${CHECK_STEPS:-cpu sweep example sanitize sass} "
want() { [[ "$steps" == *" $1 "* ]]; }
if want cpu; then
step "runtime CPU tests (packing, errors)"
"${run[@]}" "$work/bin/tilefuse_runtime_api_tests" "~every shipped spec compiles*" 2>&1 | grep -E "FAILED|error:|passed|failed"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
fi

if want sweep; then
step "generated sweep + engine + C API ([gpu])"
start=$(date +%s)
timeout "${SWEEP_TIMEOUT:-400}" "${run[@]}" "$work/bin/tilefuse_generated_gpu_tests" "${SWEEP_TAGS:-[gpu]}" >"$out/generated.log" 2>&1
rc=$?
[ $rc = 0 ] || status=1
grep -E "^generated|^engine|^cached|^C API|FAIL|failed|passed|REQUIRE|CHECK\(|with expansion|^  [^ ]" "$out/generated.log" | grep -v "^  sm[0-9]* [a-z_]* [bf]" | head -60
echo "exit $rc, $(( $(date +%s) - start )) s"
# The sweep table per backend or schedule variant (its first column: "<backend> <variant>"), one line each.
[ -f "$out/generated_sweep.md" ] && awk -F'|' 'NR > 2 { split($2, w, " "); k = w[1] " " w[2]; n[k]++;
    if ($0 ~ /\| ok \|$/) ok[k]++; else if ($0 ~ /FAIL/) f[k]++; else sk[k]++ }
  END { for (k in n) printf "sweep %s: %d ok, %d skipped, %d failed\n", k, ok[k], sk[k], f[k] }' \
  "$out/generated_sweep.md" | sort
fi

if want example; then
step "example: causal attention B=4 Hq=16 S=4096 D=128"
timeout 45 "${run[@]}" "$work/bin/causal_attention" "$work/specs/causal.json" 4 16 4096 128 2>&1 | tee "$out/example.log"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
fi

want sanitize && step "compute-sanitizer (one small case per spec)"
# With SWEEP_SPECS only the per-spec case: the other [sanitize] cases read specs by name.
sanitize_tests="[sanitize]"
[ -n "${SWEEP_SPECS:-}" ] && sanitize_tests="one small generated case per spec (for compute-sanitizer)"
want sanitize && for tool in memcheck racecheck; do
  # racecheck does not model TMA / async-proxy shared-memory writes: sm80 kernels only.
  backends=sm80,sm90; [ "$tool" = racecheck ] && backends=sm80
  TILEFUSE_TEST_BACKENDS=$backends timeout 120 compute-sanitizer --tool "$tool" --error-exitcode 9 "${run[@]}" \
    "$work/bin/tilefuse_generated_gpu_tests" "$sanitize_tests" >"$out/sanitizer-$tool.log" 2>&1
  rc=$?
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Hazard|Invalid|passed|failed" "$out/sanitizer-$tool.log" | head -8
  echo "  $tool exit $rc"
  [ $rc = 0 ] || status=1
done

if want sass; then
step "SASS of generated kernels"
rm -rf /tmp/tf-cubin && mkdir -p /tmp/tf-cubin
# The [sass] case reads causal, alibi and document_mask by name: the whole specs folder, also under SWEEP_SPECS.
TILEFUSE_SPECS_DIR="$work/specs" "${run[@]}" "$work/bin/tilefuse_generated_gpu_tests" "[sass]" >"$out/sass.log" 2>&1
rc=$?
if [ $rc != 0 ] || ! ls /tmp/tf-cubin/*.cubin >/dev/null 2>&1; then
  echo "  [sass] exit $rc, no CUBIN written:"; tail -n 8 "$out/sass.log"; status=1
fi
for f in /tmp/tf-cubin/*.cubin; do
  [ -e "$f" ] || continue
  cuobjdump -sass "$f" | awk -v f="$(basename "$f")" '/HMMA.16816/ {h++} /LDSM/ {l++} /LDGSTS/ {g++} /HGMMA/ {w++} /UTMALDG/ {t++} /UTMASTG/ {st++}
    END {printf "  %-40s HMMA.16816 %4d  LDSM %4d  LDGSTS %4d  HGMMA %4d  UTMALDG %4d  UTMASTG %4d\n", f, h, l, g, w, t, st}'
done
fi
echo "status $status"
sleep 1
exit $status
