//===- ExprFuzzer.cpp - fuzz target: the expression language --------------===//
//
// Input: one expression (score_mod / mask_mod grammar, specs/README.md). Promises checked
// (tilefuse/spec/Expr.h, Eval.h):
//   - parseExpr throws only SpecError, with a message;
//   - toString prints a tree that parses back structurally equal;
//   - checkExpr, in every context and with captured tensors of ranks 1 and 2, throws only SpecError;
//   - evaluate, on a checked tree at points inside and at the edges of small and large shapes,
//     throws only SpecError (Int overflow, division by zero and out-of-range reads are errors,
//     never undefined behaviour: the libFuzzer build runs under UBSan).
//
//===----------------------------------------------------------------------------------------===//
#include "FuzzTarget.h"

#include "tilefuse/spec/Eval.h"
#include "tilefuse/spec/Expr.h"
#include "tilefuse/spec/SpecError.h"

#include <array>
#include <vector>

using namespace tilefuse;

namespace {
constexpr std::string_view target = "expr";

// Captured tensors as specs declare them: bias[Hq, Sq] (float), doc_ids[B, Sk] (int), slopes[Hq].
const std::vector<spec::CaptureSignature> kCaptures = {
    {"bias", 2, spec::ScalarType::Float},
    {"doc_ids", 2, spec::ScalarType::Int},
    {"slopes", 1, spec::ScalarType::Float},
};

void evaluateAt(const spec::Expr &e) {
  // Small tables: reads past them must be SpecErrors. Values are arbitrary, finite, not zero.
  static const std::vector<double> table = {3, -1, 0.5, 7, 2, -4, 1, 9, 6, -2, 5, 8, -3, 4, 11, 10};
  for (const spec::Shape &shape : {spec::Shape{2, 4, 2, 5, 7, 16, 16},
                                   spec::Shape{spec::kMaxBatch, spec::kMaxHeads, 1, spec::kMaxSeqLen,
                                               spec::kMaxSeqLen, 64, 64}}) {
    spec::EvalEnv env;
    env.shape = shape;
    env.captures = {spec::TensorView{{2, 8}, table}, spec::TensorView{{2, 8}, table},
                    spec::TensorView{{16}, table}};
    for (auto [q, kv] : std::array<std::pair<int64_t, int64_t>, 4>{
             {{0, 0}, {shape.Sq - 1, 0}, {0, shape.Sk - 1}, {shape.Sq - 1, shape.Sk - 1}}}) {
      env.q_idx = q;
      env.kv_idx = kv;
      env.b = shape.B - 1;
      env.h = shape.Hq - 1;
      env.score = -1.75;
      fuzz::refusesCleanly<spec::SpecError>(target, "evaluate", [&] { (void)spec::evaluate(e, env); });
    }
  }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  spec::Expr parsed;
  if (!fuzz::refusesCleanly<spec::SpecError>(target, "parseExpr",
                                             [&] { parsed = spec::parseExpr(fuzz::asText(data, size)); }))
    return 0;
  std::string printed;
  spec::Expr reparsed;
  fuzz::refusesCleanly<>(target, "toString read back", [&] {
    printed = spec::toString(parsed);
    reparsed = spec::parseExpr(printed);
  });
  fuzz::require(spec::structurallyEqual(parsed, reparsed), target,
                "toString does not read back to the same tree: " + printed + " -> " + spec::toString(reparsed));

  for (spec::ExprContext context : {spec::ExprContext::ScoreMod, spec::ExprContext::MaskMod,
                                    spec::ExprContext::CaptureDim, spec::ExprContext::Let,
                                    spec::ExprContext::Sink}) {
    spec::Expr checked = parsed;
    spec::ExprScope scope{context, kCaptures, {}};
    if (fuzz::refusesCleanly<spec::SpecError>(target, "checkExpr", [&] { spec::checkExpr(checked, scope); }) &&
        context != spec::ExprContext::CaptureDim)
      evaluateAt(checked);
  }
  return 0;
}
