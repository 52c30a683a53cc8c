//===- Algebra.h - structural equality and product forms of map regions --===//
//
// Two analyses the fusion rules share:
//  * StructuralEq: are two SSA values computed the same way (same ops, same attributes,
//    equal operands), given some values assumed equal (two loops' induction variables)?
//  * flattenProduct: write the scalar a blk.map region yields as a product
//      (+/-) prod_i leaf_i^(+/-1) * prod_k exp(pos_k - neg_k), gated by "cond ? 0 : ..."
//    so a rule can ask which factors depend on which inputs (deferred normalization moves
//    the row factors after a matmul; online normalization finds the exp(x - c(m)) factor).
//
#ifndef TILEFUSE_FUSION_ALGEBRA_H
#define TILEFUSE_FUSION_ALGEBRA_H

#include "mlir/IR/Value.h"
#include "mlir/Support/LogicalResult.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SmallVector.h"

namespace tilefuse::fusion {

class StructuralEq {
public:
  /// `a == b` is assumed for every pair (a, b) of `assumed`.
  void assume(mlir::Value a, mlir::Value b) { assumed[a] = b; }
  /// True if `a` (left side) and `b` (right side) are provably computed alike.
  bool equal(mlir::Value a, mlir::Value b);

private:
  llvm::DenseMap<mlir::Value, mlir::Value> assumed;
  llvm::DenseMap<std::pair<mlir::Value, mlir::Value>, bool> memo;
};

/// The product form of a region value. Leaves are the maximal sub-expressions the caller
/// chose not to decompose.
struct ProductForm {
  struct Leaf {
    mlir::Value value;
    bool inverse; ///< a divisor
  };
  struct Gate {
    mlir::Value cond;
    bool zeroWhenTrue; ///< select(cond, 0, x) rather than select(cond, x, 0)
  };
  struct Exp {
    mlir::Value pos, neg; ///< exp(pos - neg); neg is null for exp(pos)
    mlir::Operation *expOp;
  };
  llvm::SmallVector<Leaf> leaves;
  llvm::SmallVector<Gate> gates;
  llvm::SmallVector<Exp> exps;
  bool negate = false;
};

/// Flattens `y` through mulf, divf, negf, truncf / extf, select with a zero arm and
/// exp(a - b), decomposing exactly the values for which `decompose` returns true (block
/// arguments are always leaves). Fails on any other op that must be decomposed, on a gate
/// or an exp in a divisor.
mlir::FailureOr<ProductForm> flattenProduct(mlir::Value y,
                                            llvm::function_ref<bool(mlir::Value)> decompose);

/// Which of a set of region arguments each value of a region depends on (a bit mask per
/// argument class, 0 for values that depend on none: constants and values from above).
class Dependence {
public:
  /// Class bits of the arguments of `body` (bit k of argClass[i] set: argument i is in
  /// class k).
  Dependence(mlir::Block *body, llvm::ArrayRef<unsigned> argClass)
      : body(body), argClass(argClass) {}
  unsigned of(mlir::Value v);

private:
  mlir::Block *body;
  llvm::SmallVector<unsigned> argClass;
  llvm::DenseMap<mlir::Value, unsigned> memo;
};

/// Ops of `region` that `roots` depend on (transitively, within the region), in region
/// order; for cloning a sub-expression into another region.
llvm::SmallVector<mlir::Operation *> sliceInRegion(mlir::Region &region,
                                                   llvm::ArrayRef<mlir::Value> roots);

} // namespace tilefuse::fusion

#endif // TILEFUSE_FUSION_ALGEBRA_H
