//===- ExprToArith.h - spec expressions -> arith/math ops ------------*- C++ -*-===//
//
// Emits a type-checked spec expression as scalar arith / math / blk.read ops at the builder's
// insertion point (inside a blk.map region). Types: Int -> i64, Float -> f32, Bool -> i1.
// Semantics match spec::evaluate: "/" is float division, "//" floors, "%" takes the sign of the
// divisor (Python), an Int operand of a Float operation is converted first.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Expr.h"
#include "tilefuse/spec/Spec.h"

#include "mlir/IR/Builders.h"

#include <array>
#include <vector>

namespace tilefuse::lowering {

/// The values an expression can read, all already available at the insertion point.
struct ExprValues {
  mlir::Value score;                 ///< f32 (ScoreMod only)
  mlir::Value b, h, qIdx, kvIdx;     ///< i64
  std::array<mlir::Value, 5> sizes;  ///< i64: B, Hq, Hkv, Sq, Sk
  std::vector<mlir::Value> captures; ///< !blk.tensor, by Expr::captureSlot
};

/// The location of a place in the spec: (field, column inside its expression string).
using ExprLocator = llvm::function_ref<mlir::Location(llvm::StringRef field, int column)>;

/// Emits `e`, the expression of spec field `field` ("score_mod", "mask_mod", "sink"); returns an
/// i64, f32 or i1 value by e.type. With math = Exact, the tanh, exp and log ops carry
/// blk.exact_math (blk/BlkDialect.h): the code generator then calls tanhf, expf, logf.
/// Every op gets the location of the node it comes from, locate(field or the node's origin, its
/// column); a node inlined from a `let` gets callsite(<its place in the let> at <the use>), nested
/// for lets used inside lets.
mlir::Value emitExpr(mlir::OpBuilder &b, ExprLocator locate, llvm::StringRef field, const spec::Expr &e,
                     const ExprValues &values, spec::MathMode math = spec::MathMode::Approx);

} // namespace tilefuse::lowering
