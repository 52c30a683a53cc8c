//===- Resolve.cpp - phase 1: find the kernel, classify and name tiles -----===//
#include "Resolve.h"

#include "blk/SpecLocation.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/raw_ostream.h"

#include <set>
#include <sstream>

using namespace mlir;
using namespace tilefuse::blk;

namespace tilefuse::codegen {

// ---------------------------------------------------------------------------------------------------
// Errors and small helpers

std::string locationString(Location loc) {
  if (auto p = findSpecPosition(loc))
    return positionString(*p);
  if (auto f = dyn_cast<FileLineColLoc>(loc))
    return f.getFilename().str() + ":" + std::to_string(f.getLine()) + ":" + std::to_string(f.getColumn());
  if (auto n = dyn_cast<NameLoc>(loc))
    return locationString(n.getChildLoc());
  if (auto c = dyn_cast<CallSiteLoc>(loc))
    return locationString(c.getCallee());
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations()) {
      std::string s = locationString(inner);
      if (!s.empty())
        return s;
    }
  return "";
}

CodegenError::CodegenError(std::string location, std::string opName, const std::string &message,
                           const std::string &context)
    : std::runtime_error((location.empty() ? std::string("<unknown>") : location) + ": error: " +
                         (context.empty() ? "" : context + ": ") + (opName.empty() ? "" : opName + ": ") +
                         message),
      location_(std::move(location)), opName_(std::move(opName)) {}

void fail(Location loc, const std::string &opName, const std::string &message) {
  throw CodegenError(locationString(loc), opName, message, specContext(loc));
}

void fail(Operation *op, const std::string &message) {
  fail(op->getLoc(), op->getName().getStringRef().str(), message);
}

std::string_view spelling(TileClass c) {
  switch (c) {
  case TileClass::Smem: return "smem";
  case TileClass::Fragment: return "fragment";
  case TileClass::RowVector: return "row-vector";
  case TileClass::Inline: return "inline";
  }
  return "?";
}

std::string identifier(std::string_view name) {
  std::string s;
  for (char c : name)
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])))
    s = "v_" + s;
  return s;
}

std::string cTypeOf(Type t, Operation *where) {
  if (t.isF32()) return "float";
  if (t.isF64()) return "double";
  if (t.isBF16()) return "__nv_bfloat16";
  if (t.isF16()) return "__half";
  if (t.isIndex()) return "long long";
  if (t.isInteger(1)) return "bool";
  if (t.isInteger(8)) return "signed char";
  if (t.isInteger(16)) return "short";
  if (t.isInteger(32)) return "int";
  if (t.isInteger(64)) return "long long";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  if (where)
    fail(where, "values of type " + s + " have no CUDA translation");
  throw CodegenError("", "", "values of type " + s + " have no CUDA translation");
}

bool isElementwise(Operation *op) { return isa<MapOp, SelectOp, FillOp, IotaOp, BroadcastOp>(op); }

namespace {

std::string typeString(Type t) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << t;
  return s;
}

bool isAttentionSize(std::string_view n) { return n == "B" || n == "Hq" || n == "Hkv" || n == "Sq" || n == "Sk"; }

bool isHalfType(Type t) { return t.isBF16() || t.isF16(); }

/// Skips index casts (same value in C).
Value throughCasts(Value v) {
  while (Operation *d = v.getDefiningOp()) {
    if (!isa<arith::IndexCastOp, arith::IndexCastUIOp>(d))
      break;
    v = d->getOperand(0);
  }
  return v;
}

class Resolver {
public:
  Resolver(func::FuncOp func, const KernelSignature &sig) : func(func), sig(sig) {}

