//===- FusedProgram.h - the MLIR-facing half of buildKernel ----------*- C++ -*-===//
//
// For callers that hold MLIR objects: the tuner, which keeps one fused program per (BLOCK_M,
// BLOCK_N) and generates many schedules from it, and tools that read an already fused `.mlir`
// program. buildKernel(spec, shape, schedule) in BuildKernel.h is fuseSpec + buildKernel(fused, ...)
// below; nothing else in Tilefuse lowers, fuses and generates.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/driver/BuildKernel.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"

#include <cstdint>
#include <memory>
#include <string>

namespace tilefuse::driver {

/// What the fusion pipeline left in a module.
struct FusionOutcome {
  std::string diagnostics; ///< remarks and warnings of the rules ("<loc>: warning: ..."), one per line
  int kernels = 0;         ///< blk.kernel ops left (1 when everything fused)
  int hbmScratch = 0;      ///< blk.alloc ops left (0 when no intermediate goes through HBM)
  /// Ops of the kernels that still read or produce a `?` tile: a run-time extent no tiling rule cut into
  /// BLOCK_N steps (e.g. a map over a tile with two `?` dims; the diagnostics name the rule that is
  /// missing). The program stays correct, but it is not done: no kernel can hold it.
  int untiled = 0;
  bool pipelineSucceeded = false; ///< false: a pass failed; the module is unusable (diagnostics say why)
  bool fullyFused() const { return pipelineSucceeded && kernels == 1 && hbmScratch == 0 && untiled == 0; }
};

/// Runs the rule-based fusion pipeline (`--tilefuse-fuse`, docs/FUSION.md) with BLOCK_N = blockN
/// (> 0) on `module` in place. A program the rules cannot fully fuse is left partly fused (still
/// correct) with the reasons in the diagnostics; a pass that fails sets pipelineSucceeded = false.
/// Never throws.
FusionOutcome runFusion(mlir::ModuleOp module, int64_t blockN);

/// A fused block program and the module that owns it.
struct FusedProgram {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp func; ///< the program's function (inside `module`)
  FusionOutcome fusion;
};

/// Lowers `spec` at `shape` with BLOCK_M = blockM into a new module in `context` (dialects loaded
/// here) and fuses it with BLOCK_N = blockN. Throws KernelBuildError with stage Lowering (the
/// lowering rejected spec or shape) or Fusion (the pipeline failed, or it left more than one kernel
/// or HBM scratch: code generation needs one fused kernel). Messages name the spec and the tile.
FusedProgram fuseSpec(mlir::MLIRContext &context, const spec::Spec &spec, const spec::Shape &shape,
                      int64_t blockM, int64_t blockN);

/// Generates the kernel of an already fused program for `schedule` (which must agree with the
/// program's tiles: BLOCK_M rows per register tile, BLOCK_N per K/V loop step). `signature` gives the
/// roles of the function's arguments (KernelSignature::fromSpec, or codegen::inferSignature for a
/// program read from a file); `subject` names the program in messages (describe(spec, shape), or
/// the file). `fused` is not modified. Throws KernelBuildError with stage Schedule or CodeGeneration.
BuiltKernel buildKernel(mlir::func::FuncOp fused, const codegen::KernelSignature &signature,
                        const codegen::Schedule &schedule, const std::string &subject);

/// A block program read from a `.mlir` file: any program of the blk dialect, attention or not (the
/// normalization + matmul chains of examples/chains, docs/FUSION.md), and the same program fused.
struct ProgramFile {
  std::unique_ptr<mlir::MLIRContext> context; ///< owns both modules (declared first: destroyed last)
  mlir::OwningOpRef<mlir::ModuleOp> original; ///< as read: the fp64 interpreter's reference
  mlir::OwningOpRef<mlir::ModuleOp> fused;    ///< after the rules (a program already fused is unchanged)
  mlir::func::FuncOp originalFunc, fusedFunc; ///< the first func.func of each
  FusionOutcome fusion;
};

/// Reads, parses and verifies `path`, and fuses a copy with BLOCK_N = blockN (> 0). Throws
/// KernelBuildError with stage Fusion naming the file when it cannot be read, does not parse or verify
/// (MLIR's errors go to stderr first), has no function, or the rules leave more than one kernel, HBM
/// scratch or ops on `?` tiles (the fusion diagnostics are in what()): code generation needs one fused,
/// tiled kernel.
ProgramFile loadProgramFile(const std::string &path, int64_t blockN);

} // namespace tilefuse::driver
