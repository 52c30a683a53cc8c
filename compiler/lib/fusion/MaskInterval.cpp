//===- MaskInterval.cpp - run-time bounds of a mask over a tile -----------===//
#include "MaskInterval.h"

#include "BlkBuild.h"

#include "mlir/IR/IRMapping.h"

using namespace mlir;

namespace tilefuse::fusion {

namespace {

bool isBool(Type t) { return t.isInteger(1); }

bool isPoint(const Interval &i) { return i.lo == i.hi; }

} // namespace

Value IntervalBuilder::min(Value a, Value c) {
  if (isa<FloatType>(a.getType()))
    return b.create<arith::MinimumFOp>(loc, a, c);
  if (isBool(a.getType()))
    return b.create<arith::MinUIOp>(loc, a, c);
  return b.create<arith::MinSIOp>(loc, a, c);
}

Value IntervalBuilder::max(Value a, Value c) {
  if (isa<FloatType>(a.getType()))
    return b.create<arith::MaximumFOp>(loc, a, c);
  if (isBool(a.getType()))
    return b.create<arith::MaxUIOp>(loc, a, c);
  return b.create<arith::MaxSIOp>(loc, a, c);
}

FailureOr<Interval> IntervalBuilder::ofTile(Value tile) {
  if (auto it = env.find(tile); it != env.end())
    return it->second;
  Operation *op = tile.getDefiningOp();
  FailureOr<Interval> r = failure();
  if (auto iota = dyn_cast_or_null<blk::IotaOp>(op)) {
    // [offset, offset + n - 1] along the iota's dim.
    blk::TileType t = iota.getType();
    unsigned d = iota.getDim() == blk::IotaDim::row ? 0 : 1;
    if (t.isDynamicDim(d)) {
      why = "an index tile with a `?` dim";
      whyAt = nullptr;
      return failure();
    }
    Type elem = t.getElementType();
    Value lo = b.create<arith::IndexCastOp>(loc, elem, iota.getOffset());
    Value n = b.create<arith::ConstantOp>(loc, elem, b.getIntegerAttr(elem, t.getDimSize(d) - 1));
    r = Interval{lo, b.create<arith::AddIOp>(loc, lo, n)};
  } else if (auto fill = dyn_cast_or_null<blk::FillOp>(op)) {
    r = Interval{fill.getValue(), fill.getValue()};
  } else if (auto bc = dyn_cast_or_null<blk::BroadcastOp>(op)) {
    r = ofTile(bc.getInput());
  } else if (auto map = dyn_cast_or_null<blk::MapOp>(op)) {
    Block &body = map.getBody().front();
    for (auto [arg, in] : llvm::zip(body.getArguments(), map.getInputs())) {
      FailureOr<Interval> i = ofTile(in);
      if (failed(i))
        return failure();
      env[arg] = *i;
    }
    r = ofScalar(cast<blk::YieldOp>(body.getTerminator()).getValue(), &body);
  } else {
    why = "a mask input that is not an index tile";
    whyAt = nullptr;
  }
  if (succeeded(r))
    env[tile] = *r;
  return r;
}

FailureOr<Interval> IntervalBuilder::ofScalar(Value v, Block *region) {
  if (auto it = env.find(v); it != env.end())
    return it->second;
  Operation *op = v.getDefiningOp();
  // A value from above is uniform over the tile.
  if (!op || op->getBlock() != region) {
    if (!op && cast<BlockArgument>(v).getOwner() == region) {
      why = "an unbound region argument";
      whyAt = nullptr;
      return failure();
    }
    return Interval{v, v};
  }
  FailureOr<Interval> r = ofOp(op, region);
  if (succeeded(r))
    env[v] = *r;
  return r;
}

FailureOr<Interval> IntervalBuilder::ofOp(Operation *op, Block *region) {
  SmallVector<Interval> x;
  for (Value o : op->getOperands()) {
    FailureOr<Interval> i = ofScalar(o, region);
    if (failed(i))
      return failure();
    x.push_back(*i);
  }
  // An op of uniform operands is uniform: compute it once, outside.
  if (llvm::all_of(x, isPoint) && op->getNumRegions() == 0 && op->getNumResults() == 1 &&
      (isMemoryEffectFree(op) || isa<blk::ReadOp>(op))) {
    IRMapping map;
    for (auto [o, i] : llvm::zip(op->getOperands(), x))
      map.map(o, i.lo);
    Value c = b.clone(*op, map)->getResult(0);
    readsTensor |= isa<blk::ReadOp>(op);
    return Interval{c, c};
  }
  if (isa<blk::ReadOp>(op))
    return ofRead(op, x);
  Type t = op->getResult(0).getType();
  auto both = [&](auto make) {
    return Interval{make(x[0].lo), make(x[0].hi)};
  };
  if (isa<arith::AddIOp, arith::AddFOp>(op)) {
    auto add = [&](Value p, Value q) -> Value {
      if (isa<FloatType>(t))
        return b.create<arith::AddFOp>(loc, p, q);
      return b.create<arith::AddIOp>(loc, p, q);
    };
    return Interval{add(x[0].lo, x[1].lo), add(x[0].hi, x[1].hi)};
  }
  // x mod r = x - r * floordiv(x, r) (the lowering's Python remainder), r uniform: while x stays in one
  // quotient block (floordiv(lo, r) == floordiv(hi, r)) it is x - r q, increasing in x; otherwise every
  // remainder may occur: [0, r - 1] for r > 0, [r + 1, 0] for r < 0.
  if (auto sub = dyn_cast<arith::SubIOp>(op)) {
    if (auto mul = sub.getRhs().getDefiningOp<arith::MulIOp>()) {
      for (unsigned k = 0; k < 2; ++k) {
        Value r = mul->getOperand(k);
        auto fd = mul->getOperand(1 - k).getDefiningOp<arith::FloorDivSIOp>();
        if (!fd || fd.getLhs() != sub.getLhs() || fd.getRhs() != r)
          continue;
        FailureOr<Interval> ri = ofScalar(r, region);
        if (failed(ri) || !isPoint(*ri))
          break;
        Value rv = ri->lo;
        Type ty = rv.getType();
        Value zero = b.create<arith::ConstantOp>(loc, ty, b.getIntegerAttr(ty, 0));
        Value one = b.create<arith::ConstantOp>(loc, ty, b.getIntegerAttr(ty, 1));
        Value qlo = b.create<arith::FloorDivSIOp>(loc, x[0].lo, rv);
        Value qhi = b.create<arith::FloorDivSIOp>(loc, x[0].hi, rv);
        Value same = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::eq, qlo, qhi);
        Value positive = b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sgt, rv, zero);
        Value rq = b.create<arith::MulIOp>(loc, rv, qlo);
        Value anyLo = b.create<arith::SelectOp>(loc, positive, zero, b.create<arith::AddIOp>(loc, rv, one));
        Value anyHi = b.create<arith::SelectOp>(loc, positive, b.create<arith::SubIOp>(loc, rv, one), zero);
        return Interval{b.create<arith::SelectOp>(loc, same, b.create<arith::SubIOp>(loc, x[0].lo, rq), anyLo),
                        b.create<arith::SelectOp>(loc, same, b.create<arith::SubIOp>(loc, x[0].hi, rq), anyHi)};
      }
    }
  }
  if (isa<arith::SubIOp, arith::SubFOp>(op)) {
    auto sub = [&](Value p, Value q) -> Value {
      if (isa<FloatType>(t))
        return b.create<arith::SubFOp>(loc, p, q);
      return b.create<arith::SubIOp>(loc, p, q);
    };
    return Interval{sub(x[0].lo, x[1].hi), sub(x[0].hi, x[1].lo)};
  }
  bool cornerMonotone = isa<arith::MulIOp, arith::MulFOp>(op) ||
                        (isa<arith::FloorDivSIOp, arith::DivSIOp>(op) && isPoint(x[1]));
  if (cornerMonotone) {
    // Monotone in each operand for a fixed sign: the extremes are at the corners.
    SmallVector<Value> corners;
    for (Value p : {x[0].lo, x[0].hi})
      for (Value q : {x[1].lo, x[1].hi}) {
        IRMapping map;
        map.map(op->getOperand(0), p);
        map.map(op->getOperand(1), q);
        corners.push_back(b.clone(*op, map)->getResult(0));
      }
    Value lo = corners[0], hi = corners[0];
    for (Value c : ArrayRef<Value>(corners).drop_front()) {
      lo = min(lo, c);
      hi = max(hi, c);
    }
    return Interval{lo, hi};
  }
  if (isa<arith::MinSIOp, arith::MinimumFOp, arith::MinUIOp>(op))
    return Interval{min(x[0].lo, x[1].lo), min(x[0].hi, x[1].hi)};
  if (isa<arith::MaxSIOp, arith::MaximumFOp, arith::MaxUIOp>(op))
    return Interval{max(x[0].lo, x[1].lo), max(x[0].hi, x[1].hi)};
  // |x| over [lo, hi]: [lo, hi] when lo >= 0, [-hi, -lo] when hi <= 0, else [0, max(-lo, hi)].
  if (isa<math::AbsIOp, math::AbsFOp>(op)) {
    const bool f = isa<FloatType>(t);
    Value zero = f ? b.create<arith::ConstantOp>(loc, t, b.getFloatAttr(t, 0.0)).getResult()
                   : b.create<arith::ConstantOp>(loc, t, b.getIntegerAttr(t, 0)).getResult();
    auto neg = [&](Value v) -> Value {
      if (f)
        return b.create<arith::NegFOp>(loc, v);
      return b.create<arith::SubIOp>(loc, zero, v);
    };
    Value loNonNeg = f ? b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OGE, x[0].lo, zero).getResult()
                       : b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sge, x[0].lo, zero).getResult();
    Value hiNonPos = f ? b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OLE, x[0].hi, zero).getResult()
                       : b.create<arith::CmpIOp>(loc, arith::CmpIPredicate::sle, x[0].hi, zero).getResult();
    Value lo = b.create<arith::SelectOp>(loc, loNonNeg, x[0].lo,
                                         b.create<arith::SelectOp>(loc, hiNonPos, neg(x[0].hi), zero));
    return Interval{lo, max(neg(x[0].lo), x[0].hi)};
  }
  if (isa<arith::NegFOp>(op))
    return Interval{b.create<arith::NegFOp>(loc, x[0].hi), b.create<arith::NegFOp>(loc, x[0].lo)};
  // Nondecreasing maps (floor, ceil, round, int() of a float: integer-valued, exact in IEEE).
  if (isa<arith::IndexCastOp, arith::ExtSIOp, arith::SIToFPOp, arith::ExtFOp, arith::TruncFOp,
          arith::FPToSIOp, math::FloorOp, math::CeilOp, math::RoundOp>(op))
    return both([&](Value v) {
      IRMapping map;
      map.map(op->getOperand(0), v);
      return b.clone(*op, map)->getResult(0);
    });
  if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
    using P = arith::CmpIPredicate;
    bool u = isBool(cmp.getLhs().getType());
    auto lt = [&](Value p, Value q) {
      return b.create<arith::CmpIOp>(loc, u ? P::ult : P::slt, p, q).getResult();
    };
    auto le = [&](Value p, Value q) {
      return b.create<arith::CmpIOp>(loc, u ? P::ule : P::sle, p, q).getResult();
    };
    auto eq = [&](Value p, Value q) { return b.create<arith::CmpIOp>(loc, P::eq, p, q).getResult(); };
    auto andi = [&](Value p, Value q) { return b.create<arith::AndIOp>(loc, p, q).getResult(); };
    auto ori = [&](Value p, Value q) { return b.create<arith::OrIOp>(loc, p, q).getResult(); };
    auto noti = [&](Value p) {
      Value one = b.create<arith::ConstantIntOp>(loc, 1, 1);
      return b.create<arith::XOrIOp>(loc, p, one).getResult();
    };
    const Interval &a = x[0], &c = x[1];
    switch (cmp.getPredicate()) {
    case P::slt: if (u) break; return Interval{lt(a.hi, c.lo), lt(a.lo, c.hi)};
    case P::sle: if (u) break; return Interval{le(a.hi, c.lo), le(a.lo, c.hi)};
    case P::sgt: if (u) break; return Interval{lt(c.hi, a.lo), lt(c.lo, a.hi)};
    case P::sge: if (u) break; return Interval{le(c.hi, a.lo), le(c.lo, a.hi)};
    case P::eq: {
      Value must = andi(andi(eq(a.lo, a.hi), eq(c.lo, c.hi)), eq(a.lo, c.lo));
      return Interval{must, andi(le(a.lo, c.hi), le(c.lo, a.hi))};
    }
    case P::ne: {
      Value allEq = andi(andi(eq(a.lo, a.hi), eq(c.lo, c.hi)), eq(a.lo, c.lo));
      return Interval{ori(lt(a.hi, c.lo), lt(c.hi, a.lo)), noti(allEq)};
    }
    default: break;
    }
    why = "an unsigned comparison in a mask";
    whyAt = op;
    return failure();
  }
  // Ordered float comparisons of values bounded as above (index expressions cast to float, scores of
  // uniform values): the same rules as the signed integer ones (no NaN reaches a mask of positions).
  if (auto cmp = dyn_cast<arith::CmpFOp>(op)) {
    using P = arith::CmpFPredicate;
    auto c = [&](P pred, Value p, Value q) { return b.create<arith::CmpFOp>(loc, pred, p, q).getResult(); };
    const Interval &a = x[0], &d = x[1];
    switch (cmp.getPredicate()) {
    case P::OLT: return Interval{c(P::OLT, a.hi, d.lo), c(P::OLT, a.lo, d.hi)};
    case P::OLE: return Interval{c(P::OLE, a.hi, d.lo), c(P::OLE, a.lo, d.hi)};
    case P::OGT: return Interval{c(P::OLT, d.hi, a.lo), c(P::OLT, d.lo, a.hi)};
    case P::OGE: return Interval{c(P::OLE, d.hi, a.lo), c(P::OLE, d.lo, a.hi)};
    default: break;
    }
    why = "a float comparison other than <, <=, >, >= in a mask";
    whyAt = op;
    return failure();
  }
  if (isa<arith::AndIOp>(op) && isBool(t))
    return Interval{b.create<arith::AndIOp>(loc, x[0].lo, x[1].lo),
                    b.create<arith::AndIOp>(loc, x[0].hi, x[1].hi)};
  if (isa<arith::OrIOp>(op) && isBool(t))
    return Interval{b.create<arith::OrIOp>(loc, x[0].lo, x[1].lo),
                    b.create<arith::OrIOp>(loc, x[0].hi, x[1].hi)};
  if (isa<arith::XOrIOp>(op) && isBool(t) && isPoint(x[1])) {
    // x ^ c: the same interval when c = 0, the complement [!hi, !lo] when c = 1.
    Value c = x[1].lo;
    Value lo = b.create<arith::SelectOp>(loc, c, b.create<arith::XOrIOp>(loc, x[0].hi, c), x[0].lo);
    Value hi = b.create<arith::SelectOp>(loc, c, b.create<arith::XOrIOp>(loc, x[0].lo, c), x[0].hi);
    return Interval{lo, hi};
  }
  if (auto sel = dyn_cast<arith::SelectOp>(op)) {
    // Definitely true: the true arm; definitely false: the false arm; else their union.
    const Interval &c = x[0], &p = x[1], &q = x[2];
    Value lo = b.create<arith::SelectOp>(
        loc, c.lo, p.lo, b.create<arith::SelectOp>(loc, c.hi, min(p.lo, q.lo), q.lo));
    Value hi = b.create<arith::SelectOp>(
        loc, c.lo, p.hi, b.create<arith::SelectOp>(loc, c.hi, max(p.hi, q.hi), q.hi));
    return Interval{lo, hi};
  }
  why = ("'" + op->getName().getStringRef() + "' in a mask has no interval rule").str();
  whyAt = op;
  return failure();
}

