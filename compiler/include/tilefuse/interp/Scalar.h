//===- Scalar.h - scalar semantics of the arith / math ops ----------*- C++ -*-===//
//
// The scalar half of the reference interpreter, shared with the static analyses (which fold
// index arithmetic with it): one value is a Word, one op's semantics is evalScalarOp. The
// semantics are the interpreter's (Interpreter.h): floats in fp64, integers in int64 wrapped to
// their MLIR width.
//
//===----------------------------------------------------------------------------------------===//
#ifndef TILEFUSE_INTERP_SCALAR_H
#define TILEFUSE_INTERP_SCALAR_H

#include <cstdint>
#include <span>

namespace mlir {
class Operation;
class Type;
} // namespace mlir

namespace tilefuse::interp {

/// One scalar value. Float types (f16, bf16, f32, f64) use `f`; integer and index types use `i`,
/// kept normalised: iN with 1 < N < 64 is sign-extended from bit N-1, i1 is 0 or 1.
union Word {
  double f;
  int64_t i;
};

inline Word floatWord(double v) {
  Word w;
  w.f = v;
  return w;
}
inline Word intWord(int64_t v) {
  Word w;
  w.i = v;
  return w;
}

/// What an op costs on a GPU, for FLOP counting.
enum class OpCost : uint8_t {
  Free,           ///< arith.constant and casts (extf, truncf, sitofp, index_cast, ...): no FLOP.
  Arith,          ///< one arithmetic / comparison / select FLOP (float or integer).
  Transcendental, ///< one FLOP on the special-function unit: exp, log, tanh, sqrt, sin, ...
  Unsupported,    ///< not an op the interpreter knows.
};

/// The cost class of a scalar arith / math op; Unsupported for anything else.
OpCost costOf(mlir::Operation *op);

/// True for the types a Word may hold: float types up to 64 bits, signless integers up to 64
/// bits, index.
bool isScalarType(mlir::Type type);

/// Evaluates one scalar arith / math op (not blk.read) on `operands` (one Word per operand, in
/// operand order) and returns its single result.
/// Throws InterpError (naming the op) for an op the interpreter does not support and for integer
/// undefined behaviour: division by zero, signed overflow of a division, a shift by >= the width,
/// fptosi / fptoui of a value outside the target range.
Word evalScalarOp(mlir::Operation *op, std::span<const Word> operands);

} // namespace tilefuse::interp

#endif // TILEFUSE_INTERP_SCALAR_H
