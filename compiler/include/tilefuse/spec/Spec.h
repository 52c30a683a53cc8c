//===- Spec.h - Attention-variant specs ----------------------------*- C++ -*-===//
//
// A spec is one attention variant as data: dtype, head sizes, heads, softmax scale, whether LSE is
// written, and the score_mod / mask_mod expressions with the tensors they capture. The JSON format
// is documented in specs/README.md; the shipped variants are specs/*.json.
//
// Attention computed for a spec (fp64 reference semantics), for every b, query head h, q_idx:
//   s[kv_idx] = mask_mod(b, h, q_idx, kv_idx) ? score_mod(scale * (Q[b,h,q_idx] . K[b,h/G,kv_idx]),
//                                                         b, h, q_idx, kv_idx)
//                                             : -inf                   (G = Hq / Hkv)
//   O[b,h,q_idx]   = sum_kv softmax(s)[kv_idx] * V[b,h/G,kv_idx]       (0 when every s is -inf)
//   LSE[b,h,q_idx] = log(sum_kv exp(s[kv_idx]))                       (natural log; empty: -inf)
// With a sink (spec field "sink", a float expression sink(b, h)), exp(sink) joins every row's
// denominator (StreamingLLM, Xiao et al. 2023; gpt-oss's learned per-head sink logit):
//   O = sum_kv exp(s) V / (sum_kv exp(s) + exp(sink)),  LSE = log(sum_kv exp(s) + exp(sink))
// With "normalizer": "none" the weights are the scores themselves (sigmoid attention, Ramapuram et
// al. 2024, with score_mod "sigmoid(score + bias)"): O = sum_kv (masked ? 0 : s) V; no LSE.
// With "normalizer": "stick_breaking" (Tan et al. 2024, "Scaling Stick-Breaking Attention", Sec. 2)
// each kept key breaks off a share beta = sigmoid(s) of what the kept keys after it left over:
//   O = sum_{kept j} beta_j prod_{kept k > j} (1 - beta_k) V_j   (weights sum to at most 1; no LSE).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Expr.h"
#include "tilefuse/spec/Shape.h"
#include "tilefuse/spec/SpecError.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tilefuse::spec {

namespace detail {
class SourceMap;
} // namespace detail

/// Element type of Q, K, V and O. Accumulation is fp32; LSE is fp32.
enum class DType : uint8_t { BF16, FP16 };

/// Element type of a captured tensor: f32, f16, bf16 read as Float; i32, i64 read as Int.
enum class ElementType : uint8_t { F32, F16, BF16, I32, I64 };

/// How a kernel computes the f32 transcendentals of score_mod and mask_mod (spec field "math").
/// The online softmax's own exponentials use ex2.approx in both modes.
enum class MathMode : uint8_t {
  Approx, ///< "approx" (default): hardware approximations, tanh.approx.f32 and ex2.approx.ftz for exp.
  Exact,  ///< "exact": the CUDA math library, tanhf and expf (logf, sqrtf are the library's in both modes).
};

/// How Q, K, V, O and LSE are laid out (spec field "layout"; specs/README.md, "Packed sequences").
enum class Layout : uint8_t {
  Batched, ///< "batched" (default): Q [B, Hq, Sq, D], K/V [B, Hkv, Sk, D], O [B, Hq, Sq, Dv], LSE [B, Hq, Sq].
  Packed,  ///< "packed" (FlashAttention's varlen API): B sequences of their own lengths, concatenated:
           ///< Q [total_q, Hq, D], K/V [total_k, Hkv, D], O [total_q, Hq, Dv], LSE [Hq, total_q]; the
           ///< int32 offsets cu_seqlens_q / cu_seqlens_k [B + 1] say where each sequence starts.
           ///< Inside score_mod / mask_mod, q_idx, kv_idx, Sq, Sk are those of the sequence b.
};

/// How a row's weights come from its scores (spec field "normalizer"; specs/README.md, "Normalizers").
enum class Normalizer : uint8_t {
  Softmax, ///< "softmax" (default): p = exp(s) / (sum exp(s) [+ exp(sink)]); LSE defined.
  None,    ///< "none": p = s, masked entries 0; O = sum_kv p V (no running max, no row sum, no LSE).
  /// "stick_breaking" (Tan et al. 2024, Sec. 2): p_j = beta_j prod_{kept k > j} (1 - beta_k) with
  /// beta = sigmoid(s), masked entries 0; O = sum_kv p V (no normalization, no LSE).
  StickBreaking,
};

/// A tensor the variant's expressions read, passed to the kernel next to Q, K, V.
struct Capture {
  std::string name;
  /// One Int expression per dimension over B, Hq, Hkv, Sq, Sk (an IntLiteral for a fixed size),
  /// e.g. {Hq, Sq + Sk - 1}. captureShape() evaluates them for a Shape.
  std::vector<Expr> shape;
  ElementType dtype = ElementType::F32;
  std::string description;
};

