//===- Shape.h - Problem sizes of one attention call ---------------*- C++ -*-===//
//
// Q is [B, Hq, Sq, D], K is [B, Hkv, Sk, D], V is [B, Hkv, Sk, Dv], O is [B, Hq, Sq, Dv] and
// LSE is [B, Hq, Sq] (fp32). Query head h reads K/V head h / (Hq / Hkv) (GQA; MHA when Hq == Hkv).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>

namespace tilefuse::spec {

/// A fully resolved problem size. Every member is > 0 and Hq % Hkv == 0 once it comes out of
/// resolveShape (Spec.h).
struct Shape {
  int64_t B = 0;   ///< Batch size.
  int64_t Hq = 0;  ///< Query heads.
  int64_t Hkv = 0; ///< Key/value heads; divides Hq.
  int64_t Sq = 0;  ///< Query sequence length, tokens.
  int64_t Sk = 0;  ///< Key/value sequence length, tokens.
  int64_t D = 0;   ///< HEAD_DIM of Q and K, elements.
  int64_t Dv = 0;  ///< Head dim of V and O, elements.

  /// GQA group size: query heads per K/V head.
  int64_t groupSize() const { return Hq / Hkv; }
  bool operator==(const Shape &) const = default;
};

/// Limits on the sizes of one attention call, checked by resolveShape (Spec.h) and checkShapeLimits
/// before anything is allocated or multiplied. They keep every size product the compiler, the IO
/// report and the cache compute (elements, bytes, FLOPs) inside int64, and every byte count
/// exactly representable in a double.
inline constexpr int64_t kMaxBatch = int64_t{1} << 20;   ///< B <= 1,048,576.
inline constexpr int64_t kMaxHeads = int64_t{1} << 16;   ///< Hq, Hkv <= 65,536.
inline constexpr int64_t kMaxSeqLen = int64_t{1} << 24;  ///< Sq, Sk <= 16,777,216 tokens.
inline constexpr int64_t kMaxHeadDim = 1024;             ///< D, Dv <= 1024 elements.
/// The largest tensor of the unfused program (the fp32 score matrix S, B*Hq*Sq*Sk*4 bytes) and
/// every other tensor: at most 2^53 bytes (8 PiB).
inline constexpr int64_t kMaxTensorBytes = int64_t{1} << 53;

/// The product of `factors` (each >= 0), or nullopt when it overflows int64. The one place size
/// products are checked; use it for elements, bytes and FLOP counts of untrusted sizes.
inline std::optional<int64_t> checkedProduct(std::initializer_list<int64_t> factors) {
  int64_t p = 1;
  for (int64_t f : factors)
    if (f < 0 || __builtin_mul_overflow(p, f, &p))
      return std::nullopt;
  return p;
}

/// Shapes that share one tuned kernel: the tuner's cache key (tuner/Cache.h) and the runtime's
/// decision table (tilefuse.h: ShapeBucket) both bucket with these rules, so a shape that needs
/// its own cache entry also gets its own decision. The bucketed sizes are run-time parameters of
/// the kernel, which stays correct for every size in its bucket.
///
/// Sequence lengths (Sq, Sk), tokens:
///   S <= 128          -> 128
///   128 < S <= 4096   -> the next power of two (197 -> 256, 1024 -> 1024, 3000 -> 4096)
///   S > 4096          -> the next multiple of 1024 (8000 -> 8192, 8192 -> 8192, 8193 -> 9216)
inline int64_t bucketSeqLen(int64_t s) {
  if (s <= 128)
    return 128;
  if (s <= 4096) {
    int64_t p = 256;
    while (p < s)
      p *= 2;
    return p;
  }
  return (s + 1023) / 1024 * 1024;
}
/// Batch B: the next power of two (it only changes the grid's z extent and the number of waves:
/// 3 -> 4, 16 -> 16; B <= 1 -> 1). Hq, Hkv, D and Dv are not bucketed: D, Dv and the GQA group are
/// compile-time constants of the kernel, and Hq changes the grid as much as a power of two of B.
/// B above 2^62 (beyond kMaxBatch, rejected by checkShapeLimits) has no power of two in int64 and is
/// returned as it is.
inline int64_t bucketBatch(int64_t b) {
  if (b > (int64_t{1} << 62))
    return b;
  int64_t p = 1;
  while (p < b)
    p *= 2;
  return p;
}
/// `shape` with B, Sq and Sk bucketed, the other sizes as they are.
inline Shape bucketShape(const Shape &s) {
  return {bucketBatch(s.B), s.Hq, s.Hkv, bucketSeqLen(s.Sq), bucketSeqLen(s.Sk), s.D, s.Dv};
}

/// Caller-side replacements for a spec's sizes; an empty member keeps the spec's value.
/// Overriding D also changes Dv when the spec gives no value_dim, and the default scale 1/sqrt(D)
/// when the spec gives no scale.
struct ShapeOverrides {
  std::optional<int64_t> B, Hq, Hkv, Sq, Sk, D, Dv;
};

} // namespace tilefuse::spec
