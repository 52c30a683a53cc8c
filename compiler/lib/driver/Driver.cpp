//===- Driver.cpp - the compiler's stages behind the tilefuse CLI ---------===//
#include "tilefuse/driver/Driver.h"

#include "tilefuse/lowering/Lowering.h"
#include "tilefuse/spec/FileIO.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/raw_ostream.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace tilefuse::driver {

Loaded load(const Problem &problem) {
  Loaded l{spec::parseSpecFile(problem.specPath), {}, problem.blockM, problem.blockN};
  l.shape = spec::resolveShape(l.spec, problem.overrides);
  for (auto [flag, v] : {std::pair{"--block-m (BLOCK_M)", problem.blockM},
                         std::pair{"--block-n (BLOCK_N)", problem.blockN}})
    if (v <= 0 || v > kMaxBlock)
      throw DriverError(std::string(flag) + " = " + std::to_string(v) +
                        " is not allowed; expected an integer from 1 to " +
                        std::to_string(kMaxBlock));
  return l;
}

std::string unfusedIR(const Loaded &loaded, bool locations) {
  mlir::MLIRContext context;
  lowering::loadDialects(context);
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
  lowering::lowerToUnfused(*module, loaded.spec, loaded.shape, {loaded.blockM});
  if (mlir::failed(mlir::verify(*module)))
    throw DriverError("internal error: the unfused program of '" + loaded.spec.name +
                      "' fails the verifier");
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os, mlir::OpPrintingFlags().enableDebugInfo(locations));
  return text;
}

void writeFileAtomically(const std::string &path, const std::string &text) {
  try {
    spec::writeFileAtomically(path, text);
  } catch (const spec::OutputError &e) {
    throw DriverError(e.what());
  }
}

} // namespace tilefuse::driver
