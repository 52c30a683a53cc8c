//===- Pipeline.cpp - the --tilefuse-fuse pipeline -------------------------===//
#include "tilefuse/compiler/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/Passes.h"

namespace tilefuse {

void buildFusePipeline(mlir::OpPassManager &pm, const FusePipelineOptions &options) {
  mlir::OpPassManager &fpm =
      pm.getOpAnchorName() == mlir::func::FuncOp::getOperationName() ? pm
                                                                     : pm.nest<mlir::func::FuncOp>();
  // Kernels that exchange tiles through HBM become one (S, P stay in registers).
  fpm.addPass(createFuseKernels());
  fpm.addPass(mlir::createCSEPass());
  // The division by the row sum leaves the P V contraction.
  fpm.addPass(createDeferNormalization());
  // Whole rows become loops over BLOCK_N chunks: one loop per reduction / contraction.
  fpm.addPass(createTile(TileOptions{options.blockN, /*blockM=*/0}));
  fpm.addPass(mlir::createCanonicalizerPass());
  // Loops needing the final max join it with rescaling; independent loops merge; CSE drops
  // the chunk computations the merged bodies share.
  fpm.addPass(createOnlineNormalization(OnlineNormalizationOptions{/*report=*/false}));
  fpm.addPass(createFuseLoops());
  fpm.addPass(createOnlineNormalization());
  fpm.addPass(mlir::createCSEPass());
  fpm.addPass(createFuseLoops()); // again, now that CSE made the shared maps' operands equal
  fpm.addPass(mlir::createCSEPass());
  fpm.addPass(mlir::createLoopInvariantCodeMotionPass());
  fpm.addPass(mlir::createCanonicalizerPass());
  fpm.addPass(createPlace(PlaceOptions{options.qIn}));
  if (options.classify)
    fpm.addPass(createClassifyTiles());
  fpm.addPass(mlir::createLoopInvariantCodeMotionPass());
  fpm.addPass(mlir::createCanonicalizerPass());
  fpm.addPass(mlir::createCSEPass());
}

} // namespace tilefuse
