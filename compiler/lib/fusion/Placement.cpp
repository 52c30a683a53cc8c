//===- Placement.cpp - SMEM or registers for each loaded tile --------------===//
//
// --tilefuse-place: computed tiles (S, P, m, l, the O accumulator) live in registers by
// construction (the op verifiers); this pass chooses the tier of tiles loaded from HBM and
// reports any HBM round trip the fusion left.
//
#include "BlkBuild.h"

#include "tilefuse/compiler/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace tilefuse {
#define GEN_PASS_DEF_PLACE
#include "tilefuse/compiler/Passes.h.inc"
} // namespace tilefuse

using namespace mlir;
using namespace tilefuse;
using namespace tilefuse::fusion;

namespace {

bool onlyMatmulOperand(Value v) {
  return !v.use_empty() && llvm::all_of(v.getUses(), [](OpOperand &use) {
    return isa<blk::MatmulOp>(use.getOwner()) && use.getOperandNumber() < 2;
  });
}

/// A loaded tile used only as the lhs of matmuls inside loops it is invariant in (Q).
bool isInvariantLhs(blk::LoadOp load) {
  return llvm::all_of(load->getUses(), [&](OpOperand &use) {
    return use.getOperandNumber() == 0 &&
           use.getOwner()->getParentRegion() != load->getParentRegion();
  });
}

// A tile that only feeds matmuls is read by the MMA from SMEM (ldmatrix / wgmma operands):
// staging it there is free of extra traffic. The loop-invariant lhs (Q) follows `q-in`: it
// can be read once into registers and reused by every iteration.
struct PlaceMatmulOperandLoad : OpRewritePattern<blk::LoadOp> {
  PlaceMatmulOperandLoad(MLIRContext *ctx, blk::MemorySpace qSpace)
      : OpRewritePattern(ctx), qSpace(qSpace) {}
  LogicalResult matchAndRewrite(blk::LoadOp load, PatternRewriter &rewriter) const override {
    if (!onlyMatmulOperand(load))
      return failure();
    blk::MemorySpace want = isInvariantLhs(load) ? qSpace : blk::MemorySpace::smem;
    if (load.getType().getMemorySpace() == want)
      return failure();
    rewriter.modifyOpInPlace(load, [&] {
      load.getResult().setType(load.getType().withMemorySpace(want));
    });
    return success();
  }
  blk::MemorySpace qSpace;
};

// copy(load(x) : smem -> reg) = load(x) : reg, when nothing else uses the SMEM tile.
struct LoadStraightToRegisters : OpRewritePattern<blk::CopyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(blk::CopyOp copy, PatternRewriter &rewriter) const override {
    auto load = copy.getSource().getDefiningOp<blk::LoadOp>();
    if (!load || !load->hasOneUse() || copy.getType().getMemorySpace() != blk::MemorySpace::reg)
      return failure();
    rewriter.replaceOpWithNewOp<blk::LoadOp>(copy, copy.getType(), load.getSource(),
                                             load.getIndices());
    rewriter.eraseOp(load);
    return success();
  }
};

struct PlacePass : tilefuse::impl::PlaceBase<PlacePass> {
  using PlaceBase::PlaceBase;
  void runOnOperation() override {
    // 1. Parse q-in.
    func::FuncOp fn = getOperation();
    if (qIn != "smem" && qIn != "reg") {
      fn.emitError() << "tilefuse-place: q-in must be smem or reg, got '" << qIn << "'";
      return signalPassFailure();
    }
    blk::MemorySpace qSpace = qIn == "reg" ? blk::MemorySpace::reg : blk::MemorySpace::smem;
    // 2. Place loads.
    RewritePatternSet patterns(&getContext());
    patterns.add<PlaceMatmulOperandLoad>(&getContext(), qSpace);
    patterns.add<LoadStraightToRegisters>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(fn, std::move(patterns))))
      return signalPassFailure();
    // 3. Report HBM round trips: scratch tensors, or tensors both stored and loaded.
    fn.walk([](blk::AllocOp alloc) {
      alloc.emitWarning() << "tilefuse-place: HBM round trip left: a scratch tensor";
    });
    TensorAccesses acc;
    acc.add(fn);
    for (Value t : acc.writes)
      if (acc.reads.contains(t))
        fn.emitWarning() << "tilefuse-place: HBM round trip left: a tensor is both stored "
                            "and loaded";
  }
};

} // namespace
