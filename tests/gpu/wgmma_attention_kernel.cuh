// Hand-written Hopper attention forward kernel on wgmma (device/wgmma.cuh): the prototype of the sm_90a
// code path. FlashAttention-2 Algorithm 1 (Dao 2023, Sec. 3.1) with FlashAttention-3's operand
// placement (Shah et al. 2024, Sec. 3): S = Q K^T with Q and K from SMEM (wgmma SS), O += P V with P
// from registers (wgmma RS, A = P as bf16) and V from SMEM as an N-major B operand (V is [Sk, D]).
// Two loop forms (template OVERLAP): the simple one below, and FA3 Sec. 3.2's intra-warpgroup overlap
// (softmax of S_j while P_{j-1} V_{j-1} runs); LATE_COPY issues the next K/V cp.async after the step's
// wgmma instead of before. Measured on an H100 (RESULTS_WGMMA.md): simple + LATE_COPY is the fastest,
// the overlap form is slower as written. Warp specialisation (producer warp, setmaxnreg), TMA, mbarrier
// pipelines and pingpong between the warpgroups: wgmma_ws_attention_kernel.cuh, which reuses the helpers here.
//
// Grid (ceil(Sq / 128), Hq, B); 256 threads = 2 consumer warpgroups; warpgroup wg owns query rows
// [64 wg, 64 wg + 64) of the block's 128-row Q tile. Per thread (see wgmma.cuh for the fragment): rows
// r_a = 16 w + g and r_b = r_a + 8 of its warpgroup's 64, and of every 8 columns the pair 2t, 2t+1.
// Per K/V tile j (BLOCK_N rows):
//   wait K_j, V_j (cp.async) -> barrier -> issue cp.async K_{j+1}, V_{j+1} into the other stage
//   S = Q K_j^T (HEAD_DIM/16 wgmma) -> mask (tail, causal) -> m_new = max(m, rowmax S)
//   -> alpha = exp2((m - m_new) scale_log2) -> P = exp2(S scale_log2 - m_new scale_log2)
//   -> l = alpha l + rowsum P (per-thread partial) -> O = alpha O -> O += P V_j (BLOCK_N/16 wgmma)
// Epilogue: l summed over the 4 threads of a row, O /= l, LSE = m softmax_scale + ln l (-inf, O = 0
// when no key is visible). Causal is bottom-right aligned (key j visible to query i iff
// j <= i + Sk - Sq); heavy row blocks first; a warpgroup skips tiles wholly above its rows.
// Dynamic shared memory: 1024 (alignment) + (128 + 4 BLOCK_N) HEAD_DIM 2 bytes (TILEFUSE_WGMMA_ATTENTION_SMEM_BYTES).
#pragma once
#include <tilefuse/device/wgmma.cuh>

#include "fa2_params.h"

/// Dynamic shared memory of one block (bytes): Q [128 x D] + double-buffered K, V [BLOCK_N x D], bf16,
/// and 1024 bytes to align the swizzled tiles.
#define TILEFUSE_WGMMA_ATTENTION_SMEM_BYTES(HEAD_DIM, BLOCK_N) (1024 + (128 + 4 * (BLOCK_N)) * (HEAD_DIM) * 2)

#if defined(__CUDACC_RTC__) || defined(__CUDACC__)
#if defined(__CUDA_ARCH__) && !TF_HAS_WGMMA
#error "wgmma_attention_kernel.cuh needs sm_90a (NVRTC --gpu-architecture=sm_90a)"
#endif

