//===- LoopPlan.cpp - which iterations of an scf.for cost the same (IO report) ---===//
//
// planLoop, in one pre-order walk of the loop body (blk.map regions skipped: what they compute
// per element is data, their cost depends only on their ops):
//   1. iv is affine (1 * iv); outside values and integer constants are terms of affine forms;
//   2. addi / subi / muli by a constant / index_cast / extsi of affine values is affine (with
//      coefficient 0 when no operand depends on iv: an invariant the body computes);
//   3. cmpi of an affine value is a compare (a cut); a trailing load / store offset a window;
//   4. any other use of an affine value makes the plan unusable;
//   5. outside values used any other way (directly or through an invariant form) are key
//      values: their abstract values key the memo.
// LoopSegments then evaluates the forms at loop entry and finds the cuts by bisection (each
// compare is monotone in the iteration index, or flips at one point for eq / ne).
//
#include "LoopPlan.h"

#include "blk/BlkDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"

#include <algorithm>

using namespace mlir;
namespace blk = tilefuse::blk;

namespace tilefuse::analysis::detail {
namespace {

bool is64BitInteger(Type t) { return t.isIndex() || t.isInteger(64); }

class Planner {
public:
  explicit Planner(scf::ForOp loop) : loop(loop) {}
  LoopPlan run();

private:
  /// Outside: defined before the loop. Affine: depends on iv (a form with coeff != 0).
  /// Other: anything else of the body (a form with coeff 0 is an invariant the body computes).
  enum class Kind { Outside, Affine, Other };
  Kind kindOf(Value v) const {
    if (!loop.getRegion().isAncestor(v.getParentRegion()))
      return Kind::Outside;
    auto it = forms.find(v);
    return it != forms.end() && it->second.coeff != 0 ? Kind::Affine : Kind::Other;
  }
  /// The affine form of an integer operand (an affine value, an outside value, a constant).
  std::optional<AffineForm> formOf(Value v) const;
  void visit(Operation *op);
  void fail(Operation *op, const std::string &why) {
    if (plan.usable)
      plan.whyNot = op->getName().getStringRef().str() + ": " + why;
    plan.usable = false;
  }
  /// `v` is read other than into an affine form: its value (an outside value, or the outside
  /// values of an invariant form) keys the memo.
  void useAsKey(Value v) {
    if (kindOf(v) == Kind::Outside) {
      if (keySet.insert(v).second)
        plan.keyValues.push_back(v);
      return;
    }
    if (auto it = forms.find(v); it != forms.end())
      for (const auto &term : it->second.terms)
        useAsKey(term.second);
  }
  /// The form of the result of addi / subi / muli by a constant / index_cast / extsi of forms.
  std::optional<AffineForm> arithForm(Operation *op, std::string &why) const;
  void window(Operation *op, Value tensor, ValueRange indices, blk::TileType tile);

