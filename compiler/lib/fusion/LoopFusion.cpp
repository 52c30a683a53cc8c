//===- LoopFusion.cpp - merge independent loops over one range ------------===//
//
// --tilefuse-fuse-loops: after tiling, each reduction and contraction is its own loop over
// the K/V chunks. Loops that do not need each other's final values become one loop, so the
// chunk is loaded and Q K^T computed once per iteration (after CSE).
//
#include "BlkBuild.h"
#include "LoopMerge.h"

#include "tilefuse/compiler/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace tilefuse {
#define GEN_PASS_DEF_FUSELOOPS
#include "tilefuse/compiler/Passes.h.inc"
} // namespace tilefuse

using namespace mlir;
using namespace tilefuse;
using namespace tilefuse::fusion;

namespace {

// for j {A_j}; for j {B_j}  =  for j {A_j; B_j}   when B reads no result of the first loop
// and the two bodies' HBM accesses commute (iteration j of B only ever needed what existed
// before the first loop).
struct FuseIndependentLoops : OpRewritePattern<scf::ForOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(scf::ForOp second, PatternRewriter &rewriter) const override {
    for (scf::ForOp first : earlierSameRangeLoops(second)) {
      SmallVector<Operation *> hoist;
      if (!whyNotFusible(first, second, {}, hoist).empty())
        continue;
      mergeLoops(rewriter, first, second, hoist, /*rescale=*/nullptr);
      return success();
    }
    return rewriter.notifyMatchFailure(second, "no independent earlier loop");
  }
};

// y = op(x...); ...; y' = op(x...)  =>  y' = y   for loads and maps (whose regions may read
// tables), when no write lies between: the merged bodies' shared chunk computations (K loads,
// score_mods) are computed once. Upstream CSE skips maps with nested reads.
template <typename OpT> struct ReuseEqualRead : OpRewritePattern<OpT> {
  using OpRewritePattern<OpT>::OpRewritePattern;
  LogicalResult matchAndRewrite(OpT op, PatternRewriter &rewriter) const override {
    for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
      TensorAccesses acc;
      acc.add(prev);
      if (!acc.writes.empty() || acc.unknown)
        break;
      if (isa<OpT>(prev) &&
          OperationEquivalence::isEquivalentTo(prev, op, OperationEquivalence::IgnoreLocations)) {
        rewriter.replaceOp(op, prev->getResults());
        return success();
      }
    }
    return rewriter.notifyMatchFailure(op, "no equal op before it");
  }
};

struct FuseLoopsPass : tilefuse::impl::FuseLoopsBase<FuseLoopsPass> {
  void runOnOperation() override {
    // 1. Merge independent same-range loops until none is left.
    RewritePatternSet patterns(&getContext());
    // 2. Maps the merged bodies both compute (score_mods reading tables) are computed once.
    patterns.add<FuseIndependentLoops, ReuseEqualRead<blk::LoadOp>, ReuseEqualRead<blk::MapOp>>(
        &getContext());
    GreedyRewriteConfig config;
    config.useTopDownTraversal = true; // merge loops in program order
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns), config)))
      signalPassFailure();
  }
};

} // namespace
