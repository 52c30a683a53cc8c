// The sm90 epilogue through shared memory (FlashAttention-3, Shah et al. 2024, Sec. 3.1: the output tile is
// written to shared memory and stored by TMA, so the consumer warpgroup goes on to its next tile instead of
// waiting on 4-byte global stores). One warpgroup stores its 64 rows:
//
//   tma_store_wait_read<0>() by the warpgroup's leader thread (its last store has read the buffer), then
//   named_barrier_sync<128>: the buffer is free;
//   store_sw128 by every warp (its 16 rows, stmatrix), fence_proxy_async_smem(), named_barrier_sync<128>;
//   the leader issues one tma_store_4d per 64-column panel (device/tma.cuh) and tma_store_commit().
//
// The store is asynchronous: the leader waits for its read (tma_store_wait_read) before the buffer is
// written again, and for the whole store (tma_store_wait<0>) before the kernel exits.
//
// Packed sequences store the rows from the buffer with coalesced 16-byte stores instead
// (store_rows_from_sw128), bounded by the sequence's length.
#pragma once
#include "../arch/sm90_copy.cuh"
#include "../types.cuh"
#include "../wgmma.cuh"

#if TF_HAS_WGMMA

namespace tilefuse {
namespace device {
namespace warpgroup {

/// Writes this warp's 16-row f32 accumulator tile `src` (rows [row0, row0 + 16), columns [0, C)) as T into
/// the 128B-swizzled sw128<ROWS, sw128_stored_cols<C>> tile at shared address `dst` (1024-byte aligned),
/// converting with round to nearest: one stmatrix.x4 per 16x16 block (pairs 0..3 of the block are its four
/// 8x8 matrices: rows 8 (q & 1).., columns 8 (q >> 1)..). row0 a multiple of 16, ROWS >= row0 + 16.
template <typename T, int ROWS, int C> TF_DEVICE void store_sw128(unsigned dst, const rt<float, 16, C> &src, int row0) {
  using Tile = sw128<ROWS, sw128_stored_cols<C>>;
  const int lane = laneid();
  const int m = lane >> 3;                                // the matrix whose row address this lane gives
  const int row = row0 + 8 * (m & 1) + (lane & 7);
#pragma unroll
  for (int j = 0; j < C / 16; ++j) {
    unsigned s[4];
#pragma unroll
    for (int q = 0; q < 4; ++q) s[q] = as_u32(packed2<T>::from_float2(src.tiles[0][j][q]));
    SM90_U32x4_STSM_N::copy(s[0], s[1], s[2], s[3], dst + Tile::offset(row, 2 * j + (m >> 1)));
  }
}

/// Copies rows [src_row0, src_row0 + 64) of the sw128<ROWS, sw128_stored_cols<C>> tile at shared address
/// `src` (columns [0, C)) to rows [dst_row0, dst_row0 + 64) of `dst`, skipping rows at or past dst.rows:
/// 16-byte ld.shared / st.global per thread, consecutive threads on consecutive chunks of a row (coalesced).
/// Executed by the 128 threads of a warpgroup (the epilogue of packed sequences, whose rows past a
/// sequence's end belong to the next sequence, so a TMA box cannot store them). dst rows 16-byte aligned.
template <typename T, int ROWS, int C>
TF_DEVICE void store_rows_from_sw128(const gv<T> &dst, unsigned src, int src_row0, int dst_row0) {
  using Tile = sw128<ROWS, sw128_stored_cols<C>>;
  constexpr int CHUNKS_PER_ROW = C / 8;
  constexpr int CHUNKS = 64 * CHUNKS_PER_ROW;
  static_assert(C % 8 == 0, "rows are whole 16-byte chunks");
  const int tid = thread_index();
#pragma unroll
  for (int c = tid; c < CHUNKS; c += 128) {
    const int row = c / CHUNKS_PER_ROW, col8 = c % CHUNKS_PER_ROW;
    if (dst_row0 + row >= dst.rows) continue;
    uint4 v;
    asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
                 : "r"(src + Tile::offset(src_row0 + row, col8)));
    // st.global.v4 (STG.E.128): a plain uint4 store through the T* row compiles to four 4-byte stores.
    asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};\n" ::"l"(dst.row(dst_row0 + row) + 8 * col8), "r"(v.x),
                 "r"(v.y), "r"(v.z), "r"(v.w)
                 : "memory");
  }
}

} // namespace warpgroup
} // namespace device
} // namespace tilefuse

#endif // TF_HAS_WGMMA
