//===- Prepare.cpp - phase 0: a copy of the program, shaped for registers ---===//
#include "Prepare.h"

#include "blk/BlkDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallPtrSet.h"

#include <cmath>

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

/// c when `map` is y = x * c: the yielded value an arith.mulf of one argument x (`xArg`) and a
/// finite f32 constant c > 0; the other arguments unused. Null otherwise.
FloatAttr positiveScale(MapOp map, unsigned &xArg) {
  if (map->getNumResults() != 1)
    return {};
  Block &body = map.getBody().front();
  auto mul = cast<YieldOp>(body.getTerminator()).getValue().getDefiningOp<arith::MulFOp>();
  if (!mul || !mul.getType().isF32())
    return {};
  Value x, k;
  for (auto [a, b] : {std::pair{mul.getLhs(), mul.getRhs()}, std::pair{mul.getRhs(), mul.getLhs()}})
    if (auto arg = dyn_cast<BlockArgument>(a); arg && arg.getOwner() == &body && !x)
      x = a, k = b;
  FloatAttr c;
  if (!x || !matchPattern(k, m_Constant(&c)) || !c.getValue().isNormal() || c.getValue().isNegative())
    return {};
  for (BlockArgument arg : body.getArguments())
    if (arg != x && !arg.use_empty())
      return {};
  xArg = cast<BlockArgument>(x).getArgNumber();
  return c;
}

/// Whether `a` is the float -inf.
bool isMinusInf(Attribute a) {
  auto f = dyn_cast_or_null<FloatAttr>(a);
  return f && f.getValue().isInfinity() && f.getValue().isNegative();
}

/// Whether `v` is an arith.constant -inf.
bool isMinusInfConstant(Value v) {
  Attribute a;
  return matchPattern(v, m_Constant(&a)) && isMinusInf(a);
}

/// Whether `tile` is a fill of -inf.
bool isMinusInfFill(Value tile) { return isMinusInf(fillConstant(tile)); }

/// Whether every use of argument `i` of `map` is a ∈ exp(a - b) (the a of an arith.subf whose only use
/// is a math.exp on f32).
bool onlyExpDiffLhs(MapOp map, unsigned i) {
  Value arg = map.getBody().front().getArgument(i);
  for (OpOperand &use : arg.getUses()) {
    auto sub = dyn_cast<arith::SubFOp>(use.getOwner());
    if (!sub || use.getOperandNumber() != 0 || !sub.getResult().hasOneUse())
      return false;
    auto exp = dyn_cast<math::ExpOp>(*sub->getUsers().begin());
    if (!exp || !exp.getType().isF32())
      return false;
  }
  return true;
}

/// Whether `t` is the online softmax's safe maximum b' = select(b == -inf, k, b) with k a finite
/// constant: b' is never -inf.
bool neverMinusInf(Value t) {
  auto sel = t.getDefiningOp<arith::SelectOp>();
  auto cmp = sel ? sel.getCondition().getDefiningOp<arith::CmpFOp>() : arith::CmpFOp();
  FloatAttr k;
  return cmp && cmp.getPredicate() == arith::CmpFPredicate::OEQ && cmp.getLhs() == sel.getFalseValue() &&
         isMinusInfConstant(cmp.getRhs()) && matchPattern(sel.getTrueValue(), m_Constant(&k)) && k.getValue().isFinite();
}

/// Whether `map` yields exp(a - b') for a its argument i, read nowhere else, and b' never -inf
/// (neverMinusInf): at a = -inf it yields exp(-inf) = +0 for every b' but NaN.
bool expOfArgumentMinusSafeMax(MapOp map, unsigned i) {
  if (map->getNumResults() != 1 || !onlyExpDiffLhs(map, i))
    return false;
  Block &body = map.getBody().front();
  auto exp = cast<YieldOp>(body.getTerminator()).getValue().getDefiningOp<math::ExpOp>();
  auto sub = exp ? exp.getOperand().getDefiningOp<arith::SubFOp>() : arith::SubFOp();
  return sub && sub.getLhs() == body.getArgument(i) && neverMinusInf(sub.getRhs());
}

/// Whether `fill` is a fill of +0.
bool isPlusZeroFill(Value fill) {
  auto f = dyn_cast_or_null<FloatAttr>(fillConstant(fill));
  return f && f.getValue().isPosZero();
}

