//===- OnlineAnalysis.h - may a loop accumulate against a running max? ----===//
//
// The analysis behind online normalization (OnlineNormalization.cpp): a loop that reads the
// final value m of a running max carried by an earlier loop qualifies when every use of m is
// a factor exp(x - c(m)) of terms that are only accumulated (summed, or added into a matmul
// accumulator), with one row function c, finite at -inf, and x bounded by the running max.
//
#ifndef TILEFUSE_FUSION_ONLINEANALYSIS_H
#define TILEFUSE_FUSION_ONLINEANALYSIS_H

#include "blk/BlkDialect.h"

#include <string>

namespace tilefuse::fusion {

/// One exp(x - c(m)) factor: the map computing it, x and c(m) in its region, and the
/// region arguments that are broadcast(m).
struct ExpSite {
  blk::MapOp map;
  mlir::Value pos, neg;
  llvm::SmallVector<mlir::BlockArgument> maxArgs;
};

/// What the rule needs to know about the second loop, or (`why`) why it does not apply.
struct OnlinePlan {
  mlir::scf::ForOp first;                ///< the loop carrying the running max
  unsigned maxIndex = 0;                 ///< its iter arg holding the max
  llvm::SmallVector<unsigned> scaled;    ///< the second loop's accumulators to rescale
  llvm::SmallVector<ExpSite> sites;      ///< the exp(x - c(m)) factors
  llvm::SmallVector<mlir::Value> zeroGates; ///< select conditions that zero terms
  std::string why;
};

/// Analyses `second`, which reads `m`, a result of an earlier loop.
OnlinePlan analyzeOnline(mlir::scf::ForOp second, mlir::Value m);

/// alpha(a, b) = a == b ? 1 : (a == -inf ? 0 : exp(c(a) - c(b))), a rank-1 map of the old
/// and new running max, with c cloned from `site`.
mlir::Value buildAlpha(mlir::OpBuilder &b, mlir::Location loc, ExpSite site, mlir::Value mOld,
                       mlir::Value mNew);

} // namespace tilefuse::fusion

#endif // TILEFUSE_FUSION_ONLINEANALYSIS_H