  ResolvedKernel run() {
    r.func = func;
    findKernel();
    r.kernelName = sig.kernelName.empty() ? identifier("tilefuse_" + func.getSymName().str()) : sig.kernelName;
    r.packed = sig.packed;
    r.chain = sig.isChain();
    if (r.chain && r.packed)
      fail(func.getLoc(), "func.func", "packed sequences are an attention layout; this program has operands only");
    if (!r.chain)
      r.sizes = {"B", "Hq", "Hkv", "Sq", "Sk"};
    bindTensors();
    resolveGrid();
    r.grid.packedTiles = r.packed; // a packed grid is chosen per launch; CodeGen clears it when persistent
    walkKernel();
    classify();
    nameScalars();
    nameTiles();
    return std::move(r);
  }

private:
  // -- 1. the kernel ---------------------------------------------------------------------------
  void findKernel() {
    std::vector<KernelOp> kernels;
    for (Operation &op : func.getBody().front())
      if (auto k = dyn_cast<KernelOp>(op))
        kernels.push_back(k);
    if (kernels.size() != 1) {
      std::string names;
      for (KernelOp k : kernels)
        names += (names.empty() ? "" : ", ") + ("@" + k.getSymName().str());
      fail(func.getLoc(), "func.func",
           "expected exactly one blk.kernel in @" + func.getSymName().str() + ", found " +
               std::to_string(kernels.size()) + (names.empty() ? "" : " (" + names + ")") +
               "; code generation needs the fused program (tilefuse-opt --tilefuse-fuse)");
    }
    r.kernel = kernels.front();
    for (Operation &op : func.getBody().front()) {
      if (isa<KernelOp, func::ReturnOp, DimOp>(op) || op.getDialect()->getNamespace() == "arith" ||
          op.getDialect()->getNamespace() == "math")
        continue;
      fail(&op, "only scalar ops on sizes and one blk.kernel may sit at function level of a fused "
                "program (is this the unfused program? run tilefuse-opt --tilefuse-fuse first)");
    }
  }

  // -- 2. tensors and their roles ----------------------------------------------------------------
  void bindTensors() {
    auto args = func.getArguments();
    if (args.size() != sig.tensors.size())
      fail(func.getLoc(), "func.func",
           "@" + func.getSymName().str() + " takes " + std::to_string(args.size()) +
               " arguments, the kernel signature names " + std::to_string(sig.tensors.size()) + ": " +
               sig.toString());
    std::set<std::string> seen;
    for (unsigned i = 0; i < args.size(); ++i) {
      auto t = dyn_cast<HbmTensorType>(args[i].getType());
      if (!t)
        fail(func.getLoc(), "func.func", "argument " + std::to_string(i) + " is " +
                                             typeString(args[i].getType()) + ", expected a !blk.tensor");
      TensorInfo info;
      info.arg = i;
      info.sig = sig.tensors[i];
      info.sig.name = identifier(info.sig.name);
      if (!seen.insert(info.sig.name).second)
        fail(func.getLoc(), "func.func", "two arguments are both named '" + info.sig.name + "'");
      info.type = t;
      info.elemC = cTypeOf(t.getElementType(), func);
      const TensorRole role = info.sig.role;
      if (role == TensorRole::Q || role == TensorRole::K || role == TensorRole::V || role == TensorRole::O) {
        if (t.getRank() < 2 || !isHalfType(t.getElementType()))
          fail(func.getLoc(), "func.func",
               "argument " + std::to_string(i) + " (" + info.sig.name + ") is " + typeString(t) +
                   ", expected a bf16 or f16 tensor of rank >= 2 (code generation builds attention kernels, "
                   "whose Q, K, V and O are half-precision tensors; a program that is not attention, such "
                   "as a normalization + matmul chain, runs in the fp64 interpreter only)");
        if (t.isDynamicDim(t.getRank() - 1))
          fail(func.getLoc(), "func.func",
               "the head dim of " + info.sig.name + " must be static (it sizes the shared tiles)");
      }
      if (role == TensorRole::LSE && !t.getElementType().isF32())
        fail(func.getLoc(), "func.func", "LSE must be an f32 tensor, got " + typeString(t));
      if (role == TensorRole::Q)
        r.dtype = t.getElementType();
      for (unsigned d = 0; d < t.getRank(); ++d) {
        if (!t.isDynamicDim(d)) {
          info.extent.push_back(std::to_string(t.getShape()[d]));
          continue;
        }
        const std::string name = t.getDimName(d);
        if (r.packed && role != TensorRole::Capture && (name == "Sq" || name == "Sk"))
          info.extent.push_back(name == "Sq" ? kPackedSeqLenQ : kPackedSeqLenK); // this sequence's length
        else if (r.chain || isAttentionSize(name)) {
          info.extent.push_back("p." + identifier(name));
          if (std::find(r.sizes.begin(), r.sizes.end(), name) == r.sizes.end())
            r.sizes.push_back(name); // a chain's run-time size, in order of first appearance
        }
        else if (role == TensorRole::Capture)
          info.extent.push_back("p." + info.sig.name + "_extent[" + std::to_string(d) + "]");
        else
          fail(func.getLoc(), "func.func",
               "dim " + std::to_string(d) + " of " + info.sig.name + " is '" + name +
                   "'; tensors other than captures may only use the sizes B, Hq, Hkv, Sq, Sk");
      }
      r.tensors.push_back(std::move(info));
    }
    if (r.chain) // the element type of the first half-precision operand: the mma operands' type
      for (const TensorInfo &t : r.tensors)
        if (!r.dtype && isHalfType(t.type.getElementType()))
          r.dtype = t.type.getElementType();
    if (!r.dtype)
      fail(func.getLoc(), "func.func",
           r.chain ? "no operand is a bf16 or f16 tensor (the mma.sync operands): " + sig.toString()
                   : "the signature names no Q tensor: " + sig.toString());
  }