/// Whether every reader of `v` is select(g, ., fill(+0)) (collected in `guards`), or a one-input map f with
/// f(+0) = +0 (bf16 rounding: P) whose readers all are.
bool readOnlyUnderGuard(Value v, Value g, SmallVectorImpl<SelectOp> &guards, int depth = 0) {
  if (depth > 4 || v.use_empty())
    return false;
  for (OpOperand &use : v.getUses()) {
    if (auto sel = dyn_cast<SelectOp>(use.getOwner())) {
      if (sel.getCondition() != g || use.getOperandNumber() != 1 || !isPlusZeroFill(sel.getFalseValue()))
        return false;
      guards.push_back(sel);
      continue;
    }
    auto map = dyn_cast<MapOp>(use.getOwner());
    auto elem = cast<TileType>(v.getType()).getElementType();
    if (!map || map.getInputs().size() != 1 || !isa<FloatType>(elem))
      return false;
    auto z = dyn_cast_or_null<FloatAttr>(foldMapAt(map, FloatAttr::get(elem, 0.0)));
    if (!z || !z.getValue().isPosZero() || !readOnlyUnderGuard(map.getResult(), g, guards, depth + 1))
      return false;
  }
  return true;
}

// The tail guard g (kv_idx < Sk on a tile that runs past Sk: the tiling rule's guards before each reduction
// and contraction) applied once, before the exponential, instead of after it:
//   exp(v - b')                       -> exp(select(g, v, fill(-inf)) - b')   (the row max's input, already
//                                        computed: where g fails it is -inf, and exp(-inf - b') = +0)
//   select(g, exp(..), fill(+0))      -> exp(..)          (the row sum's input)
//   select(g, bf16(exp(..)), fill(+0)) -> bf16(exp(..))   (P, the P V product's input)
// for b' the safe maximum, never -inf (neverMinusInf). Every value read where g holds is unchanged. Where
// g fails the exponential is +0 as the selects made it, for every b' but NaN; b' is NaN only when a score
// of the row is NaN, and then that row's O and LSE are NaN either way (its in-bounds P elements are NaN).
// With mergeGuardIntoMask below, a partial tile's per-element work drops from mask, compare and select for
// the max, compare and select after exp, to one select of the merged predicate.
LogicalResult guardBeforeExp(SelectOp smax, DominanceInfo &dom, RewriterBase &rewriter) {
  if (!isMinusInfFill(smax.getFalseValue()))
    return failure();
  Value g = smax.getCondition(), v = smax.getTrueValue();
  SmallVector<std::pair<MapOp, unsigned>> exps;
  for (OpOperand &use : v.getUses()) {
    if (use.getOwner() == smax.getOperation())
      continue;
    auto e = dyn_cast<MapOp>(use.getOwner());
    if (!e || !expOfArgumentMinusSafeMax(e, use.getOperandNumber()) ||
        !dom.properlyDominates(smax.getOperation(), e.getOperation()))
      return failure();
    exps.push_back({e, use.getOperandNumber()});
  }
  SmallVector<SelectOp> guards;
  for (auto [e, i] : exps)
    if (!readOnlyUnderGuard(e.getResult(), g, guards))
      return failure();
  if (exps.empty() || guards.empty())
    return failure();
  for (auto [e, i] : exps)
    rewriter.modifyOpInPlace(e, [&, e = e, i = i] { e->setOperand(i, smax.getResult()); });
  for (SelectOp s : guards)
    rewriter.replaceOp(s, s.getTrueValue());
  return success();
}