  mutable scf::ForOp loop; // (MLIR op handles have non-const accessors)
  LoopPlan plan;
  llvm::DenseMap<Value, AffineForm> forms;
  llvm::DenseSet<Value> keySet;
};

std::optional<AffineForm> Planner::formOf(Value v) const {
  if (!is64BitInteger(v.getType()))
    return std::nullopt;
  if (auto it = forms.find(v); it != forms.end())
    return it->second;
  if (auto c = v.getDefiningOp<arith::ConstantOp>())
    if (auto attr = dyn_cast<IntegerAttr>(c.getValue()))
      return AffineForm{0, attr.getValue().getSExtValue(), {}};
  if (kindOf(v) == Kind::Outside)
    return AffineForm{0, 0, {{1, v}}};
  return std::nullopt;
}

std::optional<AffineForm> combine(const AffineForm &a, const AffineForm &b, int64_t sign) {
  AffineForm r = a;
  int64_t c = 0, k = 0;
  if (__builtin_mul_overflow(b.coeff, sign, &c) || __builtin_add_overflow(r.coeff, c, &r.coeff) ||
      __builtin_mul_overflow(b.constant, sign, &k) || __builtin_add_overflow(r.constant, k, &r.constant))
    return std::nullopt;
  for (auto [m, v] : b.terms) {
    int64_t t = 0;
    if (__builtin_mul_overflow(m, sign, &t))
      return std::nullopt;
    r.terms.push_back({t, v});
  }
  return r;
}

std::optional<AffineForm> scale(const AffineForm &a, int64_t s) {
  AffineForm r;
  if (__builtin_mul_overflow(a.coeff, s, &r.coeff) || __builtin_mul_overflow(a.constant, s, &r.constant))
    return std::nullopt;
  for (auto [m, v] : a.terms) {
    int64_t t = 0;
    if (__builtin_mul_overflow(m, s, &t))
      return std::nullopt;
    r.terms.push_back({t, v});
  }
  return r;
}

void Planner::window(Operation *op, Value tensor, ValueRange indices, blk::TileType tile) {
  const unsigned lead = indices.size() - tile.getRank();
  for (unsigned p = 0; p < indices.size(); ++p) {
    if (kindOf(indices[p]) != Kind::Affine) {
      useAsKey(indices[p]); // an offset that does not move with iv still sets the overlap
      continue;
    }
    if (p < lead)
      continue; // a slice index: assumed in bounds, it changes no cost
    if (tile.isDynamicDim(p - lead))
      return fail(op, "a `?` tile dim at an offset that depends on the induction variable");
    if (kindOf(tensor) != Kind::Outside)
      return fail(op, "a window into a tensor made inside the loop");
    plan.windows.push_back({forms.at(indices[p]), tile.getDimSize(p - lead), tensor, p});
  }
}

std::optional<AffineForm> Planner::arithForm(Operation *op, std::string &why) const {
  if (op->getNumResults() != 1 || !is64BitInteger(op->getResult(0).getType())) {
    why = "an iv-dependent value that is not a 64-bit integer";
    return std::nullopt;
  }
  if (isa<arith::IndexCastOp, arith::ExtSIOp>(op)) {
    std::optional<AffineForm> a = formOf(op->getOperand(0));
    if (!a)
      why = "an operand that is not a 64-bit integer";
    return a;
  }
  std::optional<AffineForm> a = formOf(op->getOperand(0)), b = formOf(op->getOperand(1));
  if (!a || !b) {
    why = "an operand that is not affine";
    return std::nullopt;
  }
  std::optional<AffineForm> r;
  if (isa<arith::AddIOp, arith::SubIOp>(op)) {
    r = combine(*a, *b, isa<arith::AddIOp>(op) ? 1 : -1);
  } else { // muli: one factor must be a constant
    const bool aConst = a->coeff == 0 && a->terms.empty(), bConst = b->coeff == 0 && b->terms.empty();
    if (!aConst && !bConst) {
      why = "a product that is not affine (no constant factor)";
      return std::nullopt;
    }
    r = aConst ? scale(*b, a->constant) : scale(*a, b->constant);
  }
  if (!r)
    why = "an affine form past int64";
  return r;
}

void Planner::visit(Operation *op) {
  const bool affineOperand =
      llvm::any_of(op->getOperands(), [&](Value v) { return kindOf(v) == Kind::Affine; });
  if (isa<blk::KernelOp, blk::AllocOp>(op))
    return fail(op, "not summarized inside a loop");
  const bool arith = isa<arith::AddIOp, arith::SubIOp, arith::MulIOp, arith::IndexCastOp, arith::ExtSIOp>(op);
  // An affine value (or an invariant one the body computes from outside values): a form.
  if (arith) {
    std::string why;
    if (std::optional<AffineForm> f = arithForm(op, why)) {
      forms[op->getResult(0)] = *f;
      plan.affineValues.push_back(*f);
      return;
    }
    if (affineOperand)
      return fail(op, why);
  }
  if (!affineOperand) {
    for (Value v : op->getOperands())
      useAsKey(v);
    return;
  }
  // An op that reads an iv-dependent value.
  if (auto cmp = dyn_cast<arith::CmpIOp>(op)) {
    std::optional<AffineForm> a = formOf(op->getOperand(0)), b = formOf(op->getOperand(1));
    if (!a || !b)
      return fail(op, "an operand that is not affine");
    std::optional<AffineForm> diff = combine(*a, *b, -1);
    if (!diff)
      return fail(op, "an affine form past int64");
    using P = arith::CmpIPredicate;
    using Pred = PlanCompare::Pred;
    std::optional<Pred> pred;
    switch (cmp.getPredicate()) {
    case P::slt: pred = Pred::LT; break;
    case P::sle: pred = Pred::LE; break;
    case P::sgt: pred = Pred::GT; break;
    case P::sge: pred = Pred::GE; break;
    case P::eq: pred = Pred::EQ; break;
    case P::ne: pred = Pred::NE; break;
    default: return fail(op, "an unsigned comparison of the induction variable");
    }
    plan.compares.push_back({*pred, *diff});
    return;
  }
  // Data uses: the value changes no cost.
  if (isa<blk::IotaOp, blk::FillOp, blk::ReadOp>(op)) {
    for (Value v : op->getOperands())
      useAsKey(v);
    return;
  }
  if (auto load = dyn_cast<blk::LoadOp>(op)) {
    useAsKey(load.getSource());
    return window(op, load.getSource(), load.getIndices(), load.getResult().getType());
  }
  if (auto store = dyn_cast<blk::StoreOp>(op)) {
    useAsKey(store.getDest());
    useAsKey(store.getValue());
    return window(op, store.getDest(), store.getIndices(), store.getValue().getType());
  }
  fail(op, "an iv-dependent operand of an op the plan does not model");
}

LoopPlan Planner::run() {
  plan.usable = true;
  forms[loop.getInductionVar()] = AffineForm{1, 0, {}};
  loop.getBody()->walk<WalkOrder::PreOrder>([&](Operation *op) {
    if (!plan.usable)
      return WalkResult::interrupt();
    visit(op);
    // Per-element code: data only (runMap counts its ops, whatever their operands).
    return isa<blk::MapOp>(op) ? WalkResult::skip() : WalkResult::advance();
  });
  return std::move(plan);
}

} // namespace

LoopPlan planLoop(scf::ForOp loop) { return Planner(loop).run(); }

std::optional<LoopSegments::Line> LoopSegments::line(const AffineForm &f, int64_t lb, int64_t step,
                                                     const ValueOf &valueOf) const {
  // f(k) = coeff * (lb + k * step) + sum(terms) + constant, exact in 128 bits for |values| < 2^63.
  // Each product of two int64 is below 2^126; sums are checked.
  Line l;
  l.a = static_cast<__int128>(f.coeff) * step;
  l.b = static_cast<__int128>(f.coeff) * lb;
  if (__builtin_add_overflow(l.b, static_cast<__int128>(f.constant), &l.b))
    return std::nullopt;
  for (auto [m, v] : f.terms) {
    std::optional<int64_t> x = valueOf(v);
    if (!x)
      return Line{}; // unknown
    if (__builtin_add_overflow(l.b, static_cast<__int128>(m) * *x, &l.b))
      return std::nullopt;
  }
  // Keep a * k + b exact for every k < 2^63.
  constexpr __int128 kMaxA = static_cast<__int128>(1) << 62, kMaxB = static_cast<__int128>(1) << 100;
  if (l.a > kMaxA || l.a < -kMaxA || l.b > kMaxB || l.b < -kMaxB)
    return std::nullopt;
  l.known = true;
  return l;
}

bool LoopSegments::truth(const Compare &c, int64_t k) {
  const __int128 d = c.diff.at(k);
  switch (c.pred) {
  case PlanCompare::Pred::LT: return d < 0;
  case PlanCompare::Pred::LE: return d <= 0;
  case PlanCompare::Pred::GT: return d > 0;
  case PlanCompare::Pred::GE: return d >= 0;
  case PlanCompare::Pred::EQ: return d == 0;
  case PlanCompare::Pred::NE: return d != 0;
  }
  return false;
}

int64_t LoopSegments::regime(const Window &w, int64_t k) {
  const __int128 o = w.offset.at(k);
  if (o + w.length <= 0 || o >= w.extent)
    return Outside;
  return o >= 0 && o + w.length <= w.extent ? Inside : Straddles;
}

void LoopSegments::cutMonotone(const std::function<bool(int64_t)> &p) {
  const bool first = p(0);
  if (p(n_ - 1) == first)
    return; // monotone: the same everywhere
  int64_t lo = 0, hi = n_ - 1; // p(lo) == first, p(hi) != first
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (p(mid) == first ? lo : hi) = mid;
  }
  cuts_.push_back(hi);
}

