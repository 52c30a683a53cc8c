// Warpgroup-scoped matrix products on register tiles (sm_90a): what the sm90 backend's consumer
// warpgroups call. One warpgroup (4 consecutive warps) computes a 64-row product; each warp keeps its own
// 16 rows in an rt<float, 16, N> — exactly the wgmma accumulator fragment (device/wgmma.cuh's header
// comment: per warp, the mma.sync C layout N / 8 times over), so the warp:: row reductions and the
// codegen_support maps work on it unchanged. Operands in shared memory are 128B-swizzled sw128 tiles
// (device/wgmma.cuh) filled by TMA (device/tma.cuh). mma_ABt and mma_AB issue their k-steps as one wgmma
// group and wait for it (wgmma.wait_group 0), so the result is readable on return; the _async forms
// return after the issue and mma_wait waits (FlashAttention-3, Sec. 3.1: one warpgroup's softmax runs
// while another's products do).
#pragma once
#include "../arch/sm80_copy.cuh"
#include "../types.cuh"
#include "../wgmma.cuh"

#if TF_HAS_WGMMA

namespace tilefuse {
namespace device {
namespace warpgroup {

/// The wgmma atoms of N columns for 16-bit input type T (bf16 or fp16).
template <typename T, int N> struct atoms;
template <int N> struct atoms<__nv_bfloat16, N> {
  using SS = SM90_64xNx16_F32BF16BF16_SS<N>;
  using RS = SM90_64xNx16_F32BF16BF16_RS<N>;
};
template <int N> struct atoms<__half, N> {
  using SS = SM90_64xNx16_F32F16F16_SS<N>;
  using RS = SM90_64xNx16_F32F16F16_RS<N>;
};

/// The warp's 16 x N accumulator tile as the flat d[N / 2] the atoms take (same registers, same order).
template <int N> TF_DEVICE float (&acc_regs(rt<float, 16, N> &t))[N / 2] {
  static_assert(sizeof(t.tiles) == sizeof(float) * (N / 2), "rt<float, 16, N> is N / 2 floats per lane");
  return *reinterpret_cast<float(*)[N / 2]>(&t.tiles);
}

/// The four 32-bit registers of k-step k16 of a register A operand: its pairs 0..3 of the 16-column block,
/// the wgmma A fragment (PTX ISA 9.7.15.5.1.1).
template <typename T, int K> TF_DEVICE void a_fragment(unsigned (&frag)[4], const rt<T, 16, K> &a, int k16) {
#pragma unroll
  for (int q = 0; q < 4; ++q)
    frag[q] = *reinterpret_cast<const unsigned *>(&a.tiles[0][k16][q]);
}

/// Issues D = A B^T (ACC: D += A B^T) as one committed wgmma group and returns without waiting for it:
/// D [64 x N] f32, this warpgroup's rows [a_row0, a_row0 + 64) of A, each warp keeping its 16 rows in `d`.
/// A: [A_ROWS x K] at shared address `a` (K-major, T); B: [N x K] at `b` (K-major: the [N x K] tile B^T is
/// read as stored, e.g. K of S = Q K^T). K a multiple of 16; both tiles are stored as
/// sw128<rows, sw128_stored_cols<K>> and only their first K columns are read (K / 16 k-steps).
/// `d` may be read only after mma_wait (PTX ISA 9.7.15.5: the accumulators of an mma_async in flight).
template <typename T, int A_ROWS, int N, int K, bool ACC = false>
TF_DEVICE void mma_ABt_async(rt<float, 16, N> &d, unsigned a, int a_row0, unsigned b) {
  static_assert(K % 16 == 0, "K is a whole number of 16-column k-steps");
  using Atom = typename atoms<T, N>::SS;
  using TileA = sw128<A_ROWS, sw128_stored_cols<K>>;
  using TileB = sw128<N, sw128_stored_cols<K>>;
  float(&r)[N / 2] = acc_regs(d);
  if (ACC)
    wgmma_fence_operand(r);
  wgmma_fence();
#pragma unroll
  for (int k16 = 0; k16 < K / 16; ++k16)
    Atom::template mma<0>(r, TileA::desc_k_major(a, a_row0, k16), TileB::desc_k_major(b, 0, k16), (ACC || k16 > 0) ? 1 : 0);
  wgmma_commit();
}

/// Waits until at most PENDING of this warpgroup's committed wgmma groups are in flight
/// (wgmma.wait_group), then makes the accumulators `accs` of the completed ones readable: the compiler
/// may not move their reads above the wait.
template <int PENDING, typename... Acc> TF_DEVICE void mma_wait(Acc &...accs) {
  wgmma_wait<PENDING>();
  (wgmma_fence_operand(acc_regs(accs)), ...);
}

/// D = A B^T (ACC: D += A B^T) as mma_ABt_async, waited for: `d` is readable on return.
template <typename T, int A_ROWS, int N, int K, bool ACC = false>
TF_DEVICE void mma_ABt(rt<float, 16, N> &d, unsigned a, int a_row0, unsigned b) {
  mma_ABt_async<T, A_ROWS, N, K, ACC>(d, a, a_row0, b);
  mma_wait<0>(d);
}

/// Loads this warp's rows [row0, row0 + 16) of the sw128<ROWS, sw128_stored_cols<K>> tile at shared address
/// `src` (columns [0, K)) into `a`, the wgmma A fragment (the mma.sync A layout per 16-column k-step): one
/// ldmatrix.x4 per k-step, matrix q of the 16 x 16 block (rows 8 (q & 1).., columns 8 (q >> 1)..) into
/// pair q. row0 a multiple of 16, ROWS >= row0 + 16.
template <typename T, int ROWS, int K> TF_DEVICE void load_sw128(rt<T, 16, K> &a, unsigned src, int row0) {
  using Tile = sw128<ROWS, sw128_stored_cols<K>>;
#pragma unroll
  for (int k16 = 0; k16 < K / 16; ++k16) {
    unsigned d[4];
    SM75_U32x4_LDSM_N::copy(Tile::x4_address(src, row0, k16), d[0], d[1], d[2], d[3]);
#pragma unroll
    for (int q = 0; q < 4; ++q)
      a.tiles[0][k16][q] = *reinterpret_cast<const typename rt<T, 16, K>::T2 *>(&d[q]);
  }
}

/// Issues D = A B^T (ACC: D += A B^T) as one committed wgmma group (RS: A from registers) and returns
/// without waiting for it: D [64 x N] f32 and A [64 x K] (each warp: its 16 rows, A as load_sw128 leaves
/// it); B: [N x K] at shared address `b`, stored as sw128<N, sw128_stored_cols<K>> and read K-major (K of
/// S = Q K^T). Q in registers saves the shared-memory reads of A that the SS form repeats for every K/V
/// tile. `a` must not change and `d` may be read only after mma_wait.
template <typename T, int N, int K, bool ACC = false>
TF_DEVICE void mma_ABt_async(rt<float, 16, N> &d, const rt<T, 16, K> &a, unsigned b) {
  static_assert(K % 16 == 0, "K is a whole number of 16-column k-steps");
  using Atom = typename atoms<T, N>::RS;
  using TileB = sw128<N, sw128_stored_cols<K>>;
  float(&r)[N / 2] = acc_regs(d);
  if (ACC)
    wgmma_fence_operand(r);
  wgmma_fence();
#pragma unroll
  for (int k16 = 0; k16 < K / 16; ++k16) {
    unsigned frag[4];
    a_fragment(frag, a, k16);
    Atom::template mma<0>(r, frag, TileB::desc_k_major(b, 0, k16), (ACC || k16 > 0) ? 1 : 0);
  }
  wgmma_commit();
}

/// D = A B^T (ACC: D += A B^T) as the RS mma_ABt_async above, waited for.
template <typename T, int N, int K, bool ACC = false>
TF_DEVICE void mma_ABt(rt<float, 16, N> &d, const rt<T, 16, K> &a, unsigned b) {
  mma_ABt_async<T, N, K, ACC>(d, a, b);
  mma_wait<0>(d);
}

/// Issues D += A B as one committed wgmma group and returns without waiting for it: D [64 x N] f32 (each
/// warp: its 16 rows in `d`); A [64 x K] in registers (each warp: its 16 rows as an rt<T, 16, K>, the
/// mma.sync A layout = the wgmma A fragment per 16-column k-step); B: the [K x N] tile at shared address
/// `b`, stored as sw128<K, sw128_stored_cols<N>> and read MN-major (e.g. V [BLOCK_N x Dv] of O += P V).
/// N a multiple of 16 up to 256: one wgmma of N columns per k-step, which reads the last panel only in
/// part when N is not a multiple of 64 (sw128::desc_mn_major). `d` may be read, and `a` and the tile at
/// `b` overwritten, only after mma_wait. COMMIT = false leaves the wgmma uncommitted: the caller's next
/// commit() closes the group (so a conditional product still makes one group, possibly empty).
template <typename T, int K, int N, bool COMMIT = true>
TF_DEVICE void mma_AB_async(rt<float, 16, N> &d, const rt<T, 16, K> &a, unsigned b) {
  using Atom = typename atoms<T, N>::RS;
  using TileB = sw128<K, sw128_stored_cols<N>>;
  float(&r)[N / 2] = acc_regs(d);
  wgmma_fence_operand(r);
  wgmma_fence();
#pragma unroll
  for (int k16 = 0; k16 < K / 16; ++k16) {
    unsigned frag[4];
    a_fragment(frag, a, k16);
    Atom::template mma<1>(r, frag, TileB::desc_mn_major(b, k16), 1);
  }
  if (COMMIT)
    wgmma_commit();
}

/// Closes this warpgroup's uncommitted wgmma (none: an empty group; PTX ISA 9.7.15.5.3,
/// wgmma.commit_group), so that mma_wait<N> counts it.
TF_DEVICE void commit() { wgmma_commit(); }

/// D += A B as mma_AB_async, waited for: `d` is readable on return.
template <typename T, int K, int N>
TF_DEVICE void mma_AB(rt<float, 16, N> &d, const rt<T, 16, K> &a, unsigned b) {
  mma_AB_async<T, K, N>(d, a, b);
  mma_wait<0>(d);
}

} // namespace warpgroup
} // namespace device
} // namespace tilefuse

#endif // TF_HAS_WGMMA
