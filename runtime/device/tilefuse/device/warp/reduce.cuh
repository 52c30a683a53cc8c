// warp:: row reductions of f32 row-layout register tiles into register vectors.
// A row's 2*C/8 values are spread over the 4 lanes of a quad (lanes 4g..4g+3): each lane reduces its
// own, then two xor-shuffles (1, 2) combine the quad, leaving every lane of the quad with the result.
#pragma once
#include "../types.cuh"

namespace tilefuse {
namespace device {
namespace warp {

namespace detail {
struct op_max {
  static TF_DEVICE float apply(float a, float b) { return fmaxf(a, b); }
};
struct op_sum {
  static TF_DEVICE float apply(float a, float b) { return a + b; }
};
template <typename Op, int R, int C>
TF_DEVICE void row_reduce(rv<R> &dst, const rt<float, R, C> &src, const rv<R> &accum) {
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) { // pairs h and h+2 hold row 16i + g + 8h
      float x = Op::apply(src.tiles[i][0][h].x, src.tiles[i][0][h].y);
      x = Op::apply(x, Op::apply(src.tiles[i][0][h + 2].x, src.tiles[i][0][h + 2].y));
#pragma unroll
      for (int j = 1; j < C / 16; ++j) {
        x = Op::apply(x, Op::apply(src.tiles[i][j][h].x, src.tiles[i][j][h].y));
        x = Op::apply(x, Op::apply(src.tiles[i][j][h + 2].x, src.tiles[i][j][h + 2].y));
      }
      x = Op::apply(x, __shfl_xor_sync(0xffffffffu, x, 1));
      x = Op::apply(x, __shfl_xor_sync(0xffffffffu, x, 2));
      dst.data[i][h] = Op::apply(x, accum.data[i][h]);
    }
}
} // namespace detail

/// dst[r] = max(accum[r], max_c src[r][c]). dst may alias accum (running max m).
template <int R, int C> TF_DEVICE void row_max(rv<R> &dst, const rt<float, R, C> &src, const rv<R> &accum) {
  detail::row_reduce<detail::op_max>(dst, src, accum);
}

/// dst[r] = accum[r] + sum_c src[r][c]. dst may alias accum (running sum l).
template <int R, int C> TF_DEVICE void row_sum(rv<R> &dst, const rt<float, R, C> &src, const rv<R> &accum) {
  detail::row_reduce<detail::op_sum>(dst, src, accum);
}

} // namespace warp
} // namespace device
} // namespace tilefuse
