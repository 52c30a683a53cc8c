//===- Plan.cpp - phase 2: shared memory, registers, the copy pipeline -----===//
#include "Plan.h"
#include "Emit.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Matchers.h"
#include "llvm/Support/raw_ostream.h"

#include <functional>
#include <map>
#include <sstream>

using namespace mlir;
using namespace tilefuse::blk;

namespace tilefuse::codegen {

Type storageElemType(const ResolvedKernel &r, Value v) {
  auto type = cast<TileType>(v.getType());
  Type e = type.getElementType();
  if (!e.isBF16() && !e.isF16())
    return e;
  auto map = v.getDefiningOp<MapOp>();
  if (!map || v.use_empty())
    return e;
  bool onlyStores = llvm::all_of(v.getUsers(), [](Operation *u) { return isa<StoreOp>(u); });
  auto yield = cast<YieldOp>(map.getBody().front().getTerminator());
  auto trunc = yield.getValue().getDefiningOp<arith::TruncFOp>();
  if (onlyStores && trunc && trunc.getIn().getType().isF32())
    return Float32Type::get(v.getContext());
  return e;
}

const LoopPlan *KernelPlan::loopPlan(scf::ForOp op) const {
  for (const LoopPlan &l : loops)
    if (l.op == op)
      return &l;
  return nullptr;
}

int KernelPlan::bufferOf(Value smemTile) const {
  Value v = smemTile;
  if (auto copy = v.getDefiningOp<CopyOp>())
    v = copy.getSource();
  if (auto load = v.getDefiningOp<LoadOp>()) {
    auto it = bufferOfLoad.find(load);
    return it == bufferOfLoad.end() ? -1 : it->second;
  }
  return -1;
}

namespace {

/// The chunk swizzle of a shared tile, as device/types.cuh (st, sm80) and device/wgmma.cuh (sw128 panels
/// of 64 columns, sm90) define it.
std::string swizzleText(const SmemBuffer &b, bool sw128) {
  const int64_t chunks = b.cols / 8;
  if (sw128 && b.cols % 64 != 0)
    return "chunk ^ (row % 8) in " + std::to_string(sm90SmemCols(static_cast<int>(b.cols))) + " stored columns";
  if (sw128 || chunks % 8 == 0)
    return "chunk ^ (row % 8)";
  return chunks % 4 == 0 ? "chunk ^ ((row / 2) % 4)" : "chunk ^ ((row / 4) % 2)";
}

std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

/// Program-order positions and the liveness questions the register plan asks.
class Liveness {
public:
  Liveness(const ResolvedKernel &r) : r_(r) {
    int n = 0;
    r.kernel.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) { order_[op] = n++; });
  }

  /// Ops at which `v` is read: its non-element-wise users, and the consumers of element-wise values
  /// computed from it (those are evaluated inside their consumer).
  const std::vector<Operation *> &readers(Value v) {
    auto it = readers_.find(v);
    if (it != readers_.end())
      return it->second;
    std::vector<Operation *> out;
    for (Operation *user : v.getUsers()) {
      if (isElementwise(user) && !r_.isKept(user->getResult(0))) {
        const auto &inner = readers(user->getResult(0));
        out.insert(out.end(), inner.begin(), inner.end());
      } else {
        out.push_back(user);
      }
    }
    return readers_[v] = std::move(out);
  }

  /// True when `a` and `b` sit in different branches of one scf.if (never both run).
  static bool exclusive(Operation *a, Operation *b) {
    for (Operation *pa = a; pa; pa = pa->getParentOp()) {
      Region *ra = pa->getParentRegion();
      if (!ra)
        break;
      auto ifOp = dyn_cast_or_null<scf::IfOp>(ra->getParentOp());
      if (!ifOp)
        continue;
      for (Operation *pb = b; pb; pb = pb->getParentOp()) {
        if (pb->getParentRegion() && pb->getParentRegion()->getParentOp() == ifOp)
          return pb->getParentRegion() != ra;
      }
    }
    return false;
  }

  /// True when nothing reads `v` after `at` runs (reads at `at` itself are fine: in-place ops read an
  /// element before writing it).
  bool deadAfter(Value v, Operation *at) { return deadAfter(v, at, false); }

  /// With `insideIsBefore`, reads nested in `at` (an scf.if) count as before its end: the question is
  /// whether `v` is read once `at` has finished.
  bool deadAfter(Value v, Operation *at, bool insideIsBefore) {
    Operation *def = v.getDefiningOp();
    Block *defBlock = def ? def->getBlock() : cast<BlockArgument>(v).getOwner();
    // A value from outside a loop that contains `at` is read again by the next iteration.
    for (Operation *p = at->getParentOp(); p && p != r_.kernel; p = p->getParentOp())
      if (isa<scf::ForOp>(p) && !p->isAncestor(defBlock->getParentOp()))
        return false;
    for (Operation *reader : readers(v)) {
      if (reader == at)
        continue;
      if (at->isProperAncestor(reader)) {
        if (insideIsBefore)
          continue;
        return false;
      }
      if (exclusive(reader, at))
        continue;
      if (order_.lookup(reader) > order_.lookup(at))
        return false;
    }
    return true;
  }

  int order(Operation *op) const { return order_.lookup(op); }

private:
  const ResolvedKernel &r_;
  llvm::DenseMap<Operation *, int> order_;
  llvm::DenseMap<Value, std::vector<Operation *>> readers_;
};

class Planner {
public:
  Planner(const ResolvedKernel &r, const Schedule &s) : r(r), live(r) {
    p.r = &r;
    p.schedule = s;
  }

