//===- NormalizerFuseTest.cpp - normalizers none and stick_breaking, sinks: unfused vs fused -===//
//
// Specs with "normalizer": "none" (sigmoid attention, linear weights) and with a sink fuse by the
// general rules into one kernel with one K/V loop; in the fp64 interpreter the fused program equals
// the unfused one to 1e-12 and both equal the fp64 reference (reference::attention). Normalizer
// none leaves a plain tiled reduction: the loop carries only the O accumulator, and no row max or
// row sum is taken. Normalizer stick_breaking (Tan et al. 2024, Sec. 2) carries O and the suffix sum
// of softplus(s) of the reverse exclusive scan (the loop visits the K/V tiles last to first); its
// reference is the product form, itself checked against weights worked out by hand.
//
#include "FuseSupport.h"

#include "blk/BlkDialect.h"
#include "tilefuse/lowering/Lowering.h"
#include "tilefuse/reference/Attention.h"
#include "tilefuse/spec/Spec.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Verifier.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cmath>
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
  int maxReductions = 0; ///< blk.reduce max ops in the fused program (a running max)
  int scans = 0;         ///< blk.scan ops in the fused program
};

Run lowerFuseRun(const spec::Spec &s, const spec::Shape &shape, int64_t bm, int64_t bn, uint64_t seed) {
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module = lowerSpec(ctx, s, shape, bm);
  auto unfused = *module->getOps<mlir::func::FuncOp>().begin();
  mlir::OwningOpRef<mlir::ModuleOp> fusedModule = module->clone();
  Run r;
  r.report = fuse(*fusedModule, bn);
  auto fused = *fusedModule->getOps<mlir::func::FuncOp>().begin();
  fused.walk([&](mlir::Operation *op) {
    if (auto loop = mlir::dyn_cast<mlir::scf::ForOp>(op); loop && loop->getParentOfType<blk::KernelOp>())
      r.loopIterArgs = static_cast<int>(loop.getNumRegionIterArgs());
    r.reductions += mlir::isa<blk::ReduceOp>(op);
    if (auto reduce = mlir::dyn_cast<blk::ReduceOp>(op))
      r.maxReductions += reduce.getKind() == blk::ReduceKind::max;
    r.scans += mlir::isa<blk::ScanOp>(op);
  });
  r.args = randomArguments(unfused, lowering::dimBindings(s, shape), seed);
  r.unfused = interpret(unfused, r.args);
  r.fused = interpret(fused, r.args);
  return r;
}

/// Each spec of `specs` at each (BLOCK_M, BLOCK_N, Sq, Sk) of `cases`, lowered, fused and run (lowerFuseRun):
/// one kernel, one top-level loop, no allocs and no warnings, then `check(spec, shape, run, Sq, Sk)`.
template <std::size_t NS, std::size_t NC, class Check>
void forEachFusedCase(const std::array<std::string, NS> &specs, const std::array<std::array<int64_t, 4>, NC> &cases,
                      const char *file, Check check) {
  for (const std::string &text : specs) {
    spec::Spec s = spec::parseSpecString(text, file);
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
      check(s, shape, r, sq, sk);
    }
  }
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
  forEachFusedCase(specs, cases, "norm.json", [](const spec::Spec &s, const spec::Shape &shape, Run &r, int64_t sq,
                                               int64_t sk) {
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
  });
}

TEST_CASE("stick-breaking specs fuse into one kernel equal to the unfused program and the fp64 reference",
          "[fusion][normalizer][stick_breaking]") {
  // GQA (Hq 4, Hkv 2) and D 32 from specText. The reference (reference::attention) is the product form
  // beta_j prod_{kept k > j} (1 - beta_k); the programs compute exp(s - softplus(s) - R) with R the
  // reverse exclusive scan of the masked softplus.
  const std::array<std::string, 4> specs = {
      // The shipped mask: strictly causal, bottom-right aligned (rows with no key: O = 0).
      specText(R"j("normalizer": "stick_breaking", "mask_mod": "kv_idx < q_idx + (Sk - Sq)",)j"),
      // No mask: every key of the row, the nearest (last) one first.
      specText(R"j("normalizer": "stick_breaking",)j"),
      // A score_mod and a mask with holes inside the causal part (masked keys break off nothing).
      specText(R"j("normalizer": "stick_breaking", "score_mod": "2.0 * score + bias[h]",
                  "mask_mod": "kv_idx % 3 != 1 && kv_idx <= q_idx + (Sk - Sq)",
                  "captures": {"bias": {"shape": ["Hq"], "dtype": "f32"}},)j"),
      // A sliding window of 40 keys before the query (partial tiles on both sides of the band).
      specText(R"j("normalizer": "stick_breaking",
                  "mask_mod": "kv_idx < q_idx + (Sk - Sq) && q_idx + (Sk - Sq) - kv_idx <= 40",)j"),
  };
  // (BLOCK_M, BLOCK_N, Sq, Sk): tiles dividing neither size; Sq > Sk, Sq < Sk, one query.
  const std::array<std::array<int64_t, 4>, 4> cases = {
      {{64, 64, 77, 50}, {32, 48, 113, 203}, {48, 16, 1, 93}, {64, 32, 130, 130}}};
  forEachFusedCase(specs, cases, "stick.json", [](const spec::Spec &s, const spec::Shape &shape, Run &r, int64_t sq,
                                                int64_t sk) {
    REQUIRE(s.normalizer == spec::Normalizer::StickBreaking);
    CHECK(r.loopIterArgs == 2); // the O accumulator and the suffix sum R
    CHECK(r.maxReductions == 0); // the exponent s - R is <= 0: no running max
    CHECK(r.scans >= 1);
    reference::Outputs ref = referenceOf(s, shape, r.args);
    for (double l : ref.LSE.data)
      CHECK(std::isnan(l)); // no LSE for stick-breaking
    double maxO = 0.0;
    for (double x : ref.O.data)
      maxO = std::max(maxO, std::abs(x));
    CHECK(maxO > 0.1); // not a row of zeros
    const double errFused = relError(r.fused[3], r.unfused[3]);
    const double errRef = relError(r.unfused[3], hostOf(ref.O));
    std::printf("stick_breaking Sq=%lld Sk=%lld: fused vs unfused O %.2e; unfused vs reference O %.2e\n",
                (long long)sq, (long long)sk, errFused, errRef);
    CHECK(errFused <= 1e-12);
    CHECK(errRef <= 1e-12);
  });
}

