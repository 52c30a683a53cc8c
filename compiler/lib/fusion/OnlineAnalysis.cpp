//===- OnlineAnalysis.cpp - may a loop accumulate against a running max? --===//
#include "OnlineAnalysis.h"

#include "Algebra.h"
#include "BlkBuild.h"

#include "mlir/IR/IRMapping.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace tilefuse::fusion {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();
constexpr unsigned kMax = 1, kTerm = 2; // map argument classes: broadcast(m), rescaled term

/// The scalar op a two-input map region applies to its arguments, if that is all it does.
Operation *soleCombiner(blk::MapOp map) {
  Block &body = map.getBody().front();
  if (body.getOperations().size() != 2)
    return nullptr;
  Operation *op = &body.front();
  if (op->getNumOperands() != 2 || !llvm::all_of(op->getOperands(), [&](Value v) {
        return isa<BlockArgument>(v) && cast<BlockArgument>(v).getOwner() == &body;
      }))
    return nullptr;
  return op;
}

/// If `v` = map(acc, r){combine} with acc the loop's iter arg `iter`, the combine op and r.
std::pair<Operation *, Value> runningCombine(Value v, Value iter) {
  auto map = v.getDefiningOp<blk::MapOp>();
  if (!map || map.getInputs().size() != 2)
    return {};
  Operation *comb = soleCombiner(map);
  if (!comb)
    return {};
  Value a = map.getInputs()[0], b = map.getInputs()[1];
  if (a == iter)
    return {comb, b};
  if (b == iter)
    return {comb, a};
  return {};
}

/// Folds a scalar row function at constant inputs (arith / math on floats and i1).
std::optional<double> evalConst(Value v, DenseMap<Value, double> &env) {
  if (auto it = env.find(v); it != env.end())
    return it->second;
  if (std::optional<double> c = floatConstant(v))
    return c;
  Operation *op = v.getDefiningOp();
  if (!op)
    return std::nullopt;
  SmallVector<double> x;
  for (Value o : op->getOperands()) {
    std::optional<double> c = evalConst(o, env);
    if (!c)
      return std::nullopt;
    x.push_back(*c);
  }
  std::optional<double> r;
  if (auto cmp = dyn_cast<arith::CmpFOp>(op)) {
    using P = arith::CmpFPredicate;
    switch (cmp.getPredicate()) {
    case P::OEQ: case P::UEQ: r = x[0] == x[1]; break;
    case P::ONE: case P::UNE: r = x[0] != x[1]; break;
    case P::OLT: case P::ULT: r = x[0] < x[1]; break;
    case P::OLE: case P::ULE: r = x[0] <= x[1]; break;
    case P::OGT: case P::UGT: r = x[0] > x[1]; break;
    case P::OGE: case P::UGE: r = x[0] >= x[1]; break;
    default: break;
    }
  } else if (isa<arith::SelectOp>(op)) {
    r = x[0] != 0 ? x[1] : x[2];
  } else if (isa<arith::AddFOp>(op)) {
    r = x[0] + x[1];
  } else if (isa<arith::SubFOp>(op)) {
    r = x[0] - x[1];
  } else if (isa<arith::MulFOp>(op)) {
    r = x[0] * x[1];
  } else if (isa<arith::DivFOp>(op)) {
    r = x[0] / x[1];
  } else if (isa<arith::NegFOp>(op)) {
    r = -x[0];
  } else if (isa<arith::MaximumFOp, arith::MaxNumFOp>(op)) {
    r = std::fmax(x[0], x[1]);
  } else if (isa<arith::MinimumFOp, arith::MinNumFOp>(op)) {
    r = std::fmin(x[0], x[1]);
  } else if (isa<arith::ExtFOp, arith::TruncFOp>(op)) {
    r = x[0];
  }
  if (r)
    env[v] = *r;
  return r;
}

