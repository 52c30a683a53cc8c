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
