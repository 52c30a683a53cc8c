//===- FuseProgramsTest.cpp - hand-written unfused programs, unfused vs fused ===//
#include "FuseSupport.h"

#include "blk/BlkDialect.h"

#include "mlir/Parser/Parser.h"

#include <catch2/catch.hpp>

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
