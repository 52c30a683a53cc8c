//===- Algebra.cpp - structural equality and product forms ----------------===//
#include "Algebra.h"

#include "BlkBuild.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/OperationSupport.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace tilefuse::fusion {

bool StructuralEq::equal(Value a, Value b) {
  if (a == b)
    return true;
  if (auto it = assumed.find(a); it != assumed.end() && it->second == b)
    return true;
  auto key = std::make_pair(a, b);
  if (auto it = memo.find(key); it != memo.end())
    return it->second;
  memo[key] = false; // cycles (loop-carried values) are not equal unless assumed
  auto ra = dyn_cast<OpResult>(a), rb = dyn_cast<OpResult>(b);
  if (!ra || !rb || ra.getResultNumber() != rb.getResultNumber())
    return false;
  Operation *oa = ra.getOwner(), *ob = rb.getOwner();
  // Values computed by ops that write memory are never equal to another op's.
  auto iface = dyn_cast<MemoryEffectOpInterface>(oa);
  if ((!iface && !oa->hasTrait<OpTrait::HasRecursiveMemoryEffects>()) ||
      (iface && iface.hasEffect<MemoryEffects::Write>()))
    return false;
  bool eq = OperationEquivalence::isEquivalentTo(
      oa, ob, [&](Value x, Value y) { return success(equal(x, y)); },
      [&](Value x, Value y) { assumed[x] = y; }, OperationEquivalence::IgnoreLocations);
  memo[key] = eq;
  return eq;
}

namespace {

bool isZeroConstant(Value v) {
  std::optional<double> c = floatConstant(v);
  return c && *c == 0.0;
}

LogicalResult flatten(Value v, bool inverse, function_ref<bool(Value)> decompose,
                      ProductForm &out) {
  Operation *op = v.getDefiningOp();
  if (!op || !decompose(v)) {
    out.leaves.push_back({v, inverse});
    return success();
  }
  if (auto mul = dyn_cast<arith::MulFOp>(op))
    return success(succeeded(flatten(mul.getLhs(), inverse, decompose, out)) &&
                   succeeded(flatten(mul.getRhs(), inverse, decompose, out)));
  if (auto div = dyn_cast<arith::DivFOp>(op))
    return success(succeeded(flatten(div.getLhs(), inverse, decompose, out)) &&
                   succeeded(flatten(div.getRhs(), !inverse, decompose, out)));
  if (auto neg = dyn_cast<arith::NegFOp>(op)) {
    out.negate = !out.negate;
    return flatten(neg.getOperand(), inverse, decompose, out);
  }
  if (isa<arith::TruncFOp, arith::ExtFOp>(op))
    return flatten(op->getOperand(0), inverse, decompose, out);
  if (auto sel = dyn_cast<arith::SelectOp>(op)) {
    if (inverse)
      return failure();
    if (isZeroConstant(sel.getTrueValue())) {
      out.gates.push_back({sel.getCondition(), true});
      return flatten(sel.getFalseValue(), inverse, decompose, out);
    }
    if (isZeroConstant(sel.getFalseValue())) {
      out.gates.push_back({sel.getCondition(), false});
      return flatten(sel.getTrueValue(), inverse, decompose, out);
    }
    return failure();
  }
  if (auto exp = dyn_cast<math::ExpOp>(op)) {
    if (inverse)
      return failure();
    if (auto sub = exp.getOperand().getDefiningOp<arith::SubFOp>())
      out.exps.push_back({sub.getLhs(), sub.getRhs(), op});
    else
      out.exps.push_back({exp.getOperand(), Value(), op});
    return success();
  }
  return failure();
}

} // namespace

FailureOr<ProductForm> flattenProduct(Value y, function_ref<bool(Value)> decompose) {
  ProductForm form;
  if (failed(flatten(y, /*inverse=*/false, decompose, form)))
    return failure();
  return form;
}

unsigned Dependence::of(Value v) {
  if (auto it = memo.find(v); it != memo.end())
    return it->second;
  unsigned bits = 0;
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    // Arguments of the analysed block carry their class; values from above carry none.
    if (arg.getOwner() == body && arg.getArgNumber() < argClass.size())
      bits = argClass[arg.getArgNumber()];
  } else if (Operation *op = v.getDefiningOp(); op && body->getParent()->isAncestor(op->getParentRegion())) {
    for (Value operand : op->getOperands())
      bits |= of(operand);
  }
  memo[v] = bits;
  return bits;
}

SmallVector<Operation *> sliceInRegion(Region &region, ArrayRef<Value> roots) {
  DenseSet<Operation *> needed;
  SmallVector<Value> work(roots.begin(), roots.end());
  while (!work.empty()) {
    Value v = work.pop_back_val();
    Operation *op = v.getDefiningOp();
    if (!op || op->getParentRegion() != &region || !needed.insert(op).second)
      continue;
    for (Value operand : op->getOperands())
      work.push_back(operand);
  }
  SmallVector<Operation *> ordered;
  for (Operation &op : region.front())
    if (needed.contains(&op))
      ordered.push_back(&op);
  return ordered;
}

} // namespace tilefuse::fusion
