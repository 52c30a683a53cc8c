//===- NormalizerFuseTest.cpp - normalizer none and sinks, unfused vs fused -===//
//
// Specs with "normalizer": "none" (sigmoid attention, linear weights) and with a sink fuse by the
// general rules into one kernel with one K/V loop; in the fp64 interpreter the fused program equals
// the unfused one to 1e-12 and both equal the fp64 reference (reference::attention). Normalizer
// none leaves a plain tiled reduction: the loop carries only the O accumulator, and no row max or
// row sum is taken.
//
#include "FuseSupport.h"

#include "blk/BlkDialect.h"
#include "tilefuse/lowering/Lowering.h"
#include "tilefuse/reference/Attention.h"
#include "tilefuse/spec/Spec.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Verifier.h"

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <limits>
#include <string>

using namespace tilefuse;
using namespace tilefuse::test;

namespace {

std::string specText(const std::string &fields) {
  return R"j({"name": "norm", "dtype": "bf16", "head_dim": 32, "heads": {"q": 4, "kv": 2}, )j" + fields +
         R"j( "shape": {"B": 2, "Sq": 64, "Sk": 64}})j";
}

struct Run {
  std::vector<interp::HostTensor> unfused, fused, args;
  FuseReport report;
  int loopIterArgs = -1; ///< iter args of the fused K/V loop
  int reductions = 0;    ///< blk.reduce ops in the fused program
};

Run lowerFuseRun(const spec::Spec &s, const spec::Shape &shape, int64_t bm, int64_t bn, uint64_t seed) {
  mlir::MLIRContext ctx;
  lowering::loadDialects(ctx);
  auto module = mlir::OwningOpRef<mlir::ModuleOp>(mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx)));
  lowering::LoweringOptions lo;
  lo.blockM = bm;
  mlir::func::FuncOp unfused = lowering::lowerToUnfused(*module, s, shape, lo);
  REQUIRE(mlir::succeeded(mlir::verify(*module)));
  mlir::OwningOpRef<mlir::ModuleOp> fusedModule = module->clone();
  Run r;
  r.report = fuse(*fusedModule, bn);
  auto fused = *fusedModule->getOps<mlir::func::FuncOp>().begin();
  fused.walk([&](mlir::Operation *op) {
    if (auto loop = mlir::dyn_cast<mlir::scf::ForOp>(op); loop && loop->getParentOfType<blk::KernelOp>())
      r.loopIterArgs = static_cast<int>(loop.getNumRegionIterArgs());
    r.reductions += mlir::isa<blk::ReduceOp>(op);
  });
  r.args = randomArguments(unfused, lowering::dimBindings(s, shape), seed);
  r.unfused = interpret(unfused, r.args);
  r.fused = interpret(fused, r.args);
  return r;
}

interp::HostTensor hostOf(const reference::Tensor &t) {
  interp::HostTensor h = interp::HostTensor::contiguous(interp::DType::F32, t.shape);
  h.data = t.data;
  return h;
}

reference::Tensor refOf(const interp::HostTensor &h) {
  reference::Tensor t(h.shape);
  t.data = h.data;
  return t;
}

/// fp64 reference outputs for the interpreter's arguments (Q, K, V, O, [LSE], captures).
reference::Outputs referenceOf(const spec::Spec &s, const spec::Shape &shape,
                               const std::vector<interp::HostTensor> &args) {
  reference::Inputs in{refOf(args[0]), refOf(args[1]), refOf(args[2]), {}};
  for (size_t c = args.size() - s.captures.size(); c < args.size(); ++c)
    in.captures.push_back(refOf(args[c]));
  return reference::attention(s, shape, in);
}

} // namespace

