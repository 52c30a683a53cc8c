//===- Fuse.cpp - the fusion pipeline and the IO report behind the CLI ----===//
#include "tilefuse/driver/Driver.h"
#include "tilefuse/driver/FusedProgram.h"

#include "Program.h"

#include "tilefuse/analysis/IOReport.h"
#include "tilefuse/lowering/Lowering.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <fstream>
#include <sstream>

namespace tilefuse::driver {
namespace {

std::string print(mlir::ModuleOp module, bool locations) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module.print(os, mlir::OpPrintingFlags().enableDebugInfo(locations));
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

/// Runs the pipeline on `p` in place; `what` names the program in an error.
FuseResult fuseParsed(Program &p, int64_t blockN, const std::string &what) {
  FusionOutcome outcome = runFusion(*p.module, blockN);
  if (!outcome.pipelineSucceeded)
    throw DriverError("the fusion pipeline failed on " + what + ":\n" + outcome.diagnostics);
  FuseResult r;
  r.diagnostics = std::move(outcome.diagnostics);
  r.kernels = outcome.kernels;
  r.hbmScratch = outcome.hbmScratch;
  r.untiled = outcome.untiled;
  r.ir = print(*p.module, false);
  return r;
}

} // namespace

FuseResult fuse(const Loaded &loaded, const std::string &unfusedText) {
  Program p = parseProgram(loaded, unfusedText);
  FuseResult r = fuseParsed(p, loaded.blockN, "'" + loaded.spec.name + "'");
  r.located = print(*p.module, true);
  return r;
}

FuseResult fuseProgramFile(const std::string &path, int64_t blockN) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || in.bad())
    throw DriverError(path + ": cannot read the block program");
  Program p = parseProgramText(text.str(), path);
  return fuseParsed(p, blockN, path);
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
          static_cast<double>(report.flops.nonMatmul()), !report.upperBound.empty()};
}

} // namespace tilefuse::driver
