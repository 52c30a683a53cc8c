//===- IOReport.cpp - static count of bytes per tier and FLOPs -------------===//
//
// An abstract run of the program: scalars are folded with the interpreter's scalar semantics
// (tilefuse/interp/Scalar.h), tiles carry only their run-time extents, HBM tensors only their
// shapes. Each kernel body is walked once per combination of the program ids that matter (those
// reaching an offset, loop bound, condition or alloc size); the others multiply the cost. A loop
// is walked once per run of iterations that cost the same (LoopPlan.h: the K/V tiles of one Q tile
// that are all full, all partial or all empty under the tile classification), and a run seen
// before (the same branches, extents and carried state, e.g. at the next Q tile) is not walked
// again: the report is linear in the number of Q tiles, not in the number of tile pairs.
//
#include "tilefuse/analysis/IOReport.h"

#include "LoopPlan.h"

#include "tilefuse/interp/Interpreter.h"
#include "tilefuse/interp/Scalar.h"

#include "blk/BlkDialect.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/TypeSwitch.h"

#include <array>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <variant>

using namespace mlir;
namespace blk = tilefuse::blk;
using tilefuse::interp::Word;

namespace tilefuse::analysis {

namespace {

std::string where(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << "'" << op->getName() << "' at ";
  if (auto flc = op->getLoc()->findInstanceOf<FileLineColLoc>())
    os << flc.getFilename().getValue() << ":" << flc.getLine() << ":" << flc.getColumn();
  else
    os << op->getLoc();
  return s;
}

} // namespace

AnalysisError::AnalysisError(const std::string &message)
    : std::runtime_error(message), message_(message) {}
AnalysisError::AnalysisError(Operation *op, const std::string &message)
    : std::runtime_error(where(op) + ": " + message), op_(op), message_(message) {}

namespace {

/// The report's size arithmetic, checked: a count past int64 (dims far beyond any GPU's memory,
/// e.g. Hq = 2^62 from tilefuse-opt's dims option) is an error, not a wrapped total.
[[noreturn]] void overflow() {
  throw AnalysisError("a byte or FLOP count at these dims overflows int64 (more than 9.2e18); "
                      "expected smaller dims");
}
int64_t mulChecked(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r))
    overflow();
  return r;
}
void addChecked(int64_t &a, int64_t b) {
  if (__builtin_add_overflow(a, b, &a))
    overflow();
}

} // namespace

TierBytes &TierBytes::operator+=(const TierBytes &o) {
  addChecked(hbmToSmem, o.hbmToSmem);
  addChecked(hbmToReg, o.hbmToReg);
  addChecked(smemToReg, o.smemToReg);
  addChecked(regToSmem, o.regToSmem);
  addChecked(regToHbm, o.regToHbm);
  addChecked(smemToHbm, o.smemToHbm);
  addChecked(tableRead, o.tableRead);
  return *this;
}

Flops &Flops::operator+=(const Flops &o) {
  addChecked(matmul, o.matmul);
  addChecked(elementwise, o.elementwise);
  addChecked(sfu, o.sfu);
  addChecked(reduce, o.reduce);
  addChecked(select, o.select);
  return *this;
}

