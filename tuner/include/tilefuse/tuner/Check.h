//===- Check.h - inputs and the accuracy rule for tuned kernels ------*- C++ -*-===//
//
// Host inputs in the kernel's element types, an fp64 reference for chosen query rows, and the rule
// a kernel's output must meet. The rule is FlashAttention's (tests/test_flash_attn.py):
//
//   max |O_kernel - O_ref| <= 2 * max |O_naive - O_ref| + 1e-5
//
// where, over the same rows,
//   O_ref    is attention in fp64 on the dtype-rounded Q, K, V (exactly the kernel's inputs), and
//   O_naive  is the same computation at the dtype's precision: the normalised P = softmax(s)
//            rounded to the dtype before P V, and O rounded to the dtype.
// LSE (when the spec writes it) must be within 1e-3 * max(1, |LSE_ref|) and -inf exactly where the
// reference is -inf (fully masked rows). Any NaN fails.
//
// Inputs: Q, K, V ~ approximately N(0, 1) (Irwin-Hall sum of four uniforms, scaled; fast enough for
// 100M-element tensors), rounded to the dtype; captures the caller's, else syntheticCaptures
// (Captures.h: float tables U(-1, 1) rounded to their dtype, int tables non-decreasing document ids).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Packed.h"
#include "tilefuse/spec/Spec.h"
#include "tilefuse/tuner/Captures.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tilefuse::tuner {

/// bf16 / fp16 bits <-> float, round to nearest even (as __float2bfloat16_rn / __float2half_rn).
uint16_t toBits(spec::DType t, float f);
float fromBits(spec::DType t, uint16_t bits);

/// Inputs of one problem, in the layouts of reference/Attention.h (dense, row-major), or packed
/// (cuQ non-empty; spec "layout": "packed"): Q [total_q, Hq, D], K [total_k, Hkv, D], V [total_k, Hkv, Dv],
/// shape.B = sequences, shape.Sq / Sk = the max lengths (what the captures' size expressions see).
struct HostInputs {
  spec::Shape shape;
  std::vector<int64_t> cuQ, cuK;                  ///< packed: cu_seqlens_q / _k [B + 1]; empty: batched
  spec::DType dtype = spec::DType::BF16;
  std::vector<uint16_t> Q, K, V;                  ///< dtype bits
  HostCaptures captures; ///< Spec::captures order, at `shape`
};

/// Fresh inputs for `shape` (see the file comment). Deterministic for a seed.
/// With `packed`: the packed tensors of those sequences (shape.B, Sq, Sk must be its batch and max lengths).
/// With `captures` (of `shape`: the caller's, readCaptureFiles / capturesFromBytes, or syntheticCaptures):
/// those captures; else syntheticCaptures drawn from `seed`.
HostInputs makeInputs(const spec::Spec &spec, const spec::Shape &shape, uint64_t seed,
                      const spec::PackedSeqs *packed = nullptr, const HostCaptures *captures = nullptr);

/// One query row (b, h, q_idx); packed: q_idx is the position inside sequence b.
struct RowIndex {
  int64_t b = 0, h = 0, q = 0;
};

/// Every row when B * Hq * Sq <= maxRows, else `maxRows` rows: the first and last query of the
/// first and last (b, h), the rest drawn at random (seeded).
std::vector<RowIndex> sampleRows(const spec::Shape &shape, int64_t maxRows, uint64_t seed);
/// The same for packed sequences (rows of empty sequences do not exist): every row when Hq * total_q <=
/// maxRows, else the first and last row of the first and last non-empty sequence and random others.
std::vector<RowIndex> samplePackedRows(const spec::PackedSeqs &seqs, int64_t Hq, int64_t maxRows, uint64_t seed);

/// The fp64 reference and the same-precision naive result for one row.
struct ReferenceRow {
  std::vector<double> O;      ///< Dv values
  std::vector<double> Onaive; ///< Dv values
  double lse = 0;             ///< natural log; -inf when every key is masked (the sink with one); NaN for normalizers none and stick_breaking
};
/// Packed inputs: the row's sequence alone, Sq / Sk its lengths (spec/Packed.h semantics).
/// Throws spec::SpecError when an expression cannot be evaluated (a table index out of range).
ReferenceRow referenceRow(const spec::Spec &spec, const HostInputs &in, const RowIndex &row);

/// The result of comparing a kernel's rows with the reference.
struct Accuracy {
  int64_t rows = 0;
  double maxErr = 0;    ///< max |O_kernel - O_ref|
  double naiveErr = 0;  ///< max |O_naive - O_ref|
  double bound = 0;     ///< 2 * naiveErr + 1e-5
  double maxLseErr = 0; ///< over finite reference entries (0 without LSE)
  bool lseInfMatch = true;
  bool finite = true;   ///< no NaN (or unexpected inf) in O / LSE
  bool passed = false;
  std::string detail;   ///< the worst element, e.g. "O[0,3,117,5] = 0.51 vs 0.49"
};

/// Compares kernel output rows (O as dtype bits, Dv per row; LSE per row, empty without LSE) for
/// `rows`, in that order, with referenceRow.
Accuracy checkRows(const spec::Spec &spec, const HostInputs &in, const std::vector<RowIndex> &rows,
                   const std::vector<uint16_t> &O, const std::vector<float> &LSE);

} // namespace tilefuse::tuner
