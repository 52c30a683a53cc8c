//===- Spec.cpp - Shapes, captures and names of a parsed spec ---------------------------------===//

#include "tilefuse/spec/Spec.h"
#include "tilefuse/spec/StickBreaking.h"

#include "SourceMap.h"

#include "tilefuse/spec/Eval.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace tilefuse::spec {

SourceLocation Spec::locate(std::string_view field, int exprColumn) const {
  if (source == nullptr) {
    SourceLocation where;
    where.file = file;
    where.field = field;
    where.exprColumn = exprColumn;
    return where;
  }
  return exprColumn > 0 ? source->locateInString(file, field, exprColumn) : source->locate(file, field);
}

SpecError Spec::errorAt(std::string_view field, std::string message, int exprColumn) const {
  return SpecError(locate(field, exprColumn), std::move(message));
}

namespace {

// The largest value each size may take (Shape.h).
int64_t limitOf(std::string_view name) {
  if (name == "B")
    return kMaxBatch;
  if (name == "Hq" || name == "Hkv")
    return kMaxHeads;
  if (name == "Sq" || name == "Sk")
    return kMaxSeqLen;
  return kMaxHeadDim;
}

// One size: the spec's value or the caller's override, checked to be in [1, limit].
int64_t pick(const Spec &spec, std::string_view field, std::string_view name, int64_t fromSpec,
             const std::optional<int64_t> &override) {
  int64_t v = override.value_or(fromSpec);
  int64_t limit = limitOf(name);
  if (v > 0 && v <= limit)
    return v;
  std::string message = fmt::format("{} = {}{} is not allowed; expected an integer from 1 to {}",
                                    name, v, override ? " (a shape override)" : "", limit);
  if (override.has_value()) {
    SourceLocation where;
    where.file = spec.file;
    where.field = field;
    throw SpecError(where, message);
  }
  throw spec.errorAt(field, message);
}

// The divisors of n (n <= kMaxHeads: a bounded loop), as long as the list stays short.
std::string divisorsOf(int64_t n) {
  std::string out;
  for (int64_t d = 1; d <= n && d <= kMaxHeads && out.size() < 120; ++d)
    if (n % d == 0)
      out += (out.empty() ? "" : ", ") + std::to_string(d);
  return out;
}

// "B*Hq*Sq*Sk*4 = ... bytes" unless it is within kMaxTensorBytes.
std::string tensorTooLarge(std::string_view what, std::string_view formula,
                           std::initializer_list<int64_t> factors) {
  std::optional<int64_t> bytes = checkedProduct(factors);
  if (bytes && *bytes <= kMaxTensorBytes)
    return "";
  return fmt::format("{} is too large: {} = {} bytes; expected at most 2^53 = {} bytes", what,
                     formula, bytes ? std::to_string(*bytes) : std::string("more than 2^63"),
                     kMaxTensorBytes);
}

std::string sizeProblem(const Shape &s) {
  for (auto [name, v] : {std::pair<const char *, int64_t>{"B", s.B}, {"Hq", s.Hq}, {"Hkv", s.Hkv},
                         {"Sq", s.Sq}, {"Sk", s.Sk}, {"D", s.D}, {"Dv", s.Dv}})
    if (v <= 0 || v > limitOf(name))
      return fmt::format("{} = {} is not allowed; expected an integer from 1 to {}", name, v,
                         limitOf(name));
  // fp32 is the widest element type of any tensor the programs hold (S, P, O in fp32, LSE).
  for (std::string problem :
       {tensorTooLarge("the score matrix S of the unfused program", "B*Hq*Sq*Sk*4",
                       {s.B, s.Hq, s.Sq, s.Sk, 4}),
        tensorTooLarge("Q", "B*Hq*Sq*D*4", {s.B, s.Hq, s.Sq, s.D, 4}),
        tensorTooLarge("O", "B*Hq*Sq*Dv*4", {s.B, s.Hq, s.Sq, s.Dv, 4}),
        tensorTooLarge("K", "B*Hkv*Sk*D*4", {s.B, s.Hkv, s.Sk, s.D, 4}),
        tensorTooLarge("V", "B*Hkv*Sk*Dv*4", {s.B, s.Hkv, s.Sk, s.Dv, 4})})
    if (!problem.empty())
      return problem;
  return "";
}

} // namespace

