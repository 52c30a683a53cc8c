#!/usr/bin/env bash
# The main job: install, configure, build, then run the whole chain on a shipped example.
# Usage: bash tools/main-job.sh [SPEC] [extra tilefuse run flags]   (default: specs/causal.json)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TILEFUSE_BUILD_DIR:-$root/build}"
log="${TMPDIR:-/tmp}/tilefuse-build.log"
echo "tilefuse: building (log: $log) ..." >&2
bash "$root/tools/build.sh" >"$log" 2>&1 || { tail -n 40 "$log" >&2; exit 1; }
spec="${1:-$root/specs/causal.json}"
shift || true
exec "$build/bin/tilefuse" run "$spec" "$@"
