// Warp-specialized Hopper attention forward kernel: FlashAttention-3 (Shah et al. 2024) Sec. 3.1 on the
// wgmma prototype (wgmma_attention_kernel.cuh, whose softmax and wgmma helpers it reuses).
//
// 384 threads = 3 warpgroups, __launch_bounds__(384, 1):
//   warpgroup 0, the producer: setmaxnreg.dec to 24; one thread loads Q once and K_j, V_j into a ring of
//     STAGES shared-memory stages with TMA (cp.async.bulk.tensor.4d, 128B swizzle = the sw128 tiles the
//     wgmma descriptors read), each completing on the stage's full barrier (mbarrier + expect_tx); before
//     refilling a stage it waits on the stage's empty barrier.
//   warpgroups 1, 2, the consumers: setmaxnreg.inc to 240; consumer c owns query rows [64 c, 64 c + 64) of
//     the block's 128; per K/V tile j it waits K_j full, S = Q K_j^T (wgmma SS), releases K_j (empty
//     barrier, one arrival per warp), masks, online softmax, waits V_j full, O += P V_j (wgmma RS),
//     releases V_j. No block-wide barrier inside the loop.
// Loop forms (template LOOP):
//   0 "simple": S_j gemm, wait, softmax_j (rescales O), P_j V_j gemm, wait.
//   1 "burst": the gemms S_j = Q K_j^T and O += P_{j-1} V_{j-1} are issued back to back, then
//     INTRA = 0: wait for both, softmax_j; INTRA = 1 (FA3 Sec. 3.2): wait for S_j only, softmax_j while
//     P_{j-1} V_{j-1} runs, then wait, O *= alpha_j. The last P V after the loop.
// PINGPONG (LOOP 1 only; FA3 Sec. 3.1): named barriers 1 and 2 (256 threads) pass the tensor cores between
// the two consumers: consumer c waits on barrier 1 + c before its gemm burst and arrives on the other's
// barrier after issuing it, so one consumer's softmax runs while the other's gemms do. Consumer 1 arrives
// once up front (consumer 0 goes first) and consumer 0 takes that extra arrival back at the end.
// Both consumers run every K/V tile of the block (causal: the tile above a warpgroup's rows is masked
// whole), so the arrivals on the empty barriers and the named barriers match.
//
// Grid (ceil(Sq / 128), Hq, B); heavy row blocks first when causal. Tails: the TMA zero-fills rows past
// Sq / Sk (the tensor maps are [B, H, S, D] boxes per head), scores of keys >= Sk are masked. Causal is
// bottom-right aligned. GQA through the K/V head coordinate. O and LSE written from registers as in the
// prototype. Dynamic shared memory: TILEFUSE_WGMMA_WS_SMEM_BYTES(HEAD_DIM, BLOCK_N, STAGES).
#pragma once
#include <tilefuse/device/mbarrier.cuh>
#include <tilefuse/device/tma.cuh>

#include "wgmma_attention_kernel.cuh"

/// Dynamic shared memory of one block (bytes): 1024 alignment slack + Q [128 x D] + STAGES x (K, V)
/// [BLOCK_N x D] bf16 + 256 bytes of mbarriers.
#define TILEFUSE_WGMMA_WS_SMEM_BYTES(HEAD_DIM, BLOCK_N, STAGES)                                                  \
  (1024 + (128 + 2 * (STAGES) * (BLOCK_N)) * (HEAD_DIM) * 2 + 256)

