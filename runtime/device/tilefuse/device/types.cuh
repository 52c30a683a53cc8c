// Tilefuse device library: tile and view types (data only; the ops live in warp/ and group/).
//
//   gv<T>                    global view of a [rows, cols] matrix in HBM, any row stride, last dim contiguous
//   gvb<T>                   the same with a column bound (loads zero-fill, stores skip past it)
//   st<T, ROWS, COLS>        shared tile, row-major with a 16-byte-chunk XOR swizzle (conflict-free ldmatrix)
//   rt<T, ROWS, COLS, L>     register tile owned by one warp, made of 16x16 base tiles of mma fragments
//   rv<ROWS>                 register vector, one f32 per row of a ROWS-row register tile (e.g. m, l, LSE)
#pragma once
#include "common.cuh"

namespace tilefuse {
namespace device {

// ---------------------------------------------------------------------------------------------------
/// Global view: element (r, c) is ptr[r * row_stride + c]; `rows` bounds the valid rows (loads
/// zero-fill and stores skip rows >= rows). For cp.async, ptr and row_stride*sizeof(T) must be
/// multiples of 16 bytes. T may be const-qualified.
template <typename T> struct gv {
  T *ptr;
  int rows;
  long long row_stride; // elements
  TF_DEVICE T *row(int r) const { return ptr + static_cast<long long>(r) * row_stride; }
};

/// Global view bounded in both dims: gv plus `cols`, the valid columns from ptr (loads zero-fill and
/// stores skip columns >= cols). For matrices whose last dim is a run-time size that a tile can run past
/// (a chain's contraction dim D or output width F; attention's head dim is a whole tile). Loads move
/// 16-byte chunks, so cols is a multiple of 8 for 16-bit elements when a load reads it.
template <typename T> struct gvb {
  T *ptr;
  int rows;
  long long row_stride; // elements
  int cols;
  TF_DEVICE T *row(int r) const { return ptr + static_cast<long long>(r) * row_stride; }
};

/// Whether column `col` (from the view's pointer) is inside the view's column bound: always for gv, which has
/// none (a constant, so the copies and stores below compile as before), col < cols for gvb.
template <typename T> TF_DEVICE constexpr bool col_in_bounds(const gv<T> &, int) { return true; }
template <typename T> TF_DEVICE bool col_in_bounds(const gvb<T> &v, int col) { return col < v.cols; }
/// Whether a view type has a column bound (gvb): stores test it under `if constexpr`, so a gv store is the
/// plain pair store.
template <typename V> inline constexpr bool has_col_bound = false;
template <typename T> inline constexpr bool has_col_bound<gvb<T>> = true;

// ---------------------------------------------------------------------------------------------------
/// Shared tile of 16-bit elements, ROWS x COLS (COLS a multiple of 16), row-major in 16-byte chunks (8
/// elements), no padding. The chunk index is XOR-swizzled by the row so that the 8 rows one ldmatrix 8x8
/// matrix reads (rows 8i..8i+7 at one chunk column) fall in 8 different 16-byte bank groups; ldmatrix and
/// 16-byte cp.async are then conflict-free. Row r starts at bank group (C * r) % 8 with C = COLS / 8 chunks
/// per row, so the swizzle depends on C % 8 (CUTLASS's Swizzle<3,4,3>, <2,4,3>, <1,4,3> patterns):
///   C % 8 == 0 (COLS 64, 128, 192, 256):          chunk' = chunk ^ (row % 8)        (aligned groups of 8 chunks)
///   C % 8 == 4 (COLS 32, 96, 160, 224):           chunk' = chunk ^ ((row / 2) % 4)  (aligned groups of 4)
///   C % 4 == 2 (COLS 16, 48, 80, 112, 144, ...):  chunk' = chunk ^ ((row / 4) % 2)  (aligned pairs)
/// e.g. COLS = 96 (C = 12): rows 0..7 start at bank groups 0,4,0,4,...; the XOR with 0,0,1,1,2,2,3,3 makes
/// the chunk-0 column land in groups 0,4,1,5,2,6,3,7. The XOR stays inside an aligned group, which C is a
/// multiple of, so chunk' < C.
template <typename T, int ROWS, int COLS> struct st {
  static_assert(sizeof(T) == 2, "shared tiles hold 16-bit elements (bf16, fp16)");
  static constexpr int rows = ROWS;
  static constexpr int cols = COLS;
  static constexpr int CHUNKS_PER_ROW = COLS / 8;
  static_assert(ROWS % 16 == 0, "ROWS must be a multiple of 16");
  static_assert(COLS % 16 == 0 && COLS > 0, "COLS must be a positive multiple of 16");
  /// Chunks permuted together (8, 4 or 2) and the row bits that pick the permutation (row >> SHIFT).
  static constexpr int SWIZZLE_GROUP = CHUNKS_PER_ROW % 8 == 0 ? 8 : CHUNKS_PER_ROW % 4 == 0 ? 4 : 2;
  static constexpr int SWIZZLE_SHIFT = SWIZZLE_GROUP == 8 ? 0 : SWIZZLE_GROUP == 4 ? 1 : 2;

  alignas(128) T data[ROWS * COLS];

  static TF_DEVICE int swizzle(int row, int chunk) {
    if constexpr (SWIZZLE_GROUP == 8)
      return (chunk & ~7) | ((chunk ^ row) & 7); // = chunk ^ (row & 7), in the form the optimiser folds best
    else
      return chunk ^ ((row >> SWIZZLE_SHIFT) & (SWIZZLE_GROUP - 1));
  }
  /// Address of the 16-byte chunk holding columns [8*chunk, 8*chunk+8) of `row`.
  TF_DEVICE T *chunk_ptr(int row, int chunk) { return &data[row * COLS + swizzle(row, chunk) * 8]; }
  TF_DEVICE const T *chunk_ptr(int row, int chunk) const { return &data[row * COLS + swizzle(row, chunk) * 8]; }
  TF_DEVICE T &at(int row, int col) { return chunk_ptr(row, col >> 3)[col & 7]; }
  TF_DEVICE const T &at(int row, int col) const { return chunk_ptr(row, col >> 3)[col & 7]; }
};

/// Carves dynamic shared memory into tiles, in order (each st is a multiple of 512 bytes: ROWS and COLS are
/// multiples of 16).
struct shared_allocator {
  unsigned char *next;
  template <typename S> TF_DEVICE S &allocate() {
    S &s = *reinterpret_cast<S *>(next);
    next += sizeof(S);
    return s;
  }
};

// ---------------------------------------------------------------------------------------------------
/// Register-tile layouts. A tile is ROWS/16 x COLS/16 base tiles of 16x16; each lane (lane = 4g+t)
/// holds 4 packed pairs p = 0..3 per base tile (i, j), element e = 0..1 of a pair:
///   layout::row  (A operand, f32 accumulators, B^T operand of mma_ABt):
///       row = 16i + g + 8*(p & 1)           col = 16j + 2t + 8*(p >> 1) + e
///   layout::col  (B operand of mma_AB, loaded with ldmatrix.trans):
///       row = 16i + 2t + 8*(p >> 1) + e     col = 16j + g + 8*(p & 1)
/// In the row layout pairs 0..3 are exactly the mma A registers a0..a3 and, for f32, the C/D registers
/// {d0,d1},{d2,d3} of the n8 halves (p=0,1: cols 0..7; p=2,3: cols 8..15). So an f32 accumulator
/// converted pair by pair is a valid A operand (FlashAttention-2 keeps P in registers this way).
namespace layout {
struct row {};
struct col {};
} // namespace layout

template <typename T, int ROWS, int COLS, typename L = layout::row> struct rt {
  static_assert(ROWS % 16 == 0 && COLS % 16 == 0, "register tiles are made of 16x16 base tiles");
  using dtype = T;
  using T2 = typename packed2<T>::type;
  using layout_type = L;
  static constexpr int rows = ROWS;
  static constexpr int cols = COLS;
  static constexpr int TILES_R = ROWS / 16;
  static constexpr int TILES_C = COLS / 16;
  static constexpr bool is_row = is_same<L, layout::row>::value;

  T2 tiles[TILES_R][TILES_C][4];

  /// Tile coordinates of element e of pair p of base tile (i, j) held by this lane (see above).
  static TF_DEVICE int row_of(int i, int p, int e) {
    const int lane = laneid();
    return is_row ? 16 * i + (lane >> 2) + 8 * (p & 1) : 16 * i + 2 * (lane & 3) + 8 * (p >> 1) + e;
  }
  static TF_DEVICE int col_of(int j, int p, int e) {
    const int lane = laneid();
    return is_row ? 16 * j + 2 * (lane & 3) + 8 * (p >> 1) + e : 16 * j + (lane >> 2) + 8 * (p & 1);
  }
};

// ---------------------------------------------------------------------------------------------------
/// Register vector with one f32 per row of a ROWS-row, row-layout register tile (row max m, row sum l,
/// LSE). Lane 4g+t holds data[i][h] = value of row 16i + g + 8h; the 4 lanes of a quad hold the same
/// values (reductions leave them equal).
template <int ROWS> struct rv {
  static_assert(ROWS % 16 == 0, "ROWS must be a multiple of 16");
  static constexpr int rows = ROWS;
  static constexpr int TILES_R = ROWS / 16;
  float data[TILES_R][2];
  static TF_DEVICE int row_of(int i, int h) { return 16 * i + (laneid() >> 2) + 8 * h; }
};

} // namespace device
} // namespace tilefuse
