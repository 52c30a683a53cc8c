// Hopper warpgroup MMA (wgmma, sm_90a only) and the 128-byte-swizzled shared-memory tiles it reads.
// NVRTC-safe (no host headers). Follows the PTX ISA 8.x, section 9.7.15 "Asynchronous Warpgroup Level
// Matrix Multiply-Accumulate Instructions": 9.7.15.5.1.1 (register fragments), 9.7.15.5.1.2 (shared
// memory layouts, matrix descriptor format), 9.7.15.6 (wgmma.fence / commit_group / wait_group),
// 9.7.15.5.2 (wgmma.mma_async). Raw instruction wrappers are named like CUTLASS's cute/arch/mma_sm90.hpp.
//
// Everything below compiles only for sm_90a (__CUDA_ARCH__ >= 900 and __CUDA_ARCH_FEAT_SM90_ALL, i.e.
// NVRTC --gpu-architecture=sm_90a): plain sm_90 rejects wgmma. TF_HAS_WGMMA is 1 there, 0 elsewhere.
//
// Who owns what (m64nNk16, one warpgroup = 4 consecutive warps starting at a warp index divisible by 4;
// w = warp index within the warpgroup, lane = 4 g + t, g = 0..7, t = 0..3):
//   Accumulator D [64 x N] f32, d[N/2] per thread: for each 8-column block i = 0..N/8-1
//     d[4i+0] = D[16w + g    ][8i + 2t]    d[4i+1] = D[16w + g    ][8i + 2t + 1]
//     d[4i+2] = D[16w + g + 8][8i + 2t]    d[4i+3] = D[16w + g + 8][8i + 2t + 1]
//   (each warp's 16 rows are laid out exactly like mma.sync m16n8's C fragment, N/8 times over).
//   A in registers [64 x 16] bf16, a[4] (bf16x2, low half = lower column) per thread:
//     a[0] = A[16w + g][2t, 2t+1]        a[1] = A[16w + g + 8][2t, 2t+1]
//     a[2] = A[16w + g][2t+8, 2t+9]      a[3] = A[16w + g + 8][2t+8, 2t+9]
//   so columns 16k..16k+15 of a D fragment become the A fragment of k-step k by packing
//   (d[8k+0], d[8k+1]), (d[8k+2], d[8k+3]), (d[8k+4], d[8k+5]), (d[8k+6], d[8k+7])  (pack_a_from_d).
//
// Shared-memory tiles (sw128 below): a [ROWS x COLS] bf16 row-major tile (COLS a multiple of 64) is stored
// as COLS/64 "panels" of [ROWS x 64] (128 bytes per row), panel p at byte p * ROWS * 128, row r of a panel at
// r * 128, and its 16-byte chunk c (elements 8c..8c+7 of the panel row) at chunk c ^ (r % 8): the
// Swizzle<3,4,3> pattern of the 128B swizzle mode, which wgmma applies to absolute shared addresses, so
// every panel must start on a 1024-byte boundary. A tile of D columns, D not a multiple of 64, is stored
// with COLS = sw128_stored_cols<D> (the last panel partly unused) and read only in its first D columns.
// The same bytes serve both operand forms:
//   K-major  (A, or B with TRANS_B = 0): rows = M or N, columns = K.   S = Q K^T: Q and K tiles [rows x D].
//   MN-major (B with TRANS_B = 1):        rows = K,      columns = N.   O = P V:   V tile [Sk x D], K = Sk.
#pragma once
#include "common.cuh"
#include "arch/sm80_copy.cuh"
#include "arch/sm90_wgmma.cuh"

#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 900) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define TF_HAS_WGMMA 1
#else
#define TF_HAS_WGMMA 0
#endif

#if TF_HAS_WGMMA