// select(g, select(m, x, fill(c)), fill(c)) -> select(m && g, x, fill(c)), the inner select read by nothing
// else and m, g maps (of position tiles) that no run-time block mask evaluates: one map computes both
// predicates, so each element costs one select (and on sm90 one 32-bit compare per position bound,
// ElementCode's affine compares) where it cost two selects. Exact: both sides are x where m and g hold and
// c elsewhere. The map is built here, as the scale rule builds its own: fusion's buildMap (BlkBuild.h) is
// private to the fusion library, which codegen does not link.
LogicalResult mergeGuardIntoMask(SelectOp outer, RewriterBase &rewriter) {
  auto inner = outer.getTrueValue().getDefiningOp<SelectOp>();
  if (!inner || !inner->hasOneUse() || inner->getBlock() != outer->getBlock())
    return failure();
  Attribute c = fillConstant(outer.getFalseValue());
  if (!c || fillConstant(inner.getFalseValue()) != c)
    return failure();
  auto m = inner.getCondition().getDefiningOp<MapOp>(), g = outer.getCondition().getDefiningOp<MapOp>();
  // A run-time block mask's classification kernel evaluates the tagged maps one by one (BlockMask.cpp).
  if (!m || !g || m.getType() != g.getType() || m->hasAttr(kRuntimeMaskAttrName) || g->hasAttr(kRuntimeMaskAttrName))
    return failure();
  SmallVector<Value> inputs(m.getInputs());
  for (Value in : g.getInputs())
    if (!llvm::is_contained(inputs, in))
      inputs.push_back(in);
  rewriter.setInsertionPoint(outer);
  auto both = rewriter.create<MapOp>(outer.getLoc(), m.getType(), inputs);
  SmallVector<Type> argTypes;
  SmallVector<Location> argLocs;
  for (Value in : inputs) {
    argTypes.push_back(cast<TileType>(in.getType()).getElementType());
    argLocs.push_back(in.getLoc());
  }
  Block *body = rewriter.createBlock(&both.getBody(), {}, argTypes, argLocs);
  auto inlineBody = [&](MapOp from) {
    IRMapping mapping;
    Block &src = from.getBody().front();
    for (auto [k, in] : llvm::enumerate(from.getInputs()))
      mapping.map(src.getArgument(k), body->getArgument(llvm::find(inputs, in) - inputs.begin()));
    for (Operation &op : src.without_terminator())
      rewriter.clone(op, mapping);
    return mapping.lookupOrDefault(cast<YieldOp>(src.getTerminator()).getValue()); // may be defined outside (mask "true")
  };
  Value pm = inlineBody(m), pg = inlineBody(g);
  Value pred = rewriter.create<arith::AndIOp>(outer.getLoc(), pm, pg);
  rewriter.create<YieldOp>(outer.getLoc(), pred);
  rewriter.modifyOpInPlace(outer, [&] {
    outer->setOperand(0, both.getResult());
    outer->setOperand(1, inner.getTrueValue());
  });
  rewriter.eraseOp(inner);
  for (MapOp dead : {m, g})
    if (dead->use_empty())
      rewriter.eraseOp(dead);
  return success();
}

// A positive scale pushed through max and into exp, for y = c * x (c a constant > 0) whose values, and
// those of selects of y against a fill of -inf, are read only by row maxima and as the a of exp(a - b):
//   select(m, c*x, fill(-inf))   = c * select(m, x, fill(-inf))   (c * -inf = -inf)
//   max_j (c * x_j)              = c * max_j x_j                   (x -> c*x is monotone in floats too:
//                                  rounding to nearest is monotone, so the same element wins, bit for
//                                  bit; c*x is NaN exactly when x is, so NaN propagates alike)
//   exp(c*x - b)                 the map reads x and multiplies by c itself
// Every value the program computes is kept (the row maxima are still c * max); the tile c*x is no
// longer formed: the scale is applied once per row to the maximum and, per element, inside exp(c*x - b),
// which the CUDA writer emits as one FFMA with the coefficient c*log2(e) (tfcg::exp_diff_scaled).
// Not rewritten when any value of the chain has another reader (a score_mod map, a store, ...).
LogicalResult scaleThroughMaxAndExp(MapOp scale, RewriterBase &rewriter) {
  unsigned xArg = 0;
  FloatAttr c = positiveScale(scale, xArg);
  if (!c)
    return failure();
  Value x = scale.getInputs()[xArg];
  // The chain: y, then selects of chain values against fill(-inf), in program order per use.
  SmallVector<Value> chain{scale.getResult()};
  SmallVector<ReduceOp> maxima;
  SmallVector<std::pair<MapOp, unsigned>> exps;
  for (size_t k = 0; k < chain.size(); ++k) {
    for (OpOperand &use : chain[k].getUses()) {
      Operation *user = use.getOwner();
      if (auto sel = dyn_cast<SelectOp>(user)) {
        unsigned n = use.getOperandNumber();
        if (n == 0 || !isMinusInfFill(sel->getOperand(3 - n)) || sel->getOperand(1) == sel->getOperand(2))
          return failure();
        chain.push_back(sel.getResult());
      } else if (auto red = dyn_cast<ReduceOp>(user)) {
        if (red.getKind() != ReduceKind::max)
          return failure();
        maxima.push_back(red);
      } else if (auto map = dyn_cast<MapOp>(user)) {
        if (!onlyExpDiffLhs(map, use.getOperandNumber()))
          return failure();
        exps.push_back({map, use.getOperandNumber()});
      } else {
        return failure();
      }
    }
  }
  if (maxima.empty() && exps.empty())
    return failure();
  // The unscaled counterpart of every chain value: x for y, the same select of x for a select of y.
  IRMapping unscaled;
  unscaled.map(scale.getResult(), x);
  for (size_t k = 1; k < chain.size(); ++k) {
    Operation *sel = chain[k].getDefiningOp();
    rewriter.setInsertionPoint(sel);
    unscaled.map(chain[k], rewriter.clone(*sel, unscaled)->getResult(0));
  }
  // In `map`, argument i now reads x where it read c * x: the region multiplies by c itself.
  auto scaleArgument = [&](MapOp map, unsigned i, Value x) {
    Block &body = map.getBody().front();
    BlockArgument arg = body.getArgument(i);
    rewriter.modifyOpInPlace(map, [&] { map->setOperand(i, x); });
    rewriter.setInsertionPointToStart(&body);
    Value k = rewriter.create<arith::ConstantOp>(map.getLoc(), c);
    Value y = rewriter.create<arith::MulFOp>(map.getLoc(), arg, k);
    rewriter.replaceAllUsesExcept(arg, y, y.getDefiningOp());
  };
  for (ReduceOp red : maxima) {
    rewriter.setInsertionPoint(red);
    Operation *raw = rewriter.clone(*red, unscaled);
    // A row maximum read once, by a map (the running max: max(m, c * max_j x_j)): that map scales it.
    if (red.getResult().hasOneUse())
      if (auto user = dyn_cast<MapOp>(*red.getResult().getUsers().begin());
          user && llvm::count(user.getInputs(), red.getResult()) == 1) {
        unsigned i = red.getResult().getUses().begin()->getOperandNumber();
        scaleArgument(user, i, raw->getResult(0));
        rewriter.eraseOp(red);
        continue;
      }
    // c * max, a map of the row vector.
    Type rowType = red.getResult().getType();
    auto scaled = rewriter.create<MapOp>(red.getLoc(), rowType, ValueRange{raw->getResult(0)});
    Block *body = rewriter.createBlock(&scaled.getBody(), {}, {rewriter.getF32Type()}, {red.getLoc()});
    Value k = rewriter.create<arith::ConstantOp>(red.getLoc(), c);
    Value y = rewriter.create<arith::MulFOp>(red.getLoc(), body->getArgument(0), k);
    rewriter.create<YieldOp>(red.getLoc(), y);
    rewriter.setInsertionPointAfter(scaled);
    rewriter.replaceOp(red, scaled.getResult());
  }
  for (auto [map, i] : exps)
    scaleArgument(map, i, unscaled.lookup(map->getOperand(i)));
  for (size_t k = chain.size(); k-- > 1;)
    if (chain[k].use_empty())
      rewriter.eraseOp(chain[k].getDefiningOp());
  if (scale->use_empty())
    rewriter.eraseOp(scale);
  return success();
}