Shape resolveShape(const Spec &spec, const ShapeOverrides &o) {
  Shape s;
  s.B = pick(spec, "shape.B", "B", spec.batch, o.B);
  s.Hq = pick(spec, "heads.q", "Hq", spec.headsQ, o.Hq);
  s.Hkv = pick(spec, "heads.kv", "Hkv", spec.headsKv, o.Hkv);
  s.Sq = pick(spec, "shape.Sq", "Sq", spec.seqQ, o.Sq);
  s.Sk = pick(spec, "shape.Sk", "Sk", spec.seqK, o.Sk);
  s.D = pick(spec, "head_dim", "D", spec.headDim, o.D);
  s.Dv = o.Dv ? pick(spec, "value_dim", "Dv", 0, o.Dv)
              : pick(spec, "value_dim", "Dv", spec.valueDim.value_or(s.D), std::nullopt);
  if (std::string problem = sizeProblem(s); !problem.empty())
    throw spec.errorAt("shape", fmt::format("{} (B={} Hq={} Hkv={} Sq={} Sk={} D={} Dv={}{})",
                                            problem, s.B, s.Hq, s.Hkv, s.Sq, s.Sk, s.D, s.Dv,
                                            o.B || o.Hq || o.Hkv || o.Sq || o.Sk || o.D || o.Dv
                                                ? ", with the shape overrides"
                                                : ""));
  if (s.Hq % s.Hkv != 0) {
    std::string message = fmt::format(
        "Hq = {} is not a multiple of Hkv = {}; the GQA group size Hq / Hkv must be an integer, "
        "so Hkv must be one of {}{}",
        s.Hq, s.Hkv, divisorsOf(s.Hq), o.Hq || o.Hkv ? " (with the shape overrides)" : "");
    throw spec.errorAt("heads.kv", message);
  }
  for (size_t slot = 0; slot < spec.captures.size(); ++slot)
    captureShape(spec, slot, s);
  return s;
}

void checkShapeLimits(const Shape &s, std::string_view fieldPrefix) {
  // Nothing is allocated unless the shape is bad: Engine::launch checks every call with it.
  auto fail = [&](std::string problem) {
    SourceLocation where;
    where.field = std::string(fieldPrefix) + "shape";
    throw SpecError(where, std::move(problem));
  };
  if (std::string problem = sizeProblem(s); !problem.empty())
    fail(std::move(problem));
  if (s.Hq % s.Hkv != 0)
    fail(fmt::format("Hq = {} is not a multiple of Hkv = {}", s.Hq, s.Hkv));
}

double softmaxScale(const Spec &spec, const Shape &shape) {
  return spec.scale.value_or(1.0 / std::sqrt(static_cast<double>(shape.D)));
}

std::vector<int64_t> captureShape(const Spec &spec, size_t slot, const Shape &shape) {
  const Capture &capture = spec.captures.at(slot);
  EvalEnv env;
  env.shape = shape;
  std::vector<int64_t> sizes;
  for (size_t d = 0; d < capture.shape.size(); ++d) {
    std::string field = fmt::format("captures.{}.shape[{}]", capture.name, d);
    int64_t size = 0;
    try {
      size = evaluate(capture.shape[d], env).asInt();
    } catch (const SpecError &e) {
      throw spec.errorAt(field, e.message(), e.exprColumn());
    }
    if (size <= 0)
      throw spec.errorAt(field, fmt::format("size '{}' of '{}' is {} for B={}, Hq={}, Hkv={}, "
                                            "Sq={}, Sk={}; expected a positive size",
                                            toString(capture.shape[d]), capture.name, size, shape.B,
                                            shape.Hq, shape.Hkv, shape.Sq, shape.Sk));
    sizes.push_back(size);
  }
  return sizes;
}

const Capture *findCapture(const Spec &spec, std::string_view name) {
  for (const Capture &c : spec.captures)
    if (c.name == name)
      return &c;
  return nullptr;
}

ExprScope scopeOf(const Spec &spec, ExprContext context) {
  ExprScope scope;
  scope.context = context;
  for (const Capture &c : spec.captures)
    scope.captures.push_back({c.name, c.shape.size(), scalarTypeOf(c.dtype)});
  return scope;
}

std::string_view spelling(DType t) { return t == DType::BF16 ? "bf16" : "fp16"; }

std::string_view spelling(ElementType t) {
  switch (t) {
  case ElementType::F32:
    return "f32";
  case ElementType::F16:
    return "f16";
  case ElementType::BF16:
    return "bf16";
  case ElementType::I32:
    return "i32";
  case ElementType::I64:
    return "i64";
  }
  return "";
}

std::string_view spelling(MathMode m) { return m == MathMode::Exact ? "exact" : "approx"; }
std::string_view spelling(Layout l) { return l == Layout::Packed ? "packed" : "batched"; }
std::string_view spelling(Normalizer n) {
  switch (n) {
  case Normalizer::Softmax:
    return "softmax";
  case Normalizer::None:
    return "none";
  case Normalizer::StickBreaking:
    return "stick_breaking";
  }
  return "";
}

ScalarType scalarTypeOf(ElementType t) {
  return t == ElementType::I32 || t == ElementType::I64 ? ScalarType::Int : ScalarType::Float;
}

} // namespace tilefuse::spec

namespace tilefuse::spec {

std::vector<double> stickBreakingWeights(std::span<const double> s) {
  std::vector<double> w(s.size(), 0.0);
  double left = 1.0; // prod over the kept keys after j of (1 - beta_k)
  for (size_t j = s.size(); j-- > 0;) {
    if (s[j] == -std::numeric_limits<double>::infinity())
      continue;
    w[j] = left / (1.0 + std::exp(-s[j]));
    left /= 1.0 + std::exp(s[j]);
  }
  return w;
}

} // namespace tilefuse::spec
