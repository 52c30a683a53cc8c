#!/usr/bin/env bash
# Interleaved A/B timing of schedules in steady state, on the GPU machine: every case's variants, in ROUNDS rounds
# (a round runs every variant of every case once), each one `tilefuse bench --schedule S --reps 50` (500 ms of
# warm-up first, the median of 50 runs), so drift of the board's clock hits every variant alike. Prints one line
# per run: "<case> <label> round <r>: median <ms> ms -> PASS -> PASS", bench's two checks against fp64 (every row
# of a small shape, sampled rows of the real one; "-> FAIL (...)" names the worst row).
#
# usage: tools/device-ab.sh TILEFUSE < CASES
#   CASES: one case per line, "name|spec|tilefuse flags|label=schedule JSON;label=schedule JSON;..."
#   ROUNDS (2); AB_DEADLINE: $SECONDS past which no run starts (unset: none); TILEFUSE_CACHE_DIR as for bench.
set -u
tf=$1
mapfile -t cases
for round in $(seq 1 "${ROUNDS:-2}"); do
  for c in "${cases[@]}"; do
    [ -n "$c" ] || continue
    IFS='|' read -r name spec flags variants <<<"$c"
    IFS=';' read -r -a vs <<<"$variants"
    for v in "${vs[@]}"; do
      label=${v%%=*} s=${v#*=}
      if [ -n "${AB_DEADLINE:-}" ] && [ "$SECONDS" -ge "$AB_DEADLINE" ]; then
        echo "$name $label round $round: skipped (budget)"
        continue
      fi
      # shellcheck disable=SC2086  # flags split on spaces
      r=$(timeout 60 "$tf" bench "$spec" $flags --schedule "$s" --reps 50 2>&1 |
          grep -oE "median [0-9.]+ ms|-> PASS|-> FAIL.{0,160}|error: .{0,160}" | head -4 | tr '\n' ' ')
      echo "$name $label round $round: $r"
    done
  done
done