  // -- 3. grid -------------------------------------------------------------------------------------
  GridDimRule gridDim(Value v, Operation *where) {
    Value base = throughCasts(v);
    if (auto c = getConstantIntValue(base); c && *c == 1)
      return {"", 1};
    int64_t divisor = 1;
    if (Operation *d = base.getDefiningOp(); d && isa<arith::CeilDivUIOp, arith::CeilDivSIOp>(d)) {
      auto c = getConstantIntValue(d->getOperand(1));
      if (!c || *c <= 0)
        fail(where, "grid dim: ceil division by a non-constant");
      divisor = *c;
      base = throughCasts(d->getOperand(0));
    }
    if (auto dim = base.getDefiningOp<DimOp>()) {
      auto t = dim.getSource().getType();
      const int64_t i = dim.getIndex();
      if (t.isDynamicDim(i) && r.isSize(t.getDimName(i)))
        return {t.getDimName(i), divisor};
    }
    fail(where, r.chain ? "grid dims must be a run-time size of an operand or ceil(size / constant)"
                        : "grid dims must be a problem size (B, Hq, Hkv, Sq, Sk) or ceil(size / constant)");
  }

  void resolveGrid() {
    auto grid = r.kernel.getGrid();
    const size_t n = grid.size();
    std::vector<GridDimRule> rules;
    for (Value g : grid)
      rules.push_back(gridDim(g, r.kernel));
    // Program ids are outermost first; CUDA x is the innermost (Q tiles on blockIdx.x).
    GridDimRule *cuda[3] = {&r.grid.x, &r.grid.y, &r.grid.z};
    r.programIdAxis.assign(n, 'x');
    for (size_t k = 0; k < n; ++k) {
      const size_t axis = n - 1 - k;
      *cuda[axis] = rules[k];
      r.programIdAxis[k] = "xyz"[axis];
      std::string name = "pid" + std::to_string(k);
      if (rules[k].size == "B" && rules[k].divisor == 1)
        name = "batch";
      else if (rules[k].size == "Hq" && rules[k].divisor == 1)
        name = "head";
      else if (rules[k].size == "Sq" && rules[k].divisor > 1)
        name = "q_tile";
      r.scalarNames[r.kernel.getBodyBlock().getArgument(k)] = name;
    }
  }

  // -- 4. walk and check the kernel body ---------------------------------------------------------
  void checkTileType(Operation *op, Type t) {
    auto tile = dyn_cast<TileType>(t);
    if (!tile)
      return;
    if (!tile.hasStaticShape())
      fail(op, "tile " + typeString(tile) +
                   " has a run-time (?) dim: the program is not tiled yet (run tilefuse-opt --tilefuse-fuse)");
    if (tile.getMemorySpace() == MemorySpace::reg) {
      if (r.blockM == 0)
        r.blockM = tile.getDimSize(0);
      if (tile.getDimSize(0) != r.blockM)
        fail(op, "register tile " + typeString(tile) + " has " + std::to_string(tile.getDimSize(0)) +
                     " rows; every register tile of the kernel must have BLOCK_M = " + std::to_string(r.blockM) +
                     " rows (the row block that the warps split)");
      if (tile.getRank() == 2 && tile.getDimSize(1) % 16 != 0)
        fail(op, "register tile " + typeString(tile) + ": columns must be a multiple of 16 (mma.sync fragments)");
    } else if (tile.getMemorySpace() == MemorySpace::smem) {
      const int64_t cols = tile.getRank() == 2 ? tile.getDimSize(1) : 0;
      if (tile.getRank() != 2 || tile.getDimSize(0) % 16 != 0 || cols % 16 != 0 || cols <= 0 ||
          !isHalfType(tile.getElementType()))
        fail(op, "shared tile " + typeString(tile) +
                     ": expected a rank-2 bf16/f16 tile with rows and columns multiples of 16 (the swizzled "
                     "shared-tile layout, ldmatrix base tiles of 16 x 16)");
    }
  }

