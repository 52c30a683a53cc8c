//===- BlockProgramFuzzer.cpp - fuzz target: a block program through the fusion rules ---===//
//
// Input: MLIR text of a blk program (`tilefuse fuse FILE.mlir`, `tilefuse-opt`). Promises checked
// (tilefuse/driver/FusedProgram.h): for a program that parses and verifies, runFusion never throws
// and, when its pipeline succeeds, leaves a module that still verifies; no rule crashes on an
// unexpected program. MLIR's diagnostics are swallowed.
//
//===----------------------------------------------------------------------------------------===//
#include "FuzzTarget.h"

#include "tilefuse/driver/FusedProgram.h"
#include "tilefuse/lowering/Lowering.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

using namespace tilefuse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  constexpr std::string_view target = "block_program";
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  lowering::loadDialects(context);
  mlir::ScopedDiagnosticHandler quiet(&context, [](mlir::Diagnostic &) { return mlir::success(); });
  const std::string text(fuzz::asText(data, size));
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceString<mlir::ModuleOp>(text, &context, "fuzz.mlir");
  if (!module || mlir::failed(mlir::verify(*module)))
    return 0;
  for (int64_t blockN : {16, 64}) {
    mlir::OwningOpRef<mlir::ModuleOp> copy = module->clone();
    driver::FusionOutcome outcome;
    fuzz::refusesCleanly<>(target, "runFusion", [&] { outcome = driver::runFusion(*copy, blockN); });
    if (outcome.pipelineSucceeded)
      fuzz::require(mlir::succeeded(mlir::verify(*copy)), target,
                    "the fusion pipeline succeeded but left a module that does not verify (BLOCK_N " +
                        std::to_string(blockN) + ")");
  }
  return 0;
}
