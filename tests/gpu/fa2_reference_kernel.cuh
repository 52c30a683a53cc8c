// Reference FlashAttention-2 forward kernel (Dao 2023, "FlashAttention-2", Sec. 3.1, Algorithm 1;
// work partitioning of Sec. 3.3), written only with the Tilefuse device library: the shape of what the
// code generator emits. Its schedule (Fa2Schedule in fa2_params.h) is template parameters, the knobs a
// generator sets: BLOCK_M, BLOCK_N, WARPS, STAGES, Q_IN_REGS (and min blocks per SM at the launch bound).
//
// Grid (ceil(Sq / BLOCK_M), Hq, B), 32 * WARPS threads; warp w owns query rows [WARP_M w, WARP_M (w+1))
// of the Q tile, WARP_M = BLOCK_M / WARPS, and keeps S/P, O, m, l (and Q if Q_IN_REGS) in registers.
// Loop over BLOCK_N-row K/V tiles:
//   S = Q K^T -> masks -> m_new = max(m, rowmax S) -> alpha = exp2(m - m_new) -> P = exp2(S - m_new)
//   -> l = alpha l + rowsum P -> O = alpha O -> O += P V;   finally O /= l, LSE = m*scale + ln l.
// Copies: kv_pipeline<STAGES> (group/pipeline.cuh): K and V each in a ring of STAGES slots, waited for
// separately, so Q K_j^T overlaps the landing of V_j and P V_j the landing of K_{j+STAGES}.
// The rescale of O is skipped on steps where no row max of the warp moved (TILEFUSE_FA2_LAZY_RESCALE).
// Causal (bottom-right aligned, offset = Sk - Sq): the block stops at its last visible K/V tile, a warp
// skips the tiles wholly above its own rows, the mask is applied only on tiles that cross the warp's
// diagonal, and row blocks run heaviest first. Tails past Sq / Sk are zero-filled and masked.
// Dynamic shared memory: (BLOCK_M + 2 * STAGES * BLOCK_N) * HEAD_DIM * sizeof(T) bytes.
#pragma once
#include <tilefuse/device.cuh>

#include "fa2_params.h"

/// 1: skip the rescale of O (and l) when no row max of the warp moved (warp::rescale_unless_unchanged;
/// +1-2% on the H100, RESULTS.md); 0: always rescale. A code-generation choice, set with
/// -DTILEFUSE_FA2_LAZY_RESCALE=<0|1>. Default: 1 on sm_90+, where it was measured; 0 below, where it was
/// not, and where ptxas spills 4 B of the HEAD_DIM 128 kernel with it.
#ifndef TILEFUSE_FA2_LAZY_RESCALE
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
#define TILEFUSE_FA2_LAZY_RESCALE 1
#else
#define TILEFUSE_FA2_LAZY_RESCALE 0
#endif
#endif