  KernelPlan run() {
    checkSchedule();
    planSmem();
    findCombines();
    planHoists();
    planBlock(r.kernel.getBodyBlock());
    if (p.schedule.mma == MmaFamily::Wgmma) {
      planStagedStore();
      const std::size_t need = sm90DynamicSmemBytes(p), limit = maxDynamicSmemBytes("sm_90");
      if (need > limit)
        fail(r.kernel, "the schedule needs " + std::to_string(need) +
                           " bytes of dynamic shared memory per block; sm_90 allows " + std::to_string(limit) +
                           " (227 KiB): use a smaller block_n, block_m or kv_stages");
    }
    estimateRegisters();
    p.blockMask = planBlockMask(r, p);
    return std::move(p);
  }

private:
  // -- schedule vs program ---------------------------------------------------------------------------
  void checkSchedule() {
    const Schedule &s = p.schedule;
    s.validate();
    if (s.blockM != r.blockM)
      fail(r.kernel, "schedule BLOCK_M = " + std::to_string(s.blockM) + " but the fused program's register tiles have " +
                         std::to_string(r.blockM) + " rows (run the fusion pass with the schedule's BLOCK_M)");
    for (scf::ForOp l : r.loops) {
      const int64_t step = *getConstantIntValue(l.getStep());
      if (step != s.blockN)
        fail(l, "schedule BLOCK_N = " + std::to_string(s.blockN) + " but this K/V loop steps by " + std::to_string(step) +
                    " (run the fusion pass with the schedule's BLOCK_N)");
    }
    p.warpRows = s.rowsPerWarp();
  }

  // -- shared memory and the pipeline --------------------------------------------------------------
  /// A structural key of a scalar computed inside `loop` from its induction variable and values from
  /// outside (nullopt: it depends on something else, e.g. a carried value).
  std::optional<std::string> key(Value v, scf::ForOp loop) {
    if (v == loop.getInductionVar())
      return std::string("$iv");
    if (auto c = getConstantIntValue(v))
      return std::to_string(*c);
    Operation *def = v.getDefiningOp();
    Region *owner = def ? def->getParentRegion() : cast<BlockArgument>(v).getOwner()->getParent();
    if (!loop.getRegion().isAncestor(owner)) {
      std::ostringstream os;
      os << "%" << v.getAsOpaquePointer();
      return os.str();
    }
    if (!def || def->getNumRegions() != 0)
      return std::nullopt;
    StringRef ns = def->getDialect()->getNamespace();
    if (!(ns == "arith" || ns == "math" || isa<DimOp, ReadOp>(def)))
      return std::nullopt;
    std::string s = def->getName().getStringRef().str() + "(";
    for (NamedAttribute a : def->getAttrs()) {
      std::string t;
      llvm::raw_string_ostream os(t);
      os << a.getValue();
      s += t + ";";
    }
    for (Value in : def->getOperands()) {
      auto k = key(in, loop);
      if (!k)
        return std::nullopt;
      s += *k + ",";
    }
    return s + ")";
  }

  int addBuffer(LoadOp load, scf::ForOp loop, int stages, bool staging) {
    auto type = load.getResult().getType();
    SmemBuffer b;
    std::string base = r.tile(load.getResult()).name;
    if (staging && base.size() > 5 && base.substr(base.size() - 5) == "_frag")
      base = base.substr(0, base.size() - 5) + "_smem";
    b.name = base;
    for (int k = 1; llvm::any_of(p.smem, [&](const SmemBuffer &o) { return o.name == b.name; }); ++k)
      b.name = base + "_" + std::to_string(k);
    b.elemC = cTypeOf(type.getElementType(), load);
    b.rows = type.getDimSize(0);
    b.cols = type.getDimSize(1);
    b.stages = stages;
    b.pipelined = loop && stages >= 1 && !staging;
    b.staging = staging;
    b.loop = loop;
    b.loads.push_back(load);
    // sm90: whole 64-column sw128 panels; the TMA zero-fills the columns past the tensor's last one.
    const int64_t storedCols = p.schedule.mma == MmaFamily::Wgmma ? sm90SmemCols(static_cast<int>(b.cols)) : b.cols;
    b.bytesPerStage = static_cast<std::size_t>(b.rows * storedCols * 2);
    if (type.getMemorySpace() == MemorySpace::reg && (b.rows % 16 != 0 || b.cols % 16 != 0))
      fail(load, "a tile loaded into registers is staged through shared memory: it needs rows and columns "
                 "multiples of 16");
    p.smem.push_back(b);
    p.bufferOfLoad[load] = static_cast<int>(p.smem.size()) - 1;
    return static_cast<int>(p.smem.size()) - 1;
  }