  bool isScalarOp(Operation &op) {
    if (op.getNumRegions() != 0)
      return false;
    StringRef ns = op.getDialect()->getNamespace();
    if (ns == "arith" || ns == "math")
      return llvm::none_of(op.getResultTypes(), [](Type t) { return isa<TileType>(t); });
    return isa<DimOp, ReadOp, TileClassOp>(op);
  }

  void walkBlock(Block &block, bool inLoop, bool inKernelTop) {
    for (Operation &op : block) {
      for (Type t : op.getResultTypes())
        checkTileType(&op, t);
      if (isScalarOp(op))
        continue;
      if (auto forOp = dyn_cast<scf::ForOp>(op)) {
        if (isScalarLoop(forOp)) // e.g. a min / max of table values over an index range
          continue;
        // A chain's tile loop may sit inside another tile loop (an FFN's contraction over D inside its
        // contraction over F); the outer one then loads its own tiles in place (Plan: planLoopLoads).
        if (!inKernelTop && !(r.chain && inLoop))
          fail(&op, r.chain ? "a tile loop inside an scf.if outside every tile loop is not supported; loops over "
                              "scalars may sit anywhere"
                            : "only K/V loops directly in the blk.kernel body are supported (no nested loops over "
                              "tiles, no tile loops inside scf.if); loops over scalars may sit anywhere");
        if (!getConstantIntValue(forOp.getStep()))
          fail(&op, "the loop step must be a constant (BLOCK_N)");
        for (BlockArgument a : forOp.getRegionIterArgs())
          checkTileType(&op, a.getType());
        r.loops.push_back(forOp);
        walkBlock(*forOp.getBody(), true, false);
        continue;
      }
      if (auto ifOp = dyn_cast<scf::IfOp>(op)) {
        walkBlock(ifOp.getThenRegion().front(), inLoop, false);
        if (!ifOp.getElseRegion().empty())
          walkBlock(ifOp.getElseRegion().front(), inLoop, false);
        continue;
      }
      if (isa<scf::YieldOp>(op))
        continue;
      if (auto map = dyn_cast<MapOp>(op)) {
        checkMapRegion(map);
        continue;
      }
      if (auto load = dyn_cast<LoadOp>(op)) {
        if (load.getResult().getType().getRank() != 2)
          fail(&op, "only rank-2 tiles can be loaded (Q, K, V tiles)");
        if (!isHalfType(load.getResult().getType().getElementType()))
          fail(&op, "a " + typeString(load.getResult().getType().getElementType()) +
                        " tile load: loads go through 16-bit shared tiles (cp.async, ldmatrix), so only bf16 and "
                        "f16 tensors can be loaded as tiles (store the operand as bf16, or read f32 values "
                        "element by element with blk.read in a blk.map)");
        continue;
      }
      if (auto copy = dyn_cast<CopyOp>(op)) {
        if (copy.getSource().getType().getMemorySpace() != MemorySpace::smem)
          fail(&op, "only smem -> reg copies are supported");
        continue;
      }
      if (auto mm = dyn_cast<MatmulOp>(op)) {
        if (!isHalfType(mm.getLhs().getType().getElementType()))
          fail(&op, "mma.sync m16n8k16 takes bf16 or f16 operands, got " +
                        typeString(mm.getLhs().getType().getElementType()));
        continue;
      }
      if (isa<SelectOp, FillOp, IotaOp, BroadcastOp, ReduceOp, StoreOp>(op))
        continue;
      if (auto scan = dyn_cast<ScanOp>(op)) {
        if (scan.getKind() != ReduceKind::sum || !scan.getInput().getType().getElementType().isF32())
          fail(&op, "only f32 running sums (blk.scan sum) have a CUDA translation");
        continue;
      }
      fail(&op, "no CUDA translation for this op inside a blk.kernel");
    }
  }

