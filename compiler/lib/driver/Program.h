//===- Program.h - parsing a block program inside the driver --------*- C++ -*-===//
#pragma once

#include "tilefuse/driver/Driver.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"

#include <memory>
#include <string>

namespace tilefuse::driver {

/// A parsed, verified block program and the context that owns it.
struct Program {
  std::unique_ptr<mlir::MLIRContext> context;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// The program's function (its first func.func). Throws DriverError when there is none.
  mlir::func::FuncOp func(const Loaded &loaded) const;
};

/// Parses and verifies `text`. Throws DriverError naming the spec when it does not parse or verify.
Program parseProgram(const Loaded &loaded, const std::string &text);
/// The same for a program named `name` in diagnostics ("<name>:46:15: error: ..." on stderr).
Program parseProgramText(const std::string &text, const std::string &name);

} // namespace tilefuse::driver
