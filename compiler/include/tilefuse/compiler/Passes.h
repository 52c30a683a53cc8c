//===- Passes.h - Tilefuse compiler passes --------------------------------===//
#ifndef TILEFUSE_COMPILER_PASSES_H
#define TILEFUSE_COMPILER_PASSES_H

namespace tilefuse {

/// Registers every Tilefuse pass and pipeline with MLIR's global registry, so that
/// tilefuse-opt exposes each as a flag.
void registerPasses();

} // namespace tilefuse

#endif // TILEFUSE_COMPILER_PASSES_H
