//===- LoopMerge.h - legality and mechanics of merging two scf.for loops --===//
//
// Shared by loop fusion (independent loops) and online normalization (a loop that needs the
// final running max of the other, rescaled while merging).
//
#ifndef TILEFUSE_FUSION_LOOPMERGE_H
#define TILEFUSE_FUSION_LOOPMERGE_H

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/PatternMatch.h"

#include <functional>
#include <string>

namespace tilefuse::fusion {

/// How the second loop's carried values change when it joins the first (online
/// normalization): inside the merged body, `finalMax` (a result of the first loop) reads as
/// the running max after this iteration, and each carried value in `scaled` is multiplied
/// by alpha(m_old, m_new) before the second body uses it.
struct Rescale {
  unsigned maxIndex;
  mlir::Value finalMax;
  llvm::SmallVector<unsigned> scaled;
  std::function<mlir::Value(mlir::OpBuilder &, mlir::Location, mlir::Value mOld,
                            mlir::Value mNew)>
      buildAlpha;
};

/// Why `second` cannot join `first` ("" when it can): same block and range, `second` uses no
/// result of `first` except the `allowed` ones inside its body, the ops between them that
/// `second` needs (returned in `hoist`) can move above `first`, and no HBM access conflicts.
std::string whyNotFusible(mlir::scf::ForOp first, mlir::scf::ForOp second,
                          llvm::ArrayRef<mlir::Value> allowed,
                          llvm::SmallVectorImpl<mlir::Operation *> &hoist);

/// Replaces both loops by one at `first`'s place carrying both loops' values.
mlir::scf::ForOp mergeLoops(mlir::RewriterBase &rewriter, mlir::scf::ForOp first,
                            mlir::scf::ForOp second, llvm::ArrayRef<mlir::Operation *> hoist,
                            const Rescale *rescale);

/// The earlier loops of `loop`'s block with the same range, nearest first.
llvm::SmallVector<mlir::scf::ForOp> earlierSameRangeLoops(mlir::scf::ForOp loop);

} // namespace tilefuse::fusion

#endif // TILEFUSE_FUSION_LOOPMERGE_H
