//===- Random.h - the tuner's seeded generator (internal) -------------*- C++ -*-===//
#pragma once

#include <cstdint>

namespace tilefuse::tuner::detail {

/// splitmix64: a small, fast generator with good statistics (Steele et al. 2014).
struct SplitMix {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  /// Approximately N(0, 1): four 16-bit uniforms summed (Irwin-Hall, variance 1/3), scaled.
  float normal() {
    uint64_t r = next();
    float sum = 0;
    for (int i = 0; i < 4; ++i)
      sum += ((r >> (16 * i)) & 0xffff) * (1.0f / 65536.0f);
    return (sum - 2.0f) * 1.7320508f;
  }
  /// U[0, 1) with 53 random bits.
  double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }
  /// Uniform in [0, n), n > 0.
  int64_t below(int64_t n) { return static_cast<int64_t>(next() % static_cast<uint64_t>(n)); }
};

} // namespace tilefuse::tuner::detail