#if TF_HAS_WGMMA
namespace tilefuse {
namespace wgmma_attention {

using namespace tilefuse::device;

/// The bf16 wgmma wrappers of one N (64 or 128).
template <int N> struct mma_n;
template <> struct mma_n<64> {
  using SS = SM90_64x64x16_F32BF16BF16_SS;
  using RS = SM90_64x64x16_F32BF16BF16_RS;
};
template <> struct mma_n<128> {
  using SS = SM90_64x128x16_F32BF16BF16_SS;
  using RS = SM90_64x128x16_F32BF16BF16_RS;
};

/// Max over the 4 threads (t = 0..3) that share a row of an accumulator fragment.
TF_DEVICE float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
TF_DEVICE float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

/// Applies mask_mod to S [64 x BLOCK_N] of K/V tile n0: key tail (col >= Sk) and causal (bottom-right
/// aligned), writing -inf. Call only on tiles that need it.
template <int NS, bool CAUSAL>
TF_DEVICE void mask_scores(float (&s)[NS], int n0, int t, int row_a, int row_b, int seqlen_k, int causal_offset) {
#pragma unroll
  for (int i = 0; i < NS / 4; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int col = n0 + 8 * i + 2 * t + (e & 1);
      const int row = e < 2 ? row_a : row_b;
      if (col >= seqlen_k || (CAUSAL && col > row + causal_offset)) s[4 * i + e] = neg_inf();
    }
}

/// 2^x: exp2f (FAST = false), or the bare MUFU ex2.approx.ftz.f32 (FAST = true: no denormal scaling;
/// ex2(-inf) = +0). Both well within bf16 P's rounding.
template <bool FAST> TF_DEVICE float exp2_of(float x) {
  if constexpr (FAST) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
  } else {
    return exp2f(x);
  }
}

/// The online-softmax step without the rescale of O (for the overlapped loop, where O is still being
/// accumulated by the previous P V when the scores arrive): updates m and the per-thread partial l,
/// leaves P in s and returns the factors alpha = exp2((m_old - m_new) scale_log2) O must be scaled by.
template <int NS, bool FAST = false>
TF_DEVICE void online_softmax_deferred(float (&s)[NS], float (&m)[2], float (&l)[2], float (&alpha)[2], float scale_log2) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float mx = m[h];
#pragma unroll
    for (int i = 0; i < NS / 4; ++i) mx = fmaxf(mx, fmaxf(s[4 * i + 2 * h], s[4 * i + 2 * h + 1]));
    const float m_new = quad_max(mx);
    const bool none = m_new == neg_inf();
    alpha[h] = none ? 1.0f : exp2_of<FAST>((m[h] - m_new) * scale_log2);
    const float m_scaled = none ? 0.0f : m_new * scale_log2;
    float sum = 0.0f;
#pragma unroll
    for (int i = 0; i < NS / 4; ++i)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const float pv = exp2_of<FAST>(fmaf(s[4 * i + 2 * h + e], scale_log2, -m_scaled));
        s[4 * i + 2 * h + e] = pv;
        sum += pv;
      }
    l[h] = l[h] * alpha[h] + sum;
    m[h] = m_new;
  }
}

/// Issues S [64 x BLOCK_N] = Q K^T for this warpgroup's 64 rows (starting at Q-tile row q_row0) as
/// HEAD_DIM / 16 wgmma (SS, both K-major), the first overwriting S. No fence, commit or wait.
template <int HEAD_DIM, typename MmaS, typename QTile, typename KVTile, int NS>
TF_DEVICE void issue_s(float (&s)[NS], unsigned q_s, int q_row0, unsigned k_s) {
#pragma unroll
  for (int k16 = 0; k16 < HEAD_DIM / 16; ++k16)
    MmaS::template mma<0>(s, QTile::desc_k_major(q_s, q_row0, k16), KVTile::desc_k_major(k_s, 0, k16), k16 > 0);
}

/// Issues O [64 x HEAD_DIM] += P V as BLOCK_N / 16 wgmma (RS: P from registers, V N-major). No fence,
/// commit or wait.
template <int BLOCK_N, typename MmaO, typename KVTile, int NO>
TF_DEVICE void issue_pv(float (&o)[NO], const unsigned (&pa)[BLOCK_N / 16][4], unsigned v_s) {
#pragma unroll
  for (int k16 = 0; k16 < BLOCK_N / 16; ++k16) MmaO::template mma<1>(o, pa[k16], KVTile::desc_mn_major(v_s, k16), 1);
}

