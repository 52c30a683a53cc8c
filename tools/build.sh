#!/usr/bin/env bash
# Installs prerequisites, configures and builds Tilefuse into ${TILEFUSE_BUILD_DIR:-build}.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TILEFUSE_BUILD_DIR:-$root/build}"
bash "$root/tools/install-deps.sh"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
jobs="${TILEFUSE_JOBS:-$(nproc)}"
cmake --build "$build" -j "$jobs"