  /// A loop that carries and computes scalars only (arith, math, blk.dim, blk.read, nested such loops
  /// and scf.if's): emitted as a plain C loop run by every thread.
  bool isScalarLoop(scf::ForOp loop) {
    auto scalarTypes = [](TypeRange types) { return llvm::none_of(types, [](Type t) { return isa<TileType>(t); }); };
    if (!scalarTypes(loop.getResultTypes()))
      return false;
    bool ok = true;
    loop.getBody()->walk([&](Operation *op) {
      if (isa<scf::YieldOp, scf::ForOp, scf::IfOp>(op)) {
        ok &= scalarTypes(op->getResultTypes()) && scalarTypes(op->getOperandTypes());
        return;
      }
      ok &= isScalarOp(*op);
    });
    return ok;
  }

  void checkMapRegion(MapOp map) {
    for (Operation &op : map.getBody().front()) {
      if (isa<YieldOp, ReadOp>(op))
        continue;
      StringRef ns = op.getDialect()->getNamespace();
      if ((ns == "arith" || ns == "math") && op.getNumRegions() == 0)
        continue;
      fail(&op, "no CUDA translation for this op inside a blk.map region (arith, math, blk.read)");
    }
  }

  void walkKernel() {
    walkBlock(r.kernel.getBodyBlock(), false, true);
    if (r.blockM == 0)
      fail(r.kernel, "the kernel computes no register tile");
    if (r.blockM % 16 != 0)
      fail(r.kernel, "BLOCK_M = " + std::to_string(r.blockM) + " is not a multiple of 16");
  }

  // -- 5. classify every tile value ---------------------------------------------------------------
  /// The innermost scf.for that contains `op` (or null).
  static Operation *loopOf(Operation *op) {
    for (Operation *p = op->getParentOp(); p; p = p->getParentOp())
      if (isa<scf::ForOp>(p))
        return p;
    return nullptr;
  }

  TileClass classOf(Value v) {
    auto type = cast<TileType>(v.getType());
    Operation *def = v.getDefiningOp();
    if (type.getMemorySpace() == MemorySpace::smem)
      return TileClass::Smem;
    if (auto copy = dyn_cast_or_null<CopyOp>(def)) {
      bool onlyMmaB = !v.use_empty() && llvm::all_of(v.getUses(), [](OpOperand &u) {
        auto mm = dyn_cast<MatmulOp>(u.getOwner());
        return mm && u.getOperandNumber() == 1;
      });
      if (onlyMmaB)
        return TileClass::Smem;
    }
    const TileClass kept = type.getRank() == 2 ? TileClass::Fragment : TileClass::RowVector;
    if (!def || !isElementwise(def))
      return kept;
    // Read only by one row reduction: computed inside the reduction, never kept.
    if (isa<MapOp, SelectOp>(def) && type.getRank() == 2 && v.hasOneUse() &&
        isa<ReduceOp>(*v.getUsers().begin()) && type.getElementType().isF32())
      return TileClass::Inline;
    // A row vector computed by a map (1 / l of the epilogue): kept, computed once per row, rather than
    // once per element of the tiles it is broadcast into (NVVM does not merge the repeated div.approx).
    if (isa<MapOp>(def) && type.getRank() == 1 && isa<FloatType>(type.getElementType()) && !v.use_empty() &&
        llvm::all_of(v.getUsers(), [](Operation *u) { return isa<BroadcastOp>(u); }))
      return kept;
    Operation *defLoop = loopOf(def);
    unsigned uses = 0;
    for (OpOperand &u : v.getUses()) {
      ++uses;
      Operation *user = u.getOwner();
      if (!isElementwise(user))
        return kept;
      if (isa<MapOp, SelectOp>(def) && loopOf(user) != defLoop)
        return kept; // hoisted out of the loop rather than recomputed every iteration
    }
    if (isa<MapOp, SelectOp>(def) && uses > 1 && isa<FloatType>(type.getElementType()))
      return kept;
    return TileClass::Inline;
  }

