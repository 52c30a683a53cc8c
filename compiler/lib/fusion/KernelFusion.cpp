//===- KernelFusion.cpp - producer-consumer fusion of kernels -------------===//
//
// --tilefuse-fuse-kernels: kernels that hand tiles to each other through HBM scratch
// tensors become one kernel that keeps the tiles in registers.
//
#include "Algebra.h"
#include "BlkBuild.h"

#include "tilefuse/compiler/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace tilefuse {
#define GEN_PASS_DEF_FUSEKERNELS
#include "tilefuse/compiler/Passes.h.inc"
} // namespace tilefuse

using namespace mlir;
using namespace tilefuse;
using namespace tilefuse::fusion;

namespace {

/// HBM accesses inside an op, by kind.
struct Accesses {
  SmallVector<blk::LoadOp> loads;
  SmallVector<blk::StoreOp> stores;
  SmallVector<blk::ReadOp> reads;

  explicit Accesses(Operation *root) {
    root->walk([&](Operation *op) {
      if (auto l = dyn_cast<blk::LoadOp>(op))
        loads.push_back(l);
      else if (auto s = dyn_cast<blk::StoreOp>(op))
        stores.push_back(s);
      else if (auto r = dyn_cast<blk::ReadOp>(op))
        reads.push_back(r);
    });
  }
  bool writes(Value t) const {
    return llvm::any_of(stores, [&](blk::StoreOp s) { return s.getDest() == t; });
  }
  bool reads_(Value t) const {
    return llvm::any_of(loads, [&](blk::LoadOp l) { return l.getSource() == t; }) ||
           llvm::any_of(reads, [&](blk::ReadOp r) { return r.getSource() == t; });
  }
};

bool sameIndices(ValueRange a, ValueRange b, StructuralEq &eq) {
  if (a.size() != b.size())
    return false;
  for (auto [x, y] : llvm::zip(a, b))
    if (!eq.equal(x, y))
      return false;
  return true;
}

bool sameTile(blk::TileType a, blk::TileType b) {
  return a.getShape() == b.getShape() && a.getElementType() == b.getElementType();
}

/// The next kernel after `k` in its block, if only ops without HBM effects (pure ops,
/// allocs) lie between them; those ops go to `between`.
blk::KernelOp nextKernel(blk::KernelOp k, SmallVectorImpl<Operation *> &between) {
  for (Operation *op = k->getNextNode(); op; op = op->getNextNode()) {
    if (auto next = dyn_cast<blk::KernelOp>(op))
      return next;
    if (!isMemoryEffectFree(op) && !isa<blk::AllocOp>(op))
      return {};
    between.push_back(op);
  }
  return {};
}

/// Why `second` cannot join `first` (empty when it can): the grids must be equal, and each
/// tensor `first` writes that `second` touches must only be loaded by `second` at indices
/// `first` stores at (instance i then reads only what instance i wrote).
std::string whyNotMergeable(blk::KernelOp first, blk::KernelOp second) {
  StructuralEq eq;
  if (first.getGrid().size() != second.getGrid().size() ||
      !sameIndices(first.getGrid(), second.getGrid(), eq))
    return "the grids differ";
  for (auto [a, b] : llvm::zip(second.getBodyBlock().getArguments(),
                               first.getBodyBlock().getArguments()))
    eq.assume(a, b);
  Accesses w1(first), a2(second);
  for (blk::StoreOp store : w1.stores) {
    Value t = store.getDest();
    if (a2.writes(t))
      return "both kernels write the same tensor";
    if (llvm::any_of(a2.reads, [&](blk::ReadOp r) { return r.getSource() == t; }))
      return "the second kernel reads single elements of a tensor the first writes";
    for (blk::LoadOp load : a2.loads) {
      if (load.getSource() != t)
        continue;
      bool matched = llvm::any_of(w1.stores, [&](blk::StoreOp s) {
        return s.getDest() == t && sameTile(s.getValue().getType(), load.getType()) &&
               sameIndices(load.getIndices(), s.getIndices(), eq);
      });
      if (!matched)
        return "the second kernel loads a tile of a tensor the first writes at indices "
               "no store of the first writes (another instance's data)";
    }
  }
  Accesses a1(first), w2(second);
  for (blk::StoreOp store : w2.stores)
    if (a1.reads_(store.getDest()))
      return "the second kernel overwrites a tensor the first reads";
  return "";
}

// Kernels of one grid run instance by instance: for every i, body2(i) after all body1(j).
// If body2(i) reads only tiles body1(i) wrote (or tensors body1 does not write), and body2
// writes nothing body1 reads, then running body1(i); body2(i) per instance is the same
// program:  K2 . K1 = (per i: body2(i) . body1(i))   (instance-local dependence)
struct MergeSameGridKernels : OpRewritePattern<blk::KernelOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(blk::KernelOp first, PatternRewriter &rewriter) const override {
    SmallVector<Operation *> between;
    blk::KernelOp second = nextKernel(first, between);
    if (!second)
      return rewriter.notifyMatchFailure(first, "no adjacent kernel");
    if (std::string why = whyNotMergeable(first, second); !why.empty())
      return rewriter.notifyMatchFailure(first, why);
    for (Operation *op : between)
      rewriter.moveOpBefore(op, first);
    Block &dest = first.getBodyBlock();
    SmallVector<Value> ids(dest.getArguments());
    rewriter.mergeBlocks(&second.getBodyBlock(), &dest, ids);
    std::string name = (first.getSymName() + "_" + second.getSymName()).str();
    rewriter.modifyOpInPlace(first, [&] { first.setSymName(name); });
    rewriter.eraseOp(second);
    return success();
  }
};

