//===- ElementCode.h - per-element code of element-wise tiles --------*- C++ -*-===//
//
// Writes the body of the lambda a kept element-wise tile is computed with:
//
//   tfcg::map(s_acc, warp_row0, [&](tfcg::fidx x, int row, int col) {
//     const long long q_idx = q_row0 + row;
//     const long long kv_idx = kv0 + col;
//     return ((q_idx + (Sk - Sq)) >= kv_idx) ? (tfcg::at(s_acc, x) * 0.0883883461f) : (-tfcg::inf());
//   });
//
// sm90 backend: comparisons of positions are written as 32-bit compares of the element's column offset
// against one value per row, from a bound computed once before the lambda (region(); a causal mask's
// `q_idx + (Sk - Sq) >= kv_idx` is `tfcg::col_offset(x) <= row - bound - tfcg::col_base(x)`).
//
// Kept tiles are read at the element's fragment position (tfcg::at(name, x)); inlined element-wise
// values are expanded in place: iota -> q_idx / kv_idx from (row, col), fill -> its scalar,
// broadcast -> the row vector's value for the row, select -> ?:, map -> its region's ops (score_mod,
// mask_mod) translated by ScalarExprs. A value used more than once gets a local name; one used once
// is written inside its user's expression.
//
// Diagonal tables (enableDiagonalTables): a region value that depends on the position only through
// kv_idx - q_idx (an affine U + c (col - row), then any ops of it and of tile-uniform values) and costs
// more than a lookup (a table read, a math call, 8 ops) is computed before the lambda, once per diagonal
// of the lane's fragment ((C + R) / 8 - 1 diagonals x 2: 34 values for the 64 elements of 16 x 128), into
// `diag[k][e]`, and the lambda reads diag[tfcg::diag_of(x) - kMin][x.e]. Emitted by pre().
//
#pragma once

#include "Expr.h"
#include "Plan.h"
#include "Writer.h"

namespace tilefuse::codegen {

class ElementCode {
public:
  ElementCode(const ResolvedKernel &r, const KernelPlan &p, ScalarExprs &sx) : r_(r), p_(p), sx_(sx) {}

  /// Registers that the caller will ask for elem(v) (so values reached twice get a local name).
  void countRefs(mlir::Value tile);
  /// The expression of `tile`'s element at the lambda's position; statements go to body().
  std::string elem(mlir::Value tile);
  /// elem() of every input of `map` whose region argument is used ("0" for the others).
  std::vector<std::string> mapArgs(tilefuse::blk::MapOp map);
  /// The expression of `result` (a value of `map`'s region; null: the yielded value) with the region's
  /// arguments bound to `args`. With foldTrunc, a yielded f32 -> 16-bit truncf is left out (the store
  /// or pair packing rounds the same way).
  std::string region(tilefuse::blk::MapOp map, const std::vector<std::string> &args, mlir::Value result,
                     bool foldTrunc);

  /// The lambda's statements before `return result;`: the declarations of the positions (q_idx,
  /// kv_idx) that they or `result` read, then the rest of the element code.
  Writer lambdaBody(const std::string &result) const;

  /// Lets region() tabulate values that depend on the position only through kv_idx - q_idx once per
  /// diagonal of the lane's fragment (diagonalTables(); the header of this file), for a lambda over the
  /// positions of a row-layout fragment rt<., warpRows, cols> (tfcg::fidx) whose first row is warp_row0.
  void enableDiagonalTables(int64_t warpRows, int64_t cols) { diagRows_ = warpRows, diagCols_ = cols; }
  /// Statements the lambda's caller writes before it, at the enclosing scope (the diagonal tables).
  const Writer &pre() const { return pre_; }

private:
  /// An integer position sum U + rowCoef row + colCoef col (row, col: the lambda's position in the tile).
  struct Affine {
    int64_t rowCoef = 0, colCoef = 0;
    std::string uniform; // an int64 C expression, "" for 0
  };

  std::string local(const std::string &base);
  /// Writes the diagonal tables of `map`'s region into pre() and binds their values in `val`; returns the
  /// region ops the lambda must still compute for `yielded`.
  llvm::DenseSet<mlir::Operation *> diagonalTables(tilefuse::blk::MapOp map, llvm::DenseMap<mlir::Value, std::string> &val,
                                                  llvm::function_ref<std::optional<Affine>(mlir::Value)> affine,
                                                  mlir::Value yielded);
  std::string nameIfShared(mlir::Value v, const std::string &expr, const std::string &cType);

  const ResolvedKernel &r_;
  const KernelPlan &p_;
  ScalarExprs &sx_;
  Writer body_;
  std::vector<std::pair<std::string, std::string>> positions_; // (name, declaration) of q_idx / kv_idx locals
  Writer pre_;
  int64_t diagRows_ = 0, diagCols_ = 0;
  llvm::DenseMap<mlir::Value, std::string> memo_;
  llvm::DenseMap<mlir::Value, unsigned> refs_;
  std::set<std::string> locals_;
};

/// True for an identifier, a literal or tfcg::at(name, x): text that may be repeated freely.
bool isAtom(const std::string &expr);

} // namespace tilefuse::codegen
