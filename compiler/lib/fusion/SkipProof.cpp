//===- SkipProof.cpp - is a loop iteration a no-op when its mask is empty? -===//
#include "SkipProof.h"

#include "BlkBuild.h"

#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/Matchers.h"

#include <cmath>
#include <limits>
#include <map>

using namespace mlir;

namespace tilefuse::fusion {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// An abstract value: every element equal to a constant, equal to a carried value, or a
/// numbered unknown (equal numbers: provably equal values).
struct AV {
  enum Kind { Const, Iter, Sym } kind = Sym;
  double c = 0;
  unsigned id = 0;
  bool finite = false;    ///< no inf, no NaN
  bool notPosInf = false; ///< finite or -inf (a running max)

  static AV constant(double v) {
    AV a;
    a.kind = Const;
    a.c = v;
    a.finite = std::isfinite(v);
    a.notPosInf = a.finite || v == -kInf;
    return a;
  }
  bool is(double v) const { return kind == Const && c == v; }
  bool notNaN() const { return notPosInf || (kind == Const && !std::isnan(c)); }
  bool operator==(const AV &o) const {
    if (kind != o.kind)
      return false;
    return kind == Const ? c == o.c : id == o.id;
  }
  std::string key() const {
    std::string k;
    llvm::raw_string_ostream os(k);
    if (kind == Const)
      os << 'c' << c;
    else
      os << (kind == Iter ? 'i' : 's') << id;
    return os.str();
  }
};

class Evaluator {
public:
  Evaluator(scf::ForOp loop, Value mask) : loop(loop) {
    for (auto [i, arg] : llvm::enumerate(loop.getRegionIterArgs())) {
      AV a;
      a.kind = AV::Iter;
      a.id = i;
      a.notPosInf = true;
      env[arg] = a;
    }
    env[mask] = AV::constant(0.0);
  }

  /// Evaluates the body; true if every yielded value is its own carried value.
  bool identity() {
    for (Operation &op : loop.getBody()->without_terminator())
      if (!env.count(op.getNumResults() ? op.getResult(0) : Value()))
        evalTileOp(&op);
    for (auto [i, v] : llvm::enumerate(loop.getBody()->getTerminator()->getOperands())) {
      AV a = get(v);
      if (a.kind != AV::Iter || a.id != i)
        return false;
    }
    return true;
  }

private:
  /// A key no op produces: the value it numbers equals nothing else.
  static std::string fresh(const char *tag, unsigned id) {
    std::string k;
    llvm::raw_string_ostream os(k);
    os << tag << id;
    return os.str();
  }

  AV sym(Operation *op, ArrayRef<AV> in, unsigned result, bool finite) {
    std::string key = op->getName().getStringRef().str();
    llvm::raw_string_ostream os(key);
    op->getAttrDictionary().print(os);
    for (const AV &a : in)
      os << ',' << a.key();
    os << '#' << result;
    auto [it, fresh] = numbers.try_emplace(os.str(), numbers.size());
    AV a;
    a.id = it->second;
    a.finite = finite;
    a.notPosInf = finite;
    return a;
  }

  AV get(Value v) {
    if (auto it = env.find(v); it != env.end())
      return it->second;
    // Values from above the loop (or not yet seen): constants, fills of constants, else an
    // unknown finite value (loaded data, index arithmetic).
    AV a;
    if (std::optional<double> c = floatConstant(v))
      a = AV::constant(*c);
    else if (std::optional<double> f = fillConstant(v))
      a = AV::constant(*f);
    else if (IntegerAttr i; matchPattern(v, m_Constant(&i)))
      a = AV::constant(static_cast<double>(i.getValue().getSExtValue()));
    else {
      a.id = numbers.size();
      numbers[fresh("v", a.id)] = a.id;
      a.finite = a.notPosInf = true;
    }
    env[v] = a;
    return a;
  }

  AV select(Value cond, AV c, AV t, AV f, Value fVal) {
    if (c.is(1.0))
      return t;
    if (c.is(0.0))
      return f;
    if (t == f)
      return t;
    // select(x == -inf, k, x): the false arm is finite when x is finite or -inf.
    if (auto cmp = cond ? cond.getDefiningOp<arith::CmpFOp>() : arith::CmpFOp();
        cmp && cmp.getPredicate() == arith::CmpFPredicate::OEQ && cmp.getLhs() == fVal &&
        get(cmp.getRhs()).is(-kInf) && f.notPosInf)
      f.finite = true;
    AV r;
    r.kind = AV::Sym;
    r.id = numbers.size();
    numbers[fresh("sel", r.id)] = r.id;
    r.finite = t.finite && f.finite;
    r.notPosInf = t.notPosInf && f.notPosInf;
    return r;
  }

