// Arguments of the reference FlashAttention-2 forward kernel (fa2_reference_kernel.cuh). Plain data
// shared by the host (C++) and the device (NVRTC): no includes, identical layout on both sides.
#pragma once

/// Q [B, Sq, Hq, D], K/V [B, Sk, Hkv, D], O [B, Sq, Hq, D] in bf16 or fp16, addressed only through
/// the strides below (elements; the last dim is contiguous; row strides and bases 16-byte aligned).
/// LSE [B, Hq, Sq] f32, natural log, addressed through lse_batch_stride / lse_head_stride (row stride 1).
/// Hq must be a multiple of Hkv (GQA: query head h reads K/V head h / (Hq / Hkv)).
struct Fa2Params {
  const void *q;
  const void *k;
  const void *v;
  void *o;
  float *lse;
  long long q_batch_stride, q_head_stride, q_row_stride;
  long long k_batch_stride, k_head_stride, k_row_stride;
  long long v_batch_stride, v_head_stride, v_row_stride;
  long long o_batch_stride, o_head_stride, o_row_stride;
  long long lse_batch_stride, lse_head_stride;
  int batch, heads_q, heads_kv, seqlen_q, seqlen_k;
  float softmax_scale; // usually 1/sqrt(D)
  float scale_log2;    // softmax_scale * log2(e)
};

/// Schedule of the reference kernel: the knobs a code generator chooses per (GPU, dtype, head dim,
/// mask). The kernel runs gridDim (ceil(Sq / block_m), Hq, B) blocks of 32 * warps threads with
/// (block_m + 2 * stages * block_n) * head_dim * sizeof(T) bytes of dynamic shared memory.
///   block_m     query rows per block (BLOCK_M); warp w owns rows [w * block_m / warps, +block_m / warps)
///   block_n     K/V rows per loop step (BLOCK_N)
///   warps       warps per block; block_m / warps (the warp tile, 16 / 32 / 64 rows) sets the ldmatrix
///               bytes per FLOP: each warp re-reads every K/V tile once
///   stages      K/V shared-memory slots per operand (1 = FA2's single buffer, 2 = double buffer)
///   q_in_regs   1: Q fragments stay in registers for the whole loop; 0: re-read from SMEM each step
///   min_blocks  __launch_bounds__ minimum resident blocks per SM (caps registers per thread at
///               65536 / (32 * warps * min_blocks), at most 255)
struct Fa2Schedule {
  int block_m, block_n, warps, stages, q_in_regs, min_blocks;
};

/// The schedule TILEFUSE_FA2_KERNEL and fa2Launch use when none is named, for a GPU of compute
/// capability `cc` (10 * major + minor), chosen on an H100 by the sweep in test_fa2_reference.cpp
/// (tests/gpu/RESULTS.md): 128 query rows, 4 warps of 32 rows, BLOCK_N 64, 2 blocks/SM, double-buffered
/// K/V; Q in registers up to HEAD_DIM 64, re-read from SMEM at 128 (Q in registers would not fit next to
/// the 32 x 128 f32 O tile). bf16 B=4 H=16 S=4096, D=128: 375 TFLOP/s full, 323 causal; D=64: 326 / 261.
/// Below sm_90 (not measured) HEAD_DIM 128 takes FA2's own single-buffered tiles, which ptxas fits in
/// 255 registers there without spills (the double-buffered kernel spills 4-8 B on sm_80/86/89).
#ifdef __CUDACC__
#define TILEFUSE_FA2_HOST_DEVICE __host__ __device__
#else
#define TILEFUSE_FA2_HOST_DEVICE
#endif
TILEFUSE_FA2_HOST_DEVICE constexpr Fa2Schedule fa2DefaultSchedule(int head_dim, int cc = 90) {
  return head_dim <= 64 ? Fa2Schedule{128, 64, 4, 2, 1, 2}
         : cc >= 90     ? Fa2Schedule{128, 64, 4, 2, 0, 2}
                        : Fa2Schedule{128, 64, 4, 1, 0, 2};
}