bool LoopSegments::build(const LoopPlan &plan, int64_t lb, int64_t step, int64_t n,
                         const ValueOf &valueOf, const ExtentOf &extentOf) {
  n_ = n;
  cuts_ = {0};
  if (n <= 0)
    return false;
  // Every iv-dependent value stays in int64 at both ends, hence everywhere (it is affine): the
  // program's wrapping arithmetic then equals the exact forms.
  for (const AffineForm &f : plan.affineValues) {
    std::optional<Line> l = line(f, lb, step, valueOf);
    if (!l)
      return false;
    for (int64_t k : {int64_t{0}, n - 1})
      if (l->known && (l->at(k) > INT64_MAX || l->at(k) < INT64_MIN))
        return false;
  }
  for (const PlanCompare &pc : plan.compares) {
    std::optional<Line> l = line(pc.diff, lb, step, valueOf);
    if (!l)
      return false;
    Compare c{pc.pred, *l};
    compares_.push_back(c);
    if (!l->known || l->a == 0)
      continue;
    if (c.pred == PlanCompare::Pred::EQ || c.pred == PlanCompare::Pred::NE) {
      // a * k + b == 0 at one k at most.
      if ((-l->b) % l->a == 0) {
        const __int128 k = -l->b / l->a;
        for (__int128 cut : {k, k + 1})
          if (cut > 0 && cut < n)
            cuts_.push_back(static_cast<int64_t>(cut));
      }
      continue;
    }
    cutMonotone([&](int64_t k) { return truth(c, k); });
  }
  for (const PlanWindow &pw : plan.windows) {
    std::optional<Line> l = line(pw.offset, lb, step, valueOf);
    if (!l || !l->known)
      return false; // the walk reports the unknown offset
    Window w{*l, pw.length, extentOf(pw.tensor, pw.tensorDim)};
    windows_.push_back(w);
    // The regime changes where the offset crosses -length, 0, extent - length or extent.
    for (__int128 edge : {static_cast<__int128>(1) - w.length, static_cast<__int128>(0),
                          static_cast<__int128>(w.extent) - w.length + 1, static_cast<__int128>(w.extent)})
      cutMonotone([&](int64_t k) { return w.offset.at(k) < edge; });
  }
  std::sort(cuts_.begin(), cuts_.end());
  cuts_.erase(std::unique(cuts_.begin(), cuts_.end()), cuts_.end());
  return true;
}

std::vector<int64_t> LoopSegments::decisions(int64_t k) const {
  std::vector<int64_t> d;
  d.reserve(compares_.size() + windows_.size());
  for (const Compare &c : compares_)
    d.push_back(c.diff.known ? static_cast<int64_t>(truth(c, k)) : static_cast<int64_t>(Unknown));
  for (const Window &w : windows_)
    d.push_back(regime(w, k));
  return d;
}

bool LoopSegments::straddles(int64_t k) const {
  return llvm::any_of(windows_, [&](const Window &w) { return regime(w, k) == Straddles; });
}

} // namespace tilefuse::analysis::detail
