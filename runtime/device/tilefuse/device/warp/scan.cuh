// warp:: running row sums (scans) of f32 row-layout register tiles: blk.scan sum (docs/FUSION.md, rule 3;
// the log-space sum of stick-breaking attention, Tan et al. 2024, Sec. 2).
//
// A row of an R x C tile is C / 8 column groups of 8 (n8 groups), in column order; group g of row
// 16i + lane/4 + 8h is pair p = h + 2 (g % 2) of base tile j = g / 2, and lane t of the quad holds its
// columns 2t and 2t + 1. The scan of one row:
// the groups in scan order, each a quad scan of the pair sums (two shuffles up or down within the quad)
// plus the sum of the groups before (one more shuffle reads the group's total from the quad's last lane
// in scan order). Only that sum is carried from group to group, so the shuffles of different groups do
// not wait for each other and the scan holds no array of per-group values (registers: it runs in place
// beside the O accumulator).
// Cost per row and C-column tile: 3 C / 8 shuffles and about 2 C / 8 adds per lane.
#pragma once
#include "../types.cuh"

namespace tilefuse {
namespace device {
namespace warp {

/// dst[r][c] = sum of src[r][c'] over c' <= c (c' >= c when REVERSE), without c itself when EXCLUSIVE.
/// f32 sums in scan order within a quad, then across groups; dst may alias src.
template <bool REVERSE, bool EXCLUSIVE, int R, int C>
TF_DEVICE void row_scan_sum(rt<float, R, C> &dst, const rt<float, R, C> &src) {
  constexpr int G = C / 8;
  const int t = laneid() & 3;
  const int last = REVERSE ? 0 : 3; // the quad lane that ends a group in scan order
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float carry = 0.0f; // the groups before in scan order
#pragma unroll
      for (int k = 0; k < G; ++k) {
        const int g = REVERSE ? G - 1 - k : k;
        const float2 v = src.tiles[i][g / 2][h + 2 * (g % 2)];
        const float first = REVERSE ? v.y : v.x, second = REVERSE ? v.x : v.y; // in scan order
        const float s = first + second;
        float x = s; // inclusive quad scan of the pair sums, in scan order
        if (REVERSE) {
          float y = __shfl_down_sync(0xffffffffu, x, 1, 4);
          x += t <= 2 ? y : 0.0f;
          y = __shfl_down_sync(0xffffffffu, x, 2, 4);
          x += t <= 1 ? y : 0.0f;
        } else {
          float y = __shfl_up_sync(0xffffffffu, x, 1, 4);
          x += t >= 1 ? y : 0.0f;
          y = __shfl_up_sync(0xffffffffu, x, 2, 4);
          x += t >= 2 ? y : 0.0f;
        }
        const float base = carry + (x - s); // the columns before this lane's pair, in scan order
        const float out_first = EXCLUSIVE ? base : base + first;
        const float out_second = EXCLUSIVE ? base + first : base + first + second;
        float2 &d = dst.tiles[i][g / 2][h + 2 * (g % 2)];
        d.x = REVERSE ? out_second : out_first;
        d.y = REVERSE ? out_first : out_second;
        carry += __shfl_sync(0xffffffffu, x, last, 4); // the group's sum
      }
    }
}

} // namespace warp
} // namespace device
} // namespace tilefuse
