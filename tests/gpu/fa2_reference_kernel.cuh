// Reference FlashAttention-2 forward kernel (Dao 2023, "FlashAttention-2", Sec. 3.1, Algorithm 1),
// written only with the Tilefuse device library: the shape of what the code generator emits.
//
// Grid (ceil(Sq / BLOCK_M), Hq, B), 128 threads = 4 warps; warp w owns query rows [16w, 16w+16) of a
// BLOCK_M = 64 Q tile and keeps Q, S/P, O, m, l in registers. Loop over BLOCK_N = 64 K/V tiles:
//   S = Q K^T -> masks -> m_new = max(m, rowmax S) -> alpha = exp2(m - m_new) -> P = exp2(S - m_new)
//   -> l = alpha l + rowsum P -> O = alpha O -> O += P V;   finally O /= l, LSE = m*scale + ln l.
// Copies: Q + K_0 first; then K_j and V_j are single-buffered and overlap compute (V_j streams during
// S = Q K_j^T, K_{j+1} during softmax and P V_j). Causal (bottom-right aligned, offset = Sk - Sq)
// skips K/V tiles entirely above the diagonal; tails past Sq / Sk are zero-filled and masked.
// Dynamic shared memory: (BLOCK_M + 2 * BLOCK_N) * HEAD_DIM * sizeof(T) bytes.
#pragma once
#include <tilefuse/device.cuh>

#include "fa2_params.h"

namespace tilefuse {
namespace reference {

using namespace tilefuse::device;

constexpr int FA2_BLOCK_M = 64;
constexpr int FA2_BLOCK_N = 64;
constexpr int FA2_WARPS = 4;

template <typename T, int HEAD_DIM, bool CAUSAL> __device__ __forceinline__ void fa2_forward(const Fa2Params &p) {
  constexpr int BLOCK_M = FA2_BLOCK_M, BLOCK_N = FA2_BLOCK_N;
  using block = group<FA2_WARPS>;

  extern __shared__ __align__(128) unsigned char smem[];
  shared_allocator alloc{smem};
  auto &q_s = alloc.allocate<st<T, BLOCK_M, HEAD_DIM>>();
  auto &k_s = alloc.allocate<st<T, BLOCK_N, HEAD_DIM>>();
  auto &v_s = alloc.allocate<st<T, BLOCK_N, HEAD_DIM>>();

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

  const int m0 = blockIdx.x * BLOCK_M;     // first query row of the block
  const int warp_m0 = m0 + 16 * warpid();  // first query row of this warp
  const int causal_offset = p.seqlen_k - p.seqlen_q;
  int n_blocks = (p.seqlen_k + BLOCK_N - 1) / BLOCK_N;
  if (CAUSAL) { // last key column any row of this block may see
    const int last_col = m0 + BLOCK_M - 1 + causal_offset;
    n_blocks = last_col < 0 ? 0 : min(n_blocks, last_col / BLOCK_N + 1);
  }

  rt<float, 16, HEAD_DIM> o;
  rv<16> m, l;
  warp::zero(o);
  warp::fill(m, neg_inf());
  warp::fill(l, 0.0f);

  if (n_blocks > 0) {
    block::load_async(q_s, Q, m0);
    block::load_async(k_s, K, 0);
    cp_async_commit();
    cp_async_wait<0>();
    __syncthreads();
    rt<T, 16, HEAD_DIM> q;
    warp::load(q, q_s, 16 * warpid(), 0);

    for (int j = 0; j < n_blocks; ++j) {
      const int n0 = j * BLOCK_N;
      if (j > 0) {
        cp_async_wait<0>(); // K_j has landed ...
        __syncthreads();    // ... for every thread, and every warp is done reading V_{j-1}
      }
      block::load_async(v_s, V, n0);
      cp_async_commit();

      // S = Q K_j^T, one 16-wide slice of HEAD_DIM at a time.
      rt<float, 16, BLOCK_N> s;
      warp::zero(s);
#pragma unroll
      for (int kk = 0; kk < HEAD_DIM / 16; ++kk) {
        rt<T, BLOCK_N, 16> k_frag;
        warp::load(k_frag, k_s, 0, 16 * kk);
        warp::mma_ABt(s, warp::subtile_cols<16>(q, kk), k_frag);
      }

      // mask_mod: K/V tail and causal, only on tiles that need it.
      if (n0 + BLOCK_N > p.seqlen_k) warp::mask_cols(s, n0, p.seqlen_k);
      if (CAUSAL && n0 + BLOCK_N - 1 > m0 + causal_offset) warp::mask_causal(s, warp_m0, n0, causal_offset);

      // Online softmax (base 2, scale folded into scale_log2).
      rv<16> m_new, alpha;
      warp::row_max(m_new, s, m);
      warp::rescale_factor(alpha, m, m_new, p.scale_log2);
      warp::exp2_sub_row(s, s, m_new, p.scale_log2); // s now holds P
      warp::mul(l, l, alpha);
      warp::row_sum(l, s, l);
      warp::mul_row(o, o, alpha);
      m = m_new;
      rt<T, 16, BLOCK_N> p_frag; // P reused from registers as the A operand
      warp::copy(p_frag, s);

      cp_async_wait<0>(); // V_j has landed ...
      __syncthreads();    // ... for every thread, and every warp is done reading K_j
      if (j + 1 < n_blocks) {
        block::load_async(k_s, K, n0 + BLOCK_N);
        cp_async_commit();
      }

      // O += P V_j, one 16-row slice of V_j at a time.
#pragma unroll
      for (int kk = 0; kk < BLOCK_N / 16; ++kk) {
        rt<T, 16, HEAD_DIM, layout::col> v_frag;
        warp::load(v_frag, v_s, 16 * kk, 0);
        warp::mma_AB(o, warp::subtile_cols<16>(p_frag, kk), v_frag);
      }
    }
  }

  // Epilogue: deferred 1/l, LSE; fully masked rows (l = 0) give O = 0, LSE = -inf.
  rv<16> lse;
  warp::normalize_rows(o, l);
  warp::log_sum_exp(lse, m, l, p.softmax_scale);
  warp::store(O, o, warp_m0, 0);
  warp::store(LSE, lse, warp_m0);
}

} // namespace reference
} // namespace tilefuse

/// Defines the kernel `extern "C" NAME(Fa2Params)` for one variant; launch with 128 threads.
#define TILEFUSE_FA2_KERNEL(NAME, T, HEAD_DIM, CAUSAL)                                                            \
  extern "C" __global__ void __launch_bounds__(128) NAME(const Fa2Params p) {                                     \
    tilefuse::reference::fa2_forward<T, HEAD_DIM, CAUSAL>(p);                                                     \
  }
