// Tilefuse device library: common definitions (NVRTC-safe: no host headers, only cuda_bf16/cuda_fp16).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#define TF_DEVICE __device__ __forceinline__

namespace tilefuse {
namespace device {

constexpr int WARP_THREADS = 32;

template <typename A, typename B> struct is_same { static constexpr bool value = false; };
template <typename A> struct is_same<A, A> { static constexpr bool value = true; };

/// Lane index 0..31 within the warp.
TF_DEVICE int laneid() { return static_cast<int>(threadIdx.x) & 31; }
/// Warp index within a 1-D thread block.
TF_DEVICE int warpid() { return static_cast<int>(threadIdx.x) >> 5; }

TF_DEVICE float neg_inf() { return -__int_as_float(0x7f800000); }

/// 32-bit shared-memory address of a generic pointer to shared memory (for cp.async / ldmatrix).
TF_DEVICE unsigned smem_u32(const void *p) { return static_cast<unsigned>(__cvta_generic_to_shared(p)); }

/// Packed pair types and conversions for the supported 16-bit element types (bf16, fp16) and f32.
template <typename T> struct packed2;
template <> struct packed2<float> {
  using type = float2;
  static TF_DEVICE float2 from_float2(float2 v) { return v; }
  static TF_DEVICE float2 to_float2(float2 v) { return v; }
};
template <> struct packed2<__nv_bfloat16> {
  using type = __nv_bfloat162;
  static TF_DEVICE __nv_bfloat162 from_float2(float2 v) { return __float22bfloat162_rn(v); }
  static TF_DEVICE float2 to_float2(__nv_bfloat162 v) { return __bfloat1622float2(v); }
};
template <> struct packed2<__half> {
  using type = __half2;
  static TF_DEVICE __half2 from_float2(float2 v) { return __float22half2_rn(v); }
  static TF_DEVICE float2 to_float2(__half2 v) { return __half22float2(v); }
};

template <typename T> TF_DEVICE float to_float(T x) { return static_cast<float>(x); }
template <> TF_DEVICE float to_float<__nv_bfloat16>(__nv_bfloat16 x) { return __bfloat162float(x); }
template <> TF_DEVICE float to_float<__half>(__half x) { return __half2float(x); }

/// The bits of a packed pair as one 32-bit register (mma / ldmatrix operand).
template <typename T2> TF_DEVICE unsigned &as_u32(T2 &x) {
  static_assert(sizeof(T2) == 4, "a packed pair of 16-bit values");
  return *reinterpret_cast<unsigned *>(&x);
}
template <typename T2> TF_DEVICE unsigned as_u32(const T2 &x) {
  static_assert(sizeof(T2) == 4, "a packed pair of 16-bit values");
  return *reinterpret_cast<const unsigned *>(&x);
}

} // namespace device
} // namespace tilefuse