/// One online-softmax step for the two rows (h = 0: r_a, 1: r_b) this thread holds of S [64 x BLOCK_N]:
/// updates m (raw score units), the per-thread partial l and rescales O; leaves P = exp2(...) in s.
template <int NS, int NO, bool FAST = false>
TF_DEVICE void online_softmax(float (&s)[NS], float (&o)[NO], float (&m)[2], float (&l)[2], float scale_log2) {
  float alpha[2];
  online_softmax_deferred<NS, FAST>(s, m, l, alpha, scale_log2);
#pragma unroll
  for (int h = 0; h < 2; ++h)
#pragma unroll
    for (int i = 0; i < NO / 4; ++i) o[4 * i + 2 * h] *= alpha[h], o[4 * i + 2 * h + 1] *= alpha[h];
}

/// The epilogue of both wgmma kernels, for the two rows (row_a, row_b) thread t of a quad holds:
/// l summed over the quad, O = o / l written as bf16 pairs (columns 8 i + 2 t, + 1) to O [B, Hq, Sq,
/// HEAD_DIM] at p's strides, LSE = m softmax_scale + ln l (natural log) to LSE [B, Hq, Sq]; a fully
/// masked row (l = 0) gives O = 0 and LSE = -inf. Rows >= seqlen_q are not written.
template <int NO>
TF_DEVICE void store_output(const Fa2Params &p, int batch, int head, int row_a, int row_b, int t,
                            const float (&o)[NO], const float (&m)[2], const float (&l)[2]) {
  __nv_bfloat16 *O = static_cast<__nv_bfloat16 *>(p.o) + batch * p.o_batch_stride + head * p.o_head_stride;
  float *LSE = p.lse + batch * p.lse_batch_stride + head * p.lse_head_stride;
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int row = h == 0 ? row_a : row_b;
    const float sum = quad_sum(l[h]);
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    if (row < p.seqlen_q) {
      __nv_bfloat16 *dst = O + row * p.o_row_stride + 2 * t;
#pragma unroll
      for (int i = 0; i < NO / 4; ++i)
        *reinterpret_cast<__nv_bfloat162 *>(dst + 8 * i) =
            __floats2bfloat162_rn(o[4 * i + 2 * h] * inv, o[4 * i + 2 * h + 1] * inv);
      if (t == 0) LSE[row] = sum > 0.0f ? m[h] * p.softmax_scale + logf(sum) : neg_inf();
    }
  }
}

