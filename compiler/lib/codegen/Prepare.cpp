//===- Prepare.cpp - phase 0: a copy of the program, shaped for registers ---===//
#include "Prepare.h"

#include "blk/BlkDialect.h"


#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"

using namespace mlir;
using namespace tilefuse::blk;

namespace tilefuse::codegen {

namespace {

/// The constant a value is (an arith.constant, or a value already folded); null when it is not one.
Attribute constantOf(Value v, const llvm::DenseMap<Value, Attribute> &known) {
  if (auto it = known.find(v); it != known.end())
    return it->second;
  Attribute a;
  if (matchPattern(v, m_Constant(&a)))
    return a;
  return {};
}

/// f(c) for a one-input blk.map f: its region folded with the argument bound to c. Null when some op
/// of the region does not fold to a constant (it reads a value from above, a table, or has no folder).
Attribute foldMapAt(MapOp map, Attribute c) {
  Block &body = map.getBody().front();
  llvm::DenseMap<Value, Attribute> known;
  known[body.getArgument(0)] = c;
  for (Operation &op : body.without_terminator()) {
    if (op.getNumResults() != 1 || op.getNumRegions() != 0 || !isPure(&op))
      return {};
    SmallVector<Attribute> operands;
    for (Value in : op.getOperands()) {
      Attribute a = constantOf(in, known);
      if (!a)
        return {};
      operands.push_back(a);
    }
    SmallVector<OpFoldResult> folded;
    if (failed(op.fold(operands, folded)) || folded.size() != 1)
      return {};
    Attribute a = isa<Attribute>(folded[0]) ? cast<Attribute>(folded[0]) : constantOf(cast<Value>(folded[0]), known);
    if (!a)
      return {};
    known[op.getResult(0)] = a;
  }
  return constantOf(body.getTerminator()->getOperand(0), known);
}

/// The scalar constant every element of a blk.fill tile holds; null for anything else.
Attribute fillConstant(Value tile) {
  auto fill = tile.getDefiningOp<FillOp>();
  Attribute a;
  if (fill && matchPattern(fill.getValue(), m_Constant(&a)))
    return a;
  return {};
}

// select(m, f(x), fill(f(c))) = f(select(m, x, fill(c)))      (a mask commutes with an element-wise f)
// and the same with the map in the false operand. Where m holds, both sides read f(x); where it does
// not, both read f(c) (f folded at c must give exactly the fill's constant, bit for bit). Rewritten
// only when select(m, x, fill(c)) is already computed before `sel`: then the mask is applied to x once
// and f reads the masked tile, instead of the mask being evaluated again (and its predicates kept live
// from one use to the other) for f(x).
LogicalResult selectOfMap(SelectOp sel, DominanceInfo &dom, RewriterBase &rewriter) {
  for (unsigned side : {1u, 2u}) { // operand index of the map: 1 = true value, 2 = false value
    auto map = sel->getOperand(side).getDefiningOp<MapOp>();
    Attribute fc = fillConstant(sel->getOperand(3 - side));
    if (!map || !fc || map.getInputs().size() != 1)
      continue;
    Value x = map.getInputs()[0];
    for (Operation *user : sel.getCondition().getUsers()) {
      auto masked = dyn_cast<SelectOp>(user);
      if (!masked || masked == sel || masked.getCondition() != sel.getCondition() ||
          masked->getOperand(side) != x || !dom.properlyDominates(masked.getOperation(), sel.getOperation()))
        continue;
      Attribute c = fillConstant(masked->getOperand(3 - side));
      if (!c || foldMapAt(map, c) != fc)
        continue;
      rewriter.setInsertionPoint(sel);
      IRMapping mapping;
      mapping.map(x, masked.getResult());
      Operation *onMasked = rewriter.clone(*map, mapping);
      rewriter.replaceOp(sel, onMasked->getResults());
      if (map->use_empty())
        rewriter.eraseOp(map);
      return success();
    }
  }
  return failure();
}

} // namespace

OwningOpRef<func::FuncOp> prepare(func::FuncOp fused) {
  OwningOpRef<func::FuncOp> copy(fused.clone());
  IRRewriter rewriter(copy->getContext());
  for (bool changed = true; changed;) {
    changed = false;
    DominanceInfo dom(*copy);
    SmallVector<SelectOp> selects;
    copy->walk([&](SelectOp s) { selects.push_back(s); });
    for (SelectOp s : selects)
      changed |= succeeded(selectOfMap(s, dom, rewriter));
  }
  return copy;
}

} // namespace tilefuse::codegen