/// Whether `v`, a scalar of `map`'s region that holds a running max (or a value derived from one by the
/// -inf guards), is read only as a reference point: in exp(a - b) (either side: the exponential's
/// argument, alpha = exp(m - m')), in equality tests with -inf or with another row value (m == m'; not
/// with a score, which would pick out the max's element), by selects whose results are read the same
/// way, and as the m of m + log(l) (the LSE). Every such reader gives the same result for any reference
/// m'' >= m - tau, provided the sums it feeds are rescaled with it (lazyRunningMax).
bool readAsReference(MapOp map, Value v, int depth = 0) {
  if (depth > 6)
    return false;
  for (OpOperand &use : v.getUses()) {
    Operation *user = use.getOwner();
    if (auto cmp = dyn_cast<arith::CmpFOp>(user)) {
      if (cmp.getPredicate() != arith::CmpFPredicate::OEQ)
        return false;
      Value other = cmp->getOperand(1 - use.getOperandNumber());
      const bool minusInf = isMinusInfConstant(other);
      auto arg = dyn_cast<BlockArgument>(other);
      Value in = arg && arg.getOwner() == &map.getBody().front() ? map.getInputs()[arg.getArgNumber()] : Value();
      const bool rowValue = in && (cast<TileType>(in.getType()).getRank() == 1 || in.getDefiningOp<BroadcastOp>());
      if (!minusInf && !rowValue)
        return false;
    } else if (auto sel = dyn_cast<arith::SelectOp>(user)) {
      if (use.getOperandNumber() == 0 || !readAsReference(map, sel.getResult(), depth + 1))
        return false;
    } else if (auto sub = dyn_cast<arith::SubFOp>(user)) {
      if (!sub.getResult().hasOneUse() || !isa<math::ExpOp>(*sub->getUsers().begin()))
        return false;
    } else if (auto add = dyn_cast<arith::AddFOp>(user)) {
      if (!add->getOperand(1 - use.getOperandNumber()).getDefiningOp<math::LogOp>())
        return false;
    } else {
      return false;
    }
  }
  return true;
}

/// The block argument of `loop` carried in position `pos` of its iter_args, or null.
BlockArgument iterArgAt(scf::ForOp loop, unsigned pos) {
  return pos < loop.getRegionIterArgs().size() ? loop.getRegionIterArgs()[pos] : BlockArgument();
}

