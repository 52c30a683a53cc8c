//===- MaskInterval.h - run-time bounds of a mask over a tile --------------===//
//
// Interval arithmetic, emitted as IR: for a value computed (in a blk.map region or from index
// tiles) from q_idx in [r0, r0 + BM - 1] and kv_idx in [c0, c0 + BN - 1], two values lo and
// hi such that every element lies in [lo, hi]. For an i1 value, lo = 1 means "true at every
// position" and hi = 0 "false at every position". A table read takes the min and max of the
// table over the index range (an scf.for over it).
//
#ifndef TILEFUSE_FUSION_MASKINTERVAL_H
#define TILEFUSE_FUSION_MASKINTERVAL_H

#include "mlir/IR/Builders.h"

#include <string>

namespace tilefuse::fusion {

struct Interval {
  mlir::Value lo, hi;
};

class IntervalBuilder {
public:
  IntervalBuilder(mlir::OpBuilder &b, mlir::Location loc) : b(b), loc(loc) {}

  /// Bounds of the elements of a tile (an iota, a fill, a broadcast, or a blk.map of such);
  /// fails (setting `why`) on anything else.
  mlir::FailureOr<Interval> ofTile(mlir::Value tile);

  std::string why;
  /// The op `why` is about when there is one (an op without an interval rule, a table read): a
  /// remark there names the spec field and column it was lowered from (blk/SpecLocation.h).
  mlir::Operation *whyAt = nullptr;
  /// Set once a bound read tensor contents (a captured table): such a bound is data-dependent
  /// and a run-time block mask can refine it (blk.tile_class).
  bool readsTensor = false;

private:
  mlir::FailureOr<Interval> ofScalar(mlir::Value v, mlir::Block *region);
  mlir::FailureOr<Interval> ofOp(mlir::Operation *op, mlir::Block *region);
  mlir::FailureOr<Interval> ofRead(mlir::Operation *op, llvm::ArrayRef<Interval> x);
  mlir::Value min(mlir::Value a, mlir::Value c);
  mlir::Value max(mlir::Value a, mlir::Value c);

  mlir::OpBuilder &b;
  mlir::Location loc;
  llvm::DenseMap<mlir::Value, Interval> env;
};

} // namespace tilefuse::fusion

#endif // TILEFUSE_FUSION_MASKINTERVAL_H
