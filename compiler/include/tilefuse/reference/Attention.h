//===- Attention.h - fp64 naive attention for a spec -----------------*- C++ -*-===//
//
// The direct definition of a spec's attention (Spec.h), computed row by row in fp64 with no
// tiling: the oracle that the interpreter, the fused programs and the GPU kernels are checked
// against. Also draws random inputs for a spec.
//
// Layouts: dense row-major, Q [B, Hq, Sq, D], K [B, Hkv, Sk, D], V [B, Hkv, Sk, Dv],
// O [B, Hq, Sq, Dv], LSE [B, Hq, Sq] (natural log). A fully masked row gives O = 0, LSE = -inf
// (with a sink: O = 0, LSE = sink). With "normalizer": "none", O = sum_kv s V over the unmasked
// keys and LSE is NaN (not defined). With "normalizer": "stick_breaking" (Tan et al. 2024, Sec. 2),
// O = sum_kv beta_kv prod_{unmasked k > kv} (1 - beta_k) V over the unmasked keys, beta = sigmoid(s),
// computed in product form (not the block program's log form), and LSE is NaN.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Packed.h"
#include "tilefuse/spec/Spec.h"

#include <cstdint>
#include <vector>

namespace tilefuse::reference {

/// A dense, row-major (contiguous) host tensor in fp64.
struct Tensor {
  std::vector<int64_t> shape;
  std::vector<double> data;

  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape);
  int64_t numel() const;
};

/// Q, K, V and the captured tensors, in Spec::captures order.
struct Inputs {
  Tensor Q, K, V;
  std::vector<Tensor> captures;
};

struct Outputs {
  Tensor O, LSE;
};

/// Fresh random inputs for `shape`: Q, K, V ~ N(0, 1); float captures ~ U(-1, 1). Int captures:
///   - one that indexes another capture directly (`bias[h, bucket[kv_idx - q_idx]]`) is uniform over
///     the dim it indexes (the smallest such dim);
///   - else one whose last dim is Sq or Sk (document ids) is non-decreasing along it, from 0, a new
///     value with probability 1/32 per step;
///   - else (per batch or head: a prefix length, an offset) uniform over [0, max(Sq, Sk)].
/// Deterministic for a given seed. Throws spec::SpecError when a capture shape is not positive.
Inputs randomInputs(const spec::Spec &s, const spec::Shape &shape, uint64_t seed);

/// softmax(mask_mod ? score_mod(scale * q.k) : -inf) V, and LSE, in fp64 (Spec.h semantics: a sink
/// joins the denominator, normalizer "none" weighs V by the scores themselves, "stick_breaking" by
/// beta_j prod_{k > j} (1 - beta_k)), with
/// the softmax scale rounded to fp32 first, as every kernel and block program holds it.
/// Throws spec::SpecError when an expression cannot be evaluated (a table index out of range).
Outputs attention(const spec::Spec &s, const spec::Shape &shape, const Inputs &in);

/// Packed variable-length sequences (spec/Packed.h): Q [total_q, Hq, D], K [total_k, Hkv, D],
/// V [total_k, Hkv, Dv], captures sized for `shape` (Sq, Sk = the max lengths, B = the sequences).
struct PackedInputs {
  Tensor Q, K, V;
  std::vector<Tensor> captures;
};
/// O [total_q, Hq, Dv] and LSE [Hq, total_q] (FlashAttention's varlen layouts).
struct PackedOutputs {
  Tensor O, LSE;
};

/// Fresh random packed inputs (the distributions of randomInputs). `shape` must have B = seqs.batch()
/// and Sq, Sk >= the max lengths (captures are sized from it).
PackedInputs randomPackedInputs(const spec::Spec &s, const spec::Shape &shape, const spec::PackedSeqs &seqs,
                                uint64_t seed);

/// The spec's attention on each sequence b on its own (Spec.h semantics with Sq = Sq_b, Sk = Sk_b and
/// b the sequence index), in fp64. `shape` gives B (== seqs.batch()), heads and head dims.
PackedOutputs attentionPacked(const spec::Spec &s, const spec::Shape &shape, const spec::PackedSeqs &seqs,
                              const PackedInputs &in);

/// max |a - b| over all elements (both -inf or both +inf count as 0; any NaN gives NaN).
double maxAbsDiff(const Tensor &a, const Tensor &b);
/// max |a - b| / max(max |b|, tiny) — the relative error used by the equivalence tests.
double maxRelDiff(const Tensor &a, const Tensor &b);

} // namespace tilefuse::reference
