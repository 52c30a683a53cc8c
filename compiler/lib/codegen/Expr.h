//===- Expr.h - scalar ops as C expressions ----------------------------*- C++ -*-===//
//
// Translates the scalar ops of a block program (arith, math, blk.dim, blk.read) into C expressions,
// and keeps the C name of every scalar value already written as a statement. Used for block-uniform
// values (sizes, program ids, tile offsets, loop bounds) and, by the element emitter, for the
// per-element code of blk.map regions.
//
// C types: f32 float, f16 __half, bf16 __nv_bfloat16, index and i64 long long, i32 int, i1 bool.
// Integer ops keep MLIR's semantics: unsigned division / comparison through tfcg:: helpers.
// f32 math.exp is e^x through ex2.approx (tfcg::exp); exp(a - b) becomes tfcg::exp_diff(a, b) (one
// FFMA); f32 math.tanh is tanh.approx.f32 (tfcg::fast_tanh). A math op marked blk.exact_math (score_mod
// and mask_mod of a spec with "math": "exact") calls the math library instead: expf, tanhf.
//
#pragma once

#include "Resolve.h"
#include "Writer.h"

#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"

#include <optional>
#include <set>
#include <string>

namespace tilefuse::codegen {

/// Whether `op` carries blk.exact_math: write the math library's function, not a hardware approximation.
bool exactMath(mlir::Operation *op);

class ScalarExprs {
public:
  explicit ScalarExprs(const ResolvedKernel &r);

  /// The C expression of `op`'s (single) result from its operands' expressions. Operands are atoms
  /// or parenthesized; so is the result. Throws CodegenError for an op without a translation.
  std::string opExpr(mlir::Operation *op, llvm::ArrayRef<std::string> operands) const;
  /// exp(a - b) when `exp`'s operand is a subf: tfcg::exp_diff(a, b).
  static std::string expDiff(const std::string &a, const std::string &b);
  /// exp(x * c - b) for a constant c > 0: tfcg::exp_diff_scaled(x, c, b) (one FFMA, coefficient c log2 e).
  static std::string expDiffScaled(const std::string &x, const std::string &c, const std::string &b);
  /// The literal of an arith.constant.
  std::string constant(mlir::arith::ConstantOp c) const;

  /// Gives `v` a C expression (a name already declared, a literal).
  void bind(mlir::Value v, std::string expr) { names_[v] = std::move(expr); }
  bool isBound(mlir::Value v) const { return names_.count(v) != 0; }
  /// The expression of a scalar value already defined (or a constant). Throws when there is none.
  std::string ref(mlir::Value v) const;

  /// Writes `const T name = expr;` for a block-uniform scalar op (nothing for constants and casts
  /// that do not change the C type: those are bound to their expression).
  void define(mlir::Operation *op, Writer &w);

  /// `v` recomputed from values defined outside `scope` (by name) and the block arguments in
  /// `subst`: how a prefetch computes the indices of a future iteration. nullopt when `v` depends on
  /// something inside `scope` that is not a pure scalar op (a loop-carried value, an scf.if result).
  std::optional<std::string> expand(mlir::Value v, mlir::Region &scope,
                                    const llvm::DenseMap<mlir::Value, std::string> &subst) const;

  /// A C identifier not used before (base, base_1, base_2, ...).
  std::string fresh(const std::string &base);
  /// Whether `name` is taken at kernel scope (lambda locals must not shadow it).
  bool isUsed(const std::string &name) const { return used_.count(name) != 0; }

  /// The names given so far, to emit the same definitions again in a sibling C scope (restore() forgets
  /// what was named after snapshot(): the next definitions reuse those names).
  struct Snapshot {
    llvm::DenseMap<mlir::Value, std::string> names;
    std::set<std::string> used;
  };
  Snapshot snapshot() const { return {names_, used_}; }
  void restore(Snapshot s) { names_ = std::move(s.names), used_ = std::move(s.used); }

  /// Name of the table object of a tensor read by blk.read (tfcg::table), per argument.
  llvm::DenseMap<unsigned, std::string> tables;

private:
  const ResolvedKernel &r_;
  llvm::DenseMap<mlir::Value, std::string> names_;
  std::set<std::string> used_;
};

} // namespace tilefuse::codegen
