//===- Tile.h - tile values of the interpreter ------------------------*- C++ -*-===//
//
// Internal to the interpreter. A tile value is immutable and shared (blk.copy only changes the
// memory space, which the interpreter does not model, so it shares the value). Rank-1 tiles are
// stored as M x 1.
//
// A `?` dim made by blk.fill, blk.iota or blk.broadcast has no run-time extent of its own
// (kNoExtent): such tiles are generators, and the op that consumes them together with a tile that
// has the extent (map, select, matmul, store) asks for their elements at that extent.
//
//===----------------------------------------------------------------------------------------===//
#ifndef TILEFUSE_LIB_INTERP_TILE_H
#define TILEFUSE_LIB_INTERP_TILE_H

#include "ElementProgram.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tilefuse::interp::detail {

constexpr int64_t kNoExtent = -1;
using Extents = std::array<int64_t, 2>; ///< rows, cols; cols = 1 for a rank-1 tile.

struct Tile;
using TilePtr = std::shared_ptr<const Tile>;

struct Tile {
  enum class Kind : uint8_t {
    Dense,     ///< data: ext[0] * ext[1] elements, row-major.
    Fill,      ///< data[0] everywhere.
    IotaRow,   ///< offset + i, wrapped to intBits.
    IotaCol,   ///< offset + j, wrapped to intBits.
    Broadcast, ///< source's element i in every column of row i.
    Deferred,  ///< thunk(extents) computes the elements (a map / select over generators).
  };
  Kind kind = Kind::Dense;
  unsigned rank = 2;
  Extents ext{1, 1}; ///< kNoExtent: a `?` dim with no extent yet (never for Dense).
  std::vector<double> data;
  int64_t offset = 0;
  unsigned intBits = 64;
  TilePtr source;
  std::function<std::vector<double>(Extents)> thunk;

  bool resolved() const { return ext[0] != kNoExtent && ext[1] != kNoExtent; }
};

/// "64x100" / "64x?" / "64" for messages.
std::string extentsStr(const Tile &t);

/// The elements of `t` at extents `e` (row-major e[0] * e[1]). Dense tiles return their own data
/// (e must equal their extents); generators write into `scratch` and return it.
std::span<const double> elements(const Tile &t, Extents e, std::vector<double> &scratch);

/// Fits the extents of the tiles an elementwise op combines: each dim takes the extent of any
/// operand that has one; two different extents are an error (thrown by the caller from the
/// returned message). Returns an empty string on success.
std::string unifyExtents(std::span<const TilePtr> tiles, Extents &out);

/// C = A * B (+ acc), A: M x K, B: K x N (or N x K when transposeB), fp64 accumulation.
std::vector<double> matmul(std::span<const double> a, std::span<const double> b,
                           std::span<const double> acc, int64_t m, int64_t n, int64_t k,
                           bool transposeB);

/// Row max (-inf for an empty / all -inf row; NaN propagates) or row sum (0 when empty).
std::vector<double> reduceRows(std::span<const double> x, int64_t rows, int64_t cols, bool isMax);

/// Running row sums (blk.scan sum): prefix or, with `reverse`, suffix sums along each row, inclusive
/// or exclusive of the element itself; fp64.
std::vector<double> scanRows(std::span<const double> x, int64_t rows, int64_t cols, bool reverse, bool exclusive);

} // namespace tilefuse::interp::detail

#endif // TILEFUSE_LIB_INTERP_TILE_H