#if (defined(__CUDACC_RTC__) || defined(__CUDACC__)) && TF_HAS_WGMMA
namespace tilefuse {
namespace wgmma_attention {

template <int HEAD_DIM, int BLOCK_N, int STAGES, bool CAUSAL, int LOOP, bool INTRA, bool PINGPONG, bool FAST_EXP>
__device__ __forceinline__ void forward_ws(const Fa2Params &p, const TmaDescriptor &tma_q, const TmaDescriptor &tma_k,
                                           const TmaDescriptor &tma_v) {
  constexpr int BLOCK_M = 128;
  constexpr int NS = BLOCK_N / 2, NO = HEAD_DIM / 2;
  constexpr int PANELS = HEAD_DIM / 64;
  static_assert(LOOP == 1 || !PINGPONG, "pingpong needs the burst loop");
  using QTile = sw128<BLOCK_M, HEAD_DIM>;
  using KVTile = sw128<BLOCK_N, HEAD_DIM>;
  using MmaS = typename mma_n<BLOCK_N>::SS;
  using MmaO = typename mma_n<HEAD_DIM>::RS;

  extern __shared__ __align__(1024) unsigned char smem[];
  const unsigned q_s = (smem_u32(smem) + 1023u) & ~1023u;
  const unsigned k_s0 = q_s + QTile::bytes;                   // stage s at + s * KVTile::bytes
  const unsigned v_s0 = k_s0 + STAGES * KVTile::bytes;
  const unsigned bars = v_s0 + STAGES * KVTile::bytes;        // 8 bytes each:
  const unsigned q_full = bars;                               // [0]
  auto k_full = [&](int s) { return bars + 8u * (1 + s); };   // [1, 1 + STAGES)
  auto v_full = [&](int s) { return bars + 8u * (1 + STAGES + s); };
  auto k_empty = [&](int s) { return bars + 8u * (1 + 2 * STAGES + s); };
  auto v_empty = [&](int s) { return bars + 8u * (1 + 3 * STAGES + s); };
  constexpr int CONSUMER_WARPS = 8;

  const int tid = static_cast<int>(threadIdx.x);
  const int wg = tid >> 7;
  const int batch = blockIdx.z, head = blockIdx.y;
  const int head_kv = head / (p.heads_q / p.heads_kv); // GQA
  const int m_block = CAUSAL ? static_cast<int>(gridDim.x - 1 - blockIdx.x) : static_cast<int>(blockIdx.x);
  const int m0 = m_block * BLOCK_M;
  const int causal_offset = p.seqlen_k - p.seqlen_q;
  int n_blocks = (p.seqlen_k + BLOCK_N - 1) / BLOCK_N;
  if (CAUSAL) {
    const int last_col = m0 + BLOCK_M - 1 + causal_offset;
    n_blocks = last_col < 0 ? 0 : min(n_blocks, last_col / BLOCK_N + 1);
  }

  if (tid == 0) {
    mbarrier_init(q_full, 1);
    for (int s = 0; s < STAGES; ++s) {
      mbarrier_init(k_full(s), 1), mbarrier_init(v_full(s), 1);
      mbarrier_init(k_empty(s), CONSUMER_WARPS), mbarrier_init(v_empty(s), CONSUMER_WARPS);
    }
    mbarrier_init_fence();
  }
  __syncthreads();

  if (wg == 0) {
    // ---- producer warpgroup
    warpgroup_reg_dealloc<24>();
    if (tid == 0 && n_blocks > 0) {
      tma_prefetch_descriptor(tma_q), tma_prefetch_descriptor(tma_k), tma_prefetch_descriptor(tma_v);
      mbarrier_arrive_expect_tx(q_full, QTile::bytes);
#pragma unroll
      for (int pn = 0; pn < PANELS; ++pn) tma_load_4d(q_s + pn * QTile::panel_bytes, tma_q, q_full, 64 * pn, m0, head, batch);
      for (int j = 0; j < n_blocks; ++j) {
        const int s = j % STAGES;
        const unsigned phase = static_cast<unsigned>(j / STAGES) & 1u;
        const unsigned k_dst = k_s0 + s * KVTile::bytes, v_dst = v_s0 + s * KVTile::bytes;
        if (j >= STAGES) mbarrier_wait(k_empty(s), phase ^ 1u); // consumers done with K_{j - STAGES}
        mbarrier_arrive_expect_tx(k_full(s), KVTile::bytes);
#pragma unroll
        for (int pn = 0; pn < PANELS; ++pn)
          tma_load_4d(k_dst + pn * KVTile::panel_bytes, tma_k, k_full(s), 64 * pn, j * BLOCK_N, head_kv, batch);
        if (j >= STAGES) mbarrier_wait(v_empty(s), phase ^ 1u);
        mbarrier_arrive_expect_tx(v_full(s), KVTile::bytes);
#pragma unroll
        for (int pn = 0; pn < PANELS; ++pn)
          tma_load_4d(v_dst + pn * KVTile::panel_bytes, tma_v, v_full(s), 64 * pn, j * BLOCK_N, head_kv, batch);
      }
    }
    return;
  }

  // ---- consumer warpgroups
  warpgroup_reg_alloc<240>();
  const int c = wg - 1; // consumer index 0, 1
  const int ctid = tid - 128, w = (ctid >> 5) & 3, g = (ctid & 31) >> 2, t = ctid & 3;
  const bool lane0 = (tid & 31) == 0;
  const int wg_m0 = m0 + 64 * c;
  const int row_a = wg_m0 + 16 * w + g, row_b = row_a + 8;

  float o[NO];
#pragma unroll
  for (int i = 0; i < NO; ++i) o[i] = 0.0f;
  float m[2] = {neg_inf(), neg_inf()}, l[2] = {0.0f, 0.0f};
  auto needs_mask = [&](int n0) {
    return n0 + BLOCK_N > p.seqlen_k || (CAUSAL && n0 + BLOCK_N - 1 > wg_m0 + causal_offset);
  };

  if (n_blocks > 0) {
    mbarrier_wait(q_full, 0);
    if constexpr (LOOP == 0) {
      for (int j = 0; j < n_blocks; ++j) {
        const int s = j % STAGES;
        const unsigned phase = static_cast<unsigned>(j / STAGES) & 1u;
        float sc[NS];
        mbarrier_wait(k_full(s), phase);
        wgmma_fence();
        issue_s<HEAD_DIM, MmaS, QTile, KVTile>(sc, q_s, 64 * c, k_s0 + s * KVTile::bytes);
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_fence_operand(sc);
        mbarrier_arrive_if(k_empty(s), lane0);
        if (needs_mask(j * BLOCK_N)) mask_scores<NS, CAUSAL>(sc, j * BLOCK_N, t, row_a, row_b, p.seqlen_k, causal_offset);
        online_softmax<NS, NO, FAST_EXP>(sc, o, m, l, p.scale_log2);
        unsigned pa[BLOCK_N / 16][4];
#pragma unroll
        for (int k16 = 0; k16 < BLOCK_N / 16; ++k16) warpgroup::pack_a_from_d(pa[k16], sc, k16);
        mbarrier_wait(v_full(s), phase);
        wgmma_fence_operand(o);
        wgmma_fence();
        issue_pv<BLOCK_N, MmaO, KVTile>(o, pa, v_s0 + s * KVTile::bytes);
        wgmma_commit();
        wgmma_wait<0>();
        wgmma_fence_operand(o);
        mbarrier_arrive_if(v_empty(s), lane0);
      }
    } else {
      if (PINGPONG && c == 1) named_barrier_arrive<256>(1); // consumer 0 issues first
      unsigned pa[BLOCK_N / 16][4]; // P_{j-1}
      for (int j = 0; j <= n_blocks; ++j) {
        const int s = j % STAGES, sp = (j + STAGES - 1) % STAGES; // stages of tile j and j - 1
        const unsigned phase = static_cast<unsigned>(j / STAGES) & 1u;
        const unsigned phase_prev = static_cast<unsigned>((j - 1) / STAGES) & 1u;
        if (j < n_blocks) mbarrier_wait(k_full(s), phase);
        if (j > 0) mbarrier_wait(v_full(sp), phase_prev);
        if (PINGPONG) named_barrier_sync<256>(1 + c);
        if (j == 0) {
          float sc[NS];
          wgmma_fence();
          issue_s<HEAD_DIM, MmaS, QTile, KVTile>(sc, q_s, 64 * c, k_s0 + s * KVTile::bytes);
          wgmma_commit();
          if (PINGPONG) named_barrier_arrive<256>(2 - c);
          wgmma_wait<0>();
          wgmma_fence_operand(sc);
          mbarrier_arrive_if(k_empty(s), lane0);
          if (needs_mask(0)) mask_scores<NS, CAUSAL>(sc, 0, t, row_a, row_b, p.seqlen_k, causal_offset);
          float alpha[2];
          online_softmax_deferred<NS, FAST_EXP>(sc, m, l, alpha, p.scale_log2);
#pragma unroll
          for (int k16 = 0; k16 < BLOCK_N / 16; ++k16) warpgroup::pack_a_from_d(pa[k16], sc, k16);
        } else if (j < n_blocks) {
          float sc[NS], alpha[2];
          wgmma_fence_operand(o);
          wgmma_fence();
          issue_s<HEAD_DIM, MmaS, QTile, KVTile>(sc, q_s, 64 * c, k_s0 + s * KVTile::bytes); // S_j = Q K_j^T
          wgmma_commit();
          issue_pv<BLOCK_N, MmaO, KVTile>(o, pa, v_s0 + sp * KVTile::bytes); // O += P_{j-1} V_{j-1}
          wgmma_commit();
          if (PINGPONG) named_barrier_arrive<256>(2 - c);
          if (INTRA) {
            wgmma_wait<1>(); // S_j landed; P_{j-1} V_{j-1} may still run
          } else {
            wgmma_wait<0>();
          }
          wgmma_fence_operand(sc);
          mbarrier_arrive_if(k_empty(s), lane0);
          if (needs_mask(j * BLOCK_N)) mask_scores<NS, CAUSAL>(sc, j * BLOCK_N, t, row_a, row_b, p.seqlen_k, causal_offset);
          online_softmax_deferred<NS, FAST_EXP>(sc, m, l, alpha, p.scale_log2);
          if (INTRA) wgmma_wait<0>();
          wgmma_fence_operand(o);
          mbarrier_arrive_if(v_empty(sp), lane0);
#pragma unroll
          for (int i = 0; i < NO / 4; ++i)
            o[4 * i] *= alpha[0], o[4 * i + 1] *= alpha[0], o[4 * i + 2] *= alpha[1], o[4 * i + 3] *= alpha[1];
#pragma unroll
          for (int k16 = 0; k16 < BLOCK_N / 16; ++k16) warpgroup::pack_a_from_d(pa[k16], sc, k16);
        } else { // j == n_blocks: the last O += P V
          wgmma_fence_operand(o);
          wgmma_fence();
          issue_pv<BLOCK_N, MmaO, KVTile>(o, pa, v_s0 + sp * KVTile::bytes);
          wgmma_commit();
          if (PINGPONG) named_barrier_arrive<256>(2 - c);
          wgmma_wait<0>();
          wgmma_fence_operand(o);
          mbarrier_arrive_if(v_empty(sp), lane0);
        }
      }
      if (PINGPONG && c == 0) named_barrier_sync<256>(1); // consumer 1's last arrival
    }
  }

  // Epilogue (as the prototype): deferred 1 / l; LSE (natural log); fully masked rows: O = 0, LSE = -inf.
  store_output(p, batch, head, row_a, row_b, t, o, m, l);
}

} // namespace wgmma_attention
} // namespace tilefuse

