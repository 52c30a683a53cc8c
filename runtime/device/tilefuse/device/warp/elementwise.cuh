// warp:: elementwise ops on register tiles and vectors, destination first.
// for_each is the hook for generated score_mod / mask_mod code: it hands every element this lane
// holds to a functor together with its (row, col) inside the tile.
#pragma once
#include "../types.cuh"

namespace tilefuse {
namespace device {
namespace warp {

/// f(row, col, x&) for every element x of t held by this lane; row/col are tile coordinates
/// (add the tile's origin for sequence positions). Works for every layout and element type.
template <typename T, int R, int C, typename L, typename F> TF_DEVICE void for_each(rt<T, R, C, L> &t, F &&f) {
  using Tile = rt<T, R, C, L>;
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int j = 0; j < C / 16; ++j)
#pragma unroll
      for (int p = 0; p < 4; ++p) {
        f(Tile::row_of(i, p, 0), Tile::col_of(j, p, 0), t.tiles[i][j][p].x);
        f(Tile::row_of(i, p, 1), Tile::col_of(j, p, 1), t.tiles[i][j][p].y);
      }
}

/// f(row, x&) for every row value this lane holds (rows 16i+g and 16i+g+8).
template <int R, typename F> TF_DEVICE void for_each(rv<R> &v, F &&f) {
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) f(rv<R>::row_of(i, h), v.data[i][h]);
}

/// t = 0.
template <typename T, int R, int C, typename L> TF_DEVICE void zero(rt<T, R, C, L> &t) {
  for_each(t, [](int, int, T &x) { x = T(0.0f); });
}

/// v[r] = value for every row.
template <int R> TF_DEVICE void fill(rv<R> &v, float value) {
  for_each(v, [&](int, float &x) { x = value; });
}

/// dst = convert<T>(src), pair by pair (f32 accumulator -> bf16/fp16 A operand keeps the fragment
/// layout: this is how P is reused from registers for the P V product).
template <typename T, typename U, int R, int C>
TF_DEVICE void copy(rt<T, R, C, layout::row> &dst, const rt<U, R, C, layout::row> &src) {
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int j = 0; j < C / 16; ++j)
#pragma unroll
      for (int p = 0; p < 4; ++p)
        dst.tiles[i][j][p] = packed2<T>::from_float2(packed2<U>::to_float2(src.tiles[i][j][p]));
}

/// The NC-column slice src[:, index*NC : (index+1)*NC] (e.g. the k-th 16-column slice of P).
/// Free after unrolling (the copy is register renaming).
template <int NC, typename T, int R, int C, typename L>
TF_DEVICE rt<T, R, NC, L> subtile_cols(const rt<T, R, C, L> &src, int index) {
  static_assert(NC % 16 == 0 && C % NC == 0, "NC must divide C and be a multiple of 16");
  rt<T, R, NC, L> out;
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int j = 0; j < NC / 16; ++j)
#pragma unroll
      for (int p = 0; p < 4; ++p) out.tiles[i][j][p] = src.tiles[i][index * (NC / 16) + j][p];
  return out;
}

/// dst = src * s  (f32 tiles).
template <int R, int C> TF_DEVICE void mul(rt<float, R, C> &dst, const rt<float, R, C> &src, float s) {
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int j = 0; j < C / 16; ++j)
#pragma unroll
      for (int p = 0; p < 4; ++p) dst.tiles[i][j][p] = make_float2(src.tiles[i][j][p].x * s, src.tiles[i][j][p].y * s);
}

/// dst[r][c] = src[r][c] * v[r]  (rescale accumulator rows, e.g. O *= exp2(m_old - m_new)).
template <int R, int C> TF_DEVICE void mul_row(rt<float, R, C> &dst, const rt<float, R, C> &src, const rv<R> &v) {
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int j = 0; j < C / 16; ++j)
#pragma unroll
      for (int p = 0; p < 4; ++p) {
        const float s = v.data[i][p & 1];
        dst.tiles[i][j][p] = make_float2(src.tiles[i][j][p].x * s, src.tiles[i][j][p].y * s);
      }
}

/// Whether v[r] != 1 on some row of the warp's (a warp vote: every lane gets the same answer; NaN counts
/// as not 1). Guards an accumulator's rescale by v, which is exact to skip where v is 1 on every row.
template <int R> TF_DEVICE bool any_row_not_one(const rv<R> &v) {
  bool moved = false;
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) moved |= !(v.data[i][h] == 1.0f);
  return __any_sync(0xffffffffu, moved);
}

/// dst[r] = a[r] * b[r].
template <int R> TF_DEVICE void mul(rv<R> &dst, const rv<R> &a, const rv<R> &b) {
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) dst.data[i][h] = a.data[i][h] * b.data[i][h];
}

/// x = -inf wherever masked(row, col) is true (tile coordinates). The mask_mod hook.
template <int R, int C, typename Pred> TF_DEVICE void mask_if(rt<float, R, C> &t, Pred &&masked) {
  const float ninf = neg_inf();
  for_each(t, [&](int r, int c, float &x) {
    if (masked(r, c)) x = ninf;
  });
}

/// Column bound (K/V tail): x = -inf where col0 + col >= col_end.
template <int R, int C> TF_DEVICE void mask_cols(rt<float, R, C> &t, int col0, int col_end) {
  mask_if(t, [&](int, int c) { return col0 + c >= col_end; });
}

/// Row bound (Q tail): x = -inf where row0 + row >= row_end.
template <int R, int C> TF_DEVICE void mask_rows(rt<float, R, C> &t, int row0, int row_end) {
  mask_if(t, [&](int r, int) { return row0 + r >= row_end; });
}

/// Causal mask, bottom-right aligned: x = -inf where (col0 + col) > (row0 + row) + offset, with
/// offset = Sk - Sq (0 when Sq == Sk).
template <int R, int C> TF_DEVICE void mask_causal(rt<float, R, C> &t, int row0, int col0, int offset) {
  mask_if(t, [&](int r, int c) { return col0 + c > row0 + r + offset; });
}

} // namespace warp
} // namespace device
} // namespace tilefuse
