//===- Passes.h - analysis passes of Tilefuse ------------------------*- C++ -*-===//
//
//   --tilefuse-io-report="dims=B=1,Hq=16,Hkv=16,Sq=4096,Sk=4096 format=table|json"
//       Prints, for every func.func that holds blk.kernel ops, the bytes moved per memory tier
//       and the FLOPs of the program at those dims (IOReport.h) to stdout. Leaves the IR as is.
//
//===----------------------------------------------------------------------------------------===//
#ifndef TILEFUSE_ANALYSIS_PASSES_H
#define TILEFUSE_ANALYSIS_PASSES_H

#include <memory>

namespace mlir {
class Pass;
} // namespace mlir

namespace tilefuse {

/// The --tilefuse-io-report pass, with its options at their defaults (no dims: it fails unless
/// the options are set through the pass pipeline text).
std::unique_ptr<mlir::Pass> createIOReportPass();

/// Registers the analysis passes (--tilefuse-io-report) with MLIR's global pass registry.
void registerAnalysisPasses();

} // namespace tilefuse

#endif // TILEFUSE_ANALYSIS_PASSES_H