/// Checks that every use of the final max `m` in `second` is through terms that scale by
/// exactly exp(-c(m)) and flow only into accumulators (sums, matmul accumulators).
bool classifyTerms(scf::ForOp second, Value m, OnlinePlan &plan) {
  DenseSet<Value> bcast, terms;
  DenseMap<Value, unsigned> updates; // accumulated value -> iter arg index
  auto iterIndex = [&](Value v) -> std::optional<unsigned> {
    for (auto [i, a] : llvm::enumerate(second.getRegionIterArgs()))
      if (a == v)
        return i;
    return std::nullopt;
  };
  auto touches = [&](Value v) { return v == m || bcast.contains(v) || terms.contains(v); };
  auto fail = [&](Operation *op, const Twine &msg) {
    plan.why = ("'" + op->getName().getStringRef() + "' " + msg).str();
    return false;
  };
  for (Operation &op : second.getBody()->without_terminator()) {
    if (!llvm::any_of(op.getOperands(), touches))
      continue;
    if (auto bc = dyn_cast<blk::BroadcastOp>(op)) {
      bcast.insert(bc);
      continue;
    }
    if (auto map = dyn_cast<blk::MapOp>(op)) {
      // acc + r: a sum of terms.
      if (map.getInputs().size() == 2) {
        for (unsigned k = 0; k < 2; ++k) {
          std::optional<unsigned> i = iterIndex(map.getInputs()[k]);
          Operation *comb = soleCombiner(map);
          if (i && terms.contains(map.getInputs()[1 - k]) && comb && isa<arith::AddFOp>(comb)) {
            updates[map] = *i;
            break;
          }
        }
        if (updates.contains(map))
          continue;
      }
      SmallVector<unsigned> cls;
      for (Value in : map.getInputs()) {
        if (in == m || iterIndex(in))
          return fail(&op, "uses the running max or a carried value in a way rescaling "
                           "cannot follow");
        cls.push_back(bcast.contains(in) ? kMax : terms.contains(in) ? kTerm : 0);
      }
      Block &body = map.getBody().front();
      Dependence dep(&body, cls);
      Value y = cast<blk::YieldOp>(body.getTerminator()).getValue();
      FailureOr<ProductForm> form = flattenProduct(y, [&](Value v) { return dep.of(v) != 0; });
      if (failed(form))
        return fail(&op, "is not a product of exp(x - c(m)) and factors independent of m");
      unsigned active = 0;
      for (auto &leaf : form->leaves) {
        if (dep.of(leaf.value) == 0)
          continue;
        if (!isa<BlockArgument>(leaf.value) || dep.of(leaf.value) != kTerm || leaf.inverse)
          return fail(&op, "uses the running max outside an exp(x - c(m)) factor");
        ++active;
      }
      SmallVector<BlockArgument> maxArgs;
      for (auto [i, c] : llvm::enumerate(cls))
        if (c == kMax)
          maxArgs.push_back(body.getArgument(i));
      for (auto &e : form->exps) {
        if (!e.neg || dep.of(e.neg) != kMax || dep.of(e.pos) != 0)
          return fail(&op, "has an exponential that is not exp(x - c(m))");
        plan.sites.push_back({map, e.pos, e.neg, maxArgs});
        ++active;
      }
      for (auto &g : form->gates)
        if (dep.of(g.cond) != 0)
          return fail(&op, "zeroes terms depending on the running max");
      if (active != 1)
        return fail(&op, "is not linear in exp(-c(m))");
      terms.insert(map);
      continue;
    }
    if (auto sel = dyn_cast<blk::SelectOp>(op)) {
      Value t = sel.getTrueValue(), f = sel.getFalseValue();
      bool ok = !touches(sel.getCondition()) &&
                ((terms.contains(t) && (terms.contains(f) || fillConstant(f) == 0.0)) ||
                 (terms.contains(f) && fillConstant(t) == 0.0));
      if (!ok)
        return fail(&op, "selects between values that are not rescaled terms or 0");
      plan.zeroGates.push_back(sel.getCondition());
      terms.insert(sel);
      continue;
    }
    if (isa<blk::CopyOp>(op)) {
      terms.insert(op.getResult(0));
      continue;
    }
    if (auto red = dyn_cast<blk::ReduceOp>(op)) {
      if (red.getKind() != blk::ReduceKind::sum)
        return fail(&op, "takes the max of rescaled terms");
      terms.insert(red);
      continue;
    }
    if (auto mm = dyn_cast<blk::MatmulOp>(op)) {
      if (!terms.contains(mm.getLhs()) || touches(mm.getRhs()))
        return fail(&op, "contracts over the rows the running max scales");
      std::optional<unsigned> i = mm.getAcc() ? iterIndex(mm.getAcc()) : std::nullopt;
      if (i)
        updates[mm] = *i;
      else if (!mm.getAcc() || terms.contains(mm.getAcc()))
        terms.insert(mm);
      else
        return fail(&op, "adds a rescaled product to a value that is not rescaled");
      continue;
    }
    return fail(&op, "uses the running max");
  }
  // Each accumulated value is carried back into its own iter arg, used nowhere else.
  auto yield = cast<scf::YieldOp>(second.getBody()->getTerminator());
  for (auto [j, v] : llvm::enumerate(yield.getOperands())) {
    if (terms.contains(v) || bcast.contains(v) || v == m)
      return fail(yield, "carries a rescaled term without accumulating it");
    auto it = updates.find(v);
    if (it == updates.end())
      continue;
    if (it->second != j || !v.hasOneUse() || !second.getRegionIterArgs()[j].hasOneUse())
      return fail(yield, "uses an accumulator for something other than accumulating");
    plan.scaled.push_back(j);
  }
  if (plan.scaled.empty())
    return fail(second, "accumulates nothing that depends on the running max");
  return true;
}

} // namespace