namespace tilefuse {
namespace device {

// ---------------------------------------------------------------------------------------------------
// Shared-memory matrix descriptors (PTX ISA 9.7.15.5.1.2.2 "Matrix Descriptor Format").

/// 64-bit wgmma matrix descriptor for the 128-byte swizzle mode: bits 0-13 start address >> 4, 16-29
/// leading-dimension byte offset >> 4, 32-45 stride-dimension byte offset >> 4, 49-51 base offset (0:
/// every swizzle atom starts on a 1024-byte boundary), 62-63 swizzle mode (1 = 128B). Byte arguments.
TF_DEVICE unsigned long long wgmma_desc_sw128(unsigned smem_addr, unsigned lbo_bytes, unsigned sbo_bytes) {
  const unsigned long long enc_addr = (smem_addr & 0x3FFFF) >> 4;
  const unsigned long long enc_lbo = (lbo_bytes & 0x3FFFF) >> 4;
  const unsigned long long enc_sbo = (sbo_bytes & 0x3FFFF) >> 4;
  return enc_addr | (enc_lbo << 16) | (enc_sbo << 32) | (1ull << 62);
}

/// Columns stored for a tile of COLS columns (a multiple of 16): whole 64-column panels. The sm90 backend
/// keeps a [rows x D] tile as sw128<rows, sw128_stored_cols<D>>; its TMA box is one panel wide and writes
/// zeros past the tensor's last column, and no wgmma reads the columns past D (codegen::sm90SmemCols).
template <int COLS> constexpr int sw128_stored_cols = (COLS + 63) / 64 * 64;

/// Byte layout of a 128B-swizzled [ROWS x COLS] 16-bit tile (see the header comment). ROWS a multiple
/// of 8, COLS a multiple of 64.
template <int ROWS, int COLS> struct sw128 {
  static_assert(ROWS % 8 == 0 && COLS % 64 == 0, "sw128 tiles are whole 8-row x 64-column swizzle atoms");
  static constexpr int rows = ROWS, cols = COLS, panels = COLS / 64;
  static constexpr unsigned panel_bytes = ROWS * 128u;
  static constexpr unsigned bytes = ROWS * COLS * 2u;
  /// Byte offset of the 16-byte chunk holding elements [col8 * 8, col8 * 8 + 8) of row `row`.
  static TF_DEVICE unsigned offset(int row, int col8) {
    return (col8 >> 3) * panel_bytes + row * 128u + (((col8 & 7) ^ (row & 7)) << 4);
  }
  /// The row address this lane gives to an ldmatrix / stmatrix .x4 of the 16 x 16 block at rows [row0,
  /// row0 + 16) and columns [16 j, 16 j + 16): lanes 8m..8m+7 address matrix m = rows 8 (m & 1).., columns
  /// 8 (m >> 1).., so matrix m is pair m of the mma.sync fragment (types.cuh). row0 a multiple of 8.
  static TF_DEVICE unsigned x4_address(unsigned base, int row0, int j) {
    const int lane = laneid(), m = lane >> 3;
    return base + offset(row0 + 8 * (m & 1) + (lane & 7), 2 * j + (m >> 1));
  }
  /// K-major operand descriptor (A, or B with TRANS_B = 0) for rows [row0, row0 + 64 or N) and the
  /// 16 columns (K) [16 k16, 16 k16 + 16): the start moves by 32 bytes per k-step inside a panel; the
  /// stride-dimension offset is one 8-row swizzle atom (1024 B); the leading offset is unused (1).
  /// row0 must be a multiple of 8.
  static TF_DEVICE unsigned long long desc_k_major(unsigned base, int row0, int k16) {
    return wgmma_desc_sw128(base + (k16 >> 2) * panel_bytes + row0 * 128u + (k16 & 3) * 32u, 16, 1024);
  }
  /// MN-major operand descriptor (B with TRANS_B = 1, here V of O = P V: rows = K = Sk, columns = N = D)
  /// for the K rows [16 k16, 16 k16 + 16) and the columns [0, N) of the wgmma that reads it (N <= COLS):
  /// the leading-dimension offset steps between 64-column panels (ROWS * 128 B), the stride-dimension
  /// offset between 8-row groups (1024 B). The wgmma finds the 8-column group j of a row in panel j / 8,
  /// so N need not be a multiple of 64: N = 80 reads panel 0 and the first 16 columns of panel 1.
  static TF_DEVICE unsigned long long desc_mn_major(unsigned base, int k16) {
    return wgmma_desc_sw128(base + k16 * 16u * 128u, panel_bytes, 1024);
  }
};

// ---------------------------------------------------------------------------------------------------
// Ordering (PTX ISA 9.7.15.6 and 9.7.13.4 / membar "fence.proxy").

/// wgmma.fence: orders this warpgroup's earlier register writes (accumulators, A fragments) before the
/// wgmma.mma_async that read them. Required before the first wgmma and after any register of a pending
/// operand was changed by other instructions.
TF_DEVICE void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
/// wgmma.commit_group: closes the group of wgmma.mma_async issued so far by this warpgroup.
TF_DEVICE void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
/// wgmma.wait_group N: waits until at most N committed groups are pending; only then may their
/// accumulators be read or written by other instructions.
template <int N> TF_DEVICE void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
/// fence.proxy.async.shared::cta: makes this thread's generic-proxy shared-memory writes (st.shared,
/// cp.async after its wait) visible to the async proxy that wgmma reads through. Each writing thread,
/// then a barrier, then the wgmma.
TF_DEVICE void fence_proxy_async_smem() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
/// Keeps the compiler from moving accesses of a register across wgmma issue/wait points (CUTLASS's
/// warpgroup_fence_operand).
TF_DEVICE void wgmma_fence_operand(float &r) { asm volatile("" : "+f"(r)::"memory"); }
template <int N> TF_DEVICE void wgmma_fence_operand(float (&r)[N]) {
#pragma unroll
  for (int i = 0; i < N; ++i) wgmma_fence_operand(r[i]);
}

// ---------------------------------------------------------------------------------------------------
// wgmma.mma_async atoms: arch/sm90_wgmma.cuh (templated on N, generated by tools/gen/wgmma_atoms.py).
// The four shapes the hand-written prototypes in tests/gpu name directly:
using SM90_64x64x16_F32BF16BF16_SS = SM90_64xNx16_F32BF16BF16_SS<64>;
using SM90_64x64x16_F32BF16BF16_RS = SM90_64xNx16_F32BF16BF16_RS<64>;
using SM90_64x128x16_F32BF16BF16_SS = SM90_64xNx16_F32BF16BF16_SS<128>;
using SM90_64x128x16_F32BF16BF16_RS = SM90_64xNx16_F32BF16BF16_RS<128>;

// ---------------------------------------------------------------------------------------------------
// Warpgroup-level helpers.

namespace warpgroup {

/// Index 0..127 of this thread within its warpgroup, and the warpgroup index within the block.
TF_DEVICE int thread_index() { return static_cast<int>(threadIdx.x) & 127; }
TF_DEVICE int index() { return static_cast<int>(threadIdx.x) >> 7; }

/// Packs columns [16 k16, 16 k16 + 16) of a 64 x N f32 accumulator fragment into the bf16 A fragment of
/// k-step k16 (round to nearest): see the header comment. This is how P = exp(S - m) is fed to O += P V.
template <int NR> TF_DEVICE void pack_a_from_d(unsigned (&a)[4], const float (&d)[NR], int k16) {
  // k16 is a compile-time constant after unrolling; indexes stay static.
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    __nv_bfloat162 v = __floats2bfloat162_rn(d[8 * k16 + 2 * r], d[8 * k16 + 2 * r + 1]);
    a[r] = as_u32(v);
  }
}

/// Asynchronously copies rows [row0, row0 + ROWS) x all COLS columns of a row-major bf16 global matrix
/// (row stride `row_stride` elements, 16-byte aligned rows) into the sw128<ROWS, COLS> tile at shared
/// address `dst`, with cp.async.cg 16 B per thread and step; rows >= `rows_valid` are zero-filled
/// (nothing read). Executed by THREADS threads with indices `tid` = 0..THREADS-1; consecutive threads
/// take consecutive 16-byte chunks of a row (coalesced). Commit / wait with cp_async_commit /
/// cp_async_wait<N>, then fence_proxy_async_smem() and a barrier before a wgmma reads the tile.
template <int ROWS, int COLS, int THREADS>
TF_DEVICE void load_async_sw128(unsigned dst, const __nv_bfloat16 *src, long long row_stride, int row0,
                                int rows_valid, int tid) {
  constexpr int CHUNKS_PER_ROW = COLS / 8;
  constexpr int CHUNKS = ROWS * CHUNKS_PER_ROW;
  static_assert(CHUNKS % THREADS == 0, "every thread copies the same number of 16-byte chunks");
#pragma unroll
  for (int i = 0; i < CHUNKS / THREADS; ++i) {
    const int c = tid + i * THREADS;
    const int row = c / CHUNKS_PER_ROW, col8 = c % CHUNKS_PER_ROW;
    const bool in = row0 + row < rows_valid;
    const __nv_bfloat16 *g = in ? src + (row0 + row) * row_stride + col8 * 8 : src;
    SM80_CP_ASYNC_CACHEGLOBAL_ZFILL::copy(dst + sw128<ROWS, COLS>::offset(row, col8), g, in);
  }
}

} // namespace warpgroup

} // namespace device
} // namespace tilefuse

#endif // TF_HAS_WGMMA