  void planLoopLoads(scf::ForOp loop) {
    LoopPlan lp;
    lp.op = loop;
    lp.step = *getConstantIntValue(loop.getStep());
    lp.stages = p.schedule.kvStages;
    std::map<std::string, int> byKey; // structural key -> index into lp.loads
    // A loop that holds another tile loop (a chain's nested contraction) loads its own tiles in place: the
    // inner loop's cp.async groups would interleave with a prefetch of the outer one's.
    const bool holdsLoop = llvm::any_of(r.loops, [&](scf::ForOp l) { return l != loop && loop->isProperAncestor(l); });
    loop.getBody()->walk<WalkOrder::PreOrder>([&](LoadOp load) {
      if (load->getParentOfType<scf::ForOp>() != loop)
        return; // the nested tile loop's own
      const bool toSmem = load.getResult().getType().getMemorySpace() == MemorySpace::smem;
      std::string k = "tensor" + std::to_string(r.tensorOf(load.getSource()).arg) + ":" +
                      typeString(load.getResult().getType()) + ":";
      bool predictable = toSmem && !holdsLoop;
      for (Value idx : load.getIndices()) {
        auto ki = key(idx, loop);
        predictable &= ki.has_value();
        k += ki.value_or("?") + "|";
      }
      if (!predictable) { // loaded synchronously where it stands
        addBuffer(load, loop, 1, !toSmem);
        p.smem.back().pipelined = false;
        return;
      }
      // Conditions of the scf.if's between the load and the loop body, outermost first.
      std::vector<std::pair<Value, bool>> conds;
      for (Operation *a = load->getParentOp(); a != loop.getOperation(); a = a->getParentOp())
        if (auto ifOp = dyn_cast<scf::IfOp>(a)) {
          const bool inThen = ifOp.getThenRegion().isAncestor(load->getParentRegion());
          if (key(ifOp.getCondition(), loop))
            conds.insert(conds.begin(), {ifOp.getCondition(), inThen});
        }
      auto it = byKey.find(k);
      if (it != byKey.end()) {
        PipelinedLoad &pl = lp.loads[it->second];
        p.smem[pl.buffer].loads.push_back(load);
        p.bufferOfLoad[load] = pl.buffer;
        size_t common = 0;
        while (common < pl.conditions.size() && common < conds.size() && pl.conditions[common] == conds[common])
          ++common;
        pl.conditions.resize(common);
        return;
      }
      PipelinedLoad pl;
      pl.buffer = addBuffer(load, loop, lp.stages, false);
      p.smem[pl.buffer].loadIndex = static_cast<int>(lp.loads.size());
      pl.load = load;
      pl.conditions = conds;
      byKey[k] = static_cast<int>(lp.loads.size());
      lp.loads.push_back(pl);
    });
    findSkipAbove(lp);
    // The split cp.async pipeline is the sm80 backend's; the sm90 producer runs its own ring.
    lp.split = p.schedule.mma != MmaFamily::Wgmma && splitOrderHolds(lp) && lp.loads.size() * lp.stages >= 2;
    p.loops.push_back(lp);
  }

  /// Ops that read the shared tile of pipelined load `pl` (through blk.copy views too).
  std::vector<Operation *> smemUses(const PipelinedLoad &pl) {
    std::vector<Operation *> uses;
    std::function<void(Value)> visit = [&](Value v) {
      for (Operation *u : v.getUsers()) {
        if (auto copy = dyn_cast<CopyOp>(u); copy && r.tile(copy.getResult()).cls == TileClass::Smem)
          visit(copy.getResult());
        else
          uses.push_back(u);
      }
    };
    for (LoadOp l : p.smem[pl.buffer].loads)
      visit(l.getResult());
    return uses;
  }

  /// Every use of load i - 1 comes before every use of load i on every path.
  bool splitOrderHolds(const LoopPlan &lp) {
    for (size_t i = 1; i < lp.loads.size(); ++i)
      for (Operation *u : smemUses(lp.loads[i - 1]))
        for (Operation *v : smemUses(lp.loads[i]))
          if (!Liveness::exclusive(u, v) && live.order(u) >= live.order(v))
            return false;
    return true;
  }