namespace {

constexpr int64_t kNone = -1;
using Ext = std::array<int64_t, 2>;

struct Cost {
  TierBytes bytes;
  Flops flops;
};

/// after - before, field by field (both totals of one row, after >= before).
Cost difference(const Cost &after, const Cost &before) {
  const TierBytes &a = after.bytes, &b = before.bytes;
  const Flops &f = after.flops, &g = before.flops;
  return {{a.hbmToSmem - b.hbmToSmem, a.hbmToReg - b.hbmToReg, a.smemToReg - b.smemToReg,
           a.regToSmem - b.regToSmem, a.regToHbm - b.regToHbm, a.smemToHbm - b.smemToHbm,
           a.tableRead - b.tableRead},
          {f.matmul - g.matmul, f.elementwise - g.elementwise, f.sfu - g.sfu, f.reduce - g.reduce,
           f.select - g.select}};
}

Cost scaled(const Cost &c, int64_t k) {
  Cost r;
  const TierBytes &b = c.bytes;
  r.bytes = {mulChecked(b.hbmToSmem, k), mulChecked(b.hbmToReg, k),
             mulChecked(b.smemToReg, k), mulChecked(b.regToSmem, k),
             mulChecked(b.regToHbm, k),  mulChecked(b.smemToHbm, k),
             mulChecked(b.tableRead, k)};
  const Flops &f = c.flops;
  r.flops = {mulChecked(f.matmul, k), mulChecked(f.elementwise, k), mulChecked(f.sfu, k),
             mulChecked(f.reduce, k), mulChecked(f.select, k)};
  return r;
}

/// Cost of a tile whose `?` extent is not known yet (a map / select / copy over fill, iota or
/// broadcast tiles): charged once, when a consumer fixes the extent.
struct Pending {
  Cost perElement;
  Cost once;
  bool charged = false;
  uint64_t serial = 0; ///< creation order (Analyzer::newPending)
  /// Pending inputs; `true`: a broadcast source, charged at (rows, 1).
  std::vector<std::pair<std::shared_ptr<Pending>, bool>> inputs;
};

struct ATile {
  unsigned rank = 2;
  Ext ext{1, 1}; ///< kNone: a `?` dim with no extent yet.
  std::shared_ptr<Pending> pending;
  bool resolved() const { return ext[0] != kNone && ext[1] != kNone; }
};
using ATilePtr = std::shared_ptr<const ATile>;

struct AScalar {
  bool known = false;
  Word w{};
};

struct ATensor {
  std::vector<int64_t> shape;
  int64_t elementBytes = 0;
};

using AVal = std::variant<std::monostate, AScalar, ATilePtr, const ATensor *>;

int64_t bytesOf(Type t) {
  if (auto tile = dyn_cast<blk::TileType>(t))
    t = tile.getElementType();
  if (auto tensor = dyn_cast<blk::HbmTensorType>(t))
    t = tensor.getElementType();
  return (static_cast<int64_t>(t.getIntOrFloatBitWidth()) + 7) / 8;
}

std::string extStr(const ATile &t) {
  auto one = [](int64_t e) { return e == kNone ? std::string("?") : std::to_string(e); };
  return t.rank == 1 ? one(t.ext[0]) : one(t.ext[0]) + "x" + one(t.ext[1]);
}

int64_t overlap(int64_t offset, int64_t length, int64_t extent) {
  return std::max<int64_t>(0, std::min(offset + length, extent) - std::max<int64_t>(offset, 0));
}

/// Which grid dims (bit d for program id d) reach something that changes the cost: a load /
/// store offset, a loop bound, an scf.if condition, an alloc size. Forward taint to a fixpoint.
unsigned costRelevantGridDims(blk::KernelOp kernel) {
  llvm::DenseMap<Value, unsigned> taint;
  for (BlockArgument arg : kernel.getBodyBlock().getArguments())
    taint[arg] = 1u << arg.getArgNumber();
  auto get = [&](Value v) {
    auto it = taint.find(v);
    return it == taint.end() ? 0u : it->second;
  };
  unsigned sinks = 0;
  bool changed = true;
  auto set = [&](Value v, unsigned mask) {
    unsigned &x = taint[v];
    if ((x | mask) != x) {
      x |= mask;
      changed = true;
    }
  };
  auto trailing = [&](ValueRange idx, unsigned tileRank) {
    unsigned m = 0;
    for (unsigned k = idx.size() - tileRank; k < idx.size(); ++k)
      m |= get(idx[k]);
    return m;
  };
  while (changed) {
    changed = false;
    kernel.getBody().walk([&](Operation *op) {
      unsigned m = 0;
      for (Value v : op->getOperands())
        m |= get(v);
      if (auto loop = dyn_cast<scf::ForOp>(op)) {
        unsigned bounds =
            get(loop.getLowerBound()) | get(loop.getUpperBound()) | get(loop.getStep());
        sinks |= bounds;
        set(loop.getInductionVar(), bounds);
        Operation *yield = loop.getBody()->getTerminator();
        for (unsigned k = 0; k < loop.getNumResults(); ++k) {
          unsigned c = get(loop.getInitArgs()[k]) | get(yield->getOperand(k));
          set(loop.getRegionIterArgs()[k], c);
          set(loop.getResult(k), c);
        }
        return;
      }
      if (auto branch = dyn_cast<scf::IfOp>(op)) {
        unsigned c = get(branch.getCondition());
        sinks |= c;
        for (unsigned k = 0; k < branch.getNumResults(); ++k) {
          unsigned r = c;
          for (Region *region : {&branch.getThenRegion(), &branch.getElseRegion()})
            if (!region->empty())
              r |= get(region->front().getTerminator()->getOperand(k));
          set(branch.getResult(k), r);
        }
        return;
      }
      if (auto load = dyn_cast<blk::LoadOp>(op))
        sinks |= trailing(load.getIndices(), load.getResult().getType().getRank());
      if (auto store = dyn_cast<blk::StoreOp>(op))
        sinks |= trailing(store.getIndices(), store.getValue().getType().getRank());
      if (isa<blk::AllocOp>(op))
        sinks |= m;
      for (Value r : op->getResults())
        set(r, m);
    });
  }
  return sinks;
}

class Analyzer {
public:
  explicit Analyzer(const Dims &dims) : dims(dims) {}
  IOReport run(func::FuncOp fn);

private:
  Operation *runBlock(Block &block);
  void runOp(Operation *op);
  void runKernel(blk::KernelOp op);
  void runFor(scf::ForOp op);
  void runIf(scf::IfOp op);
  /// Records that the counts are an upper bound, and why (once per reason).
  void boundBy(const std::string &why) {
    if (std::find(report.upperBound.begin(), report.upperBound.end(), why) == report.upperBound.end())
      report.upperBound.push_back(why);
  }
  void runLoad(blk::LoadOp op);
  void runStore(blk::StoreOp op);
  void runCopy(blk::CopyOp op);
  void runMatmul(blk::MatmulOp op);
  void runElementwise(Operation *op, ValueRange inputs, Value result, const Cost &perElement,
                      const Cost &once);
  void runMap(blk::MapOp op);
  void runRowOp(Operation *op, Value input, Value result, const char *what, unsigned rank);
  void runScalar(Operation *op);

