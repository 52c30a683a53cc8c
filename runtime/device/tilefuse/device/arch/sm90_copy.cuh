// Raw shared-memory store wrapper of sm_90: stmatrix (PTX ISA 8.x section 9.7.14.5.16 "stmatrix"), named
// like CUTLASS's cute/arch/copy_sm90.hpp. The inverse of ldmatrix (sm80_copy.cuh).
#pragma once
#include "../common.cuh"

#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 900)

namespace tilefuse {
namespace device {

/// stmatrix.x4: stores four 8x8 matrices of 16-bit values. Lanes 8j..8j+7 give the row addresses (16
/// contiguous bytes each, 16-byte aligned) of matrix j; lane 4g+t supplies in s_j the pair M_j[g][2t..2t+1]
/// (low half = lower column): the mma.sync / wgmma accumulator layout of an 8x8 block.
struct SM90_U32x4_STSM_N {
  static TF_DEVICE void copy(unsigned s0, unsigned s1, unsigned s2, unsigned s3, unsigned smem_row_addr) {
    asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\n" ::"r"(smem_row_addr),
                 "r"(s0), "r"(s1), "r"(s2), "r"(s3)
                 : "memory");
  }
};

} // namespace device
} // namespace tilefuse

#endif