/// Whether `map` is a running-max update m' = max(m, y) with m argument `mArg`, the iter_arg `m` of an
/// scf.for around it.
bool isRunningMaxUpdate(MapOp map, unsigned &mArg) {
  if (map->getNumResults() != 1 || map.getInputs().size() != 2 || cast<TileType>(map.getType()).getRank() != 1)
    return false;
  Block &body = map.getBody().front();
  Operation *max = cast<YieldOp>(body.getTerminator()).getValue().getDefiningOp();
  if (!isa_and_nonnull<arith::MaximumFOp, arith::MaxNumFOp>(max) || !max->getResult(0).getType().isF32())
    return false;
  for (unsigned k = 0; k < 2; ++k) {
    auto arg = dyn_cast<BlockArgument>(map.getInputs()[k]);
    auto loop = arg ? dyn_cast<scf::ForOp>(arg.getOwner()->getParentOp()) : scf::ForOp();
    if (!loop || arg.getArgNumber() == 0 || !llvm::is_contained(max->getOperands(), body.getArgument(k)) ||
        !body.getArgument(k).hasOneUse())
      continue;
    mArg = k;
    return true;
  }
  return false;
}

/// Whether every reader of the row vector `v` (a running max, a value carried in its place, or the
/// loop's final max) reads it as a reference point (readAsReference in a map, directly or broadcast), is
/// a running-max update of the same carried value, or passes it on through scf.yield to values that are
/// read the same way. `carried` is the iter_arg it takes the place of. Collects the maps that read it.
bool usedAsReference(Value v, BlockArgument carried, const SmallPtrSetImpl<Operation *> &lazyMaps,
                     SmallPtrSetImpl<Value> &seen, SmallVectorImpl<MapOp> &readers, int depth = 0) {
  if (depth > 16 || !seen.insert(v).second)
    return depth <= 16;
  for (OpOperand &use : v.getUses()) {
    Operation *user = use.getOwner();
    if (auto map = dyn_cast<MapOp>(user)) {
      unsigned mArg = 0;
      if ((isRunningMaxUpdate(map, mArg) && mArg == use.getOperandNumber() && v == carried) ||
          lazyMaps.contains(map))
        continue; // another branch's update of the same running max, or its lazy reference
      if (!readAsReference(map, map.getBody().front().getArgument(use.getOperandNumber())))
        return false;
      readers.push_back(map);
    } else if (auto bc = dyn_cast<BroadcastOp>(user)) {
      for (OpOperand &u : bc.getResult().getUses()) {
        auto map = dyn_cast<MapOp>(u.getOwner());
        if (!map || !readAsReference(map, map.getBody().front().getArgument(u.getOperandNumber())))
          return false;
      }
    } else if (auto yield = dyn_cast<scf::YieldOp>(user)) {
      const unsigned pos = use.getOperandNumber();
      Operation *parent = yield->getParentOp();
      if (auto ifOp = dyn_cast<scf::IfOp>(parent)) {
        if (!usedAsReference(ifOp.getResult(pos), carried, lazyMaps, seen, readers, depth + 1))
          return false;
      } else if (auto loop = dyn_cast<scf::ForOp>(parent)) {
        if (iterArgAt(loop, pos) != carried || !usedAsReference(loop.getResult(pos), carried, lazyMaps, seen, readers, depth + 1))
          return false;
      } else {
        return false;
      }
    } else {
      return false;
    }
  }
  return true;
}

// FlashAttention-4's conditional rescaling (Dao et al. 2025; described in Modal's "We reverse-engineered
// Flash Attention 4", 2025): the online softmax's reference moves only when the running max has moved
// enough to matter for the range of exp:
//   m' = max(m, y)   ->   m'' = m' > m + tau ? m' : m,   tau = 8 ln 2,   every reader of m' reads m''.
// The online normalization rule (fusion/OnlineNormalization.cpp) makes each carried sum a sum against the
// carried reference, whatever value it holds, because alpha = exp(m - m'') moves it from one reference to
// the next; O / l and the LSE m + log(l) do not depend on the reference. So the rule keeps the results up to
// rounding when every reader of the running max reads it as a reference (usedAsReference: exp(a - b),
// equality tests, the LSE's m + log(l); a store of the max itself, or any other reader, keeps the rule off).
// The carried value lags the true max by at most tau, so exp(x - m'') <= e^tau = 256: far inside the f32,
// bf16 and f16 ranges. Where it does not move, alpha is exactly 1 (the alpha map's m == m'' test), and the
// rescale O *= alpha is tagged (kLazyRescaleAttrName): the writer emits it under a warp vote, skipped when
// alpha is 1 on every row of the warp, which after the first K/V tiles is nearly always the case: 64 FMULs
// per thread and tile at D128. Applied for the sm90 backend when the schedule asks (Schedule::lazyRescale).
/// tau of lazyRunningMax: how far the carried reference may lag the row max, 8 ln 2 (terms exp(x - m'') <= 256).
const double kLazyMaxLag = 8.0 * std::log(2.0);

