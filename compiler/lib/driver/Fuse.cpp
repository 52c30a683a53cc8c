//===- Fuse.cpp - the fusion pipeline and the IO report behind the CLI ----===//
#include "tilefuse/driver/Driver.h"

#include "Program.h"

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

std::string print(mlir::ModuleOp module) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os);
  return text;
}

analysis::IOReport analyze(const Loaded &loaded, const std::string &text,
                           const spec::Shape &shape) {
  Program p = parseProgram(loaded, text);
  analysis::Dims dims;
  for (auto &[name, extent] : lowering::dimBindings(loaded.spec, shape))
    dims[name] = extent;
  try {
    return analysis::analyzeIO(p.func(loaded), dims);
  } catch (const std::exception &e) {
    throw DriverError(std::string("IO report: ") + e.what());
  }
}

} // namespace

FuseResult fuse(const Loaded &loaded, const std::string &unfusedText) {
  Program p = parseProgram(loaded, unfusedText);
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