struct Spec {
  std::string name;        ///< Identifier, e.g. "alibi".
  std::string description; ///< Free text; not part of the content hash.
  std::string file;        ///< Where it was read from (the name given to the parser).
  DType dtype = DType::BF16;
  int64_t headDim = 0;              ///< D.
  std::optional<int64_t> valueDim;  ///< Dv; empty means Dv = D.
  int64_t headsQ = 0;               ///< Hq.
  int64_t headsKv = 0;              ///< Hkv.
  std::optional<double> scale;      ///< Softmax scale; empty means 1 / sqrt(D).
  bool lse = false;                 ///< Whether the kernel also writes LSE [B, Hq, Sq] fp32.
  std::optional<Expr> scoreMod;     ///< Checked, Float. Empty: identity.
  std::optional<Expr> maskMod;      ///< Checked, Bool. Empty: nothing masked.
  Normalizer normalizer = Normalizer::Softmax; ///< How scores become weights.
  /// Checked, Float, over b, h, the sizes and captures (ExprContext::Sink): exp(sink) is added to
  /// every row's softmax denominator. Empty: no sink. Only with Normalizer::Softmax.
  std::optional<Expr> sink;
  std::vector<Capture> captures;    ///< Sorted by name; Expr::captureSlot indexes this.
  MathMode math = MathMode::Approx; ///< How score_mod / mask_mod compute tanh and exp in kernels.
  Layout layout = Layout::Batched;  ///< Batched tensors or packed variable-length sequences.
  int64_t batch = 0, seqQ = 0, seqK = 0; ///< The default problem size: shape.B, shape.Sq, shape.Sk.

  /// Positions of the fields in the source text, for errorAt. Null for a spec built in code.
  std::shared_ptr<const detail::SourceMap> source;

  /// Where `field` (a JSON path) is in this spec's file, or the character at `exprColumn` inside
  /// that field's expression string when it is > 0: file, field, line, column and exprColumn filled
  /// in; line and column 0 for a spec built in code.
  SourceLocation locate(std::string_view field, int exprColumn = 0) const;

  /// An error located at `field` (a JSON path such as "mask_mod" or "captures.bias.shape[1]") of
  /// this spec's file, or at `exprColumn` inside that field's expression string when it is > 0.
  /// For later stages (lowering, code generation) that reject something a spec says.
  SpecError errorAt(std::string_view field, std::string message, int exprColumn = 0) const;
};

/// Reads and checks a spec file (format: specs/README.md).
/// Throws SpecError when the file cannot be read, is not valid JSON, has an unknown, duplicate or
/// missing field, a value of the wrong type or out of range, an unsupported dtype, Hq not a
/// multiple of Hkv, an expression that does not parse or type-check, an unused capture, or a
/// capture dimension that is not positive at the default shape.
Spec parseSpecFile(const std::string &path);

/// As parseSpecFile, for JSON text in memory; fileName only labels errors and Spec::file.
Spec parseSpecString(std::string_view json, std::string_view fileName);

/// The spec's sizes with `overrides` applied. Throws SpecError (field "shape.B", "heads.kv", ...)
/// when a size is not positive or above its limit (Shape.h), when Hq % Hkv != 0 (the message lists the allowed Hkv), or when a
/// capture dimension evaluates to a size <= 0.
Shape resolveShape(const Spec &spec, const ShapeOverrides &overrides = {});

/// Checks `shape` against the limits of Shape.h (kMaxBatch, ..., kMaxTensorBytes) and Hq % Hkv.
/// Throws SpecError naming the size, its value and the allowed range; `field` prefixes the
/// field names ("shape." gives "shape.B"). resolveShape calls it; callers that build a Shape
/// themselves (the Engine, the cache) should too.
void checkShapeLimits(const Shape &shape, std::string_view fieldPrefix = "");

/// The softmax scale for `shape`: Spec::scale, or 1 / sqrt(shape.D).
double softmaxScale(const Spec &spec, const Shape &shape);

/// Sizes of capture `slot` (index into Spec::captures) for `shape`, elements per dimension.
/// Throws SpecError (field "captures.NAME.shape[i]") when a size evaluates to <= 0.
std::vector<int64_t> captureShape(const Spec &spec, size_t slot, const Shape &shape);

/// The capture called `name`, or null.
const Capture *findCapture(const Spec &spec, std::string_view name);

/// What checkExpr needs to check a new expression against this spec's captures.
ExprScope scopeOf(const Spec &spec, ExprContext context);

/// Canonical JSON of everything that changes the generated kernel: dtype, head_dim, value_dim,
/// heads, scale, lse, score_mod, mask_mod (printed by toString), captures, math when it is
/// "exact", normalizer when it is "none" or "stick_breaking", and sink when there is one (left out for the default, so the hashes of specs without the field do not change). Leaves out name,
/// description and the default shape: a kernel cache key adds the resolved Shape itself.
/// Keys sorted, no whitespace; stable across runs and machines.
std::string canonicalJson(const Spec &spec);

/// FNV-1a 64-bit hash of canonicalJson(spec).
uint64_t contentHash(const Spec &spec);

/// contentHash as 16 lower-case hex digits.
std::string contentHashHex(const Spec &spec);

std::string_view spelling(DType t);       ///< "bf16", "fp16"
std::string_view spelling(ElementType t); ///< "f32", "f16", "bf16", "i32", "i64"
std::string_view spelling(MathMode m);    ///< "approx", "exact"
std::string_view spelling(Layout l);      ///< "batched", "packed"
std::string_view spelling(Normalizer n);  ///< "softmax", "none", "stick_breaking"
/// Float for f32 / f16 / bf16, Int for i32 / i64.
ScalarType scalarTypeOf(ElementType t);

} // namespace tilefuse::spec