  void charge(const Cost &c, int64_t times) {
    Cost s = scaled(c, mulChecked(times, weight));
    KernelIO &r = row();
    r.bytes += s.bytes;
    r.flops += s.flops;
  }
  void settle(const std::shared_ptr<Pending> &p, Ext e) {
    if (!p || p->charged)
      return;
    p->charged = true;
    for (Walk &w : walks) // a cost made before the iteration: that iteration is not typical
      w.outerSettled |= p->serial < w.firstSerial;
    charge(p->perElement, mulChecked(e[0], e[1]));
    charge(p->once, 1);
    for (auto &[in, rowsOnly] : p->inputs)
      settle(in, rowsOnly ? Ext{e[0], 1} : e);
  }
  void settle(const ATilePtr &t, Ext e) { settle(t->pending, e); }
  std::shared_ptr<Pending> newPending() {
    auto p = std::make_shared<Pending>();
    p->serial = nextSerial++;
    return p;
  }
  KernelIO &row() {
    if (current < 0) {
      report.kernels.push_back({"(function body)", {}, 1, {}, {}});
      current = static_cast<int>(report.kernels.size()) - 1;
    }
    return report.kernels[current];
  }

  AScalar scalar(Value v) {
    auto *s = std::get_if<AScalar>(&lookup(v));
    return s ? *s : AScalar{};
  }
  /// A scalar that must be known: an offset, bound, condition, size.
  int64_t known(Operation *op, Value v, const char *what) {
    AScalar s = scalar(v);
    if (!s.known)
      throw AnalysisError(op, std::string("the ") + what +
                                  " cannot be folded from the dims and program ids (does it "
                                  "depend on tensor data?)");
    return s.w.i;
  }
  ATilePtr tile(Value v) {
    auto *t = std::get_if<ATilePtr>(&lookup(v));
    if (!t)
      throw AnalysisError(v.getParentRegion()->getParentOp(), "expected a tile value");
    return *t;
  }
  const ATensor &tensor(Value v) {
    auto *t = std::get_if<const ATensor *>(&lookup(v));
    if (!t)
      throw AnalysisError(v.getParentRegion()->getParentOp(), "expected an HBM tensor value");
    return **t;
  }
  const AVal &lookup(Value v) {
    auto it = env.find(v);
    if (it == env.end())
      throw AnalysisError(v.getParentRegion()->getParentOp(), "value used before it was set");
    return it->second;
  }
  Ext window(Operation *op, blk::TileType type, const ATensor &t, ValueRange indices);

  const Dims &dims;
  IOReport report;
  int current = -1;   ///< Index of the row being charged; -1: none yet outside kernels.
  int64_t weight = 1; ///< Instances each walk of the current kernel body stands for.
  int64_t steps = 0;  ///< Kernel-body walks and loop iterations run so far (see tick).

  /// Counts one kernel-body walk or loop iteration; the run stops with an error past
  /// kMaxAbstractSteps, so that no shape makes the report run for hours.
  void tick(Operation *op) {
    if (++steps > kMaxAbstractSteps)
      throw AnalysisError(
          op, "the report at these sizes needs more than " + std::to_string(kMaxAbstractSteps) +
                  " steps of its abstract run (one per kernel instance that matters, per run of "
                  "loop iterations that cost the same, and per iteration of a loop whose cost "
                  "the report cannot summarize); expected fewer: report at a smaller Sq or Sk, "
                  "or with larger blocks");
  }
  llvm::DenseMap<Value, AVal> env;
  std::deque<ATensor> tensors;

