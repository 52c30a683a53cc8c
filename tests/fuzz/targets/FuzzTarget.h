//===- FuzzTarget.h - what every fuzz target of tests/fuzz/targets shares -----*- C++ -*-===//
//
// Each target is one LLVMFuzzerTestOneInput over one input language of Tilefuse (a spec, an
// expression, a schedule, a cache entry, a block program, the whole chain). Built two ways
// (tests/fuzz/CMakeLists.txt):
//   - with libFuzzer (clang, -fsanitize=fuzzer,address,undefined; tools/fuzz.sh): coverage-guided
//     fuzzing from the seed corpus;
//   - with Replay.cpp's main (the normal build, ctest): every seed and every saved crash input runs
//     once, so a fixed bug stays fixed.
//
// A target aborts (libFuzzer saves the input as a crash) when Tilefuse breaks a promise of its
// headers: an exception of a type the function does not document, an error without a message, a
// round trip that changes the value, a fused program whose result differs from the unfused one.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <string_view>
#include <typeinfo>

namespace tilefuse::fuzz {

/// Prints "fuzz target <target>: <what>" and aborts: the input broke a promise.
[[noreturn]] inline void fail(std::string_view target, std::string_view what) {
  std::fprintf(stderr, "fuzz target %.*s: %.*s\n", static_cast<int>(target.size()), target.data(),
               static_cast<int>(what.size()), what.data());
  std::fflush(stderr);
  std::abort();
}

/// Aborts unless `ok`.
inline void require(bool ok, std::string_view target, std::string_view what) {
  if (!ok)
    fail(target, what);
}

/// Runs `body`. An exception of one of the documented types `Allowed...` with a non-empty message
/// is a clean refusal (returns false); any other exception aborts, naming its type and message.
/// Returns true when `body` returned normally.
template <typename... Allowed, typename Body>
bool refusesCleanly(std::string_view target, std::string_view stage, Body &&body) {
  try {
    body();
    return true;
  } catch (const std::exception &e) {
    const bool documented = (... || (dynamic_cast<const Allowed *>(&e) != nullptr));
    std::string what = e.what();
    if (!documented)
      fail(target, std::string(stage) + ": undocumented exception " + typeid(e).name() + ": " + what);
    if (what.empty())
      fail(target, std::string(stage) + ": an error without a message (" + typeid(e).name() + ")");
    return false;
  }
}

/// The input as text (the bytes as they are; the readers must cope with any of them).
inline std::string_view asText(const uint8_t *data, size_t size) {
  return {reinterpret_cast<const char *>(data), size};
}

} // namespace tilefuse::fuzz
