// group<N_WARPS>:: cooperative copies executed by N_WARPS warps together (warps
// [k*N_WARPS, (k+1)*N_WARPS) of a 1-D block; with one group per block, the whole block).
#pragma once
#include "../arch/sm80_copy.cuh"
#include "../types.cuh"

namespace tilefuse {
namespace device {

template <int N_WARPS> struct group {
  static constexpr int THREADS = N_WARPS * WARP_THREADS;
  static TF_DEVICE int thread_index() { return static_cast<int>(threadIdx.x % THREADS); }

  /// Asynchronously dst = src[row0 : row0 + ROWS, 0 : COLS] with 16-byte cp.async.cg; rows at or past
  /// src.rows, and for a gvb 16-byte chunks at or past src.cols (a multiple of 8 elements), are zero-filled
  /// (source size 0, nothing read). Issues only: the caller commits (cp_async_commit), waits
  /// (cp_async_wait<N>) and then synchronizes the block, so several tiles can be in flight (multi-stage
  /// pipelines). src.ptr / row stride must be 16-byte aligned. View: gv<G> or gvb<G>.
  template <typename T, typename View, int ROWS, int COLS>
  static TF_DEVICE void load_async(st<T, ROWS, COLS> &dst, const View &src, int row0) {
    constexpr int CHUNKS = st<T, ROWS, COLS>::CHUNKS_PER_ROW;
    constexpr int TOTAL = ROWS * CHUNKS; // 16-byte chunks in the tile
    if constexpr (THREADS % CHUNKS == 0 && TOTAL % THREADS == 0) {
      // Every thread copies the same column chunk of rows r0, r0 + STEP, ...: one source pointer
      // advanced by STEP rows, shared-memory offsets all compile-time (the swizzle depends on r0 % 8).
      constexpr int STEP = THREADS / CHUNKS;
      // Unsigned thread math: no sign fix-ups for % and /, and 8 * c widens to 64 bits with a zero high
      // word, so the K/V loop keeps no extra registers for them (ptxas spilled them at HEAD_DIM 128).
      const unsigned t = threadIdx.x % THREADS, c = t % CHUNKS;
      const int r0 = static_cast<int>(t / CHUNKS);
      auto *from = src.ptr + (static_cast<long long>(row0 + r0) * src.row_stride + 8 * c);
      const bool col_ok = col_in_bounds(src, static_cast<int>(8 * c)); // true for gv
      const long long step = STEP * src.row_stride;
#pragma unroll
      for (int it = 0; it < TOTAL / THREADS; ++it, from += step) {
        const bool in_bounds = row0 + r0 + it * STEP < src.rows && col_ok;
        SM80_CP_ASYNC_CACHEGLOBAL_ZFILL::copy(smem_u32(dst.chunk_ptr(r0 + it * STEP, c)), in_bounds ? from : src.ptr,
                                              in_bounds);
      }
    } else {
#pragma unroll
      for (int it = 0; it < (TOTAL + THREADS - 1) / THREADS; ++it) {
        const int idx = it * THREADS + thread_index();
        if (TOTAL % THREADS != 0 && idx >= TOTAL) break;
        const int r = idx / CHUNKS;
        const int c = idx % CHUNKS;
        const bool in_bounds = row0 + r < src.rows && col_in_bounds(src, 8 * c);
        auto *from = in_bounds ? src.row(row0 + r) + 8 * c : src.ptr;
        SM80_CP_ASYNC_CACHEGLOBAL_ZFILL::copy(smem_u32(dst.chunk_ptr(r, c)), from, in_bounds);
      }
    }
  }

};

} // namespace device
} // namespace tilefuse
