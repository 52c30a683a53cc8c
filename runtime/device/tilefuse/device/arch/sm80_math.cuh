// Raw PTX special-function wrappers (MUFU): approximate exp2 / log2, flush-to-zero.
#pragma once
#include "../common.cuh"

namespace tilefuse {
namespace device {

/// 2^x via ex2.approx.ftz.f32 (max rel. error 2^-22); exp2(-inf) = +0.
TF_DEVICE float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/// log2(x) via lg2.approx.ftz.f32; log2(0) = -inf.
TF_DEVICE float fast_log2(float x) {
  float y;
  asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

} // namespace device
} // namespace tilefuse