FailureOr<Interval> IntervalBuilder::ofRead(Operation *op, ArrayRef<Interval> x) {
  // table[.., i, ..] for i in [lo, hi] (the other indices uniform): min and max of the table
  // over that range, clamped to the table (positions outside it are padding of tail tiles,
  // which never reach a stored output).
  auto read = cast<blk::ReadOp>(op);
  readsTensor = true;
  SmallVector<Value> idx;
  std::optional<unsigned> k;
  Interval range;
  for (auto [d, i] : llvm::enumerate(x.drop_front())) { // operand 0 is the table
    if (isPoint(i)) {
      idx.push_back(i.lo);
      continue;
    }
    if (k) {
      why = "a table read whose index varies in two dims";
      whyAt = op;
      return failure();
    }
    k = d;
    range = i;
    idx.push_back(i.lo);
  }
  Value zero = b.create<arith::ConstantIndexOp>(loc, 0);
  Value one = b.create<arith::ConstantIndexOp>(loc, 1);
  Value dim = b.create<blk::DimOp>(loc, b.getIndexType(), read.getSource(),
                                   b.getI64IntegerAttr(*k));
  Value last = b.create<arith::SubIOp>(loc, dim, one);
  Value lo = b.create<arith::MinSIOp>(loc, b.create<arith::MaxSIOp>(loc, range.lo, zero), last);
  Value hi = b.create<arith::MinSIOp>(loc, range.hi, last);
  idx[*k] = lo;
  Type elem = read.getType();
  Value first = b.create<blk::ReadOp>(loc, elem, read.getSource(), idx);
  Value end = b.create<arith::AddIOp>(loc, hi, one);
  auto scan = b.create<scf::ForOp>(
      loc, lo, end, one, ValueRange{first, first},
      [&](OpBuilder &bb, Location l, Value i, ValueRange acc) {
        SmallVector<Value> at(idx);
        at[*k] = i;
        Value v = bb.create<blk::ReadOp>(l, elem, read.getSource(), at);
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPoint(bb.getInsertionBlock(), bb.getInsertionPoint());
        Value mn = min(acc[0], v), mx = max(acc[1], v);
        bb.create<scf::YieldOp>(l, ValueRange{mn, mx});
      });
  return Interval{scan.getResult(0), scan.getResult(1)};
}

} // namespace tilefuse::fusion