  AV evalScalar(Operation *op) {
    SmallVector<AV> in;
    for (Value v : op->getOperands())
      in.push_back(get(v));
    auto allConst = llvm::all_of(in, [](const AV &a) { return a.kind == AV::Const; });
    if (auto c = dyn_cast<arith::ConstantOp>(op)) {
      if (auto f = dyn_cast<FloatAttr>(c.getValue()))
        return AV::constant(f.getValueAsDouble());
      if (auto i = dyn_cast<IntegerAttr>(c.getValue()))
        return AV::constant(static_cast<double>(
            i.getType().isInteger(1) ? i.getValue().getZExtValue() : i.getValue().getSExtValue()));
    }
    if (isa<arith::MaximumFOp, arith::MaxNumFOp>(op)) {
      if (in[1].is(-kInf) && in[0].notNaN())
        return in[0];
      if (in[0].is(-kInf) && in[1].notNaN())
        return in[1];
      if (in[0] == in[1])
        return in[0];
      if (allConst)
        return AV::constant(std::fmax(in[0].c, in[1].c));
    }
    if (isa<arith::AddFOp>(op)) {
      if (in[1].is(0.0) && in[0].notNaN())
        return in[0];
      if (in[0].is(0.0) && in[1].notNaN())
        return in[1];
      if (allConst)
        return AV::constant(in[0].c + in[1].c);
    }
    if (isa<arith::SubFOp>(op)) {
      if (in[0].is(-kInf) && in[1].finite)
        return AV::constant(-kInf);
      if (in[0] == in[1] && in[0].finite)
        return AV::constant(0.0);
      if (in[1].is(0.0) && in[0].notNaN())
        return in[0];
      if (allConst)
        return AV::constant(in[0].c - in[1].c);
    }
    if (isa<arith::MulFOp>(op)) {
      for (int k = 0; k < 2; ++k) {
        if (in[k].is(1.0))
          return in[1 - k];
        if (in[k].is(0.0) && in[1 - k].finite)
          return AV::constant(0.0);
      }
      if (allConst)
        return AV::constant(in[0].c * in[1].c);
    }
    if (isa<math::ExpOp>(op) && allConst)
      return AV::constant(std::exp(in[0].c));
    if (isa<arith::TruncFOp, arith::ExtFOp>(op))
      return in[0];
    if (auto cmp = dyn_cast<arith::CmpFOp>(op)) {
      using P = arith::CmpFPredicate;
      P p = cmp.getPredicate();
      if (in[0] == in[1] && in[0].notNaN() &&
          (p == P::OEQ || p == P::UEQ || p == P::OLE || p == P::OGE || p == P::ULE ||
           p == P::UGE))
        return AV::constant(1.0);
    }
    if (auto sel = dyn_cast<arith::SelectOp>(op))
      return select(sel.getCondition(), in[0], in[1], in[2], sel.getFalseValue());
    Type t = op->getResult(0).getType();
    bool finite = !isa<FloatType>(t) ||
                  (isa<arith::AddFOp, arith::SubFOp, arith::MulFOp, arith::NegFOp,
                       arith::MaximumFOp, arith::MinimumFOp, arith::SIToFPOp, blk::ReadOp>(op) &&
                   llvm::all_of(in, [](const AV &a) { return a.finite; }));
    return sym(op, in, 0, finite);
  }

  AV evalMap(blk::MapOp map) {
    Block &body = map.getBody().front();
    for (auto [arg, inVal] : llvm::zip(body.getArguments(), map.getInputs()))
      env[arg] = get(inVal);
    for (Operation &op : body.without_terminator())
      env[op.getResult(0)] = evalScalar(&op);
    AV r = get(cast<blk::YieldOp>(body.getTerminator()).getValue());
    if (r.kind == AV::Sym) // tile-level number: the map's own
      r = sym(map, {r}, 0, r.finite);
    return r;
  }

  void evalTileOp(Operation *op) {
    if (op->getNumResults() != 1) {
      for (Value r : op->getResults())
        env[r] = sym(op, {}, 0, false);
      return;
    }
    SmallVector<AV> in;
    for (Value v : op->getOperands())
      in.push_back(get(v));
    Value res = op->getResult(0);
    AV r;
    if (isa<blk::BroadcastOp, blk::CopyOp>(op)) {
      r = in[0];
    } else if (auto fill = dyn_cast<blk::FillOp>(op)) {
      r = in[0];
    } else if (auto sel = dyn_cast<blk::SelectOp>(op)) {
      r = select(Value(), in[0], in[1], in[2], Value());
    } else if (auto red = dyn_cast<blk::ReduceOp>(op)) {
      double e = red.getKind() == blk::ReduceKind::max ? -kInf : 0.0;
      r = in[0].is(e) ? in[0] : sym(op, in, 0, in[0].finite);
    } else if (auto mm = dyn_cast<blk::MatmulOp>(op)) {
      bool zero = (in[0].is(0.0) && in[1].finite) || (in[1].is(0.0) && in[0].finite);
      if (zero)
        r = mm.getAcc() ? in[2] : AV::constant(0.0);
      else
        r = sym(op, in, 0, false);
    } else if (auto map = dyn_cast<blk::MapOp>(op)) {
      r = evalMap(map);
    } else if (isa<blk::LoadOp, blk::IotaOp>(op) || isMemoryEffectFree(op)) {
      r = sym(op, in, 0, true);
    } else {
      r = sym(op, in, 0, false);
      r.id = numbers.size(); // an op with effects: never equal to anything
      numbers[fresh("fx", r.id)] = r.id;
    }
    env[res] = r;
  }

  scf::ForOp loop;
  DenseMap<Value, AV> env;
  std::map<std::string, unsigned> numbers;
};

} // namespace

bool skipsWhenFalse(scf::ForOp loop, Value mask) {
  // Bodies that write HBM are never skipped.
  TensorAccesses acc;
  acc.add(loop);
  if (!acc.writes.empty() || acc.unknown)
    return false;
  return Evaluator(loop, mask).identity();
}

} // namespace tilefuse::fusion
