// warp:: matrix products whose operands stream from shared tiles, one 16x16 base tile at a time
// (FlashAttention-2, Dao 2023, Sec. 3.3: the warp reads K and V slices straight from SMEM; FA2's
// flash::gemm / gemm_rs). Compared with loading a whole operand into registers first, only a short
// ring of fragments is live, and the ldmatrix of a later base tile is issued before the mma.sync of
// the current one (software pipelining inside the warp), so SMEM latency hides behind tensor work.
//
// A warp owning M rows reads each B base tile once per M rows, so the SMEM bytes per FLOP fall as 1/M:
// M = 32 (BLOCK_M = 128 with 4 warps) halves the ldmatrix traffic of M = 16.
//
//   mma_ABt(d, a_regs, b_smem, b_row0)                  d[MxN] += A[MxK] * B[b_row0:+N, 0:K]^T
//   mma_ABt(d, a_smem, a_row0, b_smem, b_row0)          d[MxN] += A[a_row0:+M, 0:K] * B[b_row0:+N, 0:K]^T
//   mma_AB (d, a_regs, b_smem, b_row0)                  d[MxN] += A[MxK] * B[b_row0:+K, 0:N]
//
// LOOKAHEAD: how many B base tiles are in flight ahead of the one being multiplied (ring of
// LOOKAHEAD + 1 fragments of 4 registers). Each B base tile feeds 2 * M/16 mma.sync; the default keeps
// about 8 of them between an ldmatrix and its first use.
//
// B fragments are loaded in the mma's own register order ({b0, b1} of each n8 half adjacent), not in
// the rt layout of types.cuh: with the rt order every mma.sync needed register moves to pair b[h] with
// b[h+2] (~400 IMAD.MOV per K/V step of the D=128 kernel). Row offsets (a_row0, b_row0) must be
// multiples of 8: the swizzle of the lane's address then reduces to one XOR with a constant.
#pragma once
#include "elementwise.cuh"
#include "load_store.cuh"
#include "mma.cuh"