  void classifyValue(Value v, Operation *where) {
    auto type = dyn_cast<TileType>(v.getType());
    if (!type)
      return;
    TileInfo info;
    info.type = type;
    info.cls = classOf(v);
    Type e = type.getElementType();
    if (info.cls == TileClass::Fragment && !(e.isF32() || isHalfType(e)))
      fail(where, "a " + typeString(type) +
                      " tile is needed whole (by a reduce, matmul, store, loop or scf.if) but only f32, bf16 "
                      "and f16 tiles can be kept in registers");
    if (info.cls == TileClass::RowVector && !e.isF32())
      fail(where, "a " + typeString(type) + " row vector is needed whole but only f32 row vectors can be kept");
    r.tiles[v] = info;
  }

  void classify() {
    r.kernel.getBody().walk([&](Operation *op) {
      for (Value res : op->getResults())
        classifyValue(res, op);
      for (Region &region : op->getRegions())
        for (Block &b : region)
          for (BlockArgument a : b.getArguments())
            classifyValue(a, op);
    });
  }

  // -- 6. names ------------------------------------------------------------------------------------
  static std::optional<std::string> nameFromLoc(Location loc) {
    if (auto n = dyn_cast<NameLoc>(loc))
      return identifier(n.getName().strref());
    return std::nullopt;
  }

  void suggestScalar(Value v, std::string name) {
    if (!v.getDefiningOp() || r.scalarNames.count(v))
      return;
    if (isa<arith::ConstantOp>(v.getDefiningOp()))
      return;
    r.scalarNames[v] = std::move(name);
  }

  void nameScalars() {
    int loopIndex = 0;
    for (scf::ForOp l : r.loops)
      r.scalarNames[l.getInductionVar()] = loopIndex++ == 0 ? "kv0" : "kv0_" + std::to_string(loopIndex - 1);
    auto nameAll = [&](Operation *op) {
      if (auto n = nameFromLoc(op->getLoc()); n && op->getNumResults() == 1 && !isa<TileType>(op->getResult(0).getType()))
        r.scalarNames[op->getResult(0)] = *n;
      if (auto dim = dyn_cast<DimOp>(op)) {
        auto t = dim.getSource().getType();
        const unsigned i = dim.getIndex();
        // Packed: a capture's Sq / Sk dim is the max length, not the sequence's: it gets its own name.
        const bool maxLength = r.packed && r.tensorOf(dim.getSource()).sig.role == TensorRole::Capture &&
                               (t.getDimName(i) == "Sq" || t.getDimName(i) == "Sk");
        if (t.isDynamicDim(i) && r.isSize(t.getDimName(i)) && !maxLength)
          r.scalarNames[dim.getResult()] = identifier(t.getDimName(i));
        else
          r.scalarNames[dim.getResult()] = identifier(r.tensorOf(dim.getSource()).sig.name + "_dim" + std::to_string(i));
      }
      auto nameIndices = [&](Value tensor, OperandRange idx, size_t tileRank) {
        const TensorInfo &t = r.tensorOf(tensor);
        const size_t rank = idx.size();
        if ((t.sig.role == TensorRole::Q || t.sig.role == TensorRole::O || t.sig.role == TensorRole::LSE) &&
            rank >= tileRank)
          suggestScalar(idx[rank - tileRank], "q_row0");
        if ((t.sig.role == TensorRole::K || t.sig.role == TensorRole::V) && rank >= 3)
          suggestScalar(idx[rank - 3], "kv_head");
      };
      if (auto load = dyn_cast<LoadOp>(op))
        nameIndices(load.getSource(), load.getIndices(), 2);
      if (auto store = dyn_cast<StoreOp>(op))
        nameIndices(store.getDest(), store.getIndices(), store.getValue().getType().getRank());
    };
    func.walk(nameAll);
  }