  /// A body `scf.if %c { yield carried } else {...}` whose results the loop yields, with scalar ops only
  /// besides: %c says when an iteration does nothing (the tile is empty under the mask). Where %c, read
  /// as an or of atoms (ors, and De Morgan through nots of ands), has an atom that compares iv + k with
  /// a loop-invariant affine value, the iterations on one side of it do nothing, so the loop's range is
  /// cut there: `iv > X` (a causal tile above the diagonal) ends it at X + 1, `iv + 127 < Y` (a tile
  /// left of a sliding window) starts it at Y - 127. Atoms with the induction variable elsewhere (or
  /// with a coefficient other than +-1) cut nothing.
  void findSkipAbove(LoopPlan &lp) {
    scf::ForOp loop = lp.op;
    Block &body = *loop.getBody();
    auto yield = cast<scf::YieldOp>(body.getTerminator());
    scf::IfOp skip;
    for (Operation &op : body.without_terminator()) {
      if (auto ifOp = dyn_cast<scf::IfOp>(op); ifOp && !skip) {
        skip = ifOp;
        continue;
      }
      StringRef ns = op.getDialect()->getNamespace();
      if (!((ns == "arith" || ns == "math") && op.getNumRegions() == 0))
        return;
    }
    if (!skip || skip.getElseRegion().empty() || skip.getNumResults() != loop.getNumRegionIterArgs())
      return;
    for (unsigned k = 0; k < skip.getNumResults(); ++k)
      if (yield.getOperand(k) != skip.getResult(k) || skip.thenYield().getOperand(k) != loop.getRegionIterArgs()[k])
        return;
    // Loop-invariant: computable without the induction variable (possibly by ops inside the body).
    auto invariant = [&](Value v) {
      auto k = key(v, loop);
      return k && k->find("$iv") == std::string::npos;
    };
    Value iv = loop.getInductionVar();
    // Offsets and coefficients come from the program's constants (a spec's literals, up to 2^63 - 1): all
    // arithmetic on them is overflow-checked, and an atom whose bound overflowed adds no cut (guardedAtom
    // below; no cut is always sound). Found by the `mask` fuzz target under UBSan.
    bool overflowed = false;
    auto add = [&](int64_t a, int64_t b) {
      int64_t r = 0;
      overflowed |= __builtin_add_overflow(a, b, &r);
      return r;
    };
    auto mul = [&](int64_t a, int64_t b) {
      int64_t r = 0;
      overflowed |= __builtin_mul_overflow(a, b, &r);
      return r;
    };
    // v as coef * iv + bound (coef in {-1, 0, 1}); nullopt when it is not of that form.
    struct Affine {
      int coef = 0;
      IvBound rest;
    };
    std::function<std::optional<Affine>(Value, int)> affine = [&](Value v, int depth) -> std::optional<Affine> {
      if (depth > 16)
        return std::nullopt;
      if (auto c = getConstantIntValue(v))
        return Affine{0, IvBound{IvBound::Kind::Linear, {}, *c, {}}};
      if (v == iv)
        return Affine{1, {}};
      if (invariant(v))
        return Affine{0, IvBound{IvBound::Kind::Linear, {{v, 1}}, 0, {}}};
      Operation *d = v.getDefiningOp();
      if (!d)
        return std::nullopt;
      if (isa<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp>(d))
        return affine(d->getOperand(0), depth + 1);
      if (!isa<arith::AddIOp, arith::SubIOp>(d))
        return std::nullopt;
      auto a = affine(d->getOperand(0), depth + 1), b = affine(d->getOperand(1), depth + 1);
      if (!a || !b)
        return std::nullopt;
      const int sign = isa<arith::AddIOp>(d) ? 1 : -1;
      Affine out = *a;
      out.coef += sign * b->coef;
      if (out.coef < -1 || out.coef > 1)
        return std::nullopt;
      for (auto [t, s] : b->rest.terms)
        out.rest.terms.push_back({t, mul(sign, s)});
      out.rest.offset = add(out.rest.offset, mul(sign, b->rest.offset));
      return out;
    };
    auto negate = [&](IvBound b) {
      for (auto &t : b.terms)
        t.second = mul(-1, t.second);
      b.offset = mul(-1, b.offset);
      return b;
    };
    using P = arith::CmpIPredicate;
    // An atom that makes the iteration do nothing: cmp(lhs, rhs), negated when under a not.
    // The smallest iv with f(iv) >= K, for f non-decreasing in iv: iv + R (K - R), floor(g / d) with
    // d > 0 (that of g >= d K), max (the min of the arguments' thresholds), min (their max). K linear.
    std::function<std::optional<IvBound>(Value, const IvBound &, int)> threshold =
        [&](Value f, const IvBound &K, int depth) -> std::optional<IvBound> {
      if (depth > 16)
        return std::nullopt;
      if (auto a = affine(f, 0); a && a->coef == 1) {
        IvBound b = K;
        for (auto [t, c] : a->rest.terms)
          b.terms.push_back({t, mul(-1, c)});
        b.offset = add(b.offset, mul(-1, a->rest.offset));
        return b;
      }
      Operation *d = f.getDefiningOp();
      if (!d)
        return std::nullopt;
      if (isa<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp>(d))
        return threshold(d->getOperand(0), K, depth + 1);
      if (auto div = dyn_cast<arith::FloorDivSIOp>(d)) {
        auto dv = getConstantIntValue(div.getRhs());
        if (!dv || *dv <= 0 || *dv > (int64_t{1} << 20))
          return std::nullopt;
        IvBound scaled = K;
        for (auto &t : scaled.terms)
          t.second = mul(t.second, *dv);
        scaled.offset = mul(scaled.offset, *dv);
        return threshold(div.getLhs(), scaled, depth + 1);
      }
      if (isa<arith::MaxSIOp, arith::MinSIOp>(d)) {
        auto a = threshold(d->getOperand(0), K, depth + 1), b = threshold(d->getOperand(1), K, depth + 1);
        if (!a || !b)
          return std::nullopt;
        IvBound m;
        m.kind = isa<arith::MaxSIOp>(d) ? IvBound::Kind::Min : IvBound::Kind::Max;
        for (IvBound *x : {&*a, &*b}) // min(min(p, q), r) is min(p, q, r)
          if (x->kind == m.kind)
            m.args.insert(m.args.end(), x->args.begin(), x->args.end());
          else
            m.args.push_back(*x);
        return m;
      }
      return std::nullopt;
    };
    auto swapped = [](P p) { // K pred f  is  f swapped(pred) K
      switch (p) {
      case P::slt: return P::sgt;
      case P::sle: return P::sge;
      case P::sgt: return P::slt;
      case P::sge: return P::sle;
      default: return p;
      }
    };
    // f pred K with f non-decreasing in iv and K invariant: the iterations it makes empty.
    auto monotoneAtom = [&](Value f, P pred, Value k) {
      auto K = affine(k, 0);
      if (!K || K->coef != 0)
        return;
      IvBound next = K->rest;
      next.offset = add(next.offset, 1);
      std::optional<IvBound> t;
      switch (pred) {
      case P::slt: if ((t = threshold(f, K->rest, 0))) lp.starts.push_back(*t); break; // f < K: iv < lo(K)
      case P::sle: if ((t = threshold(f, next, 0))) lp.starts.push_back(*t); break;    // f < K + 1
      case P::sgt: if ((t = threshold(f, next, 0))) lp.ends.push_back(*t); break;      // f >= K + 1
      case P::sge: if ((t = threshold(f, K->rest, 0))) lp.ends.push_back(*t); break;   // f >= K
      default: break;
      }
    };
    auto atom = [&](arith::CmpIOp cmp, bool negated) {
      P pred = negated ? arith::invertPredicate(cmp.getPredicate()) : cmp.getPredicate();
      auto l = affine(cmp.getLhs(), 0), r = affine(cmp.getRhs(), 0);
      if (!l || !r) { // not affine: a non-decreasing function of iv (floor divisions, min, max) against K
        if (invariant(cmp.getRhs()) && !invariant(cmp.getLhs()))
          monotoneAtom(cmp.getLhs(), pred, cmp.getRhs());
        else if (invariant(cmp.getLhs()) && !invariant(cmp.getRhs()))
          monotoneAtom(cmp.getRhs(), swapped(pred), cmp.getLhs());
        return;
      }
      // lhs - rhs = coef * iv + d, compared with 0.
      const int coef = l->coef - r->coef;
      if (coef != 1 && coef != -1)
        return;
      IvBound d = l->rest;
      for (auto [t, s] : r->rest.terms)
        d.terms.push_back({t, mul(-1, s)});
      d.offset = add(d.offset, mul(-1, r->rest.offset));
      if (coef == -1) { // -iv + d pred 0  is  iv - d swapped(pred) 0
        d = negate(d);
        switch (pred) {
        case P::slt: pred = P::sgt; break;
        case P::sle: pred = P::sge; break;
        case P::sgt: pred = P::slt; break;
        case P::sge: pred = P::sle; break;
        default: return;
        }
      }
      // iv + d pred 0, so with X = -d: iv pred X.
      IvBound x = negate(d);
      switch (pred) {
      case P::sgt: x.offset = add(x.offset, 1); lp.ends.push_back(x); break; // skip iv > X: iv < X + 1
      case P::sge: lp.ends.push_back(x); break;                // skip iv >= X: iv < X
      case P::slt: lp.starts.push_back(x); break;              // skip iv < X: iv >= X
      case P::sle: x.offset = add(x.offset, 1); lp.starts.push_back(x); break; // skip iv <= X: iv >= X + 1
      default: break;
      }
    };
    auto guardedAtom = [&](arith::CmpIOp cmp, bool negated) {
      const size_t starts = lp.starts.size(), ends = lp.ends.size();
      overflowed = false;
      atom(cmp, negated);
      if (overflowed) {
        lp.starts.resize(starts);
        lp.ends.resize(ends);
      }
    };
    std::function<void(Value, bool, int)> visit = [&](Value c, bool negated, int depth) {
      if (depth > 16)
        return;
      Operation *d = c.getDefiningOp();
      if (!d)
        return;
      if (auto x = dyn_cast<arith::XOrIOp>(d)) { // x ^ true is not x
        for (auto [a, b] : {std::pair{x.getLhs(), x.getRhs()}, std::pair{x.getRhs(), x.getLhs()}})
          if (auto t = getConstantIntValue(b); t && *t != 0)
            return visit(a, !negated, depth + 1);
        return;
      }
      if (auto ne = dyn_cast<arith::CmpIOp>(d); ne && ne.getLhs().getType().isInteger(1)) {
        // i1 compared with a constant: x != true / x == false is not x, x == true / x != false is x.
        for (auto [a, b] : {std::pair{ne.getLhs(), ne.getRhs()}, std::pair{ne.getRhs(), ne.getLhs()}})
          if (auto t = getConstantIntValue(b)) {
            const bool flips = (ne.getPredicate() == P::ne) == (*t != 0);
            if (ne.getPredicate() == P::ne || ne.getPredicate() == P::eq)
              return visit(a, flips ? !negated : negated, depth + 1);
          }
        return;
      }
      // or (kept) and not-of-and (De Morgan) split into atoms that each make the iteration empty.
      if ((isa<arith::OrIOp>(d) && !negated) || (isa<arith::AndIOp>(d) && negated)) {
        visit(d->getOperand(0), negated, depth + 1);
        visit(d->getOperand(1), negated, depth + 1);
        return;
      }
      if (auto cmp = dyn_cast<arith::CmpIOp>(d))
        guardedAtom(cmp, negated);
    };
    visit(skip.getCondition(), false, 0);
  }