namespace tilefuse {
namespace device {
namespace warp {

namespace detail {
/// Default B-tile lookahead for a warp tile of M rows (see above).
template <int M> struct default_lookahead {
  static constexpr int value = M >= 32 ? 2 : 4;
};

/// ldmatrix addressing of st<T, R, SC> (types.cuh swizzle) for 16x16 base tiles whose origin (row0, col0)
/// has row0 % 8 == 0 and col0 % 16 == 0: the lane's address is tile + offset(lane_offset(ri, h), row0,
/// col0), where the lane points at row row0 + ri, 16-byte chunk col0 / 8 + h. The swizzle of such a
/// tile depends only on (ri, h) and on col0 through an XOR with a constant, so after unrolling each
/// ldmatrix costs one integer op on a per-lane value computed once.
///
/// Why the split holds: with G = the swizzle group (8, 4 or 2 chunks) and s the row's XOR, the chunk
/// c = col0 / 8 + h (col0 / 8 even, h < 2) lands at (c & ~(G-1)) + ((col0 / 8) % G ^ (h ^ s) % G): a
/// constant group offset plus lane_offset's chunk (h ^ s) % G XOR-ed with the constant (col0 / 8) % G.
/// The row part ri * ROW_BYTES of lane_offset has no bits below 16 G bytes (ROW_BYTES is a multiple of
/// 16 G), so the XOR cannot reach it.
template <int SC> struct lane_addressing {
  static constexpr int ROW_BYTES = SC * 2;
  static constexpr int GROUP = st<__nv_bfloat16, 16, SC>::SWIZZLE_GROUP;
  static constexpr int SHIFT = st<__nv_bfloat16, 16, SC>::SWIZZLE_SHIFT;
  static TF_DEVICE unsigned lane_offset(int ri, int h) {
    return static_cast<unsigned>(ri * ROW_BYTES + 16 * ((h ^ (ri >> SHIFT)) & (GROUP - 1)));
  }
  static TF_DEVICE unsigned offset(unsigned lane_off, int row0, int col0) {
    if constexpr (GROUP == 8) { // 128-byte groups: the same value, in the form the optimiser folds best
      return static_cast<unsigned>(row0 * ROW_BYTES + 128 * (col0 >> 6)) +
             (lane_off ^ static_cast<unsigned>(2 * (col0 & 48)));
    } else {
      constexpr unsigned GROUP_BYTES = 16u * GROUP; // bytes of one aligned group of swizzled chunks
      const unsigned col_bytes = static_cast<unsigned>(2 * col0);
      return static_cast<unsigned>(row0 * ROW_BYTES) + (col_bytes & ~(GROUP_BYTES - 1)) +
             (lane_off ^ (col_bytes & (GROUP_BYTES - 1)));
    }
  }
  /// Lane of the A order (matrix j = rows 8(j&1).., chunk j>>1): a0..a3 of a row-major tile with
  /// ldmatrix, and {b0,b1} of n-half 0 = d0,d1 and n-half 1 = d2,d3 of a [k][n] tile with ldmatrix.trans.
  static TF_DEVICE unsigned lane_offset_a() { return lane_offset(laneid() & 15, laneid() >> 4); }
  /// Lane of the B^T order (matrix j = rows 8(j>>1).., chunk j&1): {b0,b1} of n-half 0 = d0,d1 and of
  /// n-half 1 = d2,d3 of an [n][k] tile (B^T row-major, e.g. K) with ldmatrix.
  static TF_DEVICE unsigned lane_offset_bt() {
    return lane_offset((laneid() & 7) + 8 * (laneid() >> 4), (laneid() >> 3) & 1);
  }
};

/// d[16x16 f32, row layout] += a[16x16, row layout] * B with B in the mma's own register order:
/// b[0], b[1] = b0, b1 of the n8 half 0 and b[2], b[3] those of n8 half 1 (no register moves needed).
template <typename T, typename T2>
TF_DEVICE void mma_native_b(float2 (&d)[4], const T2 (&a)[4], const unsigned (&b)[4]) {
  using Atom = typename mma_atom_16x8x16<T>::type;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float2 &lo = d[2 * h];
    float2 &hi = d[2 * h + 1];
    Atom::fma(lo.x, lo.y, hi.x, hi.y, as_u32(a[0]), as_u32(a[1]), as_u32(a[2]), as_u32(a[3]), b[2 * h], b[2 * h + 1],
              lo.x, lo.y, hi.x, hi.y);
  }
}

template <int M, int STEPS, int LOOKAHEAD> struct ring_depth {
  static constexpr int AHEAD_RAW = LOOKAHEAD < 0 ? default_lookahead<M>::value : LOOKAHEAD;
  static constexpr int AHEAD = AHEAD_RAW < STEPS - 1 ? AHEAD_RAW : STEPS - 1;
  static constexpr int DEPTH = AHEAD + 1;
};
} // namespace detail

/// d[M x N] += a[M x K] * B^T with B = b[b_row0 : b_row0+N, 0 : K] (e.g. S = Q K^T with Q in registers
/// and K a row-major [BLOCK_N, HEAD_DIM] shared tile). Base tiles of B stream through ldmatrix in
/// k-major order, LOOKAHEAD ahead of the mma, in the mma's register order. T = bf16 or fp16, f32
/// accumulate. K <= SC; b_row0 % 8 == 0.
template <int LOOKAHEAD = -1, typename T, int M, int N, int K, int SR, int SC>
TF_DEVICE void mma_ABt(rt<float, M, N, layout::row> &d, const rt<T, M, K, layout::row> &a, const st<T, SR, SC> &b,
                       int b_row0) {
  static_assert(K <= SC, "the product reads columns [0, K) of the shared tile");
  using Addr = detail::lane_addressing<SC>;
  constexpr int KS = K / 16, NS = N / 16, STEPS = KS * NS;
  constexpr int AHEAD = detail::ring_depth<M, STEPS, LOOKAHEAD>::AHEAD, DEPTH = AHEAD + 1;
  const unsigned base = smem_u32(b.data), lane = Addr::lane_offset_bt();
  unsigned ring[DEPTH][4]; // B^T base tile (n, k) in mma order
  auto fetch = [&](unsigned (&f)[4], int s) {
    SM75_U32x4_LDSM_N::copy(base + Addr::offset(lane, b_row0 + 16 * (s % NS), 16 * (s / NS)), f[0], f[1], f[2], f[3]);
  };
#pragma unroll
  for (int s = 0; s < AHEAD; ++s) fetch(ring[s], s);
#pragma unroll
  for (int s = 0; s < STEPS; ++s) {
    const int k = s / NS, n = s % NS;
    if (s + AHEAD < STEPS) fetch(ring[(s + AHEAD) % DEPTH], s + AHEAD);
#pragma unroll
    for (int m = 0; m < M / 16; ++m) detail::mma_native_b<T>(d.tiles[m][n], a.tiles[m][k], ring[s % DEPTH]);
  }
}

/// d[M x N] += A * B^T with A = a[a_row0 : a_row0+M, 0 : K] and B = b[b_row0 : b_row0+N, 0 : K], both
/// row-major shared tiles (e.g. S = Q K^T with Q re-read from SMEM each K/V step, FA2's choice at
/// HEAD_DIM = 128 where Q in registers would not fit next to O). The A slice of k-step k+1 is loaded
/// when k-step k starts; B base tiles stream LOOKAHEAD ahead. a_row0 % 8 == 0, b_row0 % 8 == 0.
template <int LOOKAHEAD = -1, typename T, int M, int N, int SRA, int SCA, int SRB, int SCB>
TF_DEVICE void mma_ABt(rt<float, M, N, layout::row> &d, const st<T, SRA, SCA> &a, int a_row0, const st<T, SRB, SCB> &b,
                       int b_row0) {
  static_assert(SCA == SCB, "A and B share the reduction dimension (their columns)");
  using Addr = detail::lane_addressing<SCA>;
  using T2 = typename packed2<T>::type;
  constexpr int K = SCA;
  constexpr int KS = K / 16, NS = N / 16, STEPS = KS * NS;
  constexpr int AHEAD = detail::ring_depth<M, STEPS, LOOKAHEAD>::AHEAD, DEPTH = AHEAD + 1;
  const unsigned a_base = smem_u32(a.data), a_lane = Addr::lane_offset_a();
  const unsigned b_base = smem_u32(b.data), b_lane = Addr::lane_offset_bt();
  T2 a_ring[2][M / 16][4]; // A slices (16 columns) of two k-steps, row layout = mma A order
  unsigned ring[DEPTH][4];
  auto fetch_a = [&](T2 (&f)[M / 16][4], int k) {
#pragma unroll
    for (int i = 0; i < M / 16; ++i)
      SM75_U32x4_LDSM_N::copy(a_base + Addr::offset(a_lane, a_row0 + 16 * i, 16 * k), as_u32(f[i][0]), as_u32(f[i][1]),
                              as_u32(f[i][2]), as_u32(f[i][3]));
  };
  auto fetch_b = [&](unsigned (&f)[4], int s) {
    SM75_U32x4_LDSM_N::copy(b_base + Addr::offset(b_lane, b_row0 + 16 * (s % NS), 16 * (s / NS)), f[0], f[1], f[2],
                            f[3]);
  };
  fetch_a(a_ring[0], 0);
#pragma unroll
  for (int s = 0; s < AHEAD; ++s) fetch_b(ring[s], s);
#pragma unroll
  for (int s = 0; s < STEPS; ++s) {
    const int k = s / NS, n = s % NS;
    if (n == 0 && k + 1 < KS) fetch_a(a_ring[(k + 1) & 1], k + 1);
    if (s + AHEAD < STEPS) fetch_b(ring[(s + AHEAD) % DEPTH], s + AHEAD);
#pragma unroll
    for (int m = 0; m < M / 16; ++m) detail::mma_native_b<T>(d.tiles[m][n], a_ring[k & 1][m], ring[s % DEPTH]);
  }
}

/// d[M x N] += a[M x K] * B with B = b[b_row0 : b_row0+K, 0 : N] (e.g. O += P V with P in registers and
/// V a row-major [BLOCK_N, HEAD_DIM] shared tile read with ldmatrix.trans). Base tiles of B stream in
/// k-major order, LOOKAHEAD ahead of the mma, in the mma's register order. N <= SC; b_row0 % 8 == 0.
template <int LOOKAHEAD = -1, typename T, int M, int N, int K, int SR, int SC>
TF_DEVICE void mma_AB(rt<float, M, N, layout::row> &d, const rt<T, M, K, layout::row> &a, const st<T, SR, SC> &b,
                      int b_row0) {
  static_assert(N <= SC, "the product writes columns [0, N) of the shared tile");
  using Addr = detail::lane_addressing<SC>;
  constexpr int KS = K / 16, NS = N / 16, STEPS = KS * NS;
  constexpr int AHEAD = detail::ring_depth<M, STEPS, LOOKAHEAD>::AHEAD, DEPTH = AHEAD + 1;
  const unsigned base = smem_u32(b.data), lane = Addr::lane_offset_a();
  unsigned ring[DEPTH][4]; // B base tile (k, n) in mma order
  auto fetch = [&](unsigned (&f)[4], int s) {
    SM75_U16x8x4_LDSM_T::copy(base + Addr::offset(lane, b_row0 + 16 * (s / NS), 16 * (s % NS)), f[0], f[1], f[2], f[3]);
  };
#pragma unroll
  for (int s = 0; s < AHEAD; ++s) fetch(ring[s], s);
#pragma unroll
  for (int s = 0; s < STEPS; ++s) {
    const int k = s / NS, n = s % NS;
    if (s + AHEAD < STEPS) fetch(ring[(s + AHEAD) % DEPTH], s + AHEAD);
#pragma unroll
    for (int m = 0; m < M / 16; ++m) detail::mma_native_b<T>(d.tiles[m][n], a.tiles[m][k], ring[s % DEPTH]);
  }
}

} // namespace warp
} // namespace device
} // namespace tilefuse
