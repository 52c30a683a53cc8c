// Helpers of the code generation tests: parse a fused program from tests/lit/codegen/Inputs or from
// text, generate with a schedule matched to it.
#pragma once

#include "tilefuse/codegen/CodeGen.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <memory>
#include <string>
#include <vector>

namespace tilefuse::codegen::test {

/// A parsed module and the context that owns it.
struct Program {
  std::unique_ptr<mlir::MLIRContext> context;
  mutable mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp func() const; ///< the first func.func
};

/// Parses MLIR text (REQUIREs success; diagnostics go to stderr).
Program parseProgram(const std::string &text, const std::string &name = "<test>");
/// Parses tests/lit/codegen/Inputs/<file>.
Program loadInput(const std::string &file);
/// Every *.mlir in tests/lit/codegen/Inputs, sorted.
std::vector<std::string> inputFiles();
/// The text of tests/lit/codegen/Inputs/<file>.
std::string readInput(const std::string &file);

/// matchProgram(base), with 16 query rows per warp unless `keepWarps`.
Schedule scheduleFor(const Program &p, Schedule base = {}, bool keepWarps = false);
/// generateKernel with inferSignature and scheduleFor(base, keepWarps).
GeneratedKernel generate(const Program &p, const Schedule &base = {}, bool keepWarps = false);

/// True when `text` contains `needle`.
bool contains(const std::string &text, const std::string &needle);

} // namespace tilefuse::codegen::test