  void planSmem() {
    for (Operation &op : r.kernel.getBodyBlock()) {
      if (auto load = dyn_cast<LoadOp>(op))
        addBuffer(load, {}, 1, load.getResult().getType().getMemorySpace() == MemorySpace::reg);
      if (auto ifOp = dyn_cast<scf::IfOp>(op))
        ifOp.walk([&](LoadOp load) {
          addBuffer(load, {}, 1, load.getResult().getType().getMemorySpace() == MemorySpace::reg);
        });
    }
    for (scf::ForOp l : r.loops)
      planLoopLoads(l);
    layoutSmem();
    // sm90 persistent: the tiles loaded once per tile (Q) get two slots when both fit, so that the
    // producer loads the next tile's Q while this tile's K/V loop still reads the current one, instead
    // of after it (a ~1 us HBM round trip per tile, 7% of a 1k-long K/V loop).
    if (p.schedule.mma == MmaFamily::Wgmma && p.schedule.persistent) {
      for (SmemBuffer &b : p.smem)
        if (!b.loop && !b.staging)
          b.stages = 2;
      layoutSmem();
      if (sm90DynamicSmemBytes(p) > maxDynamicSmemBytes("sm_90")) {
        for (SmemBuffer &b : p.smem)
          if (!b.loop)
            b.stages = 1;
        layoutSmem();
      }
    }
  }

  /// StagedStore (Plan.h): after every loaded tile, when it fits in the dynamic shared memory of sm_90
  /// (after planBlock: it needs the stored value's registers).
  void planStagedStore() {
    StoreOp found;
    int stores = 0;
    for (Operation &op : r.kernel.getBodyBlock())
      if (auto st = dyn_cast<StoreOp>(op)) {
        auto t = dyn_cast<TileType>(st.getValue().getType());
        if (t && t.getRank() == 2)
          ++stores, found = st;
      }
    if (stores != 1)
      return;
    // The stored value's registers: an f32 accumulator (a cast to the tensor's type is done by the store).
    auto t = cast<TileType>(found.getValue().getType());
    auto kept = p.storageOf.find(found.getValue());
    if (kept == p.storageOf.end() || p.storages[kept->second].rowVector || !p.storages[kept->second].elem.isF32())
      return;
    const TensorInfo &dst = r.tensorOf(found.getDest());
    const unsigned destBits = dst.type.getElementType().getIntOrFloatBitWidth();
    if (found.getIndices().size() != 4 || dst.type.getRank() != 4 || destBits != 16 || t.getDimSize(0) != r.blockM ||
        t.getDimSize(1) % 16 != 0 || t.getDimSize(1) > 256)
      return;
    StagedStore s;
    s.op = found;
    s.rows = t.getDimSize(0), s.cols = t.getDimSize(1);
    s.offset = p.smemBytes;
    s.bytes = static_cast<std::size_t>(s.rows) * static_cast<std::size_t>(sm90SmemCols(static_cast<int>(s.cols))) * 2;
    p.smemBytes += s.bytes;
    if (sm90DynamicSmemBytes(p) > maxDynamicSmemBytes("sm_90")) {
      p.smemBytes -= s.bytes;
      return;
    }
    p.staged = s;
  }

