// Raw mma.sync wrappers for SM80+ (Ampere, Ada, Hopper), named like CUTLASS's cute/arch/mma_sm80.hpp:
//   SM80_<M>x<N>x<K>_<D type><A type><B type><C type>_<A layout><B layout>, T = row-major, N = col-major.
//
// m16n8k16, one warp, lane = 4*g + t (g = lane/4 in 0..7, t = lane%4 in 0..3). Each register holds
// two consecutive 16-bit values (low half = lower column/row index):
//   A (16x16, row-major):  a0 = A[g  ][2t..2t+1]    a1 = A[g+8][2t..2t+1]
//                          a2 = A[g  ][2t+8..2t+9]  a3 = A[g+8][2t+8..2t+9]
//   B (16x8,  col-major):  b0 = B[2t..2t+1][g]      b1 = B[2t+8..2t+9][g]
//   C, D (16x8, f32):      d0, d1 = D[g][2t], D[g][2t+1]    d2, d3 = D[g+8][2t], D[g+8][2t+1]
#pragma once
#include "../common.cuh"

namespace tilefuse {
namespace device {

/// D = A * B + C, A/B bf16, C/D f32.
struct SM80_16x8x16_F32BF16BF16F32_TN {
  static TF_DEVICE void fma(float &d0, float &d1, float &d2, float &d3, unsigned a0, unsigned a1, unsigned a2,
                            unsigned a3, unsigned b0, unsigned b1, float c0, float c1, float c2, float c3) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
                 : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3)
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "f"(c0), "f"(c1), "f"(c2), "f"(c3));
  }
};

/// D = A * B + C, A/B fp16, C/D f32.
struct SM80_16x8x16_F32F16F16F32_TN {
  static TF_DEVICE void fma(float &d0, float &d1, float &d2, float &d3, unsigned a0, unsigned a1, unsigned a2,
                            unsigned a3, unsigned b0, unsigned b1, float c0, float c1, float c2, float c3) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
                 : "=f"(d0), "=f"(d1), "=f"(d2), "=f"(d3)
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "f"(c0), "f"(c1), "f"(c2), "f"(c3));
  }
};

/// The m16n8k16 f32-accumulating atom for a 16-bit operand type.
template <typename T> struct mma_atom_16x8x16;
template <> struct mma_atom_16x8x16<__nv_bfloat16> { using type = SM80_16x8x16_F32BF16BF16F32_TN; };
template <> struct mma_atom_16x8x16<__half> { using type = SM80_16x8x16_F32F16F16F32_TN; };

} // namespace device
} // namespace tilefuse
