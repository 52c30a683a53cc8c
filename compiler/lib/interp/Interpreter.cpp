//===- Interpreter.cpp - the fp64 reference interpreter --------------------===//
//
// A tree-walking interpreter over the blk IR: values live in one map from mlir::Value to a
// run-time value (scalar Word, tile, HBM tensor). SSA guarantees that re-running a block (a
// kernel instance, a loop iteration) may overwrite the entries of the previous run.
//
#include "tilefuse/interp/Interpreter.h"

#include "ElementProgram.h"
#include "Tile.h"

#include "blk/BlkDialect.h"
#include "blk/SpecLocation.h"

#include "mlir/IR/Location.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

#include <deque>
#include <limits>
#include <map>

using namespace mlir;
namespace blk = tilefuse::blk;

namespace tilefuse::interp {

namespace {

std::string describeOp(Operation *op) {
  std::string s;
  llvm::raw_string_ostream os(s);
  // An op lowered from a spec expression: the spec's place first, like a compiler diagnostic.
  if (auto p = blk::findSpecPosition(op->getLoc())) {
    os << blk::positionString(*p) << ": error: " << blk::specContext(op->getLoc()) << ": '" << op->getName()
       << "'";
    return s;
  }
  os << "'" << op->getName() << "' at ";
  if (auto flc = op->getLoc()->findInstanceOf<FileLineColLoc>()) {
    os << flc.getFilename().getValue() << ":" << flc.getLine() << ":" << flc.getColumn();
  } else {
    // No file position (IR built in code): show the op itself, without its regions.
    std::string text;
    llvm::raw_string_ostream ts(text);
    op->print(ts, OpPrintingFlags().skipRegions().useLocalScope());
    if (text.size() > 160)
      text = text.substr(0, 157) + "...";
    os << "[" << text << "]";
  }
  return s;
}

} // namespace

InterpError::InterpError(const std::string &message) : std::runtime_error(message) {}
InterpError::InterpError(Operation *op, const std::string &message)
    : std::runtime_error(describeOp(op) + ": " + message) {}

namespace {

using detail::Extents;
using detail::kNoExtent;
using detail::Slot;
using detail::TensorRef;
using detail::Tile;
using detail::TilePtr;

using RtValue = std::variant<std::monostate, Word, TilePtr, const TensorRef *>;

std::string typeStr(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

double wordToDouble(Type t, Word w) {
  return detail::isIntType(t) ? static_cast<double>(w.i) : w.f;
}

Word doubleToWord(Operation *op, Type t, double v) {
  if (!detail::isIntType(t))
    return floatWord(v);
  return intWord(detail::normInt(detail::intWidth(op, t), static_cast<int64_t>(v)));
}

/// A blk.map region compiled for one execution: slot 0..nargs-1 are the region arguments, the
/// captured scalars from above are uniform slots filled at compile time.
struct MapProgram {
  std::vector<Slot> slots;
  std::vector<detail::Instr> code;
  std::vector<Type> argTypes;
  Type resultType;
  int result = -1;
  Operation *op = nullptr;
};

class Interp {
public:
  int64_t onlyBatch = -1; ///< RunOptions::onlyBatch
  void bindArguments(func::FuncOp fn, std::span<HostTensor *const> tensors, ScalarArgs scalars);
  /// Runs the ops of `block` in order and returns its terminator (null for a kernel body).
  Operation *runBlock(Block &block);

private:
  void runOp(Operation *op);
  void runKernel(blk::KernelOp op);
  void runFor(scf::ForOp op);
  void runIf(scf::IfOp op);
  void runAlloc(blk::AllocOp op);
  void runLoad(blk::LoadOp op);
  void runStore(blk::StoreOp op);
  void runRead(blk::ReadOp op);
  void runMatmul(blk::MatmulOp op);
  void runMap(blk::MapOp op);
  void runSelect(blk::SelectOp op);
  void runReduce(blk::ReduceOp op);
  void runScan(blk::ScanOp op);
  void runRowOp(Operation *op, Value input, Value result, const char *what, unsigned rank,
                std::function<std::vector<double>(int64_t, int64_t, std::span<const double>)> f);
  void runScalar(Operation *op);

  /// Binds a symbolic dim; `who` names the tensor for the error message.
  void bindSymbol(Operation *op, const std::string &name, int64_t extent, const std::string &who);
  /// A result tile: computed now when every extent is known, else deferred until a consumer
  /// gives the missing extents.
  TilePtr elementwise(Operation *op, unsigned rank, std::vector<TilePtr> inputs,
                      std::function<std::vector<double>(Extents)> compute);
  std::shared_ptr<MapProgram> compileMap(blk::MapOp op);

  Word scalar(Value v) {
    auto *w = std::get_if<Word>(&lookup(v));
    if (!w)
      throw InterpError(v.getParentRegion()->getParentOp(), "expected a scalar value");
    return *w;
  }
  TilePtr tile(Value v) {
    auto *t = std::get_if<TilePtr>(&lookup(v));
    if (!t)
      throw InterpError(v.getParentRegion()->getParentOp(), "expected a tile value");
    return *t;
  }
  const TensorRef &tensor(Value v) {
    auto *t = std::get_if<const TensorRef *>(&lookup(v));
    if (!t)
      throw InterpError(v.getParentRegion()->getParentOp(), "expected an HBM tensor value");
    return **t;
  }
  const RtValue &lookup(Value v) {
    auto it = env.find(v);
    if (it == env.end() || std::holds_alternative<std::monostate>(it->second)) {
      Operation *at = v.getDefiningOp() ? v.getDefiningOp() : v.getParentRegion()->getParentOp();
      throw InterpError(at, "value used before it was computed");
    }
    return it->second;
  }
  std::vector<int64_t> indices(ValueRange vs) {
    std::vector<int64_t> out;
    for (Value v : vs)
      out.push_back(scalar(v).i);
    return out;
  }
  /// Extents of a load / store window of a `type` tile at `idx` in `t`: static dims as typed,
  /// `?` dims to the end of the tensor dim.
  static Extents windowExtents(blk::TileType type, const HostTensor &t,
                               const std::vector<int64_t> &idx);

  llvm::DenseMap<Value, RtValue> env;
  std::deque<TensorRef> tensorRefs;
  std::deque<HostTensor> allocated;
  std::map<std::string, std::pair<int64_t, std::string>> symbols;
};

void Interp::bindSymbol(Operation *op, const std::string &name, int64_t extent,
                        const std::string &who) {
  auto [it, fresh] = symbols.try_emplace(name, extent, who);
  if (fresh || it->second.first == extent)
    return;
  std::string msg = "symbol '" + name + "' is bound to " + std::to_string(it->second.first) +
                    " by " + it->second.second + " and to " + std::to_string(extent) + " by " + who;
  if (op)
    throw InterpError(op, msg);
  throw InterpError(msg);
}

void Interp::bindArguments(func::FuncOp fn, std::span<HostTensor *const> tensors,
                           ScalarArgs scalars) {
  size_t nt = 0, ns = 0;
  for (Type t : fn.getArgumentTypes())
    (isa<blk::HbmTensorType>(t) ? nt : ns) += 1;
  if (nt != tensors.size() || ns != scalars.size())
    throw InterpError("@" + fn.getSymName().str() + " takes " + std::to_string(nt) +
                      " tensor and " + std::to_string(ns) + " scalar arguments, got " +
                      std::to_string(tensors.size()) + " and " + std::to_string(scalars.size()));
  size_t ti = 0, si = 0;
  for (BlockArgument arg : fn.getArguments()) {
    Type type = arg.getType();
    std::string who = "argument #" + std::to_string(arg.getArgNumber());
    if (auto tt = dyn_cast<blk::HbmTensorType>(type)) {
      HostTensor *host = tensors[ti++];
      if (!host)
        throw InterpError(who + " is null");
      if (!host->name.empty())
        who += " '" + host->name + "'";
      host->validate();
      if (host->rank() != tt.getRank())
        throw InterpError(who + " has rank " + std::to_string(host->rank()) + ", its type " +
                          typeStr(tt) + " has rank " + std::to_string(tt.getRank()));
      if (host->dtype != dtypeOf(tt.getElementType()))
        throw InterpError(who + " has dtype " + std::string(dtypeName(host->dtype)) +
                          ", its type " + typeStr(tt) + " needs " + typeStr(tt.getElementType()));
      unsigned dyn = 0;
      for (unsigned d = 0; d < tt.getRank(); ++d) {
        int64_t extent = host->shape[d];
        if (tt.isDynamicDim(d)) {
          bindSymbol(nullptr, tt.getDimNames()[dyn++].getValue().str(), extent, who);
        } else if (tt.getShape()[d] != extent) {
          throw InterpError(who + " has extent " + std::to_string(extent) + " in dim " +
                            std::to_string(d) + ", its type " + typeStr(tt) + " needs " +
                            std::to_string(tt.getShape()[d]));
        }
      }
      tensorRefs.push_back({host, who});
      env[arg] = &tensorRefs.back();
      continue;
    }
    if (!isScalarType(type))
      throw InterpError("@" + fn.getSymName().str() + " " + who + " has unsupported type " +
                        typeStr(type));
    const ScalarArg &s = scalars[si++];
    if (detail::isIntType(type)) {
      const int64_t *v = std::get_if<int64_t>(&s);
      if (!v)
        throw InterpError(who + " is " + typeStr(type) + " but was given a double");
      env[arg] = intWord(detail::normInt(detail::intWidth(fn, type), *v));
    } else {
      env[arg] = floatWord(std::holds_alternative<double>(s) ? std::get<double>(s)
                                                             : double(std::get<int64_t>(s)));
    }
  }
}

Operation *Interp::runBlock(Block &block) {
  for (Operation &op : block) {
    if (op.hasTrait<OpTrait::IsTerminator>())
      return &op;
    runOp(&op);
  }
  return nullptr;
}

void Interp::runOp(Operation *op) {
  llvm::TypeSwitch<Operation *>(op)
      .Case<blk::KernelOp>([&](auto o) { runKernel(o); })
      .Case<scf::ForOp>([&](auto o) { runFor(o); })
      .Case<scf::IfOp>([&](auto o) { runIf(o); })
      .Case<blk::DimOp>([&](auto o) {
        const HostTensor &t = *tensor(o.getSource()).tensor;
        env[o.getResult()] = intWord(t.shape[o.getIndex()]);
      })
      .Case<blk::AllocOp>([&](auto o) { runAlloc(o); })
      .Case<blk::LoadOp>([&](auto o) { runLoad(o); })
      .Case<blk::StoreOp>([&](auto o) { runStore(o); })
      .Case<blk::ReadOp>([&](auto o) { runRead(o); })
      // The in-kernel bound: what a kernel computes without a run-time block mask.
      .Case<blk::TileClassOp>([&](auto o) { env[o.getResult()] = scalar(o.getBound()); })
      .Case<blk::CopyOp>([&](auto o) { env[o.getResult()] = tile(o.getSource()); })
      .Case<blk::MatmulOp>([&](auto o) { runMatmul(o); })
      .Case<blk::MapOp>([&](auto o) { runMap(o); })
      .Case<blk::SelectOp>([&](auto o) { runSelect(o); })
      .Case<blk::ReduceOp>([&](auto o) { runReduce(o); })
      .Case<blk::ScanOp>([&](auto o) { runScan(o); })
      .Case<blk::BroadcastOp>([&](auto o) {
        TilePtr src = tile(o.getInput());
        auto t = std::make_shared<Tile>();
        t->kind = Tile::Kind::Broadcast;
        t->source = src;
        int64_t n = o.getResult().getType().getDimSize(1);
        t->ext = {src->ext[0], ShapedType::isDynamic(n) ? kNoExtent : n};
        env[o.getResult()] = TilePtr(t);
      })
      .Case<blk::FillOp>([&](auto o) {
        blk::TileType ty = o.getResult().getType();
        auto t = std::make_shared<Tile>();
        t->kind = Tile::Kind::Fill;
        t->rank = ty.getRank();
        for (unsigned d = 0; d < t->rank; ++d)
          t->ext[d] = ty.isDynamicDim(d) ? kNoExtent : ty.getDimSize(d);
        t->data = {wordToDouble(o.getValue().getType(), scalar(o.getValue()))};
        env[o.getResult()] = TilePtr(t);
      })
      .Case<blk::IotaOp>([&](auto o) {
        blk::TileType ty = o.getResult().getType();
        auto t = std::make_shared<Tile>();
        t->kind = o.getDim() == blk::IotaDim::row ? Tile::Kind::IotaRow : Tile::Kind::IotaCol;
        t->rank = ty.getRank();
        for (unsigned d = 0; d < t->rank; ++d)
          t->ext[d] = ty.isDynamicDim(d) ? kNoExtent : ty.getDimSize(d);
        t->offset = scalar(o.getOffset()).i;
        t->intBits = detail::intWidth(o, ty.getElementType());
        env[o.getResult()] = TilePtr(t);
      })
      .Default([&](Operation *o) { runScalar(o); });
}

void Interp::runScalar(Operation *op) {
  if (op->getNumRegions() != 0 || op->getNumResults() != 1)
    throw InterpError(op, "unsupported op");
  std::vector<Word> operands;
  for (Value v : op->getOperands())
    operands.push_back(scalar(v));
  env[op->getResult(0)] = evalScalarOp(op, operands);
}

void Interp::runKernel(blk::KernelOp op) {
  std::vector<int64_t> grid = indices(op.getGrid());
  for (int64_t g : grid)
    if (g < 0)
      throw InterpError(op, "negative grid size " + std::to_string(g));
  Block &body = op.getBodyBlock();
  std::vector<int64_t> id(grid.size(), 0);
  // RunOptions::onlyBatch: the grid dim that is the size B (blk.dim of a dim named B), if any.
  int batchDim = -1;
  if (onlyBatch >= 0)
    for (size_t d = 0; d < grid.size() && batchDim < 0; ++d) {
      Value g = op.getGrid()[d];
      while (Operation *def = g.getDefiningOp()) {
        if (!isa<arith::IndexCastOp, arith::IndexCastUIOp>(def))
          break;
        g = def->getOperand(0);
      }
      if (auto dim = g.getDefiningOp<blk::DimOp>();
          dim && dim.getSource().getType().getDimName(dim.getIndex()) == "B")
        batchDim = static_cast<int>(d);
    }
  int64_t total = 1;
  for (int64_t g : grid)
    total *= g;
  for (int64_t linear = 0; linear < total; ++linear) {
    int64_t rest = linear;
    for (int64_t d = static_cast<int64_t>(grid.size()) - 1; d >= 0; --d) {
      id[d] = rest % grid[d];
      rest /= grid[d];
    }
    if (batchDim >= 0 && id[batchDim] != onlyBatch)
      continue;
    for (size_t d = 0; d < grid.size(); ++d)
      env[body.getArgument(d)] = intWord(id[d]);
    runBlock(body);
  }
}

void Interp::runFor(scf::ForOp op) {
  const unsigned w = detail::intWidth(op, op.getInductionVar().getType());
  const int64_t lb = scalar(op.getLowerBound()).i, ub = scalar(op.getUpperBound()).i,
                step = scalar(op.getStep()).i;
  const bool unsignedCmp = op->hasAttr("unsignedCmp");
  if (step <= 0)
    throw InterpError(op, "step must be positive, got " + std::to_string(step));
  std::vector<RtValue> carried;
  for (Value v : op.getInitArgs())
    carried.push_back(lookup(v));
  Block &body = *op.getBody();
  auto below = [&](int64_t iv) { return unsignedCmp ? uint64_t(iv) < uint64_t(ub) : iv < ub; };
  for (int64_t iv = lb; below(iv);) {
    env[op.getInductionVar()] = intWord(iv);
    for (size_t k = 0; k < carried.size(); ++k)
      env[op.getRegionIterArgs()[k]] = carried[k];
    Operation *term = runBlock(body);
    for (size_t k = 0; k < carried.size(); ++k)
      carried[k] = lookup(term->getOperand(k));
    if (iv > std::numeric_limits<int64_t>::max() - step)
      break;
    iv = detail::normInt(w, iv + step);
  }
  for (size_t k = 0; k < carried.size(); ++k)
    env[op.getResult(k)] = carried[k];
}

void Interp::runIf(scf::IfOp op) {
  const bool cond = scalar(op.getCondition()).i & 1;
  Region &region = cond ? op.getThenRegion() : op.getElseRegion();
  if (region.empty())
    return;
  Operation *term = runBlock(region.front());
  std::vector<RtValue> results;
  for (Value v : term->getOperands())
    results.push_back(lookup(v));
  for (size_t k = 0; k < results.size(); ++k)
    env[op.getResult(k)] = results[k];
}

void Interp::runAlloc(blk::AllocOp op) {
  blk::HbmTensorType tt = op.getResult().getType();
  std::vector<int64_t> shape;
  std::vector<int64_t> sizes = indices(op.getSizes());
  unsigned dyn = 0;
  std::string label = describeOp(op);
  for (unsigned d = 0; d < tt.getRank(); ++d) {
    if (!tt.isDynamicDim(d)) {
      shape.push_back(tt.getShape()[d]);
      continue;
    }
    int64_t extent = sizes[dyn];
    if (extent < 0)
      throw InterpError(op, "negative size " + std::to_string(extent));
    bindSymbol(op, tt.getDimNames()[dyn].getValue().str(), extent, label);
    ++dyn;
    shape.push_back(extent);
  }
  allocated.push_back(HostTensor::contiguous(dtypeOf(tt.getElementType()), shape, label,
                                             std::numeric_limits<double>::quiet_NaN()));
  tensorRefs.push_back({&allocated.back(), label});
  env[op.getResult()] = &tensorRefs.back();
}

Extents Interp::windowExtents(blk::TileType type, const HostTensor &t,
                              const std::vector<int64_t> &idx) {
  const int64_t rank = type.getRank(), lead = t.rank() - rank;
  Extents e{1, 1};
  for (int64_t d = 0; d < rank; ++d)
    e[d] = type.isDynamicDim(d) ? std::max<int64_t>(0, t.shape[lead + d] - idx[lead + d])
                                : type.getDimSize(d);
  return e;
}

/// Visits the in-bounds part of a tile window: f(tensor position, tile position, run length)
/// once per tile row that hits the tensor. Out-of-range leading indices hit nothing.
template <class F>
void forEachInBoundsRun(const HostTensor &t, unsigned tileRank, const std::vector<int64_t> &idx,
                        Extents e, F f) {
  const int64_t rank = t.rank(), lead = rank - tileRank;
  int64_t base = t.offset;
  for (int64_t d = 0; d < lead; ++d) {
    if (idx[d] < 0 || idx[d] >= t.shape[d])
      return;
    base += idx[d] * t.strides[d];
  }
  // A rank-1 tile (stored as M x 1) runs along the tensor's last dim.
  const int64_t cols = tileRank == 1 ? e[0] : e[1];
  const int64_t c0 = idx[rank - 1];
  const int64_t jlo = std::max<int64_t>(0, -c0), jhi = std::min(cols, t.shape[rank - 1] - c0);
  if (tileRank == 1) {
    if (jlo < jhi)
      f(base + c0 + jlo, jlo, jhi - jlo);
    return;
  }
  // Rank 2: the tile's rows run along tensor dim rank-2, its columns along rank-1.
  const int64_t r0 = idx[rank - 2];
  for (int64_t i = 0; i < e[0]; ++i) {
    const int64_t r = r0 + i;
    if (r < 0 || r >= t.shape[rank - 2] || jlo >= jhi)
      continue;
    f(base + r * t.strides[rank - 2] + c0 + jlo, i * e[1] + jlo, jhi - jlo);
  }
}

void Interp::runLoad(blk::LoadOp op) {
  const HostTensor &t = *tensor(op.getSource()).tensor;
  std::vector<int64_t> idx = indices(op.getIndices());
  blk::TileType type = op.getResult().getType();
  auto out = std::make_shared<Tile>();
  out->rank = type.getRank();
  out->ext = windowExtents(type, t, idx);
  out->data.assign(static_cast<size_t>(out->ext[0] * out->ext[1]), 0.0);
  forEachInBoundsRun(t, out->rank, idx, out->ext, [&](int64_t src, int64_t dst, int64_t n) {
    std::copy_n(t.data.data() + src, n, out->data.data() + dst);
  });
  env[op.getResult()] = TilePtr(out);
}

void Interp::runStore(blk::StoreOp op) {
  HostTensor &t = *tensor(op.getDest()).tensor;
  std::vector<int64_t> idx = indices(op.getIndices());
  TilePtr value = tile(op.getValue());
  Extents e = value->ext;
  Extents window = windowExtents(op.getValue().getType(), t, idx);
  for (int d = 0; d < 2; ++d)
    if (e[d] == kNoExtent)
      e[d] = window[d];
  std::vector<double> scratch;
  std::span<const double> src = detail::elements(*value, e, scratch);
  forEachInBoundsRun(t, value->rank, idx, e, [&](int64_t dst, int64_t from, int64_t n) {
    std::copy_n(src.data() + from, n, t.data.data() + dst);
  });
}

void Interp::runRead(blk::ReadOp op) {
  const TensorRef &ref = tensor(op.getSource());
  std::vector<Slot> slots(op.getIndices().size() + 1);
  std::vector<int> srcs;
  for (auto [k, v] : llvm::enumerate(op.getIndices())) {
    slots[k].v.assign(1, scalar(v));
    srcs.push_back(static_cast<int>(k));
  }
  const int dst = static_cast<int>(srcs.size());
  detail::execInstr(detail::compileOp(op, srcs, dst, &ref), slots, 1);
  env[op.getResult()] = slots[dst].v[0];
}

void Interp::runMatmul(blk::MatmulOp op) {
  TilePtr a = tile(op.getLhs()), b = tile(op.getRhs());
  TilePtr acc = op.getAcc() ? tile(op.getAcc()) : nullptr;
  const bool tb = op.getTransposeB();
  auto unify = [&](std::initializer_list<int64_t> cands, const char *what) {
    int64_t e = kNoExtent;
    for (int64_t c : cands) {
      if (c == kNoExtent)
        continue;
      if (e != kNoExtent && e != c)
        throw InterpError(op, std::string("run-time extents of ") + what + " differ: lhs " +
                                  detail::extentsStr(*a) + ", rhs " + detail::extentsStr(*b) +
                                  (tb ? " (transposed)" : "") +
                                  (acc ? ", acc " + detail::extentsStr(*acc) : ""));
      e = c;
    }
    if (e == kNoExtent)
      throw InterpError(op, std::string("no operand gives the run-time extent of ") + what);
    return e;
  };
  const int64_t none = kNoExtent;
  int64_t m = unify({a->ext[0], acc ? acc->ext[0] : none}, "M");
  int64_t k = unify({a->ext[1], tb ? b->ext[1] : b->ext[0]}, "K (the contraction dim)");
  int64_t n = unify({tb ? b->ext[0] : b->ext[1], acc ? acc->ext[1] : none}, "N");
  std::vector<double> sa, sb, sc;
  std::span<const double> ea = detail::elements(*a, {m, k}, sa);
  std::span<const double> eb = detail::elements(*b, tb ? Extents{n, k} : Extents{k, n}, sb);
  std::span<const double> ec;
  if (acc)
    ec = detail::elements(*acc, {m, n}, sc);
  auto out = std::make_shared<Tile>();
  out->ext = {m, n};
  out->data = detail::matmul(ea, eb, ec, m, n, k, tb);
  env[op.getResult()] = TilePtr(out);
}

TilePtr Interp::elementwise(Operation *op, unsigned rank, std::vector<TilePtr> inputs,
                            std::function<std::vector<double>(Extents)> compute) {
  Extents e;
  std::string err = detail::unifyExtents(inputs, e);
  if (!err.empty())
    throw InterpError(op, err);
  if (rank == 1)
    e[1] = 1;
  auto out = std::make_shared<Tile>();
  out->rank = rank;
  out->ext = e;
  if (out->resolved()) {
    out->data = compute(e);
  } else {
    out->kind = Tile::Kind::Deferred;
    out->thunk = std::move(compute);
  }
  return out;
}

std::shared_ptr<MapProgram> Interp::compileMap(blk::MapOp op) {
  auto prog = std::make_shared<MapProgram>();
  prog->op = op;
  Block &body = op.getBody().front();
  llvm::DenseMap<Value, int> slotOf;
  for (BlockArgument arg : body.getArguments()) {
    slotOf[arg] = static_cast<int>(prog->slots.size());
    prog->slots.emplace_back();
    prog->argTypes.push_back(arg.getType());
  }
  // A value from outside the region becomes a uniform slot holding its current value.
  auto slotFor = [&](Operation *user, Value v) -> int {
    auto it = slotOf.find(v);
    if (it != slotOf.end())
      return it->second;
    if (!isScalarType(v.getType()))
      throw InterpError(user,
                        "blk.map regions may use scalars from above, not " + typeStr(v.getType()));
    int s = static_cast<int>(prog->slots.size());
    prog->slots.emplace_back();
    prog->slots.back().v.assign(1, scalar(v));
    slotOf[v] = s;
    return s;
  };
  for (Operation &inner : body) {
    if (auto y = dyn_cast<blk::YieldOp>(inner)) {
      prog->result = slotFor(y, y.getValue());
      prog->resultType = y.getValue().getType();
      break;
    }
    const TensorRef *ref = nullptr;
    std::vector<int> srcs;
    if (auto read = dyn_cast<blk::ReadOp>(inner)) {
      ref = &tensor(read.getSource());
      for (Value v : read.getIndices())
        srcs.push_back(slotFor(&inner, v));
    } else {
      if (inner.getNumRegions() != 0)
        throw InterpError(&inner, "ops with regions are not supported inside blk.map (use "
                                  "arith.select)");
      for (Value v : inner.getOperands())
        srcs.push_back(slotFor(&inner, v));
    }
    if (inner.getNumResults() != 1)
      throw InterpError(&inner, "unsupported op inside blk.map");
    int dst = static_cast<int>(prog->slots.size());
    prog->slots.emplace_back();
    slotOf[inner.getResult(0)] = dst;
    prog->code.push_back(detail::compileOp(&inner, srcs, dst, ref));
  }
  return prog;
}

void Interp::runMap(blk::MapOp op) {
  std::vector<TilePtr> inputs;
  for (Value v : op.getInputs())
    inputs.push_back(tile(v));
  std::shared_ptr<MapProgram> prog = compileMap(op);
  auto compute = [prog, inputs](Extents e) {
    const size_t n = static_cast<size_t>(e[0] * e[1]);
    std::vector<Slot> slots = prog->slots;
    std::vector<double> scratch;
    for (size_t k = 0; k < inputs.size(); ++k) {
      Slot &s = slots[k];
      const Tile &t = *inputs[k];
      const bool isInt = detail::isIntType(prog->argTypes[k]);
      if (t.kind == Tile::Kind::Fill) {
        s.varying = false;
        s.v.assign(1, doubleToWord(prog->op, prog->argTypes[k], t.data[0]));
        continue;
      }
      std::span<const double> x = detail::elements(t, e, scratch);
      s.varying = true;
      s.v.resize(n);
      if (isInt) {
        for (size_t i = 0; i < n; ++i)
          s.v[i].i = static_cast<int64_t>(x[i]);
      } else {
        for (size_t i = 0; i < n; ++i)
          s.v[i].f = x[i];
      }
    }
    for (const detail::Instr &in : prog->code)
      detail::execInstr(in, slots, n);
    const Slot &r = slots[prog->result];
    std::vector<double> out(n);
    const bool isInt = detail::isIntType(prog->resultType);
    for (size_t i = 0; i < n; ++i) {
      Word w = r.v[r.varying ? i : 0];
      out[i] = isInt ? static_cast<double>(w.i) : w.f;
    }
    return out;
  };
  env[op.getResult()] = elementwise(op, op.getResult().getType().getRank(), inputs, compute);
}

void Interp::runSelect(blk::SelectOp op) {
  std::vector<TilePtr> inputs = {tile(op.getCondition()), tile(op.getTrueValue()),
                                 tile(op.getFalseValue())};
  auto compute = [inputs](Extents e) {
    std::vector<double> s0, s1, s2;
    std::span<const double> c = detail::elements(*inputs[0], e, s0);
    std::span<const double> t = detail::elements(*inputs[1], e, s1);
    std::span<const double> f = detail::elements(*inputs[2], e, s2);
    std::vector<double> out(c.size());
    for (size_t i = 0; i < out.size(); ++i)
      out[i] = c[i] != 0.0 ? t[i] : f[i];
    return out;
  };
  env[op.getResult()] = elementwise(op, op.getResult().getType().getRank(), inputs, compute);
}

/// The row-wise ops over the whole last dim (reduce, scan): the input's columns must have a run-time
/// extent; `f(rows, cols, x)` maps the rows' elements to the result's, computed now or, when the row
/// count is still open, when a consumer asks for it.
void Interp::runRowOp(Operation *op, Value input, Value result, const char *what, unsigned rank,
                      std::function<std::vector<double>(int64_t, int64_t, std::span<const double>)> f) {
  TilePtr in = tile(input);
  if (in->ext[1] == kNoExtent)
    throw InterpError(op, std::string("the ") + what + " dim of a " + detail::extentsStr(*in) +
                              " tile has no run-time extent (a fill / iota / broadcast `?` dim "
                              "that no other tile sized)");
  const int64_t cols = in->ext[1];
  auto compute = [in, cols, f](Extents e) {
    std::vector<double> scratch;
    return f(e[0], cols, detail::elements(*in, {e[0], cols}, scratch));
  };
  auto out = std::make_shared<Tile>();
  out->rank = rank;
  out->ext = {in->ext[0], rank == 1 ? 1 : cols};
  if (out->resolved()) {
    out->data = compute(out->ext);
  } else {
    out->kind = Tile::Kind::Deferred;
    out->thunk = compute;
  }
  env[result] = TilePtr(out);
}

void Interp::runReduce(blk::ReduceOp op) {
  const bool isMax = op.getKind() == blk::ReduceKind::max;
  runRowOp(op, op.getInput(), op.getResult(), "reduced", 1, [isMax](int64_t rows, int64_t cols, auto x) {
    return detail::reduceRows(x, rows, cols, isMax);
  });
}

void Interp::runScan(blk::ScanOp op) {
  const bool reverse = op.getReverse(), exclusive = op.getExclusive();
  runRowOp(op, op.getInput(), op.getResult(), "scanned", 2, [=](int64_t rows, int64_t cols, auto x) {
    return detail::scanRows(x, rows, cols, reverse, exclusive);
  });
}

} // namespace

void run(func::FuncOp fn, std::span<HostTensor *const> tensors, ScalarArgs scalars) {
  runSlice(fn, tensors, RunOptions{}, scalars);
}

void runSlice(func::FuncOp fn, std::span<HostTensor *const> tensors, const RunOptions &options,
              ScalarArgs scalars) {
  if (!fn || fn.isExternal())
    throw InterpError("run: the function has no body");
  Interp interp;
  interp.onlyBatch = options.onlyBatch;
  interp.bindArguments(fn, tensors, scalars);
  Operation *term = interp.runBlock(fn.getBody().front());
  if (!term || !isa<func::ReturnOp>(term))
    throw InterpError(fn, "the function body must end in func.return");
}

} // namespace tilefuse::interp
