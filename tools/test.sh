#!/usr/bin/env bash
# The test command: install, configure, build, then every test (Catch2 through ctest, and lit).
# GPU tests skip visibly (Catch2 prints "SKIPPED: no GPU") when no GPU is present.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TILEFUSE_BUILD_DIR:-$root/build}"
bash "$root/tools/build.sh"
status=0
(cd "$build" && ctest --no-tests=error --output-on-failure -j "$(nproc)") || status=1
python3 /usr/lib/llvm-19/build/utils/lit/lit.py -sv "$build/tests/lit" || status=1
exit $status
