//===- BlkBuild.h - small builders and matchers for blk IR ----------------===//
//
// Shared by the fusion rules: build a blk.map from a C++ lambda, fill tiles with float
// constants, recognise constant scalars and constant tiles.
//
#ifndef TILEFUSE_FUSION_BLKBUILD_H
#define TILEFUSE_FUSION_BLKBUILD_H

#include "blk/BlkDialect.h"

#include "mlir/IR/Builders.h"

#include "llvm/ADT/DenseSet.h"

#include <optional>

namespace tilefuse::fusion {

using BodyFn = llvm::function_ref<mlir::Value(mlir::OpBuilder &, mlir::Location,
                                              mlir::ValueRange)>;

/// blk.map over `inputs` (register tiles of one shape) with `resultElem` elements; `body`
/// receives the region's scalar arguments and returns the yielded scalar.
blk::MapOp buildMap(mlir::OpBuilder &b, mlir::Location loc, mlir::ValueRange inputs,
                    mlir::Type resultElem, BodyFn body);

/// A scalar float constant of type `type`.
mlir::Value floatConst(mlir::OpBuilder &b, mlir::Location loc, mlir::Type type, double v);

/// `v` converted to the float type `type` (extf / truncf; `v` itself if already of it).
mlir::Value convertFloat(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v, mlir::Type type);

/// blk.fill of a float constant: a register tile of `type` with every element `v`.
mlir::Value fillFloat(mlir::OpBuilder &b, mlir::Location loc, blk::TileType type, double v);

/// The value of a float arith.constant, if `v` is one.
std::optional<double> floatConstant(mlir::Value v);

/// The element value of a blk.fill of a float constant, if `v` is one.
std::optional<double> fillConstant(mlir::Value v);

/// The tile type of `v` (which must be a tile).
inline blk::TileType tileOf(mlir::Value v) { return mlir::cast<blk::TileType>(v.getType()); }

/// `t` with dim `d` set to `size`.
blk::TileType withDim(blk::TileType t, unsigned d, int64_t size);

/// The HBM tensors (SSA values) an op and the ops nested in it load / read and store.
/// `unknown` is set when some op has memory effects the blk ops do not describe.
struct TensorAccesses {
  llvm::DenseSet<mlir::Value> reads, writes;
  bool unknown = false;

  void add(mlir::Operation *root);
  /// Running one before the other may change what either sees.
  bool conflictsWith(const TensorAccesses &other) const;
};

/// True if `region` contains an op of type OpT.
template <typename OpT> bool regionContains(mlir::Region &region) {
  bool found = false;
  region.walk([&](OpT) { found = true; });
  return found;
}

} // namespace tilefuse::fusion

#endif // TILEFUSE_FUSION_BLKBUILD_H