  /// The first reduce / matmul found walking back from `v` through element-wise ops, breadth first.
  std::string carriedRole(Value v) {
    std::vector<Value> frontier = {v};
    for (int depth = 0; depth < 6 && !frontier.empty(); ++depth) {
      std::vector<Value> next;
      for (Value f : frontier) {
        Operation *d = f.getDefiningOp();
        if (!d)
          continue;
        if (auto red = dyn_cast<ReduceOp>(d))
          return red.getKind() == ReduceKind::max ? "m_i" : "l_i";
        if (isa<MatmulOp>(d))
          return "o_acc";
        if (auto ifOp = dyn_cast<scf::IfOp>(d)) {
          const unsigned k = cast<OpResult>(f).getResultNumber();
          if (!ifOp.getElseRegion().empty())
            next.push_back(ifOp.elseYield().getOperand(k));
          next.push_back(ifOp.thenYield().getOperand(k));
          continue;
        }
        for (Value in : d->getOperands())
          if (isa<TileType>(in.getType()))
            next.push_back(in);
      }
      frontier = std::move(next);
    }
    return "carry";
  }

  static bool regionHas(Region &region, StringRef opName) {
    bool found = false;
    region.walk([&](Operation *op) { found |= op->getName().getStringRef() == opName; });
    return found;
  }

  /// The name of the first kept f32 rank-2 tile an element-wise chain starts from (s_acc for the
  /// score_mod / mask chain, o_acc for the final normalisation), else "t".
  std::string scoreName(Value v) {
    Operation *def = v.getDefiningOp();
    if (!def || !isa<MapOp, SelectOp>(def))
      return "t";
    for (Value in : def->getOperands()) {
      auto t = dyn_cast<TileType>(in.getType());
      if (!t || t.getRank() != 2 || !t.getElementType().isF32() || isa_and_nonnull<FillOp, BroadcastOp>(in.getDefiningOp()))
        continue;
      if (r.tiles[in].cls == TileClass::Fragment)
        return tileName(in);
      std::string inner = scoreName(in);
      if (inner != "t")
        return inner;
    }
    return "t";
  }

  std::string tileName(Value v) {
    Operation *def = v.getDefiningOp();
    if (def)
      if (auto n = nameFromLoc(def->getLoc()))
        return *n;
    auto type = cast<TileType>(v.getType());
    if (!def) { // a loop's iter arg
      auto arg = cast<BlockArgument>(v);
      if (auto forOp = dyn_cast<scf::ForOp>(arg.getOwner()->getParentOp()))
        return carriedRole(forOp.getBody()->getTerminator()->getOperand(arg.getArgNumber() - 1));
      return "arg";
    }
    if (auto load = dyn_cast<LoadOp>(def)) {
      std::string role = r.tensorOf(load.getSource()).sig.name;
      for (char &c : role)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return role + (type.getMemorySpace() == MemorySpace::smem ? "_smem" : "_frag");
    }
    if (auto copy = dyn_cast<CopyOp>(def)) {
      std::string src = tileName(copy.getSource());
      if (src.size() > 5 && src.substr(src.size() - 5) == "_smem")
        src = src.substr(0, src.size() - 5);
      return src + "_frag";
    }
    if (auto mm = dyn_cast<MatmulOp>(def))
      return mm.getTransposeB() ? "s_acc" : (mm.getAcc() ? "o_acc" : "pv");
    if (auto red = dyn_cast<ReduceOp>(def))
      return red.getKind() == ReduceKind::max ? "row_max" : "row_sum";
    if (isa<ScanOp>(def))
      return "row_scan";
    if (auto forOp = dyn_cast<scf::ForOp>(def))
      return carriedRole(forOp.getBody()->getTerminator()->getOperand(cast<OpResult>(v).getResultNumber()));
    if (isa<scf::IfOp>(def))
      return carriedRole(v);
    if (auto iota = dyn_cast<IotaOp>(def))
      return iota.getDim() == IotaDim::row ? "q_idx" : "kv_idx";
    if (isa<FillOp>(def))
      return "fill";
    if (auto bc = dyn_cast<BroadcastOp>(def))
      return r.tiles.count(bc.getInput()) ? tileName(bc.getInput()) + "_b" : "bcast";
    if (auto map = dyn_cast<MapOp>(def)) {
      if (type.getRank() == 1) {
        for (Value in : map.getInputs())
          if (auto red = in.getDefiningOp<ReduceOp>())
            return red.getKind() == ReduceKind::max ? "m_new" : "l_new";
        if (regionHas(map.getBody(), "math.exp"))
          return "alpha";
        if (regionHas(map.getBody(), "math.log"))
          return "lse";
        for (Value in : map.getInputs()) // the lazy running max's reference (Prepare.h), from the updated max
          if (auto update = in.getDefiningOp<MapOp>())
            if (llvm::any_of(update.getInputs(), [](Value u) { return u.getDefiningOp<ReduceOp>(); }))
              return "m_ref";
        return "r";
      }
      const bool mmaOperand = llvm::any_of(v.getUses(), [](OpOperand &u) { return isa<MatmulOp>(u.getOwner()); });
      if (isHalfType(type.getElementType()) && mmaOperand)
        return "p_frag";
      return scoreName(v);
    }
    if (isa<SelectOp>(def)) {
      const bool mmaOperand = llvm::any_of(v.getUses(), [](OpOperand &u) { return isa<MatmulOp>(u.getOwner()); });
      return isHalfType(type.getElementType()) && mmaOperand ? "p_frag" : scoreName(v);
    }
    return "t";
  }