  /// Offsets: buffers filled once first; then each loop's buffers, loops overlapping one another.
  void layoutSmem() {
    std::size_t offset = 0;
    for (SmemBuffer &b : p.smem)
      if (!b.loop) {
        b.offset = offset;
        offset += b.bytesPerStage * b.stages;
      }
    std::size_t end = offset;
    std::map<Operation *, std::size_t> endOf; // a loop's buffers end here; a loop nested in it starts there
    for (scf::ForOp l : r.loops) {
      std::size_t o = offset;
      for (Operation *a = l->getParentOp(); a && a != r.kernel.getOperation(); a = a->getParentOp())
        if (auto it = endOf.find(a); it != endOf.end()) {
          o = it->second;
          break;
        }
      for (SmemBuffer &b : p.smem)
        if (b.loop == l) {
          b.offset = o;
          o += b.bytesPerStage * b.stages;
        }
      endOf[l.getOperation()] = o;
      end = std::max(end, o);
    }
    p.smemBytes = end;
  }

  // -- fusions and hoists ----------------------------------------------------------------------------
  void findCombines() {
    r.kernel.getBody().walk([&](ReduceOp red) {
      if (!red.getResult().hasOneUse())
        return;
      auto map = dyn_cast<MapOp>(*red.getResult().getUsers().begin());
      if (!map || map->getBlock() != red->getBlock() || !r.isKept(map.getResult()) ||
          map.getResult().getType().getRank() != 1)
        return;
      // Only element-wise values (that emit nothing) between the two.
      for (Operation *op = red->getNextNode(); op && op != map.getOperation(); op = op->getNextNode()) {
        if (op->getNumResults() == 1 && isa<TileType>(op->getResult(0).getType()) && isElementwise(op) &&
            !r.isKept(op->getResult(0)))
          continue;
        StringRef ns = op->getDialect()->getNamespace();
        if ((ns == "arith" || ns == "math") && op->getNumRegions() == 0)
          continue;
        return;
      }
      Block &body = map.getBody().front();
      unsigned argNo = 0;
      for (; argNo < map.getInputs().size(); ++argNo)
        if (map.getInputs()[argNo] == red.getResult())
          break;
      BlockArgument arg = body.getArgument(argNo);
      if (!arg.hasOneUse())
        return;
      Operation *comb = cast<YieldOp>(body.getTerminator()).getValue().getDefiningOp();
      const bool isMax = red.getKind() == ReduceKind::max;
      Value reduced = arg; // the combine op's operand that carries the reduction
      bool scaled = false;
      if (auto mul = dyn_cast<arith::MulFOp>(*arg.getUsers().begin()); isMax && mul && mul.getLhs() == arg &&
                                                                       mul.getResult().hasOneUse()) {
        FloatAttr k;
        if (matchPattern(mul.getRhs(), m_Constant(&k)) && k.getValue().isNormal() && !k.getValue().isNegative() &&
            comb == *mul->getUsers().begin())
          reduced = mul.getResult(), scaled = true;
      }
      if (!comb || comb != *reduced.getUsers().begin())
        return;
      const bool matches = isMax ? isa<arith::MaximumFOp, arith::MaxNumFOp>(comb) : isa<arith::AddFOp>(comb);
      if (!matches)
        return;
      Value other = comb->getOperand(0) == reduced ? comb->getOperand(1) : comb->getOperand(0);
      if (other == reduced)
        return;
      p.combineOfMap[map] = ReduceCombine{red, argNo, other, scaled};
      p.fusedReduces.insert(red);
    });
  }

  void planHoists() {
    if (p.schedule.q != QPlacement::Registers)
      return;
    for (SmemBuffer &b : p.smem) {
      if (b.loop || b.staging)
        continue;
      Value tile = b.loads.front().getResult();
      bool lhsInLoop = false, other = false;
      for (OpOperand &u : tile.getUses()) {
        auto mm = dyn_cast<MatmulOp>(u.getOwner());
        if (mm && u.getOperandNumber() == 0 && mm->getParentOfType<scf::ForOp>())
          lhsInLoop = true;
        else if (!mm || u.getOperandNumber() != 0)
          other = true;
      }
      if (!lhsInLoop || other)
        continue;
      auto type = cast<TileType>(tile.getType());
      std::string name = b.name;
      if (name.size() > 5 && name.substr(name.size() - 5) == "_smem")
        name = name.substr(0, name.size() - 5);
      p.hoisted[tile] = newStorage(name + "_frag", false, type.getElementType(), type.getDimSize(1));
    }
  }

  // -- registers ----------------------------------------------------------------------------------------
  static TileType type0(Value v) { return cast<TileType>(v.getType()); }

  int newStorage(const std::string &base, bool rowVector, Type elem, int64_t cols) {
    Storage s;
    s.name = identifier(base);
    for (int k = 1; llvm::any_of(p.storages, [&](const Storage &o) { return o.name == s.name; }) ||
                    llvm::any_of(p.smem, [&](const SmemBuffer &b) { return b.name == s.name; });
         ++k)
      s.name = identifier(base) + "_" + std::to_string(k);
    s.rowVector = rowVector;
    s.elem = elem;
    s.cols = cols;
    p.storages.push_back(s);
    owner.push_back(Value());
    return static_cast<int>(p.storages.size()) - 1;
  }

  bool compatible(int storage, Value v) {
    const Storage &s = p.storages[storage];
    auto type = cast<TileType>(v.getType());
    return s.rowVector == (type.getRank() == 1) && s.elem == storageElemType(r, v) &&
           (s.rowVector || s.cols == type.getDimSize(1));
  }

  /// `storage` may take a new value at `at`: nothing live is in it.
  bool isFree(int storage, Operation *at) {
    Value o = owner[storage];
    return !o || live.deadAfter(o, at);
  }

