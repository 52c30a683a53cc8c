//===- Passes.h - Tilefuse compiler passes --------------------------------===//
//
// Declarations generated from Passes.td (one create function and options struct per pass)
// and the registration of every pass and pipeline.
//
#ifndef TILEFUSE_COMPILER_PASSES_H
#define TILEFUSE_COMPILER_PASSES_H

#include "blk/BlkDialect.h"

#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassOptions.h"

#include <string>

namespace tilefuse {

#define GEN_PASS_DECL
#include "tilefuse/compiler/Passes.h.inc"

/// Options of the `--tilefuse-fuse` pipeline: the whole rule-based fusion of an unfused
/// block program into one tiled kernel (docs/FUSION.md).
struct FusePipelineOptions : mlir::PassPipelineOptions<FusePipelineOptions> {
  Option<int64_t> blockN{*this, "block-n", llvm::cl::desc("BLOCK_N: keys per chunk"),
                         llvm::cl::init(64)};
  Option<std::string> qIn{*this, "q-in", llvm::cl::desc("where Q lives: smem or reg"),
                          llvm::cl::init("smem")};
  Option<bool> classify{*this, "classify",
                        llvm::cl::desc("classify tiles as empty / partial / full"),
                        llvm::cl::init(true)};
};

/// Appends the fusion pipeline to `pm` (a module or func.func pass manager):
/// fuse-kernels, defer-normalization, tile, online-normalization, fuse-loops, cse, place,
/// classify-tiles, canonicalize.
void buildFusePipeline(mlir::OpPassManager &pm, const FusePipelineOptions &options);

/// Registers every Tilefuse pass and pipeline with MLIR's global registry, so that
/// tilefuse-opt exposes each as a flag.
void registerPasses();

#define GEN_PASS_REGISTRATION
#include "tilefuse/compiler/Passes.h.inc"

} // namespace tilefuse

#endif // TILEFUSE_COMPILER_PASSES_H
