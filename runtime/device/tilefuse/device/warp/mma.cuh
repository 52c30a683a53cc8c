// warp:: matrix products on register tiles with mma.sync m16n8k16 (f32 accumulate).
#pragma once
#include "../arch/sm80_mma.cuh"
#include "../types.cuh"

namespace tilefuse {
namespace device {
namespace warp {

namespace detail {
/// d[16x16 f32, row layout] += a[16x16, row layout] * B, where B (16x16, k x n) is given by 4 pairs
/// b[p] with n = g + 8*(p & 1), k = 2t + 8*(p >> 1) (a col-layout base tile of B, or equally a
/// row-layout base tile of B^T): the n8 half h uses b0 = b[h], b1 = b[h + 2].
template <typename T, typename T2>
TF_DEVICE void mma_base(float2 (&d)[4], const T2 (&a)[4], const T2 (&b)[4]) {
  using Atom = typename mma_atom_16x8x16<T>::type;
#pragma unroll
  for (int h = 0; h < 2; ++h) { // accumulator pairs 2h (row g) and 2h+1 (row g+8)
    float2 &lo = d[2 * h];
    float2 &hi = d[2 * h + 1];
    Atom::fma(lo.x, lo.y, hi.x, hi.y, as_u32(a[0]), as_u32(a[1]), as_u32(a[2]), as_u32(a[3]), as_u32(b[h]),
              as_u32(b[h + 2]), lo.x, lo.y, hi.x, hi.y);
  }
}
} // namespace detail

/// d[M x N] += a[M x K] * b[N x K]^T   (e.g. S = Q K^T: a = Q fragment, b = K fragment, both loaded
/// with ldmatrix from row-major [rows, head_dim] shared tiles). T = bf16 or fp16, f32 accumulate.
template <typename T, int M, int N, int K>
TF_DEVICE void mma_ABt(rt<float, M, N, layout::row> &d, const rt<T, M, K, layout::row> &a,
                       const rt<T, N, K, layout::row> &b) {
#pragma unroll
  for (int k = 0; k < K / 16; ++k)
#pragma unroll
    for (int m = 0; m < M / 16; ++m)
#pragma unroll
      for (int n = 0; n < N / 16; ++n)
        detail::mma_base<T>(d.tiles[m][n], a.tiles[m][k], b.tiles[n][k]);
}

/// d[M x N] += a[M x K] * b[K x N]   (e.g. O += P V: a = P in bf16/fp16 registers, b = V fragment
/// loaded with ldmatrix.trans from a row-major [kv rows, head_dim] shared tile).
template <typename T, int M, int N, int K>
TF_DEVICE void mma_AB(rt<float, M, N, layout::row> &d, const rt<T, M, K, layout::row> &a,
                      const rt<T, K, N, layout::col> &b) {
#pragma unroll
  for (int k = 0; k < K / 16; ++k)
#pragma unroll
    for (int m = 0; m < M / 16; ++m)
#pragma unroll
      for (int n = 0; n < N / 16; ++n)
        detail::mma_base<T>(d.tiles[m][n], a.tiles[m][k], b.tiles[k][n]);
}

} // namespace warp
} // namespace device
} // namespace tilefuse