LogicalResult lazyRunningMax(MapOp update, SmallPtrSetImpl<Operation *> &lazyMaps, RewriterBase &rewriter) {
  unsigned mArg = 0;
  if (!isRunningMaxUpdate(update, mArg))
    return failure();
  auto carried = cast<BlockArgument>(update.getInputs()[mArg]);
  Value mNew = update.getResult();
  SmallPtrSet<Value, 8> seen;
  SmallVector<MapOp> readers;
  if (!usedAsReference(mNew, carried, lazyMaps, seen, readers) ||
      !usedAsReference(carried, carried, lazyMaps, seen, readers))
    return failure();
  // The rescale factor: a reader of both the carried value and m'.
  SmallVector<MapOp> alphas;
  for (MapOp r : readers)
    if (llvm::is_contained(r.getInputs(), carried) && llvm::is_contained(r.getInputs(), mNew) &&
        cast<TileType>(r.getType()).getRank() == 1)
      alphas.push_back(r);
  if (alphas.empty())
    return failure();
  Location loc = update.getLoc();
  rewriter.setInsertionPointAfter(update);
  auto lazy = rewriter.create<MapOp>(loc, mNew.getType(), ValueRange{carried, mNew});
  Block *body = rewriter.createBlock(&lazy.getBody(), {}, {rewriter.getF32Type(), rewriter.getF32Type()}, {loc, loc});
  Value tau = rewriter.create<arith::ConstantOp>(loc, rewriter.getF32FloatAttr(static_cast<float>(kLazyMaxLag)));
  Value bound = rewriter.create<arith::AddFOp>(loc, body->getArgument(0), tau);
  Value moved = rewriter.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGT, body->getArgument(1), bound);
  Value ref = rewriter.create<arith::SelectOp>(loc, moved, body->getArgument(1), body->getArgument(0));
  rewriter.create<YieldOp>(loc, ref);
  rewriter.replaceAllUsesExcept(mNew, lazy.getResult(), lazy.getOperation());
  lazyMaps.insert(lazy);
  // Tag the accumulators' rescale: x * broadcast(alpha), a tile.
  for (MapOp alpha : alphas)
    for (Operation *u : alpha.getResult().getUsers())
      if (auto bc = dyn_cast<BroadcastOp>(u))
        for (Operation *m : bc.getResult().getUsers())
          if (auto mul = dyn_cast<MapOp>(m); mul && mul.getInputs().size() == 2)
            mul->setAttr(kLazyRescaleAttrName, rewriter.getUnitAttr());
  return success();
}

// An op of a blk.map region that reads no element argument computes the same value at every element:
// it moves in front of the map, so the kernel computes it once per map instead of once per element
// (ALiBi's slopes[h], read 64 times per thread and tile when left in the region). Moved: pure ops
// without regions and blk.read, whose tables no kernel writes (a map region holds no write, so the
// read moves past nothing). Constants stay, as literals of the element code. In program order, so a
// chain of such ops (a read, then a product with it) moves whole.
void hoistElementInvariants(MapOp map) {
  Block &body = map.getBody().front();
  for (Operation &op : llvm::make_early_inc_range(body.without_terminator())) {
    if (op.getNumRegions() != 0 || isa<arith::ConstantOp>(op) || !(isPure(&op) || isa<ReadOp>(op)))
      continue;
    if (llvm::any_of(op.getOperands(), [&](Value v) { return v.getParentBlock() == &body; }))
      continue;
    op.moveBefore(map);
    // On out of the scf.if / scf.for around it while it reads nothing they define: once per kernel
    // (slopes[h]) rather than once per K/V tile, and off the path from the S = Q K^T wait to the
    // softmax. A read leaves a region only if no blk.store in it writes the table (none does: stores
    // write O and LSE); executing it where the if would have skipped it is harmless (no fault, no effect).
    for (Operation *parent = op.getParentOp(); isa<scf::ForOp, scf::IfOp>(parent); parent = op.getParentOp()) {
      if (llvm::any_of(op.getOperands(), [&](Value v) { return parent->isAncestor(v.getParentBlock()->getParentOp()); }))
        break;
      if (auto read = dyn_cast<ReadOp>(op)) {
        bool written = false;
        parent->walk([&](StoreOp st) { written |= st.getDest() == read.getSource(); });
        if (written)
          break;
      }
      op.moveBefore(parent);
    }
  }
}

} // namespace