template <int HEAD_DIM, int BLOCK_N, bool CAUSAL, bool OVERLAP, bool LATE_COPY>
__device__ __forceinline__ void forward(const Fa2Params &p) {
  constexpr int BLOCK_M = 128, THREADS = 256;
  constexpr int NS = BLOCK_N / 2, NO = HEAD_DIM / 2; // accumulator registers per thread: S, O
  using QTile = sw128<BLOCK_M, HEAD_DIM>;
  using KVTile = sw128<BLOCK_N, HEAD_DIM>;
  using MmaS = typename mma_n<BLOCK_N>::SS;
  using MmaO = typename mma_n<HEAD_DIM>::RS;

  extern __shared__ __align__(1024) unsigned char smem[];
  const unsigned q_s = (smem_u32(smem) + 1023u) & ~1023u;
  const unsigned k_s0 = q_s + QTile::bytes, v_s0 = k_s0 + 2 * KVTile::bytes; // stage s at + s * KVTile::bytes

  const int tid = static_cast<int>(threadIdx.x);
  const int wg = warpgroup::index(), w = (tid >> 5) & 3, g = (tid & 31) >> 2, t = tid & 3;
  const int batch = blockIdx.z, head = blockIdx.y;
  const int head_kv = head / (p.heads_q / p.heads_kv); // GQA
  const __nv_bfloat16 *Q = static_cast<const __nv_bfloat16 *>(p.q) + batch * p.q_batch_stride + head * p.q_head_stride;
  const __nv_bfloat16 *K = static_cast<const __nv_bfloat16 *>(p.k) + batch * p.k_batch_stride + head_kv * p.k_head_stride;
  const __nv_bfloat16 *V = static_cast<const __nv_bfloat16 *>(p.v) + batch * p.v_batch_stride + head_kv * p.v_head_stride;

  const int m_block = CAUSAL ? static_cast<int>(gridDim.x - 1 - blockIdx.x) : static_cast<int>(blockIdx.x);
  const int m0 = m_block * BLOCK_M;
  const int wg_m0 = m0 + 64 * wg;                    // first query row of this warpgroup
  const int row_a = wg_m0 + 16 * w + g, row_b = row_a + 8; // the two query rows of this thread
  const int causal_offset = p.seqlen_k - p.seqlen_q;
  int n_blocks = (p.seqlen_k + BLOCK_N - 1) / BLOCK_N;
  if (CAUSAL) {
    const int last_col = m0 + BLOCK_M - 1 + causal_offset;
    n_blocks = last_col < 0 ? 0 : min(n_blocks, last_col / BLOCK_N + 1);
  }

  float o[NO];
#pragma unroll
  for (int i = 0; i < NO; ++i) o[i] = 0.0f;
  float m[2] = {neg_inf(), neg_inf()}, l[2] = {0.0f, 0.0f};

  if constexpr (OVERLAP) {
    // FlashAttention-3 Sec. 3.2 (intra-warpgroup pipelining): in step j the wgmma of S_j = Q K_j^T and of
    // O += P_{j-1} V_{j-1} are both in flight while the softmax of S_j runs as soon as S_j lands; O is
    // rescaled by alpha_j after P_{j-1} V_{j-1} is done. Copies, one commit group per step j (waited at
    // the top of step j + 1): K_{j+1} into the K stage S_{j-1} used, V_j into the V stage P_{j-2} V_{j-2} used.
    // Each branch below issues and waits for all of its wgmma, so ptxas sees no wgmma pending across a
    // join (otherwise it injects warpgroup.wait and serializes: C7514 / C7517).
    // This warpgroup computes tiles [0, n_wg) (causal: it stops after its diagonal); the block runs n_blocks.
    int n_wg = n_blocks;
    if (CAUSAL) {
      const int last_col = wg_m0 + 63 + causal_offset;
      n_wg = last_col < 0 ? 0 : min(n_blocks, last_col / BLOCK_N + 1);
    }
    unsigned pa[BLOCK_N / 16][4]; // P_{j-1}, the A operand of the next P V
    if (n_blocks > 0) {
      warpgroup::load_async_sw128<BLOCK_M, HEAD_DIM, THREADS>(q_s, Q, p.q_row_stride, m0, p.seqlen_q, tid);
      warpgroup::load_async_sw128<BLOCK_N, HEAD_DIM, THREADS>(k_s0, K, p.k_row_stride, 0, p.seqlen_k, tid);
      cp_async_commit();
    }
    for (int j = 0; j <= n_blocks; ++j) { // step n_blocks (every thread, for the barrier): only the last P V
      const int n0 = j * BLOCK_N;
      const unsigned stage = static_cast<unsigned>(j & 1) * KVTile::bytes, prev = KVTile::bytes - stage;
      cp_async_wait<0>();       // K_j (and Q), V_{j-1} landed for this thread ...
      fence_proxy_async_smem(); // ... visible to wgmma ...
      __syncthreads();          // ... for every thread; S_{j-1} and P_{j-2} V_{j-2} are done everywhere
      // K_{j+1} and V_j: issued right after the barrier, or (LATE_COPY) right after this step's wgmma issue.
      auto copies = [&] {
        if (j < n_blocks) {
          if (j + 1 < n_blocks)
            warpgroup::load_async_sw128<BLOCK_N, HEAD_DIM, THREADS>(k_s0 + prev, K, p.k_row_stride, n0 + BLOCK_N,
                                                                    p.seqlen_k, tid);
          warpgroup::load_async_sw128<BLOCK_N, HEAD_DIM, THREADS>(v_s0 + stage, V, p.v_row_stride, n0, p.seqlen_k,
                                                                  tid);
          cp_async_commit();
        }
      };
      if (!LATE_COPY) copies();
      if (j < n_wg) {
        float s[NS], alpha[2];
        if (j > 0) { // straight-line: both wgmma issued back to back after one wgmma.fence
          wgmma_fence_operand(o);
          wgmma_fence(); // orders the writes of O and P_{j-1} before the wgmma below
          issue_s<HEAD_DIM, MmaS, QTile, KVTile>(s, q_s, 64 * wg, k_s0 + stage); // S_j = Q K_j^T
          wgmma_commit();
          issue_pv<BLOCK_N, MmaO, KVTile>(o, pa, v_s0 + prev); // O += P_{j-1} V_{j-1}
          wgmma_commit();
          if (LATE_COPY) copies();
          wgmma_wait<1>(); // S_j landed; P_{j-1} V_{j-1} may still run
          wgmma_fence_operand(s);
          if (n0 + BLOCK_N > p.seqlen_k || (CAUSAL && n0 + BLOCK_N - 1 > wg_m0 + causal_offset))
            mask_scores<NS, CAUSAL>(s, n0, t, row_a, row_b, p.seqlen_k, causal_offset);
          online_softmax_deferred(s, m, l, alpha, p.scale_log2);
          wgmma_wait<0>();
          wgmma_fence_operand(o);
        } else {
          wgmma_fence();
          issue_s<HEAD_DIM, MmaS, QTile, KVTile>(s, q_s, 64 * wg, k_s0 + stage);
          wgmma_commit();
          if (LATE_COPY) copies();
          wgmma_wait<0>();
          wgmma_fence_operand(s);
          if (n0 + BLOCK_N > p.seqlen_k || (CAUSAL && n0 + BLOCK_N - 1 > wg_m0 + causal_offset))
            mask_scores<NS, CAUSAL>(s, n0, t, row_a, row_b, p.seqlen_k, causal_offset);
          online_softmax_deferred(s, m, l, alpha, p.scale_log2);
        }
#pragma unroll
        for (int i = 0; i < NO / 4; ++i)
          o[4 * i] *= alpha[0], o[4 * i + 1] *= alpha[0], o[4 * i + 2] *= alpha[1], o[4 * i + 3] *= alpha[1];
#pragma unroll
        for (int k16 = 0; k16 < BLOCK_N / 16; ++k16) warpgroup::pack_a_from_d(pa[k16], s, k16);
      } else if (j == n_wg && j > 0) { // the last O += P V of this warpgroup
        wgmma_fence_operand(o);
        wgmma_fence();
        issue_pv<BLOCK_N, MmaO, KVTile>(o, pa, v_s0 + prev);
        wgmma_commit();
        if (LATE_COPY) copies();
        wgmma_wait<0>();
        wgmma_fence_operand(o);
      } else if (LATE_COPY) {
        copies();
      }
    }
  } else {
  if (n_blocks > 0) {
    warpgroup::load_async_sw128<BLOCK_M, HEAD_DIM, THREADS>(q_s, Q, p.q_row_stride, m0, p.seqlen_q, tid);
    warpgroup::load_async_sw128<BLOCK_N, HEAD_DIM, THREADS>(k_s0, K, p.k_row_stride, 0, p.seqlen_k, tid);
    warpgroup::load_async_sw128<BLOCK_N, HEAD_DIM, THREADS>(v_s0, V, p.v_row_stride, 0, p.seqlen_k, tid);
    cp_async_commit();
  }

  for (int j = 0; j < n_blocks; ++j) {
    const int n0 = j * BLOCK_N;
    const unsigned stage = static_cast<unsigned>(j & 1) * KVTile::bytes;
    cp_async_wait<0>();       // K_j, V_j (and Q) landed for this thread ...
    fence_proxy_async_smem(); // ... visible to wgmma's async proxy ...
    __syncthreads();          // ... for every thread; every warpgroup is done with tile j-1
    // K_{j+1}, V_{j+1} into the other stage: right after the barrier, or (LATE_COPY) after the S wgmma issue.
    auto copies = [&] {
      if (j + 1 < n_blocks) {
        const unsigned next = KVTile::bytes - stage;
        warpgroup::load_async_sw128<BLOCK_N, HEAD_DIM, THREADS>(k_s0 + next, K, p.k_row_stride, n0 + BLOCK_N,
                                                                p.seqlen_k, tid);
        warpgroup::load_async_sw128<BLOCK_N, HEAD_DIM, THREADS>(v_s0 + next, V, p.v_row_stride, n0 + BLOCK_N,
                                                                p.seqlen_k, tid);
      }
      cp_async_commit();
    };
    // Causal: a tile wholly above this warpgroup's rows contributes nothing (warpgroup-uniform branch).
    const bool active = !CAUSAL || n0 <= wg_m0 + 63 + causal_offset;
    if (!LATE_COPY || !active) copies();
    if (!active) continue;

    // S = Q K_j^T  (64 x BLOCK_N per warpgroup, K = HEAD_DIM)
    float s[NS];
    wgmma_fence();
#pragma unroll
    for (int k16 = 0; k16 < HEAD_DIM / 16; ++k16)
      MmaS::template mma<0>(s, QTile::desc_k_major(q_s, 64 * wg, k16), KVTile::desc_k_major(k_s0 + stage, 0, k16),
                            k16 > 0);
    wgmma_commit();
    if (LATE_COPY) copies();
    wgmma_wait<0>();
    wgmma_fence_operand(s);

    // mask_mod: K/V tail and causal, only on tiles that need it.
    if (n0 + BLOCK_N > p.seqlen_k || (CAUSAL && n0 + BLOCK_N - 1 > wg_m0 + causal_offset))
      mask_scores<NS, CAUSAL>(s, n0, t, row_a, row_b, p.seqlen_k, causal_offset);

    // Online softmax: row_max -> rescale factor -> exp2 -> row_sum -> rescale O.
    online_softmax(s, o, m, l, p.scale_log2);

    // O += P V_j  (P as the bf16 register A operand, V N-major from SMEM; K = BLOCK_N)
    unsigned pa[BLOCK_N / 16][4];
#pragma unroll
    for (int k16 = 0; k16 < BLOCK_N / 16; ++k16) warpgroup::pack_a_from_d(pa[k16], s, k16);
    wgmma_fence_operand(o);
    wgmma_fence();
#pragma unroll
    for (int k16 = 0; k16 < BLOCK_N / 16; ++k16)
      MmaO::template mma<1>(o, pa[k16], KVTile::desc_mn_major(v_s0 + stage, k16), 1);
    wgmma_commit();
    wgmma_wait<0>();
    wgmma_fence_operand(o);
  }

  } // OVERLAP

  // Epilogue: deferred 1 / l; LSE (natural log); fully masked rows give O = 0, LSE = -inf.
  store_output(p, batch, head, row_a, row_b, t, o, m, l);
}

} // namespace wgmma_attention
} // namespace tilefuse

