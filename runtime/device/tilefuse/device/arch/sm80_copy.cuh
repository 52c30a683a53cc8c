// Raw copy wrappers: cp.async (SM80) and ldmatrix (SM75+), named like CUTLASS's
// cute/arch/copy_sm80.hpp and copy_sm75.hpp.
#pragma once
#include "../common.cuh"

namespace tilefuse {
namespace device {

/// cp.async.cg 16 bytes global -> shared (bypasses L1). When `in_bounds` is false the source size
/// is 0: nothing is read and the 16 destination bytes are zero-filled. Both addresses 16-byte aligned.
struct SM80_CP_ASYNC_CACHEGLOBAL_ZFILL {
  static TF_DEVICE void copy(unsigned smem_dst, const void *gmem_src, bool in_bounds) {
    const int src_bytes = in_bounds ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_dst), "l"(gmem_src), "r"(src_bytes));
  }
};

/// Close the current group of cp.async operations issued by this thread.
TF_DEVICE void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }

/// Wait until at most N of this thread's committed cp.async groups are still pending.
/// Other threads' copies become visible only after a barrier (__syncthreads) that follows.
template <int N> TF_DEVICE void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }

/// ldmatrix.x4: four 8x8 matrices of 16-bit values. Lanes 8j..8j+7 give the row addresses
/// (16 contiguous bytes each) of matrix j; afterwards lane 4g+t holds in d_j the pair
/// M_j[g][2t..2t+1].
struct SM75_U32x4_LDSM_N {
  static TF_DEVICE void copy(unsigned smem_row_addr, unsigned &d0, unsigned &d1, unsigned &d2, unsigned &d3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(d0), "=r"(d1), "=r"(d2), "=r"(d3)
                 : "r"(smem_row_addr));
  }
};

/// ldmatrix.x4.trans: as SM75_U32x4_LDSM_N but transposed: lane 4g+t holds in d_j the pair
/// {M_j[2t][g], M_j[2t+1][g]} (a column pair of the stored matrix).
struct SM75_U16x8x4_LDSM_T {
  static TF_DEVICE void copy(unsigned smem_row_addr, unsigned &d0, unsigned &d1, unsigned &d2, unsigned &d3) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(d0), "=r"(d1), "=r"(d2), "=r"(d3)
                 : "r"(smem_row_addr));
  }
};

} // namespace device
} // namespace tilefuse
