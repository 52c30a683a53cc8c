//===- FuseSupport.cpp - run a block program unfused and fused -------------===//
#include "FuseSupport.h"

#include "blk/BlkDialect.h"
#include "tilefuse/compiler/Passes.h"
#include "tilefuse/interp/Interpreter.h"
#include "tilefuse/lowering/Lowering.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <random>

using namespace mlir;

namespace tilefuse::test {

uint64_t testSeed() {
  static const uint64_t seed = [] {
    if (const char *s = std::getenv("TILEFUSE_TEST_SEED"))
      return static_cast<uint64_t>(std::strtoull(s, nullptr, 10));
    return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }();
  return seed;
}

OwningOpRef<ModuleOp> lowerSpec(MLIRContext &ctx, const spec::Spec &s, const spec::Shape &shape, int64_t blockM) {
  lowering::loadDialects(ctx);
  OwningOpRef<ModuleOp> module(ModuleOp::create(UnknownLoc::get(&ctx)));
  lowering::LoweringOptions lo;
  lo.blockM = blockM;
  lowering::lowerToUnfused(*module, s, shape, lo);
  REQUIRE(succeeded(verify(*module)));
  return module;
}

FuseReport fuse(ModuleOp module, int64_t blockN) {
  MLIRContext *ctx = module.getContext();
  FuseReport report;
  ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
    if (d.getSeverity() == DiagnosticSeverity::Error)
      FAIL_CHECK("error: " << d.str());
    else if (d.getSeverity() == DiagnosticSeverity::Warning)
      report.warnings.push_back(d.str());
    return success();
  });
  PassManager pm(ctx);
  FusePipelineOptions options;
  options.blockN = blockN;
  buildFusePipeline(pm, options);
  REQUIRE(succeeded(pm.run(module)));
  REQUIRE(succeeded(verify(module)));
  auto untiledTile = [](Type t) {
    auto tile = dyn_cast<blk::TileType>(t);
    return tile && tile.getNumDynamicDims() > 0;
  };
  module.walk([&](Operation *op) {
    if (op->getParentOfType<blk::KernelOp>() &&
        (llvm::any_of(op->getOperandTypes(), untiledTile) || llvm::any_of(op->getResultTypes(), untiledTile)))
      ++report.untiled;
    if (isa<blk::KernelOp>(op))
      ++report.kernels;
    else if (isa<blk::AllocOp>(op))
      ++report.allocs;
    else if (isa<scf::ForOp>(op) && isa<blk::KernelOp>(op->getParentOp()))
      ++report.topLevelLoops;
  });
  return report;
}

std::vector<interp::HostTensor> randomArguments(func::FuncOp fn,
                                                const std::map<std::string, int64_t> &dims,
                                                uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::bernoulli_distribution step(1.0 / 16.0);
  std::vector<interp::HostTensor> args;
  for (BlockArgument a : fn.getArguments()) {
    auto t = dyn_cast<blk::HbmTensorType>(a.getType());
    if (!t)
      continue;
    std::vector<int64_t> shape;
    for (unsigned d = 0; d < t.getRank(); ++d)
      shape.push_back(t.isDynamicDim(d) ? dims.at(t.getDimName(d)) : t.getShape()[d]);
    interp::DType dt = interp::dtypeOf(t.getElementType());
    interp::HostTensor h = interp::HostTensor::contiguous(dt, shape, "arg" + std::to_string(a.getArgNumber()));
    if (isa<FloatType>(t.getElementType())) {
      for (double &x : h.data)
        x = normal(rng);
    } else {
      const int64_t last = shape.back();
      for (size_t k = 0; k < h.data.size(); ++k)
        h.data[k] = (k % last == 0) ? 0.0 : h.data[k - 1] + (step(rng) ? 1.0 : 0.0);
    }
    args.push_back(std::move(h));
  }
  return args;
}

std::vector<interp::HostTensor> interpret(func::FuncOp fn, std::vector<interp::HostTensor> args) {
  std::vector<interp::HostTensor *> ptrs;
  for (interp::HostTensor &t : args)
    ptrs.push_back(&t);
  interp::run(fn, ptrs);
  return args;
}

double relError(const interp::HostTensor &a, const interp::HostTensor &b) {
  REQUIRE(a.data.size() == b.data.size());
  double maxDiff = 0, maxRef = 1e-300;
  for (size_t k = 0; k < a.data.size(); ++k) {
    double x = a.data[k], y = b.data[k];
    if (std::isfinite(y))
      maxRef = std::max(maxRef, std::abs(y));
    if (std::isnan(x) != std::isnan(y))
      return INFINITY;
    if (std::isnan(x) || x == y)
      continue;
    if (std::isinf(x) || std::isinf(y))
      return INFINITY;
    maxDiff = std::max(maxDiff, std::abs(x - y));
  }
  return maxDiff / maxRef;
}

} // namespace tilefuse::test
