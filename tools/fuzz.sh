#!/usr/bin/env bash
# Long fuzz runs, two layers (tests/fuzz/CMakeLists.txt says what each checks):
#   1. the coverage-guided fuzz targets under libFuzzer, ASan and UBSan: builds build-fuzz/ with
#      clang-19 (-DTILEFUSE_LIBFUZZER=ON; installs clang-19 and its fuzzer runtime first) and runs
#      every target, or the ones named, for SECONDS each from its seeds. New inputs go to
#      build-fuzz/corpus/<target>/, crashes to build-fuzz/crashes/<target>/ (copy one into
#      tests/fuzz/corpus/<target>/ once fixed: ctest replays it from then on);
#   2. fuzz.py's batch of mutated command lines against build/ (TILEFUSE_FUZZ_PY_COUNT inputs,
#      default 20,000; 0 skips it).
# Prints a table of executions, corpus sizes and crashes per target last.
#
# usage: tools/fuzz.sh [SECONDS=600] [TARGET...]   (targets: spec expr schedule cache_entry
#                                                   block_program chain mask mask_gen seqlens)
#   TILEFUSE_FUZZ_BUILD_DIR  the libFuzzer build (default: build-fuzz/)
#   TILEFUSE_BUILD_DIR       the normal build fuzz.py runs (default: build/, built first if missing)
#   TILEFUSE_FUZZ_JOBS       parallel runs of fuzz.py (default: nproc)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fbuild="${TILEFUSE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
build="${TILEFUSE_BUILD_DIR:-$root/build}"
seconds="${1:-600}"
shift $(( $# > 0 ? 1 : 0 ))
targets=("$@")
((${#targets[@]})) || targets=(spec expr seqlens schedule cache_entry block_program chain mask mask_gen)

bash "$root/tools/install-deps.sh" --fuzz
if [ ! -f "$fbuild/build.ninja" ]; then
  flags="-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
  CC=clang-19 CXX=clang++-19 cmake -S "$root" -B "$fbuild" -G Ninja -DTILEFUSE_LIBFUZZER=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
cmake --build "$fbuild" --target "${targets[@]/#/tilefuse-fuzz-}"

# As tools/sanitize.sh: MLIR's global registries live until exit (no leak reports), and Debian's
# uninstrumented MLIR never unpoisons what LLVM's BumpPtrAllocator poisons.
export ASAN_OPTIONS="detect_leaks=0:allow_user_poisoning=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
seeds_of() {
  case $1 in
    spec|chain) echo "$root/specs" ;;
    block_program) echo "$root/tests/lit" ;;
  esac
}
dict_of() {
  case $1 in
    spec|chain|cache_entry|schedule) echo "-dict=$root/tests/fuzz/dicts/spec.dict" ;;
    expr|mask) echo "-dict=$root/tests/fuzz/dicts/expr.dict" ;;
  esac
}
# A generator target's inputs are choices: its trees use at most a few hundred bytes, at full length from
# the start (libFuzzer otherwise grows inputs from a few bytes).
options_of() {
  case $1 in
    mask_gen) echo "-max_len=256 -len_control=0" ;;
    *) echo "-max_len=16384" ;;
  esac
}
table="| target | seconds | executions | edges covered | corpus | new crashes |\n| --- | --- | --- | --- | --- | --- |\n"
status=0
for t in "${targets[@]}"; do
  corpus="$fbuild/corpus/$t" crashes="$fbuild/crashes/$t"
  mkdir -p "$corpus" "$crashes"
  log="$fbuild/fuzz-$t.log"
  touch "$log.start"
  # shellcheck disable=SC2046
  "$fbuild/tests/fuzz/tilefuse-fuzz-$t" "$corpus" $(seeds_of "$t") "$root/tests/fuzz/corpus/$t" \
    $(dict_of "$t") $(options_of "$t") -max_total_time="$seconds" -timeout=60 -rss_limit_mb=8192 \
    -artifact_prefix="$crashes/" -print_final_stats=1 > "$log" 2>&1 || status=1
  runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo "?")
  cov=$(grep -oE "cov: [0-9]+" "$log" | tail -1 | grep -oE "[0-9]+" || echo "?")
  # This run's crashes only: the folder keeps earlier runs' until they are fixed and removed.
  new_crashes=$(find "$crashes" -type f -newer "$log.start" | wc -l)
  table+="| $t | $seconds | ${runs:-?} | ${cov:-?} | $(ls "$corpus" | wc -l) | $new_crashes (folder: $(ls "$crashes" | wc -l)) |\n"
  echo "fuzz.sh: $t: $(grep -E "^Done" "$log" || echo "stopped early, see $log")"
done

count="${TILEFUSE_FUZZ_PY_COUNT:-20000}"
if [ "$count" -gt 0 ]; then
  [ -x "$build/bin/tilefuse" ] || bash "$root/tools/build.sh"
  python3 "$root/tests/fuzz/fuzz.py" --bin-dir "$build/bin" --src "$root" --count "$count" --seed 1 \
    --jobs "${TILEFUSE_FUZZ_JOBS:-$(nproc)}" --timeout 60 --keep "$build/fuzz-failures" || status=1
fi
printf "%b" "$table"
exit $status
