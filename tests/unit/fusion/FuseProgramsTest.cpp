//===- FuseProgramsTest.cpp - hand-written unfused programs, unfused vs fused ===//
#include "FuseSupport.h"

#include "blk/BlkDialect.h"

#include "mlir/Parser/Parser.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>

using namespace tilefuse;
using namespace tilefuse::test;

namespace {

void checkProgram(const std::string &file, const std::map<std::string, int64_t> &dims,
                  int64_t blockN, int wantLoops) {
  INFO(file << " BLOCK_N=" << blockN << " (seed " << testSeed() << ")");
  mlir::MLIRContext ctx;
  ctx.loadDialect<blk::BlkDialect>();
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(
      TILEFUSE_SOURCE_DIR "/tests/lit/fusion/Inputs/" + file, &ctx);
  REQUIRE(module);
  mlir::OwningOpRef<mlir::ModuleOp> fusedModule = module->clone();
  FuseReport report = fuse(*fusedModule, blockN);
  CHECK(report.kernels == 1);
  CHECK(report.allocs == 0);
  CHECK(report.topLevelLoops == wantLoops);
  auto unfused = *module->getOps<mlir::func::FuncOp>().begin();
  auto fused = *fusedModule->getOps<mlir::func::FuncOp>().begin();
  auto args = randomArguments(unfused, dims, testSeed());
  auto before = interpret(unfused, args);
  auto after = interpret(fused, args);
  for (size_t k = 0; k < before.size(); ++k) {
    double err = relError(after[k], before[k]);
    std::printf("%s BLOCK_N=%lld: argument %zu rel. error %.2e\n", file.c_str(),
                static_cast<long long>(blockN), k, err);
    CHECK(err <= 1e-12);
  }
}

} // namespace

TEST_CASE("safe-softmax vanilla attention fuses into one loop and computes the same O and LSE",
          "[fusion]") {
  for (int64_t bn : {64, 48, 16})
    for (auto [sq, sk] : {std::pair<int64_t, int64_t>{113, 203}, {77, 50}})
      checkProgram("vanilla_attention.mlir",
                   {{"B", 1}, {"Hq", 4}, {"Hkv", 1}, {"Sq", sq}, {"Sk", sk}}, bn, 1);
}

TEST_CASE("RMSNorm followed by a matmul fuses into one loop and computes the same output",
          "[fusion]") {
  for (int64_t bn : {64, 48, 16})
    for (int64_t hidden : {200, 64})
      checkProgram("rmsnorm_matmul.mlir", {{"T", 70}, {"D", hidden}}, bn, 1);
}

TEST_CASE("a score_mod dividing by the row mean stays two passes and computes the same O",
          "[fusion]") {
  for (int64_t bn : {64, 40})
    checkProgram("row_mean_score.mlir",
                 {{"B", 1}, {"Hq", 2}, {"Hkv", 1}, {"Sq", 70}, {"Sk", 130}}, bn, 2);
}

TEST_CASE("RMSNorm followed by a matmul with a run-time output width tiles both matmul dims and computes the "
          "same output",
          "[fusion]") {
  // Y[:, F] with F and the contraction D both `?`: the store's loop over F chunks holds the contraction's
  // loop over D chunks (nested tiling); the sum of squares keeps its own loop. Widths off the chunk size
  // exercise both tails.
  for (int64_t bn : {64, 48})
    for (auto [hidden, width] : {std::pair<int64_t, int64_t>{200, 90}, {64, 64}, {100, 17}})
      checkProgram("rmsnorm_matmul_dynamic_f.mlir", {{"T", 70}, {"D", hidden}, {"F", width}}, bn, 2);
}

TEST_CASE("stick-breaking attention fuses into one loop over the K/V tiles last to first, carrying the suffix sum, "
          "and computes the same O",
          "[fusion]") {
  // A_ij = sigmoid(s_ij) prod_{j < k < i} (1 - sigmoid(s_ik)): the reverse exclusive scan of softplus(s)
  // along the row becomes a sum carried across the tiled loop (docs/FUSION.md, rule 3). Sk off the chunk
  // size exercises the partial last chunk, which the loop visits first; Sq != Sk the rows past Sk.
  for (int64_t bn : {64, 48, 16})
    for (auto [sq, sk] : {std::pair<int64_t, int64_t>{113, 203}, {77, 50}, {96, 96}})
      checkProgram("stick_breaking.mlir", {{"B", 1}, {"Hq", 4}, {"Hkv", 1}, {"Sq", sq}, {"Sk", sk}}, bn, 1);
}

TEST_CASE("the stick-breaking program computes Tan et al.'s weights: an fp64 reference in product form",
          "[fusion]") {
  // The program's log-space form against the definition itself, on the same random inputs:
  // O_i = sum_{j < i} sigmoid(s_ij) prod_{j < k < i} (1 - sigmoid(s_ik)) V_j, s = Q K^T / sqrt(128), GQA 4.
  INFO("seed " << testSeed());
  mlir::MLIRContext ctx;
  ctx.loadDialect<blk::BlkDialect>();
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(
      TILEFUSE_SOURCE_DIR "/tests/lit/fusion/Inputs/stick_breaking.mlir", &ctx);
  REQUIRE(module);
  auto fn = *module->getOps<mlir::func::FuncOp>().begin();
  const int64_t Hq = 4, Sq = 77, Sk = 90, D = 128;
  const double kScale = static_cast<double>(0.0883883461f); // the program's f32 1 / sqrt(128)
  auto args = randomArguments(fn, {{"B", 1}, {"Hq", Hq}, {"Hkv", 1}, {"Sq", Sq}, {"Sk", Sk}}, testSeed());
  const std::vector<interp::HostTensor> out = interpret(fn, args);
  const interp::HostTensor &Q = args[0], &K = args[1], &V = args[2];
  interp::HostTensor ref = out[3];
  double worst = 0, scale = 0;
  for (int64_t h = 0; h < Hq; ++h)
    for (int64_t i = 0; i < Sq; ++i) {
      std::vector<double> beta(static_cast<size_t>(Sk));
      for (int64_t j = 0; j < Sk; ++j) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d)
          s += Q.at({0, h, i, d}) * K.at({0, 0, j, d});
        beta[static_cast<size_t>(j)] = 1 / (1 + std::exp(-s * kScale));
      }
      for (int64_t d = 0; d < D; ++d) {
        double o = 0, survive = 1; // prod_{j < k < i} (1 - beta_ik), built from k = i - 1 down
        for (int64_t j = std::min(i, Sk) - 1; j >= 0; --j) {
          o += beta[static_cast<size_t>(j)] * survive * V.at({0, 0, j, d});
          survive *= 1 - beta[static_cast<size_t>(j)];
        }
        worst = std::max(worst, std::abs(out[3].at({0, h, i, d}) - o));
        scale = std::max(scale, std::abs(o));
      }
    }
  std::printf("stick_breaking.mlir against the product form: max |error| %.2e of max |O| %.2e\n", worst, scale);
  CHECK(scale > 0.1);
  CHECK(worst <= 1e-12 * scale);
}
