//===- Passes.cpp - registration of Tilefuse passes -----------------------===//
#include "tilefuse/compiler/Passes.h"
#include "tilefuse/analysis/Passes.h"

#include "mlir/Pass/PassRegistry.h"

namespace tilefuse {

void registerPasses() {
  registerTilefusePasses();
  registerAnalysisPasses();
  mlir::PassPipelineRegistration<FusePipelineOptions>(
      "tilefuse-fuse",
      "rule-based fusion of an unfused block program into one tiled kernel "
      "(FlashAttention-2 for attention; see docs/FUSION.md)",
      buildFusePipeline);
}

} // namespace tilefuse
