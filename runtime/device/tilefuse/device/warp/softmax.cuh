// warp:: online-softmax steps (FlashAttention-2, Dao 2023, Sec. 3.1) in base 2: with
// scale_log2 = softmax_scale * log2(e), exp(scale*(s - m)) = exp2(s*scale_log2 - m*scale_log2),
// one FFMA + one MUFU.EX2 per score. m is the running max of raw (unscaled) scores; a row that is
// masked so far has m = -inf, and every helper treats it so that it yields p = 0, alpha = 0, no NaN.
//
// One K/V step, for a row-layout f32 score tile s and accumulator o:
//   row_max(m_new, s, m);  rescale_factor(alpha, m, m_new, scale_log2);
//   exp2_sub_row(s, s, m_new, scale_log2);   // s now holds P (unnormalized)
//   mul(l, l, alpha); row_sum(l, s, l);  mul_row(o, o, alpha);  m = m_new;  o += P V
// (or rescale_unless_unchanged(o, l, alpha, m, m_new) in place of the two rescales, before row_sum).
// After the last step: normalize_rows(o, l); log_sum_exp(lse, m, l, softmax_scale).
#pragma once
#include "../arch/sm80_math.cuh"
#include "../types.cuh"
#include "elementwise.cuh"

namespace tilefuse {
namespace device {
namespace warp {

namespace detail {
/// m * scale_log2, with -inf mapped to 0 so that (-inf) - (-inf) never appears.
TF_DEVICE float scaled_max(float m, float scale_log2) { return m == neg_inf() ? 0.0f : m * scale_log2; }
} // namespace detail

/// dst[r][c] = exp2(src[r][c] * scale_log2 - m[r] * scale_log2); masked scores (-inf) give 0.
template <int R, int C>
TF_DEVICE void exp2_sub_row(rt<float, R, C> &dst, const rt<float, R, C> &src, const rv<R> &m, float scale_log2) {
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const float ms = detail::scaled_max(m.data[i][h], scale_log2);
#pragma unroll
      for (int j = 0; j < C / 16; ++j)
#pragma unroll
        for (int p = h; p < 4; p += 2) {
          const float2 x = src.tiles[i][j][p];
          dst.tiles[i][j][p] = make_float2(fast_exp2(fmaf(x.x, scale_log2, -ms)), fast_exp2(fmaf(x.y, scale_log2, -ms)));
        }
    }
}

/// alpha[r] = exp2((m_old[r] - m_new[r]) * scale_log2): the factor that rescales the running sum l and
/// accumulator o when the row max grows. m_old = -inf gives 0 (nothing accumulated yet).
template <int R>
TF_DEVICE void rescale_factor(rv<R> &alpha, const rv<R> &m_old, const rv<R> &m_new, float scale_log2) {
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h)
      alpha.data[i][h] = fast_exp2(m_old.data[i][h] * scale_log2 - detail::scaled_max(m_new.data[i][h], scale_log2));
}

/// The rescale step, skipped when it is the identity: l *= alpha and o *= alpha row by row, unless no
/// row max of the warp moved (m_new == m_old on every row, so alpha = 1 in exact arithmetic; rows still
/// fully masked count as unchanged), tested warp-uniformly with __all_sync. After the first K/V tiles the
/// max seldom moves, so most steps skip the R x C multiplies of O (FlashAttention-4's conditional
/// rescaling with threshold 0: the result is the same as always rescaling, up to alpha's rounding).
template <int R, int C>
TF_DEVICE void rescale_unless_unchanged(rt<float, R, C> &o, rv<R> &l, const rv<R> &alpha, const rv<R> &m_old,
                                        const rv<R> &m_new) {
  bool unchanged = true;
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) unchanged &= m_old.data[i][h] == m_new.data[i][h];
  if (__all_sync(0xffffffffu, unchanged)) return;
  mul(l, l, alpha);
  mul_row(o, o, alpha);
}

/// o[r][c] /= l[r] (deferred normalization); rows with l = 0 (fully masked) become 0.
template <int R, int C> TF_DEVICE void normalize_rows(rt<float, R, C> &o, const rv<R> &l) {
  rv<R> inv;
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) inv.data[i][h] = l.data[i][h] > 0.0f ? 1.0f / l.data[i][h] : 0.0f;
  mul_row(o, o, inv);
}

/// lse[r] = m[r] * softmax_scale + ln(l[r]) (natural log, the LSE of the scaled scores);
/// l = 0 (fully masked row) gives -inf.
template <int R> TF_DEVICE void log_sum_exp(rv<R> &lse, const rv<R> &m, const rv<R> &l, float softmax_scale) {
  constexpr float LN2 = 0.693147180559945309f;
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h)
      lse.data[i][h] =
          l.data[i][h] > 0.0f ? m.data[i][h] * softmax_scale + fast_log2(l.data[i][h]) * LN2 : neg_inf();
}

} // namespace warp
} // namespace device
} // namespace tilefuse