/// Tensor dim of tile dim `d`.
int64_t tensorDim(blk::HbmTensorType t, blk::TileType tile, unsigned d) {
  return t.getRank() - tile.getRank() + d;
}

/// Whether the positions of tile dim `d` of an access might fall outside the tensor (a
/// static tile dim over a symbolic or too small tensor dim). A `?` dim is exact.
bool mayOverhang(blk::HbmTensorType t, blk::TileType tile, ValueRange indices, unsigned d) {
  if (tile.isDynamicDim(d))
    return false;
  int64_t td = tensorDim(t, tile, d);
  if (t.isDynamicDim(td))
    return true;
  std::optional<int64_t> off = getConstantIntValue(indices[td]);
  return !off || *off + tile.getDimSize(d) > t.getShape()[td];
}

// Where a load pads with 0, the forwarded value holds whatever the producer computed. That
// is invisible if those positions only reach positions of the results that are themselves
// outside the tensors (elementwise ops, row reductions and scans over a clean dim, matmuls that do not
// contract over them, stores whose dim is the same dim of the same size). Checks that.
bool overhangStaysOutside(blk::LoadOp load, StructuralEq &eq) {
  blk::TileType tile = load.getType();
  blk::HbmTensorType src = load.getSource().getType();
  // garbage[d]: the source tensor dim whose overhang tile dim d of a value carries, or -1.
  using Garbage = std::array<int64_t, 2>;
  Garbage start = {-1, -1};
  bool any = false;
  for (unsigned d = 0; d < tile.getRank(); ++d)
    if (mayOverhang(src, tile, load.getIndices(), d)) {
      start[d] = tensorDim(src, tile, d);
      any = true;
    }
  if (!any)
    return true;
  SmallVector<std::pair<Value, Garbage>> work = {{load.getResult(), start}};
  while (!work.empty()) {
    auto [v, g] = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (isa<blk::MapOp, blk::SelectOp, blk::CopyOp>(user)) {
        work.push_back({user->getResult(0), g});
      } else if (isa<blk::BroadcastOp>(user)) {
        work.push_back({user->getResult(0), {g[0], -1}});
      } else if (isa<blk::ReduceOp>(user)) {
        if (g[1] >= 0)
          return false;
        work.push_back({user->getResult(0), {g[0], -1}});
      } else if (isa<blk::ScanOp>(user)) { // rows scan apart; an overhanging column enters others' sums
        if (g[1] >= 0)
          return false;
        work.push_back({user->getResult(0), g});
      } else if (auto mm = dyn_cast<blk::MatmulOp>(user)) {
        unsigned n = use.getOperandNumber();
        Garbage r = {-1, -1};
        if (n == 0) { // lhs: rows survive, columns are contracted
          if (g[1] >= 0)
            return false;
          r = {g[0], -1};
        } else if (n == 1) { // rhs: the contracted dim is 1 with transpose_b, else 0
          unsigned k = mm.getTransposeB() ? 1 : 0;
          if (g[k] >= 0)
            return false;
          r = {-1, g[1 - k]};
        } else {
          r = g;
        }
        work.push_back({mm.getResult(), r});
      } else if (auto store = dyn_cast<blk::StoreOp>(user)) {
        blk::HbmTensorType dst = store.getDest().getType();
        blk::TileType vt = store.getValue().getType();
        for (unsigned d = 0; d < vt.getRank(); ++d) {
          if (g[d] < 0)
            continue;
          int64_t td = tensorDim(dst, vt, d);
          if (!dst.isDynamicDim(td) || !src.isDynamicDim(g[d]) ||
              dst.getDimName(td) != src.getDimName(g[d]) ||
              !eq.equal(store.getIndices()[td], load.getIndices()[g[d]]))
            return false;
        }
      } else {
        return false;
      }
    }
  }
  return true;
}