  // Loop summaries (LoopPlan.h).
  /// One loop iteration being walked to learn its cost: did it settle a Pending made before it?
  struct Walk {
    uint64_t firstSerial = 0;
    bool outerSettled = false;
  };
  std::vector<Walk> walks;
  uint64_t nextSerial = 0;
  llvm::DenseMap<Operation *, std::unique_ptr<detail::LoopPlan>> plans;
  /// Cost of one iteration (weighted, for the row it was charged to), by loop, row, weight,
  /// decisions, key values and carried state: the same key costs the same.
  std::map<std::vector<int64_t>, Cost> iterationCosts;
  const detail::LoopPlan &planOf(scf::ForOp op) {
    std::unique_ptr<detail::LoopPlan> &p = plans[op];
    if (!p)
      p = std::make_unique<detail::LoopPlan>(detail::planLoop(op));
    return *p;
  }
  /// Appends an abstract value to a memo key; false for a tile with a cost not charged yet (its
  /// charge would depend on where it is settled, so no iteration carrying it is summarized).
  bool encode(const AVal &v, std::vector<int64_t> &key) const;
  Cost rowCost() {
    KernelIO &r = row();
    return {r.bytes, r.flops};
  }
  void addToRow(const Cost &c) {
    KernelIO &r = row();
    r.bytes += c.bytes;
    r.flops += c.flops;
  }
  /// Runs iterations [k0, k1) of `op` one run of equal iterations at a time (LoopPlan.h).
  void runSegment(scf::ForOp op, const detail::LoopSegments &segments, int64_t lb, int64_t step,
                  int64_t k0, int64_t k1, std::vector<AVal> &carried);
  void runIteration(scf::ForOp op, int64_t iv, std::vector<AVal> &carried);
};

IOReport Analyzer::run(func::FuncOp fn) {
  report.function = fn.getSymName().str();
  report.dims = dims;
  for (BlockArgument arg : fn.getArguments()) {
    auto tt = dyn_cast<blk::HbmTensorType>(arg.getType());
    if (!tt) {
      env[arg] = AScalar{};
      continue;
    }
    ATensor t;
    t.elementBytes = bytesOf(tt);
    unsigned dyn = 0;
    for (unsigned d = 0; d < tt.getRank(); ++d) {
      if (!tt.isDynamicDim(d)) {
        t.shape.push_back(tt.getShape()[d]);
        continue;
      }
      std::string name = tt.getDimNames()[dyn++].getValue().str();
      auto it = dims.find(name);
      if (it == dims.end()) {
        std::string given;
        for (auto &[k, v] : dims)
          given += (given.empty() ? "" : ", ") + k;
        throw AnalysisError("@" + report.function + ": dim '" + name + "' of argument #" +
                            std::to_string(arg.getArgNumber()) + " has no extent (dims given: " +
                            (given.empty() ? "none" : given) + ")");
      }
      t.shape.push_back(it->second);
    }
    tensors.push_back(std::move(t));
    env[arg] = &tensors.back();
  }
  runBlock(fn.getBody().front());
  for (const KernelIO &k : report.kernels) {
    report.bytes += k.bytes;
    report.flops += k.flops;
  }
  return report;
}

Operation *Analyzer::runBlock(Block &block) {
  for (Operation &op : block) {
    if (op.hasTrait<OpTrait::IsTerminator>())
      return &op;
    runOp(&op);
  }
  return nullptr;
}

void Analyzer::runOp(Operation *op) {
  llvm::TypeSwitch<Operation *>(op)
      .Case<blk::KernelOp>([&](auto o) { runKernel(o); })
      .Case<scf::ForOp>([&](auto o) { runFor(o); })
      .Case<scf::IfOp>([&](auto o) { runIf(o); })
      .Case<blk::DimOp>([&](auto o) {
        env[o.getResult()] =
            AScalar{true, interp::intWord(tensor(o.getSource()).shape[o.getIndex()])};
      })
      .Case<blk::AllocOp>([&](auto o) {
        blk::HbmTensorType tt = o.getResult().getType();
        ATensor t;
        t.elementBytes = bytesOf(tt);
        unsigned dyn = 0;
        for (unsigned d = 0; d < tt.getRank(); ++d)
          t.shape.push_back(tt.isDynamicDim(d) ? known(o, o.getSizes()[dyn++], "alloc size")
                                               : tt.getShape()[d]);
        tensors.push_back(std::move(t));
        env[o.getResult()] = &tensors.back();
      })
      .Case<blk::LoadOp>([&](auto o) { runLoad(o); })
      .Case<blk::StoreOp>([&](auto o) { runStore(o); })
      .Case<blk::ReadOp>([&](auto o) {
        charge(Cost{TierBytes{0, 0, 0, 0, 0, 0, bytesOf(o.getSource().getType())}, {}}, 1);
        env[o.getResult()] = AScalar{};
      })
      // A tile class a run-time block mask may decide: unknown, so the scf.if it selects is
      // counted as its heavier branch (an upper bound; what the block mask skips is not
      // subtracted).
      .Case<blk::TileClassOp>([&](auto o) {
        env[o.getResult()] = AScalar{};
        boundBy("a run-time block mask decides which K/V tiles run (data-dependent): the tiles it skips are "
                "counted as loaded and masked");
      })
      .Case<blk::CopyOp>([&](auto o) { runCopy(o); })
      .Case<blk::MatmulOp>([&](auto o) { runMatmul(o); })
      .Case<blk::MapOp>([&](auto o) { runMap(o); })
      .Case<blk::SelectOp>([&](auto o) {
        Cost per;
        per.flops.select = 1;
        runElementwise(o, o->getOperands(), o.getResult(), per, Cost{});
      })
      .Case<blk::ReduceOp>([&](auto o) { runRowOp(o, o.getInput(), o.getResult(), "reduced", 1); })
      .Case<blk::ScanOp>([&](auto o) { runRowOp(o, o.getInput(), o.getResult(), "scanned", 2); })
      .Case<blk::BroadcastOp>([&](auto o) {
        ATilePtr src = tile(o.getInput());
        auto t = std::make_shared<ATile>();
        int64_t n = o.getResult().getType().getDimSize(1);
        t->ext = {src->ext[0], ShapedType::isDynamic(n) ? kNone : n};
        if (src->pending) {
          t->pending = newPending();
          t->pending->inputs.push_back({src->pending, true});
        }
        env[o.getResult()] = ATilePtr(t);
      })
      .Case<blk::FillOp, blk::IotaOp>([&](auto o) {
        blk::TileType ty = o.getResult().getType();
        auto t = std::make_shared<ATile>();
        t->rank = ty.getRank();
        for (unsigned d = 0; d < t->rank; ++d)
          t->ext[d] = ty.isDynamicDim(d) ? kNone : ty.getDimSize(d);
        env[o.getResult()] = ATilePtr(t);
      })
      .Default([&](Operation *o) { runScalar(o); });
}

void Analyzer::runScalar(Operation *op) {
  if (op->getNumRegions() != 0 || op->getNumResults() != 1 ||
      !interp::isScalarType(op->getResult(0).getType()))
    throw AnalysisError(op, "unsupported op");
  std::vector<Word> operands;
  bool allKnown = true;
  for (Value v : op->getOperands()) {
    AScalar s = scalar(v);
    allKnown &= s.known;
    operands.push_back(s.w);
  }
  AScalar out;
  if (allKnown) {
    try {
      out = {true, interp::evalScalarOp(op, operands)};
    } catch (const interp::InterpError &) {
      out = {}; // e.g. a division by a program id that is 0 in this walk: not a cost input
    }
  }
  env[op->getResult(0)] = out;
}

void Analyzer::runKernel(blk::KernelOp op) {
  std::vector<int64_t> grid;
  for (Value g : op.getGrid())
    grid.push_back(known(op, g, "grid size"));
  int64_t instances = 1;
  for (int64_t g : grid)
    instances = mulChecked(instances, std::max<int64_t>(g, 0));
  report.kernels.push_back({op.getSymName().str(), grid, instances, {}, {}});
  const int saved = current;
  current = static_cast<int>(report.kernels.size()) - 1;
  const unsigned relevant = costRelevantGridDims(op);
  weight = 1;
  for (unsigned d = 0; d < grid.size(); ++d)
    if (!(relevant & (1u << d)))
      weight = mulChecked(weight, std::max<int64_t>(grid[d], 0));
  Block &body = op.getBodyBlock();
  std::vector<int64_t> id(grid.size(), 0);
  // Odometer over the relevant dims; the others stay at 0 (they change no cost).
  while (instances > 0) {
    tick(op);
    for (unsigned d = 0; d < grid.size(); ++d)
      env[body.getArgument(d)] = AScalar{true, interp::intWord(id[d])};
    runBlock(body);
    int d = static_cast<int>(grid.size()) - 1;
    for (; d >= 0; --d) {
      if (!(relevant & (1u << d)))
        continue;
      if (++id[d] < grid[d])
        break;
      id[d] = 0;
    }
    if (d < 0)
      break;
  }
  weight = 1;
  current = saved;
}

bool Analyzer::encode(const AVal &v, std::vector<int64_t> &key) const {
  key.push_back(static_cast<int64_t>(v.index()));
  if (const auto *s = std::get_if<AScalar>(&v)) {
    int64_t bits = 0;
    std::memcpy(&bits, &s->w, sizeof bits);
    key.insert(key.end(), {s->known, s->known ? bits : 0});
  } else if (const auto *t = std::get_if<ATilePtr>(&v)) {
    const ATile &tile = **t;
    if (tile.pending && !tile.pending->charged)
      return false;
    key.insert(key.end(), {tile.rank, tile.ext[0], tile.ext[1]});
  } else if (const auto *h = std::get_if<const ATensor *>(&v)) {
    key.push_back(static_cast<int64_t>(reinterpret_cast<uintptr_t>(*h)));
  }
  return true;
}

void Analyzer::runIteration(scf::ForOp op, int64_t iv, std::vector<AVal> &carried) {
  tick(op);
  env[op.getInductionVar()] = AScalar{true, interp::intWord(iv)};
  for (size_t k = 0; k < carried.size(); ++k)
    env[op.getRegionIterArgs()[k]] = carried[k];
  Operation *yield = runBlock(*op.getBody());
  for (size_t k = 0; k < carried.size(); ++k)
    carried[k] = lookup(yield->getOperand(k));
}

void Analyzer::runSegment(scf::ForOp op, const detail::LoopSegments &segments, int64_t lb,
                          int64_t step, int64_t k0, int64_t k1, std::vector<AVal> &carried) {
  const detail::LoopPlan &plan = planOf(op);
  for (int64_t k = k0; k < k1;) {
    const int64_t iv = static_cast<int64_t>(lb + static_cast<__int128>(k) * step); // < ub
    // A window over an edge of its tensor moves a different number of elements each iteration.
    if (segments.straddles(k)) {
      runIteration(op, iv, carried);
      ++k;
      continue;
    }
    // 1. The key: loop, row, weight, decisions of this run, key values, carried state.
    std::vector<int64_t> key = {static_cast<int64_t>(reinterpret_cast<uintptr_t>(op.getOperation())),
                                current, weight};
    std::vector<int64_t> decisions = segments.decisions(k);
    key.push_back(static_cast<int64_t>(decisions.size()));
    key.insert(key.end(), decisions.begin(), decisions.end());
    bool keyed = true;
    for (Value v : plan.keyValues)
      keyed &= encode(lookup(v), key);
    std::vector<int64_t> in;
    for (const AVal &v : carried)
      keyed &= encode(v, in);
    key.insert(key.end(), in.begin(), in.end());
    // 2. Seen before: every iteration left of the run costs the same and keeps the state.
    if (keyed) {
      if (auto it = iterationCosts.find(key); it != iterationCosts.end()) {
        tick(op);
        addToRow(scaled(it->second, k1 - k));
        return;
      }
    }
    // 3. Walk one iteration; when it kept the carried state and charged nothing made before it,
    //    the others of the run repeat it exactly.
    const Cost before = rowCost();
    walks.push_back({nextSerial, false});
    runIteration(op, iv, carried);
    const bool typical = !walks.back().outerSettled;
    walks.pop_back();
    ++k;
    std::vector<int64_t> out;
    bool same = keyed && typical;
    for (const AVal &v : carried)
      same &= encode(v, out);
    if (!same || out != in)
      continue;
    const Cost one = difference(rowCost(), before);
    iterationCosts.emplace(std::move(key), one);
    addToRow(scaled(one, k1 - k));
    return;
  }
}

void Analyzer::runFor(scf::ForOp op) {
  const int64_t lb = known(op, op.getLowerBound(), "lower bound");
  const int64_t ub = known(op, op.getUpperBound(), "upper bound");
  const int64_t step = known(op, op.getStep(), "step");
  if (step <= 0)
    throw AnalysisError(op, "step must be positive, got " + std::to_string(step));
  std::vector<AVal> carried;
  for (Value v : op.getInitArgs())
    carried.push_back(lookup(v));
  const __int128 trips = lb < ub ? (static_cast<__int128>(ub) - lb + step - 1) / step : 0;
  const int64_t n = static_cast<int64_t>(std::min<__int128>(trips, INT64_MAX));
  // 1. Runs of iterations that cost the same, when the plan applies at these values.
  detail::LoopSegments segments;
  const detail::LoopPlan &plan = planOf(op);
  if (n > 1 && trips <= INT64_MAX && plan.usable &&
      segments.build(
          plan, lb, step, n,
          [&](Value v) -> std::optional<int64_t> {
            AScalar s = scalar(v);
            return s.known ? std::optional<int64_t>(s.w.i) : std::nullopt;
          },
          [&](Value t, unsigned d) { return tensor(t).shape[d]; })) {
    const std::vector<int64_t> &cuts = segments.cuts();
    for (size_t c = 0; c < cuts.size(); ++c)
      runSegment(op, segments, lb, step, cuts[c], c + 1 < cuts.size() ? cuts[c + 1] : n, carried);
  } else {
    // 2. Otherwise every iteration (bounded by kMaxAbstractSteps).
    for (int64_t k = 0; k < n; ++k)
      runIteration(op, static_cast<int64_t>(lb + static_cast<__int128>(k) * step), carried);
  }
  for (size_t k = 0; k < carried.size(); ++k)
    env[op.getResult(k)] = carried[k];
}

/// Operations in a region, nested ones included.
static int64_t opCount(Region &region) {
  int64_t n = 0;
  region.walk([&](Operation *) { ++n; });
  return n;
}

void Analyzer::runIf(scf::IfOp op) {
  // A condition that depends on tensor contents (it reads a captured table) cannot be folded:
  // count the branch that does more work, an upper bound (see IOReport.h).
  AScalar c = scalar(op.getCondition());
  const bool cond = c.known ? (c.w.i & 1) != 0
                            : opCount(op.getThenRegion()) >= opCount(op.getElseRegion());
  if (!c.known)
    boundBy("a branch on tensor contents (a captured table) is counted as its heavier side");
  Region &region = cond ? op.getThenRegion() : op.getElseRegion();
  if (region.empty())
    return;
  Operation *yield = runBlock(region.front());
  std::vector<AVal> results;
  for (Value v : yield->getOperands())
    results.push_back(lookup(v));
  for (size_t k = 0; k < results.size(); ++k)
    env[op.getResult(k)] = results[k];
}

Ext Analyzer::window(Operation *op, blk::TileType type, const ATensor &t, ValueRange indices) {
  const int64_t rank = type.getRank(), lead = static_cast<int64_t>(t.shape.size()) - rank;
  Ext e{1, 1};
  for (int64_t d = 0; d < rank; ++d) {
    int64_t off = known(op, indices[lead + d], "tile offset");
    e[d] =
        type.isDynamicDim(d) ? std::max<int64_t>(0, t.shape[lead + d] - off) : type.getDimSize(d);
  }
  return e;
}

/// In-bounds elements of a tile window at extents e (leading indices assumed in bounds).
int64_t inBounds(Operation *op, const ATensor &t, unsigned tileRank, ValueRange indices, Ext e,
                 const std::function<int64_t(Value)> &offset) {
  const int64_t lead = static_cast<int64_t>(t.shape.size()) - tileRank;
  int64_t n = 1;
  for (unsigned d = 0; d < tileRank; ++d)
    n = mulChecked(n, overlap(offset(indices[lead + d]), e[d], t.shape[lead + d]));
  return n;
}

void Analyzer::runLoad(blk::LoadOp op) {
  const ATensor &t = tensor(op.getSource());
  blk::TileType type = op.getResult().getType();
  auto out = std::make_shared<ATile>();
  out->rank = type.getRank();
  out->ext = window(op, type, t, op.getIndices());
  int64_t n = inBounds(op, t, out->rank, op.getIndices(), out->ext,
                       [&](Value v) { return known(op, v, "tile offset"); });
  Cost c;
  (type.getMemorySpace() == blk::MemorySpace::smem ? c.bytes.hbmToSmem : c.bytes.hbmToReg) =
      mulChecked(n, t.elementBytes);
  charge(c, 1);
  env[op.getResult()] = ATilePtr(out);
}

void Analyzer::runStore(blk::StoreOp op) {
  const ATensor &t = tensor(op.getDest());
  ATilePtr value = tile(op.getValue());
  blk::TileType type = op.getValue().getType();
  Ext w = window(op, type, t, op.getIndices());
  Ext e = value->ext;
  for (int d = 0; d < 2; ++d)
    if (e[d] == kNone)
      e[d] = w[d];
  settle(value, e);
  int64_t n = inBounds(op, t, value->rank, op.getIndices(), e,
                       [&](Value v) { return known(op, v, "tile offset"); });
  Cost c;
  (type.getMemorySpace() == blk::MemorySpace::smem ? c.bytes.smemToHbm : c.bytes.regToHbm) =
      mulChecked(n, t.elementBytes);
  charge(c, 1);
}

void Analyzer::runCopy(blk::CopyOp op) {
  ATilePtr src = tile(op.getSource());
  Cost per;
  const bool toReg = op.getResult().getType().getMemorySpace() == blk::MemorySpace::reg;
  (toReg ? per.bytes.smemToReg : per.bytes.regToSmem) = bytesOf(op.getSource().getType());
  auto out = std::make_shared<ATile>(*src);
  if (src->resolved()) {
    charge(per, mulChecked(src->ext[0], src->ext[1]));
  } else {
    out->pending = newPending();
    out->pending->perElement = per;
    if (src->pending)
      out->pending->inputs.push_back({src->pending, false});
  }
  env[op.getResult()] = ATilePtr(out);
}

void Analyzer::runMatmul(blk::MatmulOp op) {
  ATilePtr a = tile(op.getLhs()), b = tile(op.getRhs());
  ATilePtr acc = op.getAcc() ? tile(op.getAcc()) : nullptr;
  const bool tb = op.getTransposeB();
  auto unify = [&](std::initializer_list<int64_t> cands, const char *what) {
    int64_t e = kNone;
    for (int64_t c : cands) {
      if (c == kNone)
        continue;
      if (e != kNone && e != c)
        throw AnalysisError(op, std::string("extents of ") + what + " differ: lhs " + extStr(*a) +
                                    ", rhs " + extStr(*b));
      e = c;
    }
    if (e == kNone)
      throw AnalysisError(op, std::string("no operand gives the extent of ") + what);
    return e;
  };
  const int64_t m = unify({a->ext[0], acc ? acc->ext[0] : kNone}, "M");
  const int64_t k = unify({a->ext[1], tb ? b->ext[1] : b->ext[0]}, "K");
  const int64_t n = unify({tb ? b->ext[0] : b->ext[1], acc ? acc->ext[1] : kNone}, "N");
  settle(a, {m, k});
  settle(b, tb ? Ext{n, k} : Ext{k, n});
  if (acc)
    settle(acc, {m, n});
  Cost c;
  c.flops.matmul = mulChecked(mulChecked(2 * m, n), k);
  if (op.getLhs().getType().getMemorySpace() == blk::MemorySpace::smem)
    addChecked(c.bytes.smemToReg, mulChecked(mulChecked(m, k), bytesOf(op.getLhs().getType())));
  if (op.getRhs().getType().getMemorySpace() == blk::MemorySpace::smem)
    addChecked(c.bytes.smemToReg, mulChecked(mulChecked(k, n), bytesOf(op.getRhs().getType())));
  charge(c, 1);
  auto out = std::make_shared<ATile>();
  out->ext = {m, n};
  env[op.getResult()] = ATilePtr(out);
}

void Analyzer::runElementwise(Operation *op, ValueRange inputs, Value result,
                              const Cost &perElement, const Cost &once) {
  std::vector<ATilePtr> in;
  for (Value v : inputs)
    in.push_back(tile(v));
  auto out = std::make_shared<ATile>();
  out->rank = cast<blk::TileType>(result.getType()).getRank();
  for (int d = 0; d < 2; ++d) {
    out->ext[d] = kNone;
    for (const ATilePtr &t : in) {
      if (t->ext[d] == kNone)
        continue;
      if (out->ext[d] != kNone && out->ext[d] != t->ext[d]) {
        std::string shapes;
        for (const ATilePtr &u : in)
          shapes += (shapes.empty() ? "" : ", ") + extStr(*u);
        throw AnalysisError(op, "operands have different extents: " + shapes);
      }
      out->ext[d] = t->ext[d];
    }
  }
  if (out->rank == 1)
    out->ext[1] = 1;
  if (out->resolved()) {
    charge(perElement, mulChecked(out->ext[0], out->ext[1]));
    charge(once, 1);
    for (const ATilePtr &t : in)
      settle(t, out->ext);
  } else {
    out->pending = newPending();
    out->pending->perElement = perElement;
    out->pending->once = once;
    for (const ATilePtr &t : in)
      if (t->pending)
        out->pending->inputs.push_back({t->pending, false});
  }
  env[result] = ATilePtr(out);
}

void Analyzer::runMap(blk::MapOp op) {
  Cost per, once;
  Block &body = op.getBody().front();
  llvm::DenseSet<Value> varying(body.getArguments().begin(), body.getArguments().end());
  for (Operation &inner : body) {
    if (isa<blk::YieldOp>(inner))
      break;
    bool v = llvm::any_of(inner.getOperands(), [&](Value x) { return varying.contains(x); });
    if (v)
      for (Value r : inner.getResults())
        varying.insert(r);
    Cost &c = v ? per : once;
    if (auto read = dyn_cast<blk::ReadOp>(inner)) {
      c.bytes.tableRead += bytesOf(read.getSource().getType());
      continue;
    }
    switch (interp::costOf(&inner)) {
    case interp::OpCost::Free:
      break;
    case interp::OpCost::Arith:
      c.flops.elementwise += 1;
      break;
    case interp::OpCost::Transcendental:
      c.flops.elementwise += 1;
      c.flops.sfu += 1;
      break;
    case interp::OpCost::Unsupported:
      throw AnalysisError(&inner, "unsupported op inside blk.map");
    }
  }
  runElementwise(op, op.getInputs(), op.getResult(), per, once);
}

/// The row-wise ops over the whole last dim: a reduction (MxN -> M) or a running sum along the row
/// (blk.scan, MxN -> MxN); one reduce flop per input element.
void Analyzer::runRowOp(Operation *op, Value input, Value result, const char *what, unsigned rank) {
  ATilePtr in = tile(input);
  if (!in->resolved())
    throw AnalysisError(op, std::string("the extents of the ") + what + " " + extStr(*in) +
                                " tile are not known (a `?` dim of a fill / iota / broadcast "
                                "that no other tile sized)");
  settle(in, in->ext);
  Cost c;
  c.flops.reduce = mulChecked(in->ext[0], in->ext[1]);
  charge(c, 1);
  auto out = std::make_shared<ATile>();
  out->rank = rank;
  out->ext = {in->ext[0], rank == 1 ? 1 : in->ext[1]};
  env[result] = ATilePtr(out);
}

} // namespace

IOReport analyzeIO(func::FuncOp fn, const Dims &dims) {
  if (!fn || fn.isExternal())
    throw AnalysisError("analyzeIO: the function has no body");
  return Analyzer(dims).run(fn);
}

} // namespace tilefuse::analysis
