//===- IOReportPass.cpp - --tilefuse-io-report -----------------------------===//
//
// Prints the IO / FLOP report (IOReport.h) of every function that holds blk.kernel ops. An
// analysis only: the IR is left as it is.
//
//   tilefuse-opt prog.mlir --tilefuse-io-report="dims=B=1,Hq=16,Hkv=16,Sq=4096,Sk=4096" -o
//   /dev/null
//
#include "tilefuse/analysis/IOReport.h"
#include "tilefuse/analysis/Passes.h"

#include "blk/BlkDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace tilefuse {
namespace {

struct IOReportPass : public PassWrapper<IOReportPass, OperationPass<ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(IOReportPass)

  IOReportPass() = default;
  IOReportPass(const IOReportPass &other) : PassWrapper(other) {}

  StringRef getArgument() const final { return "tilefuse-io-report"; }
  StringRef getDescription() const final {
    return "Print bytes moved per memory tier (HBM/SMEM/REG) and matmul / other FLOPs of each "
           "block program at concrete dims";
  }

  Option<std::string> dims{*this, "dims",
                           llvm::cl::desc("Extents of the symbolic dims, e.g. "
                                          "B=1,Hq=16,Hkv=16,Sq=4096,Sk=4096")};
  Option<std::string> format{*this, "format", llvm::cl::desc("Output: table (default) or json"),
                             llvm::cl::init("table")};

  void runOnOperation() override {
    // 1. Parse the dims option (exceptions stay inside this pass: MLIR is built without them).
    // 2. For each func.func with a blk.kernel, analyse it and print the table or JSON to stdout.
    if (format != "table" && format != "json") {
      getOperation().emitError() << "tilefuse-io-report: format must be table or json, got '"
                                 << format << "'";
      return signalPassFailure();
    }
    analysis::Dims parsed;
    try {
      parsed = analysis::parseDims(dims);
    } catch (const analysis::AnalysisError &e) {
      getOperation().emitError() << "tilefuse-io-report: " << e.what();
      return signalPassFailure();
    }
    for (auto fn : getOperation().getOps<func::FuncOp>()) {
      if (fn.isExternal() || fn.getOps<blk::KernelOp>().empty())
        continue;
      try {
        analysis::IOReport report = analysis::analyzeIO(fn, parsed);
        llvm::outs() << (format == "json" ? analysis::toJson(report) + "\n"
                                          : analysis::formatTable(report));
      } catch (const analysis::AnalysisError &e) {
        // At the op when there is one (its location shows), else at the function.
        (e.op() ? e.op() : fn.getOperation())->emitError()
            << "tilefuse-io-report: " << e.message();
        return signalPassFailure();
      }
    }
    markAllAnalysesPreserved();
  }
};

} // namespace

std::unique_ptr<Pass> createIOReportPass() { return std::make_unique<IOReportPass>(); }

void registerAnalysisPasses() { PassRegistration<IOReportPass>(); }

} // namespace tilefuse
