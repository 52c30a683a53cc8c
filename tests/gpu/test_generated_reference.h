// Host references for generated kernels of any spec: the fp64 definition of the spec (Spec.h
// semantics, score_mod / mask_mod evaluated by spec::evaluate) and a naive same-precision
// emulation (what a bf16/fp16 framework computes: S = round(round(q * scale) . k), score_mod in fp32
// on it, P = round(softmax_f32(S)), O = round(P . v)), for FlashAttention's accuracy rule
//   max|out - ref_fp64| <= 2 * max|out_naive_same_precision - ref_fp64| + 1e-5
// (Dao et al., tests/test_flash_attn.py). Rows are computed on every core. A spec's sink joins the
// softmax denominator (and LSE; an empty row's LSE is the sink); normalizer "none" weighs V by the
// scores (O = sum_kv s V, P = round(s) in the naive emulation), normalizer "stick_breaking" by
// beta_j prod_{kept k > j} (1 - beta_k), beta = sigmoid(s) (Tan et al. 2024; the product in fp32 and
// P = round(weight) in the naive emulation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "AttentionReference.h"
#include "HostFloat.h"
#include "tilefuse/spec/Spec.h"

namespace tilefuse::test {

/// A captured tensor: its values (fp64, as the reference reads them) and its bytes in the spec's
/// element type (what the kernel reads), dense row-major.
struct HostCapture {
  std::vector<int64_t> shape;
  std::vector<double> values;
  std::vector<std::byte> bytes;
};

/// Inputs of one problem. Q is [B, Sq, Hq, D] in memory (BSHD, strides qs), K and V are
/// [B, Hkv, Sk, D] (BHSD); values are `dtype` bits drawn ~ N(0, 1) from the tests' generator.
struct SpecProblem {
  const spec::Spec *spec = nullptr;
  spec::Shape shape;
  Dtype dtype = Dtype::bf16;
  std::vector<std::uint16_t> q, k, v;
  Strides qs, ks, vs;
  std::vector<HostCapture> captures; ///< Spec::captures order
};

/// Fresh random inputs: Q, K, V ~ N(0, 1) rounded to the spec's dtype; float captures ~ U(-1, 1)
/// rounded to their element type; int captures non-decreasing along the last dim from 0, +1 with
/// probability 1/32 per step (document ids).
SpecProblem makeProblem(const spec::Spec &spec, const spec::Shape &shape);

struct Comparison {
  double maxErr = 0;      ///< max |out - ref| over O
  double maxNaiveErr = 0; ///< max |naive - ref| over O
  double maxLseErr = 0;   ///< max |lse - lse_ref| / max(1, |lse_ref|) over rows with a visible key
  long unwritten = 0;     ///< NaN elements of O (poisoned and never written)
  long lseBad = 0;        ///< LSE NaN, or not -inf on a fully masked row (without a sink), or -inf on another
  long maskedNonZero = 0; ///< elements of fully masked rows that are not exactly 0
  long paddingTouched = 0; ///< padding elements after O's rows that were written
  long fullyMaskedRows = 0;
  long rows = 0;
  bool passed() const {
    return unwritten == 0 && lseBad == 0 && maskedNonZero == 0 && paddingTouched == 0 &&
           maxErr <= 2 * maxNaiveErr + 1e-5 && maxLseErr <= 1e-3;
  }
};

/// Compares the kernel's O (bits; [B, Sq, Hq, Dv] with row stride os.row, `padding` poisoned
/// elements after each row of all heads) and LSE (dense [B, Hq, Sq], empty when the spec writes none)
/// with the fp64 reference and the naive emulation, on all cores. Throws spec::SpecError when the
/// spec's expressions are undefined at this shape (a capture index out of range).
Comparison compareWithReference(const SpecProblem &p, const std::vector<std::uint16_t> &o, const Strides &os,
                                int padding, const std::vector<float> &lse);

/// Runs fn(i) for i in [0, n) on std::thread::hardware_concurrency() threads; rethrows the first
/// exception a call threw (after every thread has stopped).
void parallelFor(std::size_t n, const std::function<void(std::size_t)> &fn);

/// The shipped specs' folder: env TILEFUSE_SPECS_DIR, else the repository's specs/ at build time.
std::string specsDir();
/// Every *.json in specsDir(), sorted.
std::vector<std::string> shippedSpecs();

} // namespace tilefuse::test
