//===- TileSlice.h - recompute one chunk of a whole-row (`?`) tile ---------===//
//
// The tiling rules (Tile.cpp) turn an op that consumes a `?` tile into a loop over chunks
// of BLOCK_N; inside the loop, the chain of ops producing the `?` tile is recomputed for
// one chunk: loads load the chunk, matmuls take the chunk of their operand, maps map the
// chunks of their inputs, index tiles count from the chunk's offset.
//
#ifndef TILEFUSE_FUSION_TILESLICE_H
#define TILEFUSE_FUSION_TILESLICE_H

#include "blk/BlkDialect.h"

#include "mlir/IR/Builders.h"

#include <string>

namespace tilefuse::fusion {

/// Why chunks of `?` dim `d` of `v` cannot be recomputed ("" when they can).
std::string whyNotSliceable(mlir::Value v, unsigned d);

/// The load that fixes the run-time extent of `?` dim `d` of `v` and that load's tile dim,
/// or a null op.
std::pair<blk::LoadOp, unsigned> extentSource(mlir::Value v, unsigned d);

/// Emits extent = dim(tensor) - offset for `?` dim `d` of `v` (extentSource must succeed).
mlir::Value buildExtent(mlir::OpBuilder &b, mlir::Location loc, mlir::Value v, unsigned d);

/// Whether positions of `v` past the run-time extent of dim `d` read as `value` in a chunk
/// (blk.load pads with 0).
bool padsWith(mlir::Value v, unsigned d, double value);

/// Recomputes chunks [off, off + size) of `?` values, memoised.
class ChunkSlicer {
public:
  ChunkSlicer(mlir::OpBuilder &b, mlir::Location loc, mlir::Value off, int64_t size,
              mlir::Value extent)
      : b(b), loc(loc), off(off), size(size), extent(extent) {}

  /// The chunk of `v` along dim `d` (whyNotSliceable(v, d) must be empty); `v` itself when
  /// dim `d` is static.
  mlir::Value slice(mlir::Value v, unsigned d);

  /// i1 tile of type `chunk` (element i1) true where the position along `d` lies inside
  /// the extent: off + j < extent.
  mlir::Value tailMask(blk::TileType chunk, unsigned d);

  /// select(tailMask, x, fill(identity)).
  mlir::Value maskTail(mlir::Value x, unsigned d, double identity);

private:
  mlir::Value extentAs(mlir::Type intType, int64_t minus);
  mlir::Value sliceOp(mlir::Operation *op, mlir::Value v, unsigned d);

  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::Value off;
  int64_t size;
  mlir::Value extent;
  llvm::DenseMap<std::pair<mlir::Value, unsigned>, mlir::Value> memo;
};

} // namespace tilefuse::fusion

#endif // TILEFUSE_FUSION_TILESLICE_H