/// Defines `extern "C" NAME(Fa2Params, TmaDescriptor q, k, v)` (tensor maps by value, __grid_constant__):
/// bf16, HEAD_DIM 64 or 128, BLOCK_N 64 or 128, STAGES 2 or 3 (K/V ring depth), LOOP 0 (simple) or 1
/// (burst), INTRA 0/1 (FA3 Sec. 3.2 overlap inside the burst loop), PINGPONG 0/1 (FA3 Sec. 3.1), FAST_EXP 0/1
/// (softmax exponentials as bare ex2.approx.ftz instead of exp2f). Launch with
/// grid (ceil(Sq / 128), Hq, B), 384 threads, TILEFUSE_WGMMA_WS_SMEM_BYTES(...) dynamic shared memory.
/// Tensor maps (WgmmaAttention.h, host): 4D bf16 {D, S, H, B} with Fa2Params' strides, box {64, 128 (Q) or
/// BLOCK_N (K, V), 1, 1}, CU_TENSOR_MAP_SWIZZLE_128B, out-of-bounds elements filled with zeros.
#define TILEFUSE_WGMMA_WS_ATTENTION_KERNEL(NAME, HEAD_DIM, BLOCK_N, STAGES, CAUSAL, LOOP, INTRA, PINGPONG, FAST_EXP) \
  extern "C" __global__ void __launch_bounds__(384, 1)                                                          \
      NAME(const Fa2Params p, const __grid_constant__ tilefuse::device::TmaDescriptor tma_q,                    \
           const __grid_constant__ tilefuse::device::TmaDescriptor tma_k,                                       \
           const __grid_constant__ tilefuse::device::TmaDescriptor tma_v) {                                     \
    tilefuse::wgmma_attention::forward_ws<HEAD_DIM, BLOCK_N, STAGES, CAUSAL, LOOP, (INTRA) != 0, (PINGPONG) != 0, \
                                        (FAST_EXP) != 0>(                                                       \
        p, tma_q, tma_k, tma_v);                                                                                 \
  }
#endif
