// Host references for attention forward: fp64 (the truth) and a naive same-precision emulation
// (what a bf16/fp16 framework computes: S and P rounded to the input type), for FlashAttention's
// accuracy rule  max|out - ref| <= 2 * max|naive - ref| + 1e-5  (Dao et al., tests/test_flash_attn.py).
#pragma once

#include <cstdint>
#include <vector>

#include "HostFloat.h"

namespace tilefuse::test {

/// Strides in elements; the last (head_dim) dimension is contiguous.
struct Strides {
  long long batch = 0, head = 0, row = 0;
  long long at(int b, int h, int s) const { return b * batch + h * head + s * row; }
};

/// Q [B, Sq, Hq, D], K/V [B, Sk, Hkv, D] (any strides), bits of `dtype` values.
struct AttentionProblem {
  int batch = 1, headsQ = 1, headsKv = 1, seqQ = 1, seqK = 1, headDim = 64;
  bool causal = false; // bottom-right aligned: key j visible to query i iff j <= i + seqK - seqQ
  Dtype dtype = Dtype::bf16;
  double softmaxScale = 0; // 0: 1/sqrt(headDim)
  double scale() const;
  int kvHead(int h) const { return h / (headsQ / headsKv); }
  bool visible(int i, int j) const { return !causal || j <= i + seqK - seqQ; }
};

struct AttentionInputs {
  std::vector<std::uint16_t> q, k, v;
  Strides qs, ks, vs;
};

/// One output row (b, h, i) in fp64: out[0..D), returns the natural-log LSE (-inf and out = 0 when
/// no key is visible).
double referenceRow(const AttentionProblem &p, const AttentionInputs &in, int b, int h, int i, double *out);

/// The same row as a naive bf16/fp16 implementation computes it: S = round(round(q*scale) . k)
/// (f32 dot), P = round(softmax_f32(S)), out = round(P . v) (f32 dot).
void naiveRow(const AttentionProblem &p, const AttentionInputs &in, int b, int h, int i, float *out);

/// Errors of a kernel's output rows against referenceRow and naiveRow, accumulated by compareRow.
struct RowErrors {
  double maxErr = 0, maxNaiveErr = 0, maxLseErr = 0; ///< max |out - ref|, |naive - ref|, |lse - ref lse|
  long unwritten = 0;  ///< NaN elements (outputs are poisoned with NaN before the launch)
  long lseBad = 0;     ///< LSE NaN, or not -inf where no key is visible
  long padTouched = 0; ///< counted by callers that check row padding
  long rows = 0;
};

/// Compares row (b, h, i) of a kernel's O (`o`, strides `os`, bits of p.dtype) and LSE (`lse`,
/// dense [B, Hq, Sq], natural log) with the references, into `e`.
void compareRow(const AttentionProblem &p, const AttentionInputs &in, const Strides &os,
                const std::vector<std::uint16_t> &o, const std::vector<float> &lse, int b, int h, int i,
                RowErrors &e);

} // namespace tilefuse::test
