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

// y = map(x...){f}; ...; y' = map(x...){f}  =>  y' = y   (CSE for maps whose region reads
// tables: upstream CSE skips ops with nested read effects; no write may lie between)
struct ReuseEqualMap : OpRewritePattern<blk::MapOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(blk::MapOp map, PatternRewriter &rewriter) const override {
    for (Operation *op = map->getPrevNode(); op; op = op->getPrevNode()) {
      TensorAccesses acc;
      acc.add(op);
      if (!acc.writes.empty() || acc.unknown)
        break;
      if (isa<blk::MapOp>(op) &&
          OperationEquivalence::isEquivalentTo(op, map, OperationEquivalence::exactValueMatch,
                                               nullptr, OperationEquivalence::IgnoreLocations)) {
        rewriter.replaceOp(map, op->getResults());
        return success();
      }
    }
    return rewriter.notifyMatchFailure(map, "no equal map before it");
  }
};

struct FuseLoopsPass : tilefuse::impl::FuseLoopsBase<FuseLoopsPass> {
  void runOnOperation() override {
    // 1. Merge independent same-range loops until none is left.
    RewritePatternSet patterns(&getContext());
    // 2. Maps the merged bodies both compute (score_mods reading tables) are computed once.
    patterns.add<FuseIndependentLoops, ReuseEqualMap>(&getContext());
    GreedyRewriteConfig config;
    config.useTopDownTraversal = true; // merge loops in program order
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns), config)))
      signalPassFailure();
  }
};

} // namespace