/// The row sum of a scan's input, taken before the scan (with the map that adds it to a running value): the
/// scan is then the input's last reader and may write its sums over it (Plan: in place), where a sum taken
/// later would keep the input live next to the scan's result. The tiling rule's carry update of a scan
/// carried across the K/V loop (docs/FUSION.md, rule 3) is such a sum: stick-breaking's z.
void sumBeforeScan(ScanOp scan) {
  Value in = scan.getInput();
  for (Operation *user : llvm::make_early_inc_range(in.getUsers())) {
    auto red = dyn_cast<ReduceOp>(user);
    if (!red || red.getKind() != scan.getKind() || red->getBlock() != scan->getBlock() ||
        !scan->isBeforeInBlock(red))
      continue;
    red->moveBefore(scan);
    if (!red.getResult().hasOneUse())
      continue;
    auto combine = dyn_cast<MapOp>(*red.getResult().getUsers().begin());
    if (!combine || combine->getBlock() != scan->getBlock())
      continue;
    const bool ready = llvm::all_of(combine.getInputs(), [&](Value v) {
      Operation *d = v.getDefiningOp();
      return !d || d == red.getOperation() || d->getBlock() != scan->getBlock() || d->isBeforeInBlock(scan);
    });
    if (ready)
      combine->moveAfter(red);
  }
}

namespace {

/// True when `v` is defined outside `kernel` or is a blk.dim of a function argument (recomputable there).
bool liftable(Value v, KernelOp kernel) {
  Operation *d = v.getDefiningOp();
  if (!d)
    return !kernel->isAncestor(cast<BlockArgument>(v).getOwner()->getParentOp());
  if (!kernel->isAncestor(d))
    return true;
  auto dim = dyn_cast<DimOp>(d);
  return dim && !kernel->isAncestor(dim.getSource().getParentBlock()->getParentOp());
}

/// Whether each iteration of `loop` writes its own chunk: every blk.store in it indexes some dim with the
/// induction variable and stores `step` elements along it, and no op of the kernel loads or reads a tensor
/// the loop stores, or stores it outside the loop (so no iteration reads or overwrites what another writes).
bool iterationsIndependent(scf::ForOp loop, KernelOp kernel, int64_t step) {
  llvm::SmallPtrSet<Value, 4> stored;
  bool ok = true;
  loop.getBody()->walk([&](StoreOp st) {
    stored.insert(st.getDest());
    auto tile = cast<TileType>(st.getValue().getType());
    const size_t rank = st.getIndices().size(), tileRank = tile.getRank();
    bool chunked = false;
    for (size_t k = 0; k < tileRank; ++k)
      chunked |= st.getIndices()[rank - tileRank + k] == loop.getInductionVar() && tile.getDimSize(k) == step;
    ok &= chunked;
  });
  kernel.walk([&](Operation *op) {
    if (auto load = dyn_cast<LoadOp>(op))
      ok &= !stored.contains(load.getSource());
    if (auto read = dyn_cast<ReadOp>(op))
      ok &= !stored.contains(read.getSource());
    // A store outside the loop would run in every program instance, racing with the other instances' chunks.
    if (auto st = dyn_cast<StoreOp>(op); st && !loop->isAncestor(op))
      ok &= !stored.contains(st.getDest());
  });
  return ok && !stored.empty();
}

} // namespace

void loopsOntoGrid(func::FuncOp func) {
  SmallVector<KernelOp> kernels;
  func.walk([&](KernelOp k) { kernels.push_back(k); });
  for (KernelOp kernel : kernels) {
    Block &body = kernel.getBodyBlock();
    for (Operation &op : llvm::make_early_inc_range(body)) {
      auto loop = dyn_cast<scf::ForOp>(op);
      if (!loop || loop.getNumResults() != 0 || kernel.getGrid().size() >= 3)
        continue;
      bool nested = false;
      loop.getBody()->walk([&](scf::ForOp inner) {
        nested |= llvm::any_of(inner.getResultTypes(), [](Type t) { return isa<TileType>(t); });
      });
      auto lb = getConstantIntValue(loop.getLowerBound()), step = getConstantIntValue(loop.getStep());
      if (!nested || !lb || *lb != 0 || !step || *step <= 0 || !liftable(loop.getUpperBound(), kernel) ||
          !iterationsIndependent(loop, kernel, *step))
        continue;
      // The trip count at function level: ceil(ub / step), a grid dim GridDimRule reads as ceil(F / step).
      OpBuilder b(kernel);
      Value ub = loop.getUpperBound();
      if (Operation *d = ub.getDefiningOp(); d && kernel->isAncestor(d))
        ub = b.clone(*d)->getResult(0);
      Value stepC = b.create<arith::ConstantIndexOp>(loop.getLoc(), *step);
      Value trips = b.create<arith::CeilDivUIOp>(loop.getLoc(), ub, stepC);
      kernel->insertOperands(0, trips);
      BlockArgument pid = body.insertArgument(0u, b.getIndexType(), loop.getLoc());
      // iv = pid * step; the body runs once, in place of the loop.
      OpBuilder in(loop);
      Value stepIn = in.create<arith::ConstantIndexOp>(loop.getLoc(), *step);
      Value iv = in.create<arith::MulIOp>(loop.getLoc(), pid, stepIn);
      loop.getInductionVar().replaceAllUsesWith(iv);
      loop.getBody()->getTerminator()->erase();
      body.getOperations().splice(Block::iterator(loop), loop.getBody()->getOperations());
      loop->erase();
    }
  }
}

