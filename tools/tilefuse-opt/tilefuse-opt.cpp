//===- tilefuse-opt.cpp - mlir-opt for block programs ---------------------===//
//
// Parses, verifies, transforms and prints blk block programs. Registers the blk
// dialect, the upstream dialects block programs use (func, scf, arith, math),
// MLIR's generic transforms (canonicalize, cse, ...) and every Tilefuse pass.
//
#include "blk/BlkDialect.h"
#include "tilefuse/compiler/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<tilefuse::blk::BlkDialect, mlir::func::FuncDialect, mlir::scf::SCFDialect,
                  mlir::arith::ArithDialect, mlir::math::MathDialect>();
  mlir::registerTransformsPasses();
  tilefuse::registerPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Tilefuse block-program optimizer\n", registry));
}
