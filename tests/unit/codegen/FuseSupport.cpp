#include "FuseSupport.h"

#include "tilefuse/compiler/Passes.h"
#include "tilefuse/lowering/Lowering.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>

#ifndef TILEFUSE_SPECS_DIR
#error "TILEFUSE_SPECS_DIR must be defined by tests/unit/codegen/CMakeLists.txt"
#endif

namespace tilefuse::codegen::test {

spec::Spec loadSpec(const std::string &name) {
  return spec::parseSpecFile(std::string(TILEFUSE_SPECS_DIR) + "/" + name + ".json");
}

std::vector<std::string> shippedSpecs() {
  std::vector<std::string> out;
  for (const auto &e : std::filesystem::directory_iterator(TILEFUSE_SPECS_DIR))
    if (e.path().extension() == ".json")
      out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

Program fuseSpec(const spec::Spec &s, const spec::Shape &shape, int blockM, int blockN) {
  Program p;
  p.context = std::make_unique<mlir::MLIRContext>(mlir::MLIRContext::Threading::DISABLED);
  lowering::loadDialects(*p.context);
  std::string diagnostics;
  llvm::raw_string_ostream diag(diagnostics);
  mlir::ScopedDiagnosticHandler handler(p.context.get(), [&](mlir::Diagnostic &d) {
    diag << d.getLocation() << ": " << d.str() << "\n";
    return mlir::success();
  });
  p.module = mlir::ModuleOp::create(mlir::UnknownLoc::get(p.context.get()));
  lowering::LoweringOptions lo;
  lo.blockM = blockM;
  lowering::lowerToUnfused(*p.module, s, shape, lo);
  mlir::PassManager pm(p.context.get());
  FusePipelineOptions options;
  options.blockN = blockN;
  buildFusePipeline(pm, options);
  INFO("fusing " << s.name << ": " << diagnostics);
  REQUIRE(mlir::succeeded(pm.run(*p.module)));
  int kernels = 0;
  p.module->walk([&](mlir::Operation *op) { kernels += op->getName().getStringRef() == "blk.kernel"; });
  REQUIRE(kernels == 1);
  return p;
}

} // namespace tilefuse::codegen::test
