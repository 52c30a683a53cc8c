// Host-side bf16 / fp16 storage and rounding (round-to-nearest-even), matching the device's
// __float2bfloat16_rn / __float2half_rn, for test inputs and same-precision references.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace tilefuse::test {

enum class Dtype { bf16, fp16 };

inline std::uint16_t bf16Bits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0; // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}
inline float bf16Value(std::uint16_t b) {
  const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline std::uint16_t fp16Bits(float f) {
  const _Float16 h = static_cast<_Float16>(f);
  std::uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
inline float fp16Value(std::uint16_t b) {
  _Float16 h;
  std::memcpy(&h, &b, 2);
  return static_cast<float>(h);
}

inline std::uint16_t encode(Dtype t, float f) { return t == Dtype::bf16 ? bf16Bits(f) : fp16Bits(f); }
inline float decode(Dtype t, std::uint16_t b) { return t == Dtype::bf16 ? bf16Value(b) : fp16Value(b); }
inline float roundTo(Dtype t, float f) { return decode(t, encode(t, f)); }
/// The CUDA type name, for NVRTC sources.
inline std::string cudaType(Dtype t) { return t == Dtype::bf16 ? "__nv_bfloat16" : "__half"; }
inline std::string dtypeName(Dtype t) { return t == Dtype::bf16 ? "bf16" : "fp16"; }

} // namespace tilefuse::test