  void assign(Value v, int storage) {
    p.storageOf[v] = storage;
    owner[storage] = v;
  }

  /// The storage of the loop's k-th carried value (created on first request).
  int iterStorage(scf::ForOp loop, unsigned k) {
    auto key = std::make_pair(loop.getOperation(), k);
    auto it = iterStorages.find(key);
    if (it != iterStorages.end())
      return it->second;
    Value arg = loop.getRegionIterArgs()[k];
    auto type = cast<TileType>(arg.getType());
    int s = newStorage(r.tile(arg).name, type.getRank() == 1, type.getElementType(),
                       type.getRank() == 2 ? type.getDimSize(1) : 0);
    iterStorages[key] = s;
    return s;
  }

  /// The storage of an scf.if's k-th result: the variable of the loop value it becomes, when that is free
  /// after the scf.if; else a new variable.
  int ifStorage(scf::IfOp ifOp, unsigned k) {
    auto key = std::make_pair(ifOp.getOperation(), k);
    auto it = iterStorages.find(key);
    if (it != iterStorages.end())
      return it->second;
    Value res = ifOp.getResult(k);
    int s = -1;
    if (res.hasOneUse()) {
      // Yielded on (to an enclosing scf.if or the loop): share that variable when what it holds now is
      // not read once this scf.if has finished.
      OpOperand &use = *res.getUses().begin();
      if (auto y = dyn_cast<scf::YieldOp>(use.getOwner()); y && y->getBlock() == ifOp->getBlock()) {
        int target = -1;
        if (auto loop = dyn_cast<scf::ForOp>(y->getParentOp()))
          target = iterStorage(loop, use.getOperandNumber());
        else if (auto outer = dyn_cast<scf::IfOp>(y->getParentOp()))
          target = ifStorage(outer, use.getOperandNumber());
        if (target >= 0 && compatible(target, res) && (!owner[target] || live.deadAfter(owner[target], ifOp, true)))
          s = target;
      }
    }
    if (s < 0) {
      auto type = cast<TileType>(res.getType());
      s = newStorage(r.tile(res).name, type.getRank() == 1, storageElemType(r, res),
                     type.getRank() == 2 ? type.getDimSize(1) : 0);
    }
    iterStorages[key] = s;
    return s;
  }

  /// Kept tiles whose elements the op at `op` reads (through inlined element-wise values).
  void keptReads(Value v, std::vector<Value> &out) {
    if (r.isKept(v)) {
      out.push_back(v);
      return;
    }
    if (Operation *d = v.getDefiningOp())
      for (Value in : d->getOperands())
        if (isa<TileType>(in.getType()))
          keptReads(in, out);
  }

  void planValue(Value v, Operation *at) {
    const TileInfo &info = r.tile(v);
    if (info.cls != TileClass::Fragment && info.cls != TileClass::RowVector)
      return;
    if (p.storageOf.count(v))
      return;
    // 1. Yielded: straight into the variable it is yielded to.
    if (v.hasOneUse()) {
      OpOperand &use = *v.getUses().begin();
      Operation *user = use.getOwner();
      int hint = -1;
      if (auto y = dyn_cast<scf::YieldOp>(user)) {
        if (auto loop = dyn_cast<scf::ForOp>(y->getParentOp()))
          hint = iterStorage(loop, use.getOperandNumber());
        else if (auto ifOp = dyn_cast<scf::IfOp>(y->getParentOp()))
          hint = ifStorage(ifOp, use.getOperandNumber());
      } else if (auto loop = dyn_cast<scf::ForOp>(user)) {
        const unsigned k = use.getOperandNumber() - loop.getNumControlOperands();
        hint = iterStorage(loop, k);
      }
      if (hint >= 0 && compatible(hint, v) && isFree(hint, at)) {
        assign(v, hint);
        return;
      }
    }
    // 2. In place: an operand read at `at` and dead afterwards.
    std::vector<Value> reads;
    if (auto mm = dyn_cast<MatmulOp>(at)) {
      if (mm.getAcc())
        reads.push_back(mm.getAcc());
    } else if (auto map = dyn_cast<MapOp>(at); map && p.combineOfMap.count(map)) {
      const ReduceCombine &c = p.combineOfMap[map];
      for (auto [i, in] : llvm::enumerate(map.getInputs()))
        if (i != c.reduceArg)
          keptReads(in, reads);
    } else if (isElementwise(at)) {
      for (Value in : at->getOperands())
        if (isa<TileType>(in.getType()))
          keptReads(in, reads);
    } else if (auto scan = dyn_cast<ScanOp>(at)) {
      reads.push_back(scan.getInput()); // warp::row_scan_sum may write over its input
    }
    if (type0(v).getRank() == 1)
      reads.clear(); // row vectors are 2 registers: a new name reads better than an update in place
    for (Value in : reads) {
      auto it = p.storageOf.find(in);
      if (it == p.storageOf.end() || p.hoisted.count(in))
        continue;
      if (owner[it->second] == in && compatible(it->second, v) && live.deadAfter(in, at)) {
        assign(v, it->second);
        return;
      }
    }
    // 3. A new variable.
    auto type = cast<TileType>(v.getType());
    assign(v, newStorage(info.name, type.getRank() == 1, storageElemType(r, v),
                         type.getRank() == 2 ? type.getDimSize(1) : 0));
  }

