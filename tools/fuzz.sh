#!/usr/bin/env bash
# The long fuzz run of issue 14: tests/fuzz/fuzz.py over >= 100,000 mutated inputs (specs,
# expressions, block programs, cache archives) against a built tree. ctest runs a fixed-seed batch
# of 3,000 (fuzz.batch); this runs many more and saves failing inputs.
#
# usage: tools/fuzz.sh [COUNT=100000] [SEED=1]
#   TILEFUSE_BUILD_DIR  the build to test (default: build/, built first if missing)
#   TILEFUSE_FUZZ_JOBS  parallel runs (default: nproc)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TILEFUSE_BUILD_DIR:-$root/build}"
[ -x "$build/bin/tilefuse" ] || bash "$root/tools/build.sh"
count="${1:-100000}"
seed="${2:-1}"
exec python3 "$root/tests/fuzz/fuzz.py" --bin-dir "$build/bin" --src "$root" --count "$count" \
  --seed "$seed" --jobs "${TILEFUSE_FUZZ_JOBS:-$(nproc)}" --timeout 60 --keep "$build/fuzz-failures"