TEST_CASE("the stick-breaking reference equals weights worked out by hand", "[fusion][stick_breaking]") {
  // One head, Sq = Sk = 3, D = Dv = 3, scale 1, K_j = V_j = e_j: s_ij = Q[i][j] and O_i = (A_i0, A_i1, A_i2).
  // With L = ln 3, sigmoid(0) = 1/2, sigmoid(L) = 3/4, sigmoid(-L) = 1/4, and A_ij = beta_ij
  // prod_{kept k > j} (1 - beta_ik) (Tan et al. 2024, Sec. 2):
  //   row 0: s = (0, L, -L), beta = (1/2, 3/4, 1/4)
  //   row 1: s = (L, 0, 0),  beta = (3/4, 1/2, 1/2)
  //   row 2: s = (-L, L, 0), beta = (1/4, 3/4, 1/2)
  const double L = std::log(3.0);
  const double scores[3][3] = {{0.0, L, -L}, {L, 0.0, 0.0}, {-L, L, 0.0}};
  auto run = [&](const std::string &mask) {
    spec::Spec s = spec::parseSpecString(
        R"j({"name": "sb", "dtype": "bf16", "head_dim": 3, "heads": {"q": 1, "kv": 1}, "scale": 1.0,
             "normalizer": "stick_breaking", )j" + mask + R"j( "shape": {"B": 1, "Sq": 3, "Sk": 3}})j",
        "sb.json");
    spec::Shape shape = spec::resolveShape(s);
    reference::Inputs in{reference::Tensor({1, 1, 3, 3}), reference::Tensor({1, 1, 3, 3}),
                         reference::Tensor({1, 1, 3, 3}), {}};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        in.Q.data[i * 3 + j] = scores[i][j];
        in.K.data[i * 3 + j] = in.V.data[i * 3 + j] = i == j ? 1.0 : 0.0;
      }
    return reference::attention(s, shape, in);
  };
  auto expectRow = [](const reference::Outputs &out, int i, std::array<double, 3> want) {
    for (int j = 0; j < 3; ++j) {
      INFO("row " << i << " key " << j);
      CHECK(out.O.data[i * 3 + j] == Approx(want[j]).margin(1e-15));
    }
    CHECK(std::isnan(out.LSE.data[i]));
  };
  // No mask: A_i2 = beta_i2, A_i1 = beta_i1 (1 - beta_i2), A_i0 = beta_i0 (1 - beta_i1) (1 - beta_i2).
  reference::Outputs all = run("");
  expectRow(all, 0, {1.0 / 2 * (1.0 / 4) * (3.0 / 4), 3.0 / 4 * (3.0 / 4), 1.0 / 4}); // 3/32, 9/16, 1/4
  expectRow(all, 1, {3.0 / 4 * (1.0 / 2) * (1.0 / 2), 1.0 / 2 * (1.0 / 2), 1.0 / 2}); // 3/16, 1/4, 1/2
  expectRow(all, 2, {1.0 / 4 * (1.0 / 4) * (1.0 / 2), 3.0 / 4 * (1.0 / 2), 1.0 / 2}); // 1/32, 3/8, 1/2
  // Strictly causal (the paper's j < i): row 0 sees no key, row 1 only key 0, row 2 keys 0 and 1.
  reference::Outputs causal = run(R"j("mask_mod": "kv_idx < q_idx",)j");
  expectRow(causal, 0, {0.0, 0.0, 0.0});
  expectRow(causal, 1, {3.0 / 4, 0.0, 0.0});
  expectRow(causal, 2, {1.0 / 4 * (1.0 / 4), 3.0 / 4, 0.0}); // 1/16, 3/4
  // A masked key in the middle breaks off nothing: row 2 with key 1 masked is beta_20 (1 - beta_22).
  reference::Outputs hole = run(R"j("mask_mod": "kv_idx != 1",)j");
  expectRow(hole, 2, {1.0 / 4 * (1.0 / 2), 0.0, 1.0 / 2}); // 1/8, 0, 1/2
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