namespace tilefuse {
namespace reference {

using namespace tilefuse::device;

template <typename T, int HEAD_DIM, bool CAUSAL, int BLOCK_M, int BLOCK_N, int WARPS, int STAGES, bool Q_IN_REGS>
__device__ __forceinline__ void fa2_forward(const Fa2Params &p) {
  constexpr int WARP_M = BLOCK_M / WARPS; // query rows per warp
  static_assert(BLOCK_M % (16 * WARPS) == 0, "each warp owns a multiple of 16 query rows");
  static_assert(BLOCK_N % 16 == 0, "BLOCK_N must be a multiple of 16");
  using block = group<WARPS>;
  using pipe = kv_pipeline<STAGES>;
  using KVTile = st<T, BLOCK_N, HEAD_DIM>;

  extern __shared__ __align__(128) unsigned char smem[];
  shared_allocator alloc{smem};
  auto &q_s = alloc.allocate<st<T, BLOCK_M, HEAD_DIM>>();
  auto &k_s = alloc.allocate<KVTile[STAGES]>();
  auto &v_s = alloc.allocate<KVTile[STAGES]>();

  const int batch = blockIdx.z, head = blockIdx.y;
  const int head_kv = head / (p.heads_q / p.heads_kv); // GQA
  const gv<const T> Q{static_cast<const T *>(p.q) + batch * p.q_batch_stride + head * p.q_head_stride, p.seqlen_q,
                      p.q_row_stride};
  const gv<const T> K{static_cast<const T *>(p.k) + batch * p.k_batch_stride + head_kv * p.k_head_stride,
                      p.seqlen_k, p.k_row_stride};
  const gv<const T> V{static_cast<const T *>(p.v) + batch * p.v_batch_stride + head_kv * p.v_head_stride,
                      p.seqlen_k, p.v_row_stride};
  const gv<T> O{static_cast<T *>(p.o) + batch * p.o_batch_stride + head * p.o_head_stride, p.seqlen_q,
                p.o_row_stride};
  const gv<float> LSE{p.lse + batch * p.lse_batch_stride + head * p.lse_head_stride, p.seqlen_q, 1};

  // Causal: the row blocks that see the most K/V tiles are scheduled first, so the last wave is short.
  const int m_block = CAUSAL ? static_cast<int>(gridDim.x - 1 - blockIdx.x) : static_cast<int>(blockIdx.x);
  const int m0 = m_block * BLOCK_M;         // first query row of the block
  const int warp_row0 = WARP_M * warpid();  // first row of this warp inside the Q tile
  const int warp_m0 = m0 + warp_row0;       // first query row of this warp
  const int causal_offset = p.seqlen_k - p.seqlen_q;
  int n_blocks = (p.seqlen_k + BLOCK_N - 1) / BLOCK_N;
  if (CAUSAL) { // last key column any row of this block may see
    const int last_col = m0 + BLOCK_M - 1 + causal_offset;
    n_blocks = last_col < 0 ? 0 : min(n_blocks, last_col / BLOCK_N + 1);
  }
  const int warp_last_col = warp_m0 + WARP_M - 1 + causal_offset; // causal: last column this warp sees

  rt<float, WARP_M, HEAD_DIM> o;
  rv<WARP_M> m, l;
  warp::zero(o);
  warp::fill(m, neg_inf());
  warp::fill(l, 0.0f);

  if (n_blocks > 0) {
    // Prologue: K_0 (+ Q), V_0, K_1, ..., K_{STAGES-1}, one commit group each (pipeline.cuh).
    block::load_async(q_s, Q, m0);
#pragma unroll
    for (int t = 0; t < STAGES; ++t) {
      if (t < n_blocks) block::load_async(k_s[t], K, t * BLOCK_N);
      pipe::commit();
      if (t + 1 < STAGES) {
        if (t < n_blocks) block::load_async(v_s[t], V, t * BLOCK_N);
        pipe::commit();
      }
    }
    rt<T, WARP_M, HEAD_DIM> q; // used only when Q_IN_REGS
    if constexpr (Q_IN_REGS) {
      pipe::wait(); // Q and K_0 have landed
      warp::load(q, q_s, warp_row0, 0);
    }

    for (int j = 0; j < n_blocks; ++j) {
      const int n0 = j * BLOCK_N;
      const int slot = pipe::slot(j);
      pipe::wait(); // K_j has landed for every thread; every warp is done with P V_{j-1}
      if (j + STAGES - 1 < n_blocks) block::load_async(v_s[pipe::slot(j + STAGES - 1)], V, n0 + (STAGES - 1) * BLOCK_N);
      pipe::commit();

      // A causal warp skips a tile that lies wholly above its rows (all scores masked: P = 0).
      const bool active = !CAUSAL || n0 <= warp_last_col;
      rt<T, WARP_M, BLOCK_N> p_frag; // P reused from registers as the A operand of P V
      if (active) {
        // S = Q K_j^T
        rt<float, WARP_M, BLOCK_N> s;
        warp::zero(s);
        if constexpr (Q_IN_REGS)
          warp::mma_ABt(s, q, k_s[slot], 0);
        else
          warp::mma_ABt(s, q_s, warp_row0, k_s[slot], 0);

        // mask_mod: K/V tail and causal, only on tiles that need it.
        if (n0 + BLOCK_N > p.seqlen_k) warp::mask_cols(s, n0, p.seqlen_k);
        if (CAUSAL && n0 + BLOCK_N - 1 > warp_m0 + causal_offset) warp::mask_causal(s, warp_m0, n0, causal_offset);

        // Online softmax (base 2, scale folded into scale_log2: one FFMA + one EX2 per score).
        rv<WARP_M> m_new, alpha;
        warp::row_max(m_new, s, m);
        warp::rescale_factor(alpha, m, m_new, p.scale_log2);
        if constexpr (TILEFUSE_FA2_LAZY_RESCALE) {
          warp::rescale_unless_unchanged(o, l, alpha, m, m_new);
          warp::exp2_sub_row(s, s, m_new, p.scale_log2); // s now holds P
          warp::row_sum(l, s, l);
        } else {
          warp::exp2_sub_row(s, s, m_new, p.scale_log2); // s now holds P
          warp::mul(l, l, alpha);
          warp::row_sum(l, s, l);
          warp::mul_row(o, o, alpha);
        }
        m = m_new;
        warp::copy(p_frag, s);
      }

      pipe::wait(); // V_j has landed for every thread; every warp is done with Q K_j^T
      if (j + STAGES < n_blocks) block::load_async(k_s[slot], K, n0 + STAGES * BLOCK_N);
      pipe::commit();

      // O += P V_j
      if (active) warp::mma_AB(o, p_frag, v_s[slot], 0);
    }
  }

  // Epilogue: deferred 1/l, LSE; fully masked rows (l = 0) give O = 0, LSE = -inf.
  rv<WARP_M> lse;
  warp::normalize_rows(o, l);
  warp::log_sum_exp(lse, m, l, p.softmax_scale);
  warp::store(O, o, warp_m0, 0);
  warp::store(LSE, lse, warp_m0);
}

} // namespace reference
} // namespace tilefuse

