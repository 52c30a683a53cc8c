//===- Fuse.cpp - the fusion pipeline and the IO report behind the CLI ----===//
#include "tilefuse/driver/Driver.h"

#include "tilefuse/analysis/IOReport.h"
#include "tilefuse/compiler/Passes.h"
#include "tilefuse/lowering/Lowering.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

namespace tilefuse::driver {
namespace {

struct Parsed {
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
};

Parsed parse(const Loaded &loaded, const std::string &text) {
  Parsed p;
  p.context = std::make_unique<mlir::MLIRContext>();
  lowering::loadDialects(*p.context);
  p.module = mlir::parseSourceString<mlir::ModuleOp>(text, p.context.get());
  if (!p.module || mlir::failed(mlir::verify(*p.module)))
    throw DriverError("the program of '" + loaded.spec.name + "' does not parse or verify");
  return p;
}

mlir::func::FuncOp firstFunc(mlir::ModuleOp module) {
  mlir::func::FuncOp fn;
  module.walk([&](mlir::func::FuncOp f) {
    if (!fn)
      fn = f;
  });
  return fn;
}

std::string print(mlir::ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  return text;
}

analysis::IOReport analyze(const Loaded &loaded, const std::string &text,
                           const spec::Shape &shape) {
  Parsed p = parse(loaded, text);
  analysis::Dims dims;
  for (auto &[name, extent] : lowering::dimBindings(loaded.spec, shape))
    dims[name] = extent;
  try {
    return analysis::analyzeIO(firstFunc(*p.module), dims);
  } catch (const std::exception &e) {
    throw DriverError(std::string("IO report: ") + e.what());
  }
}

} // namespace

FuseResult fuse(const Loaded &loaded, const std::string &unfusedText) {
  Parsed p = parse(loaded, unfusedText);
  FuseResult r;
  llvm::raw_string_ostream diag(r.diagnostics);
  mlir::ScopedDiagnosticHandler handler(p.context.get(), [&](mlir::Diagnostic &d) {
    diag << d.getLocation() << ": "
         << (d.getSeverity() == mlir::DiagnosticSeverity::Error     ? "error"
             : d.getSeverity() == mlir::DiagnosticSeverity::Warning ? "warning"
                                                                    : "remark")
         << ": " << d.str() << "\n";
    return mlir::success();
  });
  mlir::PassManager pm(p.context.get());
  FusePipelineOptions options;
  options.blockN = loaded.blockN;
  buildFusePipeline(pm, options);
  if (mlir::failed(pm.run(*p.module)))
    throw DriverError("the fusion pipeline failed on '" + loaded.spec.name + "':\n" +
                      r.diagnostics);
  p.module->walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() == "blk.kernel")
      ++r.kernels;
    if (op->getName().getStringRef() == "blk.alloc")
      ++r.hbmScratch;
  });
  r.ir = print(*p.module);
  return r;
}

std::string ioReport(const Loaded &loaded, const std::string &text, const spec::Shape &shape,
                     bool json) {
  analysis::IOReport report = analyze(loaded, text, shape);
  return json ? analysis::toJson(report) : analysis::formatTable(report);
}

IOTotals ioTotals(const Loaded &loaded, const std::string &text, const spec::Shape &shape) {
  analysis::IOReport report = analyze(loaded, text, shape);
  return {static_cast<double>(report.bytes.hbmRead() + report.bytes.hbmWrite()),
          static_cast<double>(report.flops.matmul),
          static_cast<double>(report.flops.nonMatmul())};
}

} // namespace tilefuse::driver
