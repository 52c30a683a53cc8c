//===- Tile.cpp - tile values and the tile-level kernels of the interpreter ===//
#include "Tile.h"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace tilefuse::interp::detail {

std::string extentsStr(const Tile &t) {
  auto one = [](int64_t e) { return e == kNoExtent ? std::string("?") : std::to_string(e); };
  return t.rank == 1 ? one(t.ext[0]) : one(t.ext[0]) + "x" + one(t.ext[1]);
}

std::span<const double> elements(const Tile &t, Extents e, std::vector<double> &scratch) {
  const int64_t rows = e[0], cols = e[1];
  const size_t n = static_cast<size_t>(rows * cols);
  switch (t.kind) {
  case Tile::Kind::Dense:
    if (t.ext != e)
      throw std::logic_error("interp: dense tile " + extentsStr(t) + " read at other extents");
    return t.data;
  case Tile::Kind::Fill:
    scratch.assign(n, t.data[0]);
    return scratch;
  case Tile::Kind::IotaRow:
  case Tile::Kind::IotaCol:
    scratch.resize(n);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        int64_t v = t.offset + (t.kind == Tile::Kind::IotaRow ? i : j);
        scratch[i * cols + j] = static_cast<double>(normInt(t.intBits, v));
      }
    return scratch;
  case Tile::Kind::Broadcast: {
    std::vector<double> inner;
    std::span<const double> col = elements(*t.source, {rows, 1}, inner);
    scratch.resize(n);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        scratch[i * cols + j] = col[i];
    return scratch;
  }
  case Tile::Kind::Deferred:
    scratch = t.thunk(e);
    return scratch;
  }
  throw std::logic_error("interp: unknown tile kind");
}

std::string unifyExtents(std::span<const TilePtr> tiles, Extents &out) {
  for (int d = 0; d < 2; ++d) {
    out[d] = kNoExtent;
    for (const TilePtr &t : tiles) {
      if (t->ext[d] == kNoExtent)
        continue;
      if (out[d] != kNoExtent && out[d] != t->ext[d]) {
        std::string shapes;
        for (const TilePtr &u : tiles)
          shapes += (shapes.empty() ? "" : ", ") + extentsStr(*u);
        return "operands have different run-time extents in dim " + std::to_string(d) + ": " +
               shapes;
      }
      out[d] = t->ext[d];
    }
  }
  return {};
}

std::vector<double> matmul(std::span<const double> a, std::span<const double> b,
                           std::span<const double> acc, int64_t m, int64_t n, int64_t k,
                           bool transposeB) {
  std::vector<double> c(acc.begin(), acc.end());
  c.resize(static_cast<size_t>(m * n), 0.0);
  if (transposeB) {
    for (int64_t i = 0; i < m; ++i) {
      const double *ai = a.data() + i * k;
      for (int64_t j = 0; j < n; ++j) {
        const double *bj = b.data() + j * k;
        double s = 0.0;
        for (int64_t p = 0; p < k; ++p)
          s += ai[p] * bj[p];
        c[i * n + j] += s;
      }
    }
    return c;
  }
  std::vector<double> row(static_cast<size_t>(n));
  for (int64_t i = 0; i < m; ++i) {
    std::fill(row.begin(), row.end(), 0.0);
    for (int64_t p = 0; p < k; ++p) {
      const double aip = a[i * k + p];
      const double *bp = b.data() + p * n;
      for (int64_t j = 0; j < n; ++j)
        row[j] += aip * bp[j];
    }
    for (int64_t j = 0; j < n; ++j)
      c[i * n + j] += row[j];
  }
  return c;
}

std::vector<double> reduceRows(std::span<const double> x, int64_t rows, int64_t cols, bool isMax) {
  std::vector<double> out(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) {
    const double *r = x.data() + i * cols;
    double acc = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
    bool nan = false;
    for (int64_t j = 0; j < cols; ++j) {
      nan |= std::isnan(r[j]);
      acc = isMax ? (r[j] > acc ? r[j] : acc) : acc + r[j];
    }
    if (nan)
      acc = std::numeric_limits<double>::quiet_NaN();
    out[i] = acc;
  }
  return out;
}

std::vector<double> scanRows(std::span<const double> x, int64_t rows, int64_t cols, bool reverse, bool exclusive) {
  std::vector<double> out(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i) {
    double acc = 0.0;
    for (int64_t t = 0; t < cols; ++t) {
      const int64_t j = reverse ? cols - 1 - t : t;
      const double v = x[static_cast<size_t>(i * cols + j)];
      if (!exclusive)
        acc += v;
      out[static_cast<size_t>(i * cols + j)] = acc;
      if (exclusive)
        acc += v;
    }
  }
  return out;
}

} // namespace tilefuse::interp::detail