/// Defines the kernel `extern "C" NAME(Fa2Params)` for one variant and schedule (Fa2Schedule's fields);
/// launch with 32 * WARPS threads and (BLOCK_M + 2 * STAGES * BLOCK_N) * HEAD_DIM * sizeof(T) bytes of
/// dynamic shared memory.
#define TILEFUSE_FA2_KERNEL_SCHEDULE(NAME, T, HEAD_DIM, CAUSAL, BLOCK_M, BLOCK_N, WARPS, STAGES, Q_IN_REGS,        \
                                     MIN_BLOCKS)                                                                  \
  extern "C" __global__ void __launch_bounds__(32 * (WARPS), MIN_BLOCKS) NAME(const Fa2Params p) {                \
    tilefuse::reference::fa2_forward<T, HEAD_DIM, CAUSAL, BLOCK_M, BLOCK_N, WARPS, STAGES, (Q_IN_REGS) != 0>(p);   \
  }

/// Compute capability (10 * major + minor) the kernel is compiled for, for fa2DefaultSchedule.
#if defined(__CUDA_ARCH__)
#define TILEFUSE_FA2_CC (__CUDA_ARCH__ / 10)
#else
#define TILEFUSE_FA2_CC 90
#endif

/// Defines the kernel `extern "C" NAME(Fa2Params)` for one variant with
/// fa2DefaultSchedule(HEAD_DIM, <the target's compute capability>).
#define TILEFUSE_FA2_KERNEL(NAME, T, HEAD_DIM, CAUSAL)                                                            \
  TILEFUSE_FA2_KERNEL_SCHEDULE(NAME, T, HEAD_DIM, CAUSAL, fa2DefaultSchedule(HEAD_DIM, TILEFUSE_FA2_CC).block_m,  \
                               fa2DefaultSchedule(HEAD_DIM, TILEFUSE_FA2_CC).block_n,                             \
                               fa2DefaultSchedule(HEAD_DIM, TILEFUSE_FA2_CC).warps,                               \
                               fa2DefaultSchedule(HEAD_DIM, TILEFUSE_FA2_CC).stages,                              \
                               fa2DefaultSchedule(HEAD_DIM, TILEFUSE_FA2_CC).q_in_regs,                           \
                               fa2DefaultSchedule(HEAD_DIM, TILEFUSE_FA2_CC).min_blocks)
