//===- SkipProof.h - is a loop iteration a no-op when its mask is empty? ---===//
//
// Abstract evaluation of a loop body with one mask set to all-false, over the values
//   Const(c)   every element is c            Iter(i)  equals carried value i
//   Sym(k)     some value, numbered so that equal computations get equal numbers
// with the identities max(x, -inf) = x, x + 0 = x, x * 1 = x, 0 * finite = 0,
// -inf - finite = -inf, exp(-inf) = 0, exp(0) = 1, x - x = 0, (x == x) = true for x not NaN,
// select(c, x, x) = x, reduce(identity tile) = identity, matmul(0, B, acc) = acc.
// The iteration may be skipped when every yielded value is its own carried value.
//
// Assumptions (docs/FUSION.md): loaded data and table entries are finite, and so are the
// carried values except a running max, which may be -inf but never +inf or NaN.
//
#ifndef TILEFUSE_FUSION_SKIPPROOF_H
#define TILEFUSE_FUSION_SKIPPROOF_H

#include "mlir/Dialect/SCF/IR/SCF.h"

namespace tilefuse::fusion {

/// True if, with `mask` (an i1 tile of the body) false everywhere, the body of `loop` yields
/// its carried values unchanged.
bool skipsWhenFalse(mlir::scf::ForOp loop, mlir::Value mask);

} // namespace tilefuse::fusion

#endif // TILEFUSE_FUSION_SKIPPROOF_H