/// Defines `extern "C" NAME(Fa2Params)`: bf16, HEAD_DIM 64 or 128, BLOCK_N 64 or 128, OVERLAP 0 (the
/// simple loop) or 1 (FA3 Sec. 3.2 intra-warpgroup overlap of softmax with the wgmma), LATE_COPY 0 (next K/V
/// cp.async issued right after the step's barrier) or 1 (after the step's wgmma issue); launch with grid
/// (ceil(Sq / 128), Hq, B), 256 threads, TILEFUSE_WGMMA_ATTENTION_SMEM_BYTES(HEAD_DIM, BLOCK_N) bytes of
/// dynamic shared memory. Q/K/V/O/LSE strides as Fa2Params documents (rows 16-byte aligned).
#define TILEFUSE_WGMMA_ATTENTION_KERNEL(NAME, HEAD_DIM, BLOCK_N, CAUSAL, MIN_BLOCKS, OVERLAP, LATE_COPY)          \
  extern "C" __global__ void __launch_bounds__(256, MIN_BLOCKS) NAME(const Fa2Params p) {                        \
    tilefuse::wgmma_attention::forward<HEAD_DIM, BLOCK_N, CAUSAL, (OVERLAP) != 0, (LATE_COPY) != 0>(p);         \
  }
#endif // TF_HAS_WGMMA
#endif // __CUDACC_RTC__ || __CUDACC__