  void planBlock(Block &block) {
    for (Operation &op : block) {
      if (auto loop = dyn_cast<scf::ForOp>(op)) {
        for (unsigned k = 0; k < loop.getNumRegionIterArgs(); ++k) {
          Value arg = loop.getRegionIterArgs()[k];
          if (!isa<TileType>(arg.getType()))
            continue;
          assign(arg, iterStorage(loop, k));
        }
        planBlock(*loop.getBody());
        for (unsigned k = 0; k < loop.getNumResults(); ++k)
          if (isa<TileType>(loop.getResult(k).getType()))
            assign(loop.getResult(k), iterStorage(loop, k));
        continue;
      }
      if (auto ifOp = dyn_cast<scf::IfOp>(op)) {
        for (unsigned k = 0; k < ifOp.getNumResults(); ++k)
          if (isa<TileType>(ifOp.getResult(k).getType()))
            ifStorage(ifOp, k);
        std::vector<Value> saved = owner;
        planBlock(ifOp.getThenRegion().front());
        std::vector<Value> afterThen = owner;
        owner = saved;
        owner.resize(p.storages.size()); // storages made in the then-branch hold nothing here
        if (!ifOp.getElseRegion().empty())
          planBlock(ifOp.getElseRegion().front());
        for (size_t s = 0; s < owner.size(); ++s) {
          const Value before = s < saved.size() ? saved[s] : Value();
          const Value inThen = s < afterThen.size() ? afterThen[s] : Value();
          if (owner[s] != before || inThen != before)
            owner[s] = Value(); // written in a branch: no longer anyone's to update in place
        }
        for (unsigned k = 0; k < ifOp.getNumResults(); ++k)
          if (isa<TileType>(ifOp.getResult(k).getType()))
            assign(ifOp.getResult(k), ifStorage(ifOp, k));
        continue;
      }
      if (p.fusedReduces.count(&op))
        continue; // computed by the map that combines it
      for (Value res : op.getResults())
        if (isa<TileType>(res.getType()))
          planValue(res, &op);
    }
  }

  void estimateRegisters() {
    int regs = 0;
    for (const Storage &s : p.storages) {
      if (s.rowVector)
        regs += p.warpRows / 8;
      else
        regs += static_cast<int>(p.warpRows * s.cols / 32 / (s.elem.isF32() ? 1 : 2));
    }
    p.registerEstimate = regs;
  }

  const ResolvedKernel &r;
  KernelPlan p;
  Liveness live;
  std::vector<Value> owner; ///< per storage: the value it holds now
  std::map<std::pair<Operation *, unsigned>, int> iterStorages;
};

} // namespace

std::string KernelPlan::toString() const {
  std::ostringstream os;
  os << "plan: " << schedule.toString() << "\n";
  os << "  threads " << schedule.threadsPerBlock() << ", " << schedule.warps << " warps x " << warpRows
     << " query rows (WARP_ROWS)\n";
  os << "  shared memory: " << smemBytes << " bytes\n";
  for (const SmemBuffer &b : smem) {
    os << "    +" << b.offset << "\t" << b.name;
    if (b.stages > 1)
      os << "[" << b.stages << "]";
    os << " : st<" << b.elemC << ", " << b.rows << ", " << b.cols << ">, " << b.bytesPerStage << " bytes"
       << (b.stages > 1 ? " per stage" : "") << ", swizzle " << swizzleText(b, schedule.mma == MmaFamily::Wgmma)
       << " (16-byte chunks)";
    if (b.staging)
      os << ", staging for registers";
    else if (b.loop)
      os << (b.pipelined ? ", cp.async pipelined" : ", loaded in place (not pipelined)");
    else
      os << ", loaded once";
    if (b.loads.size() > 1)
      os << ", " << b.loads.size() << " loads share it";
    os << "\n";
  }
  if (staged)
    os << "    +" << staged->offset << "\tstaged store : " << staged->rows << " x " << staged->cols << ", "
       << staged->bytes << " bytes, written by the consumers, stored by "
       << (r->packed ? "TMA, 16-byte stores for a sequence's last rows (packed)" : "TMA") << "\n";
  for (const LoopPlan &l : loops) {
    os << "  loop at " << locationString(l.op.getLoc()) << ": step " << l.step << ", " << l.stages
       << (l.stages == 1 ? " stage (issue at the top of each iteration, wait before each first use)"
                         : " stages (prefetch iteration it + " + std::to_string(l.stages - 1) + ")")
       << "\n";
    if (!l.ends.empty() || !l.starts.empty())
      os << "    loop range cut: iterations before " << l.starts.size() << " and past " << l.ends.size()
         << " loop-invariant bounds are empty (scf.if pass-through)\n";
    if (!l.loads.empty())
      os << "    " << (l.split ? "split waits: each load waited for before its first use, its predecessor's slot "
                                 "refilled there"
                               : "one wait per iteration")
         << "\n";
    for (const PipelinedLoad &pl : l.loads) {
      os << "    load " << smem[pl.buffer].name;
      if (pl.conditions.empty())
        os << ", always";
      else
        os << ", under " << pl.conditions.size() << " scf.if condition(s)";
      os << "\n";
    }
  }
  os << "  registers (per thread, all storages, upper bound): ~" << registerEstimate << "\n";
  for (const Storage &s : storages) {
    os << "    " << s.name << " : "
       << (s.rowVector ? "rv<" + std::to_string(warpRows) + ">"
                       : "rt<" + typeString(s.elem) + ", " + std::to_string(warpRows) + ", " + std::to_string(s.cols) + ">");
    std::vector<std::string> held;
    for (auto &[v, idx] : storageOf)
      if (&storages[idx] == &s)
        held.push_back(r->tile(v).name);
    os << "  (" << held.size() << " value" << (held.size() == 1 ? "" : "s") << ")\n";
  }
  for (auto &[map, c] : combineOfMap)
    os << "  fused: blk.reduce " << (c.reduce.getKind() == ReduceKind::max ? "max" : "sum") << " at "
       << locationString(c.reduce.getLoc()) << " into the blk.map at " << locationString(map->getLoc()) << "\n";
  for (auto &[v, s] : hoisted)
    os << "  kept in registers for the loop: " << r->tile(v).name << " -> " << storages[s].name << "\n";
  return os.str();
}

KernelPlan plan(const ResolvedKernel &r, const Schedule &schedule) { return Planner(r, schedule).run(); }

} // namespace tilefuse::codegen