  void nameTiles() {
    for (auto &[v, info] : r.tiles)
      info.name = tileName(v);
  }

  func::FuncOp func;
  const KernelSignature &sig;
  ResolvedKernel r;
};

} // namespace

// ---------------------------------------------------------------------------------------------------
// ResolvedKernel

const TensorInfo &ResolvedKernel::tensorOf(Value hbm) const {
  auto arg = dyn_cast<BlockArgument>(hbm);
  if (!arg || arg.getOwner() != &func.getBody().front())
    fail(hbm.getLoc(), "", "tensors must be arguments of the fused function");
  return tensors[arg.getArgNumber()];
}

const TileInfo &ResolvedKernel::tile(Value v) const {
  auto it = tiles.find(v);
  if (it == tiles.end())
    fail(v.getLoc(), "", "internal: unclassified tile value");
  return it->second;
}

bool ResolvedKernel::isKept(Value v) const { return tile(v).cls != TileClass::Inline; }

std::string ResolvedKernel::toString() const {
  std::ostringstream os;
  os << "resolve: @" << func.getSymName().str() << " -> kernel " << kernelName << " (blk.kernel @"
     << kernel.getSymName().str() << ")\n";
  os << "  grid: " << grid.toString() << "\n";
  os << "  BLOCK_M = " << blockM << ", dtype " << typeString(dtype) << "\n";
  os << "  tensors:\n";
  for (const TensorInfo &t : tensors) {
    os << "    arg" << t.arg << " " << t.sig.name << " (" << spelling(t.sig.role) << ") " << typeString(t.type)
       << (t.loaded ? " loaded" : "") << (t.stored ? " stored" : "") << (t.read ? " read" : "") << "\n";
  }
  os << "  loops: " << loops.size() << "\n";
  for (scf::ForOp l : loops)
    os << "    scf.for at " << locationString(l.getLoc()) << ", step " << *getConstantIntValue(l.getStep())
       << ", " << l.getNumRegionIterArgs() << " carried values\n";
  os << "  tiles (in program order):\n";
  kernel.getBody().walk<WalkOrder::PreOrder>([&](Operation *op) {
    auto show = [&](Value v, std::string_view what) {
      auto it = tiles.find(v);
      if (it == tiles.end())
        return;
      os << "    " << it->second.name << " = " << what << " : " << typeString(it->second.type) << "  ["
         << spelling(it->second.cls) << "]\n";
    };
    for (Region &region : op->getRegions())
      for (Block &b : region)
        for (BlockArgument a : b.getArguments())
          show(a, "(carried by " + op->getName().getStringRef().str() + ")");
    for (Value res : op->getResults())
      show(res, op->getName().getStringRef().str());
  });
  return os.str();
}

ResolvedKernel resolve(func::FuncOp func, const KernelSignature &signature) {
  ResolvedKernel r = Resolver(func, signature).run();
  r.kernel.getBody().walk([&](Operation *op) {
    if (auto load = dyn_cast<LoadOp>(op))
      r.tensors[r.tensorOf(load.getSource()).arg].loaded = true;
    if (auto store = dyn_cast<StoreOp>(op))
      r.tensors[r.tensorOf(store.getDest()).arg].stored = true;
    if (auto read = dyn_cast<ReadOp>(op))
      r.tensors[r.tensorOf(read.getSource()).arg].read = true;
  });
  return r;
}

} // namespace tilefuse::codegen
