//===- FuseSpecsTest.cpp - every shipped spec, unfused vs fused ------------===//
//
// For each specs/*.json: lower to the unfused three-kernel program at BLOCK_M, fuse it with
// --tilefuse-fuse at BLOCK_N, and check (1) the structure FlashAttention-2 has: one kernel, one
// loop over the K/V tiles, no scratch tensor in HBM, no warning; (2) in the fp64 interpreter on
// fresh random inputs, O and LSE of both programs agree to 1e-12 (relative).
//
#include "FuseSupport.h"
#include "Prepare.h"

#include "blk/BlkDialect.h"
#include "tilefuse/lowering/Lowering.h"
#include "tilefuse/spec/Spec.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/Verifier.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>

using namespace tilefuse;
using namespace tilefuse::test;

namespace {

std::vector<std::string> shippedSpecs() {
  std::vector<std::string> files;
  for (const auto &e : std::filesystem::directory_iterator(TILEFUSE_SOURCE_DIR "/specs"))
    if (e.path().extension() == ".json")
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

/// Symbolic dim extents of the lowered function's arguments at `shape`.
std::map<std::string, int64_t> dimsOf(mlir::func::FuncOp fn, const spec::Spec &s,
                                      const spec::Shape &shape) {
  std::map<std::string, int64_t> dims = {{"B", shape.B},   {"Hq", shape.Hq}, {"Hkv", shape.Hkv},
                                         {"Sq", shape.Sq}, {"Sk", shape.Sk}};
  unsigned first = s.lse ? 5 : 4;
  for (size_t c = 0; c < s.captures.size(); ++c) {
    auto t = mlir::cast<blk::HbmTensorType>(fn.getArgument(first + c).getType());
    std::vector<int64_t> extents = spec::captureShape(s, c, shape);
    for (unsigned d = 0; d < t.getRank(); ++d)
      if (t.isDynamicDim(d))
        dims[t.getDimName(d)] = extents[d];
  }
  return dims;
}

} // namespace

TEST_CASE("every shipped spec fuses into one FlashAttention-2 kernel that computes the same O "
          "and LSE",
          "[fusion]") {
  std::vector<std::string> files = shippedSpecs();
  REQUIRE(files.size() >= 8);
  // (BLOCK_M, BLOCK_N): the default, and sizes that divide neither Sq nor Sk.
  const std::array<std::array<int64_t, 2>, 3> tiles = {{{64, 64}, {32, 48}, {48, 16}}};
  // (Sq, Sk, D): Sq < Sk, Sq > Sk (fully masked rows under bottom-right causal masks), square.
  const std::array<std::array<int64_t, 3>, 3> sizes = {{{113, 203, 32}, {77, 50, 32},
                                                        {96, 96, 128}}};
  for (const std::string &file : files) {
    spec::Spec s = spec::parseSpecFile(file);
    for (auto [bm, bn] : tiles)
      for (auto [sq, sk, d] : sizes) {
        spec::ShapeOverrides ov;
        ov.B = 1;
        ov.Hkv = 1;
        ov.Hq = std::min<int64_t>(s.headsQ / s.headsKv, 4);
        ov.Sq = sq;
        ov.Sk = sk;
        ov.D = d;
        if (s.valueDim)
          ov.Dv = d;
        spec::Shape shape = spec::resolveShape(s, ov);
        std::string what = s.name + " BLOCK_M=" + std::to_string(bm) + " BLOCK_N=" +
                           std::to_string(bn) + " Sq=" + std::to_string(sq) +
                           " Sk=" + std::to_string(sk) + " D=" + std::to_string(d);
        INFO(what << " (seed " << testSeed() << ")");

        mlir::MLIRContext ctx;
        mlir::OwningOpRef<mlir::ModuleOp> module = lowerSpec(ctx, s, shape, bm);
        auto unfused = *module->getOps<mlir::func::FuncOp>().begin();
        mlir::OwningOpRef<mlir::ModuleOp> fusedModule = module->clone();
        FuseReport report = fuse(*fusedModule, bn);
        auto fused = *fusedModule->getOps<mlir::func::FuncOp>().begin();

        CHECK(report.kernels == 1);
        CHECK(report.topLevelLoops == 1);
        CHECK(report.allocs == 0);
        for (const std::string &w : report.warnings)
          FAIL_CHECK("warning: " << w);

        auto args = randomArguments(unfused, dimsOf(unfused, s, shape), testSeed());
        auto before = interpret(unfused, args);
        auto after = interpret(fused, args);
        double errO = relError(after[3], before[3]);
        double errLSE = s.lse ? relError(after[4], before[4]) : 0.0;
        std::printf("%s: rel. error O %.2e LSE %.2e\n", what.c_str(), errO, errLSE);
        CHECK(errO <= 1e-12);
        CHECK(errLSE <= 1e-12);
      }
  }
}

namespace {

/// blk.select ops of `fn` whose false value is a fill of +0: the tail guards after the exponential (the
/// row sum's input and P) that codegen's Prepare rule "tail guard before exp" removes.
int zeroGuards(mlir::func::FuncOp fn) {
  int n = 0;
  fn.walk([&](blk::SelectOp sel) {
    auto fill = sel.getFalseValue().getDefiningOp<blk::FillOp>();
    mlir::FloatAttr c;
    n += fill && mlir::matchPattern(fill.getValue(), mlir::m_Constant(&c)) && c.getValue().isPosZero();
  });
  return n;
}

} // namespace

TEST_CASE("codegen's Prepare rewrites keep the O and LSE of every shipped spec's fused program", "[fusion][prepare]") {
  // prepare (compiler/lib/codegen/Prepare.h) rewrites a copy of the fused program before the CUDA is
  // written: each rewrite must compute the same O and LSE. Both forms: sm80's and sm90's (prepare's `sm90`).
  // Tail tiles (Sk not a multiple of BLOCK_N), Sq > Sk (fully masked rows), Sq < Sk.
  int guardsRemoved = 0;
  for (const std::string &file : shippedSpecs()) {
    spec::Spec s = spec::parseSpecFile(file);
    for (auto [sq, sk, bm, bn] : {std::array<int64_t, 4>{113, 203, 64, 64}, {77, 50, 32, 48}, {96, 130, 64, 32}}) {
      spec::ShapeOverrides ov;
      ov.B = 1, ov.Hkv = 1, ov.Hq = std::min<int64_t>(s.headsQ / s.headsKv, 2), ov.Sq = sq, ov.Sk = sk, ov.D = 32;
      if (s.valueDim)
        ov.Dv = 32;
      spec::Shape shape = spec::resolveShape(s, ov);
      INFO(s.name << " Sq=" << sq << " Sk=" << sk << " BLOCK " << bm << "x" << bn << " (seed " << testSeed() << ")");
      mlir::MLIRContext ctx;
      mlir::OwningOpRef<mlir::ModuleOp> module = lowerSpec(ctx, s, shape, bm);
      auto unfused = *module->getOps<mlir::func::FuncOp>().begin();
      auto args = randomArguments(unfused, dimsOf(unfused, s, shape), testSeed());
      (void)fuse(*module, bn);
      auto fused = *module->getOps<mlir::func::FuncOp>().begin();
      auto reference = interpret(fused, args);
      for (auto [sm90, lazy] : {std::pair{false, false}, {true, false}, {true, true}}) {
        mlir::OwningOpRef<mlir::func::FuncOp> prepared = codegen::prepare(fused, sm90, lazy);
        REQUIRE(mlir::succeeded(mlir::verify(*prepared)));
        guardsRemoved += zeroGuards(fused) - zeroGuards(*prepared);
        auto out = interpret(*prepared, args);
        CHECK(relError(out[3], reference[3]) <= 1e-12);
        if (s.lse)
          CHECK(relError(out[4], reference[4]) <= 1e-12);
      }
    }
  }
  // The tail guards of causal, window, score_mod and plain tail tiles go (sm90 form only): at least two per
  // spec and shape.
  CHECK(guardsRemoved >= 2 * 8 * 3);
}

namespace {

/// Ops of `fn` tagged by Prepare's lazy running max (an accumulator's rescale emitted under a warp vote).
int lazyRescales(mlir::func::FuncOp fn) {
  int n = 0;
  fn.walk([&](mlir::Operation *op) { n += op->hasAttr(codegen::kLazyRescaleAttrName); });
  return n;
}

} // namespace

TEST_CASE("the lazy running max keeps O and LSE where a stale reference would overflow exp", "[fusion][prepare]") {
  // Prepare's lazy running max (sm90 form) moves the online softmax's reference only when the row max grows
  // by more than 8 ln 2. Here Q and K are scaled by 40, so scores reach ~1e3: a reference that lagged the max
  // by more than 709 would overflow exp in the fp64 interpreter (O and LSE NaN or inf), so a rule that let
  // the reference fall behind fails, while one that lags by at most 8 ln 2 keeps O and LSE to 1e-12. The
  // rule must fire when asked (Schedule::lazyRescale: tagged rescales) and not otherwise.
  for (const std::string &file : shippedSpecs()) {
    spec::Spec s = spec::parseSpecFile(file);
    if (s.name != "causal" && s.name != "mha" && s.name != "sliding_window" && s.name != "alibi")
      continue;
    spec::ShapeOverrides ov;
    ov.B = 1, ov.Hkv = 1, ov.Hq = 1, ov.Sq = 96, ov.Sk = 203, ov.D = 32;
    spec::Shape shape = spec::resolveShape(s, ov);
    INFO(s.name << " (seed " << testSeed() << ")");
    mlir::MLIRContext ctx;
    mlir::OwningOpRef<mlir::ModuleOp> module = lowerSpec(ctx, s, shape, 32);
    auto unfused = *module->getOps<mlir::func::FuncOp>().begin();
    auto args = randomArguments(unfused, dimsOf(unfused, s, shape), testSeed());
    for (int k : {0, 1}) // Q, K
      for (double &x : args[k].data)
        x *= 40;
    (void)fuse(*module, 32);
    auto fused = *module->getOps<mlir::func::FuncOp>().begin();
    auto reference = interpret(fused, args);
    for (auto [sm90, lazy] : {std::pair{false, false}, {true, false}, {true, true}}) {
      mlir::OwningOpRef<mlir::func::FuncOp> prepared = codegen::prepare(fused, sm90, lazy);
      REQUIRE(mlir::succeeded(mlir::verify(*prepared)));
      CHECK((lazyRescales(*prepared) > 0) == lazy);
      auto out = interpret(*prepared, args);
      CHECK(relError(out[3], reference[3]) <= 1e-12);
      if (s.lse)
        CHECK(relError(out[4], reference[4]) <= 1e-12);
    }
  }
}
