//===- LoopMerge.cpp - legality and mechanics of merging two scf.for loops -===//
#include "LoopMerge.h"

#include "Algebra.h"
#include "BlkBuild.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace tilefuse::fusion {

namespace {

/// Values `op` uses that are defined outside it (its operands and its regions' captures).
SmallVector<Value> valuesUsed(Operation *op) {
  SmallVector<Value> used(op->getOperands());
  op->walk([&](Operation *inner) {
    if (inner == op)
      return;
    for (Value v : inner->getOperands()) {
      Operation *scope = v.getDefiningOp() ? v.getDefiningOp()
                                           : v.getParentBlock()->getParentOp();
      if (!op->isAncestor(scope))
        used.push_back(v);
    }
  });
  return used;
}

bool sameRange(scf::ForOp a, scf::ForOp b) {
  StructuralEq eq;
  return eq.equal(a.getLowerBound(), b.getLowerBound()) &&
         eq.equal(a.getUpperBound(), b.getUpperBound()) && eq.equal(a.getStep(), b.getStep());
}

} // namespace

SmallVector<scf::ForOp> earlierSameRangeLoops(scf::ForOp loop) {
  SmallVector<scf::ForOp> r;
  for (Operation *op = loop->getPrevNode(); op; op = op->getPrevNode())
    if (auto f = dyn_cast<scf::ForOp>(op); f && sameRange(f, loop))
      r.push_back(f);
  return r;
}

std::string whyNotFusible(scf::ForOp first, scf::ForOp second, ArrayRef<Value> allowed,
                          SmallVectorImpl<Operation *> &hoist) {
  hoist.clear();
  if (first->getBlock() != second->getBlock() || !first->isBeforeInBlock(second))
    return "the loops are not in one block";
  if (!sameRange(first, second))
    return "the loops iterate over different ranges";
  DenseSet<Operation *> between;
  for (Operation *op = first->getNextNode(); op != second; op = op->getNextNode())
    between.insert(op);
  // 1. What `second` needs from between the loops, and whether it needs `first`'s results.
  DenseSet<Operation *> needed;
  SmallVector<std::pair<Value, bool>> work; // (value, used by the second loop itself)
  for (Value v : second->getOperands())
    work.push_back({v, false});
  for (Value v : valuesUsed(second))
    work.push_back({v, true});
  while (!work.empty()) {
    auto [v, inBody] = work.pop_back_val();
    Operation *def = v.getDefiningOp();
    if (def == first.getOperation()) {
      if (!inBody || !llvm::is_contained(allowed, v))
        return "the second loop needs a final value of the first";
      continue;
    }
    if (!def || !between.contains(def) || !needed.insert(def).second)
      continue;
    for (Value u : valuesUsed(def))
      work.push_back({u, false});
  }
  // 2. Those ops move above `first`: no writes, and nothing `first` writes read.
  TensorAccesses firstAcc, secondAcc, rest, moved;
  firstAcc.add(first);
  secondAcc.add(second);
  for (Operation *op = first->getNextNode(); op != second; op = op->getNextNode()) {
    if (needed.contains(op)) {
      if (!op->hasTrait<OpTrait::HasRecursiveMemoryEffects>() && !isMemoryEffectFree(op) &&
          !isa<blk::LoadOp, blk::ReadOp, blk::DimOp>(op))
        return "an op the second loop needs cannot move above the first loop";
      moved.add(op);
      hoist.push_back(op);
    } else {
      rest.add(op);
    }
  }
  if (!moved.writes.empty() || moved.unknown || moved.conflictsWith(firstAcc))
    return "an op the second loop needs cannot move above the first loop";
  // 3. The second loop now runs before the ops between the loops, and interleaved with the
  //    first: their HBM accesses must commute.
  if (firstAcc.conflictsWith(secondAcc))
    return "the loops access the same HBM tensor and one of them writes it";
  if (rest.conflictsWith(secondAcc))
    return "an op between the loops accesses an HBM tensor the second loop writes or reads";
  return "";
}

scf::ForOp mergeLoops(RewriterBase &rewriter, scf::ForOp first, scf::ForOp second,
                      ArrayRef<Operation *> hoist, const Rescale *rescale) {
  for (Operation *op : hoist)
    rewriter.moveOpBefore(op, first);
  SmallVector<Value> inits(first.getInitArgs());
  llvm::append_range(inits, second.getInitArgs());
  unsigned n1 = first.getNumRegionIterArgs();
  rewriter.setInsertionPoint(first);
  auto merged = rewriter.create<scf::ForOp>(
      first.getLoc(), first.getLowerBound(), first.getUpperBound(), first.getStep(), inits,
      [&](OpBuilder &b, Location loc, Value iv, ValueRange iters) {
        IRMapping map;
        map.map(first.getInductionVar(), iv);
        map.map(first.getRegionIterArgs(), iters.take_front(n1));
        for (Operation &op : first.getBody()->without_terminator())
          b.clone(op, map);
        SmallVector<Value> yields;
        for (Value v : first.getBody()->getTerminator()->getOperands())
          yields.push_back(map.lookupOrDefault(v));
        map.map(second.getInductionVar(), iv);
        map.map(second.getRegionIterArgs(), iters.drop_front(n1));
        if (rescale) {
          Value mOld = iters[rescale->maxIndex], mNew = yields[rescale->maxIndex];
          Value alpha = rescale->buildAlpha(b, loc, mOld, mNew);
          map.map(rescale->finalMax, mNew);
          for (unsigned k : rescale->scaled) {
            Value acc = iters[n1 + k];
            Value factor = alpha;
            if (tileOf(acc).getRank() == 2)
              factor = b.create<blk::BroadcastOp>(loc, tileOf(alpha).withShape(
                                                           tileOf(acc).getShape()),
                                                  alpha);
            Value scaled = buildMap(b, loc, {acc, factor}, tileOf(acc).getElementType(),
                                    [](OpBuilder &bb, Location l, ValueRange x) {
                                      return bb.create<arith::MulFOp>(l, x[0], x[1])
                                          .getResult();
                                    });
            map.map(second.getRegionIterArgs()[k], scaled);
          }
        }
        for (Operation &op : second.getBody()->without_terminator())
          b.clone(op, map);
        for (Value v : second.getBody()->getTerminator()->getOperands())
          yields.push_back(map.lookupOrDefault(v));
        b.create<scf::YieldOp>(loc, yields);
      });
  rewriter.replaceOp(second, merged.getResults().drop_front(n1));
  rewriter.replaceOp(first, merged.getResults().take_front(n1));
  return merged;
}

} // namespace tilefuse::fusion
