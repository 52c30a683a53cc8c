//===- OnlineNormalization.cpp - accumulate against a running max ---------===//
//
// --tilefuse-online-normalization (Milakov & Gimelshein 2018, "Online normalizer calculation
// for softmax"; FlashAttention, Dao et al. 2022, section 3.1).
//
#include "Algebra.h"
#include "BlkBuild.h"
#include "LoopMerge.h"
#include "OnlineAnalysis.h"

#include "tilefuse/compiler/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace tilefuse {
#define GEN_PASS_DEF_ONLINENORMALIZATION
#include "tilefuse/compiler/Passes.h.inc"
} // namespace tilefuse

using namespace mlir;
using namespace tilefuse;
using namespace tilefuse::fusion;

namespace {

/// Results of earlier same-range loops that `loop` uses.
SmallVector<Value> earlierResultsUsed(scf::ForOp loop) {
  SmallVector<Value> r;
  SmallVector<scf::ForOp> earlier = earlierSameRangeLoops(loop);
  loop.walk([&](Operation *op) {
    for (Value v : op->getOperands())
      if (auto f = v.getDefiningOp<scf::ForOp>();
          f && llvm::is_contained(earlier, f) && !llvm::is_contained(r, v))
        r.push_back(v);
  });
  return r;
}

// sum_j exp(x_j - c(m')) T_j = exp(c(m) - c(m')) * sum_j exp(x_j - c(m)) T_j
//                                                   (rescale a partial sum, or a matmul
// accumulator, when the running max moves from m to m'; by induction the carried value
// equals the sum against the running max, and against the final max after the last step)
struct RescaleRunningMax : OpRewritePattern<scf::ForOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(scf::ForOp second, PatternRewriter &rewriter) const override {
    for (Value m : earlierResultsUsed(second)) {
      OnlinePlan plan = analyzeOnline(second, m);
      if (!plan.why.empty())
        continue;
      SmallVector<Operation *> hoist;
      if (!whyNotFusible(plan.first, second, {m}, hoist).empty())
        continue;
      ExpSite site = plan.sites.front();
      Rescale rescale{plan.maxIndex, m, plan.scaled,
                      [site](OpBuilder &b, Location loc, Value mOld, Value mNew) mutable {
                        return buildAlpha(b, loc, site, mOld, mNew);
                      }};
      mergeLoops(rewriter, plan.first, second, hoist, &rescale);
      return success();
    }
    return rewriter.notifyMatchFailure(second, "no running max to rescale against");
  }
};

/// The result of an earlier same-range loop that `loop` needs, directly or through the ops
/// between the two loops, or null.
Value earlierResultNeeded(scf::ForOp loop) {
  SmallVector<scf::ForOp> earlier = earlierSameRangeLoops(loop);
  SmallVector<Value> work;
  DenseSet<Value> seen;
  loop.walk([&](Operation *op) { llvm::append_range(work, op->getOperands()); });
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *def = v.getDefiningOp();
    if (!def || !seen.insert(v).second || def->getBlock() != loop->getBlock() ||
        !def->isBeforeInBlock(loop))
      continue;
    if (auto f = dyn_cast<scf::ForOp>(def); f && llvm::is_contained(earlier, f))
      return v;
    def->walk([&](Operation *op) { llvm::append_range(work, op->getOperands()); });
  }
  return {};
}

/// Why `loop`, which needs `m` (a result of an earlier loop), stays a separate pass.
std::string whyApart(scf::ForOp loop, Value m) {
  bool direct = false;
  loop.walk([&](Operation *op) { direct |= llvm::is_contained(op->getOperands(), m); });
  std::string why = analyzeOnline(loop, m).why;
  if (why.empty()) {
    SmallVector<Operation *> hoist;
    why = whyNotFusible(m.getDefiningOp<scf::ForOp>(), loop, {m}, hoist);
  }
  if (!direct && why.find("running sum") == std::string::npos &&
      why.find("running reduction") == std::string::npos)
    why = "it needs a value computed, outside the loop, from the final value of an earlier "
          "loop";
  return why;
}

struct OnlineNormalizationPass
    : tilefuse::impl::OnlineNormalizationBase<OnlineNormalizationPass> {
  using OnlineNormalizationBase::OnlineNormalizationBase;
  void runOnOperation() override {
    // 1. Merge every loop that needs a final running max into the loop computing it.
    RewritePatternSet patterns(&getContext());
    patterns.add<RescaleRunningMax>(&getContext());
    GreedyRewriteConfig config;
    config.useTopDownTraversal = true; // merge loops in program order
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns), config)))
      return signalPassFailure();
    // 2. Say why a loop that still needs an earlier loop's final value stays apart.
    if (!report)
      return;
    getOperation().walk([](scf::ForOp loop) {
      if (Value m = earlierResultNeeded(loop))
        loop.emitWarning() << "tilefuse-online-normalization: the loop stays a separate pass "
                              "over the same range: "
                           << whyApart(loop, m);
    });
  }
};

} // namespace