// load(T, idx) after store(v, T, idx) in the same instance, with no write to T between,
// reads v (at every position inside T):  load . store = id
struct ForwardStoreToLoad : OpRewritePattern<blk::LoadOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(blk::LoadOp load, PatternRewriter &rewriter) const override {
    Value tensor = load.getSource();
    blk::StoreOp store;
    for (Operation *op = load->getPrevNode(); op && !store; op = op->getPrevNode()) {
      if (auto s = dyn_cast<blk::StoreOp>(op); s && s.getDest() == tensor) {
        store = s;
        break;
      }
      if (Accesses(op).writes(tensor))
        return rewriter.notifyMatchFailure(load, "a nested op writes the tensor first");
    }
    if (!store)
      return rewriter.notifyMatchFailure(load, "no earlier store in this block");
    StructuralEq eq;
    blk::TileType want = load.getType(), have = store.getValue().getType();
    if (!sameTile(want, have) || !sameIndices(load.getIndices(), store.getIndices(), eq))
      return rewriter.notifyMatchFailure(load, "the last store writes another tile");
    if (!overhangStaysOutside(load, eq))
      return rewriter.notifyMatchFailure(load, "padding of the load would be visible");
    Value v = store.getValue();
    if (want != have)
      v = rewriter.create<blk::CopyOp>(load.getLoc(), want, v);
    rewriter.replaceOp(load, v);
    return success();
  }
};

/// The tensor is a blk.alloc scratch that nothing loads or reads.
bool isUnreadScratch(Value tensor) {
  if (!tensor.getDefiningOp<blk::AllocOp>())
    return false;
  return llvm::all_of(tensor.getUsers(),
                      [](Operation *u) { return isa<blk::StoreOp, blk::DimOp>(u); });
}

// A store into a scratch tensor that is never read has no observable effect.
struct EraseDeadScratchStore : OpRewritePattern<blk::StoreOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(blk::StoreOp store, PatternRewriter &rewriter) const override {
    if (!isUnreadScratch(store.getDest()))
      return rewriter.notifyMatchFailure(store, "the tensor is read or not a scratch");
    rewriter.eraseOp(store);
    return success();
  }
};

// dim(alloc(sizes), i) = the size alloc was given for dim i.
struct FoldDimOfAlloc : OpRewritePattern<blk::DimOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(blk::DimOp dim, PatternRewriter &rewriter) const override {
    auto alloc = dim.getSource().getDefiningOp<blk::AllocOp>();
    if (!alloc)
      return failure();
    blk::HbmTensorType t = alloc.getType();
    int64_t i = dim.getIndex();
    if (!t.isDynamicDim(i)) {
      rewriter.replaceOpWithNewOp<arith::ConstantIndexOp>(dim, t.getShape()[i]);
      return success();
    }
    unsigned k = 0;
    for (int64_t j = 0; j < i; ++j)
      k += t.isDynamicDim(j);
    rewriter.replaceOp(dim, alloc.getSizes()[k]);
    return success();
  }
};

// A scratch tensor nobody uses is not needed.
struct EraseUnusedAlloc : OpRewritePattern<blk::AllocOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(blk::AllocOp alloc, PatternRewriter &rewriter) const override {
    if (!alloc->use_empty())
      return failure();
    rewriter.eraseOp(alloc);
    return success();
  }
};

// copy(copy(x : A -> B) : B -> A) = x   (a copy moves a tile; it does not change it)
struct FoldCopyRoundTrip : OpRewritePattern<blk::CopyOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(blk::CopyOp copy, PatternRewriter &rewriter) const override {
    auto inner = copy.getSource().getDefiningOp<blk::CopyOp>();
    if (!inner || inner.getSource().getType() != copy.getType())
      return failure();
    rewriter.replaceOp(copy, inner.getSource());
    return success();
  }
};

struct FuseKernelsPass : tilefuse::impl::FuseKernelsBase<FuseKernelsPass> {
  void runOnOperation() override {
    // 1. Merge same-grid kernels, forward stores to loads, drop dead scratch tensors.
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<MergeSameGridKernels, ForwardStoreToLoad, EraseDeadScratchStore,
                 FoldDimOfAlloc, EraseUnusedAlloc, FoldCopyRoundTrip>(ctx);
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    // 2. Say why kernels of one grid stayed apart.
    getOperation().walk([](blk::KernelOp k) {
      SmallVector<Operation *> between;
      if (blk::KernelOp next = nextKernel(k, between)) {
        std::string why = whyNotMergeable(k, next);
        if (!why.empty() && why != "the grids differ")
          next.emitWarning() << "tilefuse-fuse-kernels: kernel @" << next.getSymName()
                             << " stays apart from @" << k.getSymName() << ": " << why;
      }
    });
  }
};

} // namespace