namespace {

/// A blk.load into registers inside a tile loop becomes a load into shared memory and a blk.copy to
/// registers (ldmatrix): the shared load is then one the loop's cp.async pipeline prefetches.
void stageRegisterLoads(func::FuncOp func) {
  SmallVector<LoadOp> loads;
  func.walk([&](LoadOp l) {
    auto t = l.getResult().getType();
    if (t.getMemorySpace() == MemorySpace::reg && t.getRank() == 2 && l->getParentOfType<scf::ForOp>() &&
        (t.getElementType().isBF16() || t.getElementType().isF16()))
      loads.push_back(l);
  });
  for (LoadOp l : loads) {
    auto t = l.getResult().getType();
    OpBuilder b(l);
    auto smemType = TileType::get(t.getContext(), t.getShape(), t.getElementType(), MemorySpace::smem);
    auto shared = b.create<LoadOp>(l.getLoc(), smemType, l.getSource(), l.getIndices());
    auto copy = b.create<CopyOp>(l.getLoc(), t, shared.getResult());
    l.getResult().replaceAllUsesWith(copy.getResult());
    l->erase();
  }
}

/// Applies `rule` to the program's selects, walking them again after each success (a rule may erase
/// selects of the walk), until none succeeds.
template <typename Rule> void selectsToFixpoint(func::FuncOp f, Rule rule) {
  for (bool changed = true; changed;) {
    changed = false;
    DominanceInfo dom(f);
    SmallVector<SelectOp> selects;
    f.walk([&](SelectOp s) { selects.push_back(s); });
    for (SelectOp s : selects)
      if (succeeded(rule(s, dom))) {
        changed = true;
        break;
      }
  }
}

} // namespace

OwningOpRef<func::FuncOp> prepare(func::FuncOp fused, bool sm90, bool lazyRescale) {
  OwningOpRef<func::FuncOp> copy(fused.clone());
  loopsOntoGrid(*copy);
  stageRegisterLoads(*copy);
  copy->walk([](MapOp m) { hoistElementInvariants(m); });
  copy->walk([](ScanOp s) { sumBeforeScan(s); });
  IRRewriter rewriter(copy->getContext());
  // The tail guards before the select rule: it would move the guard of P onto the exp tile it removes. sm90
  // only: on sm80, NVRTC's ptxas then spilled Gemma-2's D256 kernel (244 -> 255 registers, 68 B).
  if (sm90)
    selectsToFixpoint(*copy, [&](SelectOp s, DominanceInfo &dom) {
      if (failed(guardBeforeExp(s, dom, rewriter)))
        return failure();
      (void)mergeGuardIntoMask(s, rewriter);
      return success();
    });
  selectsToFixpoint(*copy, [&](SelectOp s, DominanceInfo &dom) { return selectOfMap(s, dom, rewriter); });
  // The scale rule after the select rule: it keeps no select of the scaled tile that the select rule
  // would share.
  if (!sm90)
    return copy;
  SmallVector<MapOp> maps;
  copy->walk([&](MapOp m) { maps.push_back(m); });
  for (MapOp m : maps)
    (void)scaleThroughMaxAndExp(m, rewriter);
  // After the scale rule, which reads the running max's update as it was fused.
  if (!lazyRescale)
    return copy;
  maps.clear();
  copy->walk([&](MapOp m) { maps.push_back(m); });
  SmallPtrSet<Operation *, 4> lazyMaps;
  for (MapOp m : maps)
    (void)lazyRunningMax(m, lazyMaps, rewriter);
  return copy;
}

} // namespace tilefuse::codegen
