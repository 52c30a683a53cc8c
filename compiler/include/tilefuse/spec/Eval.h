//===- Eval.h - fp64 reference evaluation of expressions -----------*- C++ -*-===//
//
// Evaluates a type-checked expression at one point (b, h, q_idx, kv_idx, score). This is the
// semantics every backend must match; the fp64 attention references and the tests use it.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Expr.h"
#include "tilefuse/spec/Shape.h"

#include <cstdint>
#include <span>
#include <vector>

namespace tilefuse::spec {

/// A captured tensor's contents for evaluation: row-major, contiguous, every element as fp64
/// (exact for int32 data). Not owning: `data` must outlive the evaluation.
struct TensorView {
  std::vector<int64_t> shape;
  std::span<const double> data; ///< product(shape) elements.
};

/// One point of the score matrix plus everything an expression may read.
struct EvalEnv {
  double score = 0.0; ///< Scaled logit scale * (q . k).
  int64_t b = 0, h = 0, q_idx = 0, kv_idx = 0;
  Shape shape;                    ///< Sizes B, Hq, Hkv, Sq, Sk.
  std::vector<TensorView> captures; ///< Indexed by Expr::captureSlot (Spec::captures order).
};

/// A value of the language.
struct Value {
  ScalarType type = ScalarType::Unknown;
  int64_t i = 0;
  double f = 0.0;
  bool b = false;

  static Value ofInt(int64_t v) { return {ScalarType::Int, v, 0.0, false}; }
  static Value ofFloat(double v) { return {ScalarType::Float, 0, v, false}; }
  static Value ofBool(bool v) { return {ScalarType::Bool, 0, 0.0, v}; }
  /// Float, or an Int converted to double. Throws SpecError for a Bool.
  double asFloat() const;
  /// Throws SpecError unless the value is an Int.
  int64_t asInt() const;
  /// Throws SpecError unless the value is a Bool.
  bool asBool() const;
};

/// Evaluates `e` (which must have been through checkExpr) in fp64 / int64.
/// Int + - * // % are exact; "/" and every Float operation follow IEEE double (<cmath> tanh, exp,
/// log, sqrt); an Int operand of a Float operation is converted first. A Float literal is the fp32
/// value nearest to it, as the block programs and the kernels hold it ("score * 0.1" scales by
/// 0.1f on both sides; the rest of the arithmetic stays fp64).
/// Throws SpecError (exprColumn = the node's column; field = the node's Expr::origin, "let.NAME"
/// for a node inlined from a let, else empty) for an unchecked tree, an Int division or
/// modulo by zero, Int overflow, a captured-tensor index outside its dimension, a capture slot
/// missing from env.captures, or a TensorView whose data is shorter than its shape.
Value evaluate(const Expr &e, const EvalEnv &env);

} // namespace tilefuse::spec
