//===- Shape.h - Problem sizes of one attention call ---------------*- C++ -*-===//
//
// Q is [B, Hq, Sq, D], K is [B, Hkv, Sk, D], V is [B, Hkv, Sk, Dv], O is [B, Hq, Sq, Dv] and
// LSE is [B, Hq, Sq] (fp32). Query head h reads K/V head h / (Hq / Hkv) (GQA; MHA when Hq == Hkv).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include <cstdint>
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

/// Caller-side replacements for a spec's sizes; an empty member keeps the spec's value.
/// Overriding D also changes Dv when the spec gives no value_dim, and the default scale 1/sqrt(D)
/// when the spec gives no scale.
struct ShapeOverrides {
  std::optional<int64_t> B, Hq, Hkv, Sq, Sk, D, Dv;
};

} // namespace tilefuse::spec
