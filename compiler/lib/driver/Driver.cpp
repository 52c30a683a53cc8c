//===- Driver.cpp - the compiler's stages behind the tilefuse CLI ---------===//
#include "tilefuse/driver/Driver.h"

#include "tilefuse/lowering/Lowering.h"

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
  if (problem.blockM <= 0 || problem.blockN <= 0)
    throw DriverError("BLOCK_M and BLOCK_N must be positive, got " +
                      std::to_string(problem.blockM) + " and " + std::to_string(problem.blockN));
  return l;
}

std::string unfusedIR(const Loaded &loaded) {
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
  module->print(os);
  return text;
}

void writeFileAtomically(const std::string &path, const std::string &text) {
  namespace fs = std::filesystem;
  fs::path target(path);
  fs::path tmp = target;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw DriverError("cannot write '" + tmp.string() + "': " + std::strerror(errno));
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw DriverError("cannot write '" + path + "': write failed");
    }
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw DriverError("cannot write '" + path + "': " + ec.message());
  }
}

} // namespace tilefuse::driver
