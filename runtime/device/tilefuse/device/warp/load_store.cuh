// warp:: moves between shared tiles, register tiles and global views (one warp executes each call).
#pragma once
#include "../arch/sm80_copy.cuh"
#include "../types.cuh"

namespace tilefuse {
namespace device {
namespace warp {

/// dst = src[row0 : row0+R, col0 : col0+C] with ldmatrix.x4 (row layout) or ldmatrix.x4.trans
/// (col layout), one instruction per 16x16 base tile. col0 must be a multiple of 8.
/// Row layout, base tile (i, j): lane l gives the address of row (l % 16), columns 8*(l / 16)..+7,
///   so matrix k = l/8 is rows 8*(k & 1).., cols 8*(k >> 1).. = pair k of the row layout.
/// Col layout: lane l gives row (l % 8) + 8*(l / 16), columns 8*((l / 8) % 2)..+7, so matrix k is
///   rows 8*(k >> 1).., cols 8*(k & 1).. ; .trans hands lane 4g+t the column pair = pair k of the col layout.
template <typename T, int R, int C, typename L, int SR, int SC>
TF_DEVICE void load(rt<T, R, C, L> &dst, const st<T, SR, SC> &src, int row0, int col0) {
  const int lane = laneid();
#pragma unroll
  for (int i = 0; i < R / 16; ++i) {
#pragma unroll
    for (int j = 0; j < C / 16; ++j) {
      auto &d = dst.tiles[i][j];
      if constexpr (rt<T, R, C, L>::is_row) {
        const int r = row0 + 16 * i + (lane & 15);
        const int c = col0 + 16 * j + 8 * (lane >> 4);
        SM75_U32x4_LDSM_N::copy(smem_u32(src.chunk_ptr(r, c >> 3)), as_u32(d[0]), as_u32(d[1]), as_u32(d[2]),
                                as_u32(d[3]));
      } else {
        const int r = row0 + 16 * i + (lane & 7) + 8 * (lane >> 4);
        const int c = col0 + 16 * j + 8 * ((lane >> 3) & 1);
        SM75_U16x8x4_LDSM_T::copy(smem_u32(src.chunk_ptr(r, c >> 3)), as_u32(d[0]), as_u32(d[1]), as_u32(d[2]),
                                  as_u32(d[3]));
      }
    }
  }
}

/// dst[row0 + r][col0 + c] = convert<T>(src[r][c]) for every row with row0 + r < dst.rows (rows past
/// the end are skipped) and, for a gvb, column col0 + c < dst.cols (a pair straddling it stores its first
/// element). src is an f32 row-layout accumulator; stores are 4-byte pairs per lane. View: gv<T> or gvb<T>.
template <template <typename> class View, typename T, int R, int C>
TF_DEVICE void store(const View<T> &dst, const rt<float, R, C, layout::row> &src, int row0, int col0) {
#pragma unroll
  for (int i = 0; i < R / 16; ++i) {
#pragma unroll
    for (int p = 0; p < 2; ++p) { // p = 0: row g, p = 1: row g + 8
      const int r = row0 + rt<float, R, C>::row_of(i, p, 0);
      if (r >= dst.rows) continue;
      T *out = dst.row(r) + col0;
#pragma unroll
      for (int j = 0; j < C / 16; ++j) {
#pragma unroll
        for (int half = 0; half < 2; ++half) { // columns 0..7, 8..15 of the base tile
          const int q = p + 2 * half;
          const int c = rt<float, R, C>::col_of(j, q, 0);
          if constexpr (!has_col_bound<View<T>>) {
            *reinterpret_cast<typename packed2<T>::type *>(out + c) = packed2<T>::from_float2(src.tiles[i][j][q]);
          } else if (col_in_bounds(dst, col0 + c + 1)) {
            *reinterpret_cast<typename packed2<T>::type *>(out + c) = packed2<T>::from_float2(src.tiles[i][j][q]);
          } else if (col_in_bounds(dst, col0 + c)) {
            out[c] = packed2<T>::from_float2(src.tiles[i][j][q]).x;
          }
        }
      }
    }
  }
}

/// dst[row0 + r][0] = v[r] for rows row0 + r < dst.rows; one lane per quad writes (e.g. LSE [Sq] with
/// dst.row_stride = 1).
template <int R> TF_DEVICE void store(const gv<float> &dst, const rv<R> &v, int row0) {
  if ((laneid() & 3) != 0) return;
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = row0 + rv<R>::row_of(i, h);
      if (r < dst.rows) *dst.row(r) = v.data[i][h];
    }
}

} // namespace warp
} // namespace device
} // namespace tilefuse
