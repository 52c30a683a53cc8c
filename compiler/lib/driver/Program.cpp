//===- Program.cpp - parsing a block program inside the driver ------------===//
#include "Program.h"

#include "tilefuse/lowering/Lowering.h"

#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

namespace tilefuse::driver {

Program parseProgram(const Loaded &loaded, const std::string &text) {
  // Named, so that a diagnostic reads "<block program of 'causal'>:46:15", not "-:46:15".
  return parseProgramText(text, "<block program of '" + loaded.spec.name + "'>");
}

Program parseProgramText(const std::string &text, const std::string &name) {
  Program p;
  p.context = std::make_unique<mlir::MLIRContext>();
  lowering::loadDialects(*p.context);
  p.module = mlir::parseSourceString<mlir::ModuleOp>(text, p.context.get(), name);
  if (!p.module || mlir::failed(mlir::verify(*p.module)))
    throw DriverError(name + ": the block program does not parse or verify (the errors above say where)");
  return p;
}

mlir::func::FuncOp Program::func(const Loaded &loaded) const {
  mlir::func::FuncOp fn;
  module.get()->walk([&](mlir::func::FuncOp f) {
    if (!fn)
      fn = f;
  });
  if (!fn)
    throw DriverError("the program of '" + loaded.spec.name + "' has no function");
  return fn;
}

} // namespace tilefuse::driver
