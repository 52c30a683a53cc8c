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

  /// The chunk's first position along the tiled dim.
  mlir::Value offset() const { return off; }

  /// The chunk of `v` along dim `d` (whyNotSliceable(v, d) must be empty); `v` itself when
  /// dim `d` is static.
  mlir::Value slice(mlir::Value v, unsigned d);

  /// i1 tile of type `chunk` (element i1) true where the position along `d` lies inside
  /// the extent: off + j < extent.
  mlir::Value tailMask(blk::TileType chunk, unsigned d);

  /// select(tailMask, x, fill(identity)).
  mlir::Value maskTail(mlir::Value x, unsigned d, double identity);

  /// A scan along the tiled dim (blk.scan, dim 1) whose running sum the loop carries in `carry` (a row
  /// vector: the sum over the chunks visited before this one, which are the chunks before it for a prefix
  /// scan and after it for a suffix scan, Tile.cpp). The chunk of the scan is then the chunk's own scan
  /// plus broadcast(carry); without a carry the scan cannot be sliced along dim 1.
  void carryScan(blk::ScanOp scan, mlir::Value carry) { carries[scan] = carry; }
  /// The chunk the scan's own sum is taken over (its tail set to 0; every user of the scan's input reads
  /// this chunk), for the carry's update.
  mlir::Value scanChunkInput(blk::ScanOp scan);

private:
  mlir::Value extentAs(mlir::Type intType, int64_t minus);
  mlir::Value sliceOp(mlir::Operation *op, mlir::Value v, unsigned d);

  mlir::OpBuilder &b;
  mlir::Location loc;
  mlir::Value off;
  int64_t size;
  mlir::Value extent;
  llvm::DenseMap<std::pair<mlir::Value, unsigned>, mlir::Value> memo;
  llvm::DenseMap<mlir::Operation *, mlir::Value> carries;
};

/// The blk.scan ops along dim 1 on the chain producing `?` dim `d` of `v` (each once).
void scansOnChain(mlir::Value v, unsigned d, llvm::SmallVectorImpl<blk::ScanOp> &out);

} // namespace tilefuse::fusion

#endif // TILEFUSE_FUSION_TILESLICE_H