TEST_CASE("normalizer none and sinks fuse into one kernel equal to the unfused program and the fp64 "
          "reference",
          "[fusion][normalizer]") {
  const std::array<std::string, 6> specs = {
      // Sigmoid attention with a per-head bias, causal (rows with no key under Sq > Sk).
      specText(R"j("normalizer": "none", "score_mod": "sigmoid(score + bias[h])",
                  "mask_mod": "q_idx + (Sk - Sq) >= kv_idx",
                  "captures": {"bias": {"shape": ["Hq"], "dtype": "f32"}},)j"),
      // Linear weights, no mask.
      specText(R"j("normalizer": "none", "score_mod": "score * 0.5 + 0.25",)j"),
      // A learned per-head sink with LSE, causal.
      specText(R"j("sink": "sinks[h]", "lse": true, "mask_mod": "q_idx + (Sk - Sq) >= kv_idx",
                  "captures": {"sinks": {"shape": ["Hq"], "dtype": "f32"}},)j"),
      // Sinks far above and below the scores (exp(sink - m) near overflow / underflow in fp32).
      specText(R"j("sink": "sinks[h] * 40.0", "lse": true, "mask_mod": "kv_idx % 3 != 1 && q_idx + (Sk - Sq) >= kv_idx",
                  "captures": {"sinks": {"shape": ["Hq"], "dtype": "f32"}},)j"),
      // Softmax + 1 (a constant sink of 0) with a score_mod.
      specText(R"j("sink": "0.0", "lse": true, "score_mod": "20.0 * tanh(score / 20.0)",)j"),
      // A sink per batch and head.
      specText(R"j("sink": "t[b, h] - 1.0", "captures": {"t": {"shape": ["B", "Hq"], "dtype": "f32"}},)j"),
  };
  // (BLOCK_M, BLOCK_N, Sq, Sk): tiles dividing neither size; Sq > Sk and Sq < Sk.
  const std::array<std::array<int64_t, 4>, 3> cases = {{{64, 64, 77, 50}, {32, 48, 113, 203}, {48, 16, 1, 93}}};
  for (const std::string &text : specs) {
    spec::Spec s = spec::parseSpecString(text, "norm.json");
    for (auto [bm, bn, sq, sk] : cases) {
      spec::ShapeOverrides ov;
      ov.Sq = sq;
      ov.Sk = sk;
      spec::Shape shape = spec::resolveShape(s, ov);
      INFO(text << " BLOCK_M=" << bm << " BLOCK_N=" << bn << " Sq=" << sq << " Sk=" << sk << " (seed "
                << testSeed() << ")");
      Run r = lowerFuseRun(s, shape, bm, bn, testSeed());
      CHECK(r.report.kernels == 1);
      CHECK(r.report.topLevelLoops == 1);
      CHECK(r.report.allocs == 0);
      for (const std::string &w : r.report.warnings)
        FAIL_CHECK("warning: " << w);
      if (s.normalizer == spec::Normalizer::None) {
        CHECK(r.loopIterArgs == 1); // only the O accumulator: no running max, no row sum
        CHECK(r.reductions == 0);
      } else {
        CHECK(r.loopIterArgs == 3); // m, l and the O accumulator, as without a sink
      }
      reference::Outputs ref = referenceOf(s, shape, r.args);
      const double errFused = relError(r.fused[3], r.unfused[3]);
      const double errRef = relError(r.unfused[3], hostOf(ref.O));
      double errLse = 0.0, errLseRef = 0.0;
      if (s.lse) {
        errLse = relError(r.fused[4], r.unfused[4]);
        errLseRef = relError(r.unfused[4], hostOf(ref.LSE));
      }
      std::printf("%s Sq=%lld Sk=%lld: fused vs unfused O %.2e LSE %.2e; unfused vs reference O %.2e LSE %.2e\n",
                  s.normalizer == spec::Normalizer::None ? "none" : "sink", (long long)sq, (long long)sk, errFused,
                  errLse, errRef, errLseRef);
      CHECK(errFused <= 1e-12);
      CHECK(errRef <= 1e-12);
      CHECK(errLse <= 1e-12);
      CHECK(errLseRef <= 1e-12);
    }
  }
}

TEST_CASE("a sink changes O and LSE and an empty row has LSE = sink", "[fusion][sink]") {
  spec::Spec s = spec::parseSpecString(
      specText(R"j("sink": "sinks[h]", "lse": true, "mask_mod": "q_idx + (Sk - Sq) >= kv_idx",
                  "captures": {"sinks": {"shape": ["Hq"], "dtype": "f32"}},)j"),
      "norm.json");
  spec::ShapeOverrides ov;
  ov.Sq = 70; // rows 0..19 see no key (bottom-right causal, Sq > Sk)
  ov.Sk = 50;
  spec::Shape shape = spec::resolveShape(s, ov);
  Run with = lowerFuseRun(s, shape, 64, 64, testSeed());
  spec::Spec plain = s;
  plain.sink.reset();
  Run without = lowerFuseRun(plain, shape, 64, 64, testSeed());
  INFO("seed " << testSeed());
  // Same seed and arguments: only the sink differs.
  CHECK(relError(with.fused[3], without.fused[3]) > 1e-3);
  CHECK(relError(with.fused[4], without.fused[4]) > 1e-3);
  const interp::HostTensor &lse = with.fused[4], &sinks = with.args.back();
  for (int64_t h = 0; h < shape.Hq; ++h)
    for (int64_t i = 0; i < 20; ++i) {
      CHECK(lse.at({0, h, i}) == sinks.at({h}));
      CHECK(without.fused[4].at({0, h, i}) == -std::numeric_limits<double>::infinity());
    }
}
