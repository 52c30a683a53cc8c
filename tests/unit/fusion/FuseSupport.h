//===- FuseSupport.h - run a block program unfused and fused ---------------===//
//
// Helpers of the fusion equivalence tests: the fusion pipeline on a module, random HBM tensors
// for a function's arguments, the fp64 interpreter on both programs, and the comparison.
//
#ifndef TILEFUSE_TESTS_FUSESUPPORT_H
#define TILEFUSE_TESTS_FUSESUPPORT_H

#include "tilefuse/interp/HostTensor.h"
#include "tilefuse/spec/Spec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tilefuse::test {

/// Seed of this run's random inputs: TILEFUSE_TEST_SEED, or fresh from the clock.
uint64_t testSeed();

/// What the fusion pipeline left: kernel, loop and alloc counts, and its warnings.
struct FuseReport {
  int kernels = 0;
  int topLevelLoops = 0; ///< scf.for directly in kernel bodies
  int allocs = 0;
  int untiled = 0; ///< ops inside kernels with an operand or result on a `?` tile (no rule tiled them)
  std::vector<std::string> warnings;
};

/// A new module of `ctx` (its dialects loaded) holding spec `s` lowered at `shape` with BLOCK_M = blockM to
/// the unfused three-kernel program (Lowering.h), verified; the function is its first op.
mlir::OwningOpRef<mlir::ModuleOp> lowerSpec(mlir::MLIRContext &ctx, const spec::Spec &s, const spec::Shape &shape,
                                            int64_t blockM);

/// Runs --tilefuse-fuse (block-n = blockN) on `module` in place; fails the test on an error.
FuseReport fuse(mlir::ModuleOp module, int64_t blockN);

/// One host tensor per `!blk.tensor` argument of `fn`, symbolic dims taken from `dims`: floats
/// ~ N(0, 1), integers non-decreasing from 0 along the last dim (document ids).
std::vector<interp::HostTensor> randomArguments(mlir::func::FuncOp fn,
                                                const std::map<std::string, int64_t> &dims,
                                                uint64_t seed);

/// Runs `fn` in the interpreter on (a copy of) `args`; returns the tensors afterwards.
std::vector<interp::HostTensor> interpret(mlir::func::FuncOp fn,
                                          std::vector<interp::HostTensor> args);

/// max |a - b| / max(max |b|, 1e-300); equal infinities count as 0, a NaN on one side only as
/// infinity.
double relError(const interp::HostTensor &a, const interp::HostTensor &b);

} // namespace tilefuse::test

#endif // TILEFUSE_TESTS_FUSESUPPORT_H