OnlinePlan analyzeOnline(scf::ForOp second, Value m) {
  OnlinePlan plan;
  // 1. m must be the final value of a running max.
  auto first = m.getDefiningOp<scf::ForOp>();
  plan.first = first;
  unsigned k = cast<OpResult>(m).getResultNumber();
  plan.maxIndex = k;
  Value carried = first.getBody()->getTerminator()->getOperand(k);
  auto [comb, part] = runningCombine(carried, first.getRegionIterArgs()[k]);
  auto red = part ? part.getDefiningOp<blk::ReduceOp>() : blk::ReduceOp();
  if (!comb || !red) {
    plan.why = "it needs the final value of a value another loop carries";
    return plan;
  }
  if (!isa<arith::MaximumFOp, arith::MaxNumFOp>(comb) || red.getKind() != blk::ReduceKind::max) {
    plan.why = "it needs the final value of a running " +
               std::string(isa<arith::AddFOp>(comb) ? "sum" : "reduction") +
               " (not of a running max): the whole row must be reduced before the loop starts";
    return plan;
  }
  // 2. The terms depending on m scale by exp(-c(m)) and are accumulated.
  if (!classifyTerms(second, m, plan))
    return plan;
  // 3. One row function c, finite at -inf (c(-inf) = -inf makes exp(-inf - c) = NaN).
  ExpSite &s0 = plan.sites.front();
  for (ExpSite &s : plan.sites) {
    StructuralEq eq;
    for (auto [a, b] : llvm::zip(s.maxArgs, s0.maxArgs))
      eq.assume(a, b);
    if (!eq.equal(s.neg, s0.neg)) {
      plan.why = "its exponentials subtract different functions of the running max";
      return plan;
    }
  }
  DenseMap<Value, double> env;
  for (BlockArgument a : s0.maxArgs)
    env[a] = kNegInf;
  std::optional<double> cInf = evalConst(s0.neg, env);
  if (!cInf || !std::isfinite(*cInf)) {
    plan.why = "c(m) in exp(x - c(m)) is not finite at m = -inf, so a fully masked chunk "
               "would give exp(-inf + inf) = NaN (use the safe form m == -inf ? 0 : m)";
    return plan;
  }
  // 4. Each exponent's x is what the running max reduces (up to the zeroed positions), so
  //    x - m <= 0 and nothing overflows.
  Value x = red.getInput();
  StructuralEq eq;
  eq.assume(second.getInductionVar(), first.getInductionVar());
  for (;;) {
    auto sel = x.getDefiningOp<blk::SelectOp>();
    if (!sel || fillConstant(sel.getFalseValue()) != kNegInf ||
        !llvm::any_of(plan.zeroGates, [&](Value g) { return eq.equal(g, sel.getCondition()); }))
      break;
    x = sel.getTrueValue();
  }
  for (ExpSite &s : plan.sites) {
    auto arg = dyn_cast<BlockArgument>(s.pos);
    if (!arg || arg.getOwner() != &s.map.getBody().front() ||
        !eq.equal(s.map.getInputs()[arg.getArgNumber()], x)) {
      plan.why = "the exponent's argument is not the operand of the running max, so "
                 "exp(x - m_running) could overflow";
      return plan;
    }
  }
  return plan;
}

Value buildAlpha(OpBuilder &b, Location loc, ExpSite site, Value mOld, Value mNew) {
  Type elem = tileOf(mOld).getElementType();
  return buildMap(b, loc, {mOld, mNew}, elem, [&](OpBuilder &bb, Location l, ValueRange x) {
    auto cOf = [&](Value m) {
      IRMapping map;
      for (BlockArgument a : site.maxArgs)
        map.map(a, m);
      for (Operation *op : sliceInRegion(site.map.getBody(), site.neg))
        bb.clone(*op, map);
      return map.lookupOrDefault(site.neg);
    };
    Value cOld = cOf(x[0]);
    Value cNew = cOf(x[1]);
    Value d = bb.create<arith::SubFOp>(l, cOld, cNew);
    Value e = bb.create<math::ExpOp>(l, d);
    Value ninf = floatConst(bb, l, elem, kNegInf);
    Value empty = bb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, x[0], ninf);
    Value g = bb.create<arith::SelectOp>(l, empty, floatConst(bb, l, elem, 0.0), e);
    Value same = bb.create<arith::CmpFOp>(l, arith::CmpFPredicate::OEQ, x[0], x[1]);
    return bb.create<arith::SelectOp>(l, same, floatConst(bb, l, elem, 1.0), g).getResult();
  });
}

} // namespace tilefuse::fusion
