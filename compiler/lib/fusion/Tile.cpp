//===- Tile.cpp - whole-row (`?`) tiles become loops over BLOCK_N chunks --===//
//
// --tilefuse-tile: each op that consumes a `?` tile and produces a static one (a row
// reduction, a contraction, a store) becomes an scf.for over chunks of BLOCK_N; the `?`
// chain feeding it is recomputed per chunk (TileSlice.h). Loop fusion and CSE later remove
// the chains that several loops recompute.
//
#include "BlkBuild.h"
#include "TileSlice.h"

#include "tilefuse/compiler/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <limits>

namespace tilefuse {
#define GEN_PASS_DEF_TILE
#include "tilefuse/compiler/Passes.h.inc"
} // namespace tilefuse

using namespace mlir;
using namespace tilefuse;
using namespace tilefuse::fusion;

namespace {

/// The single `?` dim of a tile type, if it has exactly one.
std::optional<unsigned> dynamicDim(Type type) {
  auto t = dyn_cast<blk::TileType>(type);
  if (!t || t.getNumDynamicDims() != 1)
    return std::nullopt;
  for (unsigned d = 0; d < t.getRank(); ++d)
    if (t.isDynamicDim(d))
      return d;
  return std::nullopt;
}

double identityOf(blk::ReduceKind kind) {
  return kind == blk::ReduceKind::max ? -std::numeric_limits<double>::infinity() : 0.0;
}

/// Shared by the rules: BLOCK_N and the loop skeleton.
struct TilingRule {
  int64_t blockN;

  /// The chain being tiled: the `?` values the body slices and the dim each is sliced along.
  using Roots = ArrayRef<std::pair<Value, unsigned>>;

  /// Why the scans on the chain cannot be carried across one loop ("" when they can): prefix and
  /// suffix scans would need the chunks in both orders.
  static std::string whyNotScannable(Roots roots, SmallVectorImpl<blk::ScanOp> &scans) {
    for (auto [v, d] : roots)
      scansOnChain(v, d, scans);
    if (llvm::any_of(scans, [&](blk::ScanOp s) { return s.getReverse() != scans.front().getReverse(); }))
      return "the chain holds both a prefix and a suffix scan along the tiled dim";
    return "";
  }

  /// for off = 0 to extent step BLOCK_N iter_args(inits) { body(off, slicer) }
  ///
  /// Scans across the tiled loop (blk.scan along the tiled dim on the chain):
  ///   scan(x)_j = scan(x_c)_j + sum of x over the chunks before c (prefix; after c for a suffix scan)
  /// The loop carries that sum per scan (a row vector, from 0) and adds each chunk's row sum to it;
  /// for a suffix scan it visits the chunks last to first (chunk offset roundup(extent) - BLOCK_N - off).
  /// `scans`: whyNotScannable's, for the chain the body slices.
  scf::ForOp buildLoop(PatternRewriter &rewriter, Location loc, Value extent, ValueRange inits,
                       ArrayRef<blk::ScanOp> scans,
                       function_ref<SmallVector<Value>(OpBuilder &, ChunkSlicer &)> body) const {
    SmallVector<Value> allInits(inits);
    for (blk::ScanOp scan : scans) {
      blk::TileType t = scan.getType();
      auto row = blk::TileType::get(rewriter.getContext(), {t.getDimSize(0)}, t.getElementType(),
                                    blk::MemorySpace::reg);
      allInits.push_back(fillFloat(rewriter, loc, row, 0.0));
    }
    const bool reverse = !scans.empty() && blk::ScanOp(scans.front()).getReverse();
    Value c0 = rewriter.create<arith::ConstantIndexOp>(loc, 0);
    Value step = rewriter.create<arith::ConstantIndexOp>(loc, blockN);
    Value last; // the last chunk's offset, for a loop that visits the chunks last to first
    if (reverse) {
      Value chunks = rewriter.create<arith::CeilDivUIOp>(loc, extent, step);
      last = rewriter.create<arith::SubIOp>(loc, rewriter.create<arith::MulIOp>(loc, chunks, step), step);
    }
    return rewriter.create<scf::ForOp>(
        loc, c0, extent, step, allInits,
        [&](OpBuilder &b, Location l, Value it, ValueRange carried) {
          Value off = reverse ? b.create<arith::SubIOp>(l, last, it).getResult() : it;
          ChunkSlicer slicer(b, l, off, blockN, extent);
          for (auto [k, scan] : llvm::enumerate(scans))
            slicer.carryScan(scan, carried[inits.size() + k]);
          SmallVector<Value> yields = body(b, slicer);
          for (auto [k, scan] : llvm::enumerate(scans)) {
            Value part = b.create<blk::ReduceOp>(l, carried[inits.size() + k].getType(), blk::ReduceKind::sum,
                                                 slicer.scanChunkInput(scan));
            yields.push_back(buildMap(b, l, {carried[inits.size() + k], part}, b.getF32Type(),
                                      [&](OpBuilder &bb, Location ll, ValueRange x) -> Value {
                                        return bb.create<arith::AddFOp>(ll, x[0], x[1]);
                                      }));
          }
          b.create<scf::YieldOp>(l, yields);
        });
  }
};

// reduce_{j < n} x_j = reduce_{c} ( reduce_{j in chunk c} x_j )   (reduction across a tiled
// loop: the loop carries the running value, starting at the identity e; padded columns of
// the last chunk are set to e, since reduce(x, e) = reduce(x))
struct TileRowReduction : OpRewritePattern<blk::ReduceOp>, TilingRule {
  TileRowReduction(MLIRContext *ctx, int64_t blockN)
      : OpRewritePattern(ctx), TilingRule{blockN} {}
  LogicalResult matchAndRewrite(blk::ReduceOp red, PatternRewriter &rewriter) const override {
    Value in = red.getInput();
    if (dynamicDim(in.getType()) != 1u || red.getType().getNumDynamicDims())
      return rewriter.notifyMatchFailure(red, "not a reduction over a `?` dim");
    if (!whyNotSliceable(in, 1).empty() || !extentSource(in, 1).first)
      return rewriter.notifyMatchFailure(red, "the input cannot be recomputed per chunk");
    SmallVector<blk::ScanOp> scans;
    const std::pair<Value, unsigned> roots[] = {{in, 1}};
    if (std::string why = whyNotScannable(roots, scans); !why.empty())
      return rewriter.notifyMatchFailure(red, why);
    Location loc = red.getLoc();
    double e = identityOf(red.getKind());
    Value init = fillFloat(rewriter, loc, red.getType(), e);
    Value extent = buildExtent(rewriter, loc, in, 1);
    auto loop = buildLoop(rewriter, loc, extent, init, scans, [&](OpBuilder &b, ChunkSlicer &s) {
      Value chunk = s.slice(in, 1);
      if (!padsWith(in, 1, e))
        chunk = s.maskTail(chunk, 1, e);
      Value part = b.create<blk::ReduceOp>(loc, red.getType(), red.getKindAttr(), chunk);
      Value acc = b.getInsertionBlock()->getArgument(1);
      bool isMax = red.getKind() == blk::ReduceKind::max;
      Value next = buildMap(b, loc, {acc, part}, red.getType().getElementType(),
                            [&](OpBuilder &bb, Location l, ValueRange x) -> Value {
                              if (isMax)
                                return bb.create<arith::MaximumFOp>(l, x[0], x[1]);
                              return bb.create<arith::AddFOp>(l, x[0], x[1]);
                            });
      return SmallVector<Value>{next};
    });
    rewriter.replaceOp(red, loop.getResults().take_front());
    return success();
  }
};

// sum_{k < n} A_ik B_kj = sum_c sum_{k in chunk c} A_ik B_kj   (the loop carries the
// accumulator; padded columns of A are zeroed, 0 * B = 0, and so are padded rows of B)
struct TileContraction : OpRewritePattern<blk::MatmulOp>, TilingRule {
  TileContraction(MLIRContext *ctx, int64_t blockN)
      : OpRewritePattern(ctx), TilingRule{blockN} {}
  LogicalResult matchAndRewrite(blk::MatmulOp mm, PatternRewriter &rewriter) const override {
    Value lhs = mm.getLhs(), rhs = mm.getRhs();
    unsigned kb = mm.getTransposeB() ? 1 : 0;
    if (dynamicDim(lhs.getType()) != 1u || dynamicDim(rhs.getType()) != kb ||
        mm.getType().getNumDynamicDims())
      return rewriter.notifyMatchFailure(mm, "not a contraction over a `?` dim");
    if (!whyNotSliceable(lhs, 1).empty() || !whyNotSliceable(rhs, kb).empty())
      return rewriter.notifyMatchFailure(mm, "an operand cannot be recomputed per chunk");
    SmallVector<blk::ScanOp> scans;
    const std::pair<Value, unsigned> roots[] = {{lhs, 1}, {rhs, kb}};
    if (std::string why = whyNotScannable(roots, scans); !why.empty())
      return rewriter.notifyMatchFailure(mm, why);
    bool maskA = !padsWith(lhs, 1, 0.0), maskB = !padsWith(rhs, kb, 0.0);
    if ((maskA && tileOf(lhs).getMemorySpace() != blk::MemorySpace::reg) ||
        (maskB && tileOf(rhs).getMemorySpace() != blk::MemorySpace::reg))
      return rewriter.notifyMatchFailure(mm, "a computed operand in SMEM cannot be masked");
    bool fromLhs = extentSource(lhs, 1).first != nullptr;
    if (!fromLhs && !extentSource(rhs, kb).first)
      return rewriter.notifyMatchFailure(mm, "no load fixes the extent");
    Location loc = mm.getLoc();
    Value init = mm.getAcc() ? mm.getAcc() : fillFloat(rewriter, loc, mm.getType(), 0.0);
    Value extent = fromLhs ? buildExtent(rewriter, loc, lhs, 1)
                           : buildExtent(rewriter, loc, rhs, kb);
    auto loop = buildLoop(rewriter, loc, extent, init, scans, [&](OpBuilder &b, ChunkSlicer &s) {
      Value a = s.slice(lhs, 1), bt = s.slice(rhs, kb);
      if (maskA)
        a = s.maskTail(a, 1, 0.0);
      if (maskB)
        bt = s.maskTail(bt, kb, 0.0);
      Value acc = b.getInsertionBlock()->getArgument(1);
      Value next = b.create<blk::MatmulOp>(loc, mm.getType(), a, bt, acc,
                                           mm.getTransposeBAttr());
      return SmallVector<Value>{next};
    });
    rewriter.replaceOp(mm, loop.getResults().take_front());
    return success();
  }
};

// store(x, T[.., i, ..]) = for each chunk c: store(x_c, T[.., i + off_c, ..])   (stores
// write only positions inside the tensor, so the last chunk needs no mask)
struct TileStore : OpRewritePattern<blk::StoreOp>, TilingRule {
  TileStore(MLIRContext *ctx, int64_t blockN) : OpRewritePattern(ctx), TilingRule{blockN} {}
  LogicalResult matchAndRewrite(blk::StoreOp store, PatternRewriter &rewriter) const override {
    Value v = store.getValue();
    std::optional<unsigned> d = dynamicDim(v.getType());
    if (!d || !whyNotSliceable(v, *d).empty() || !extentSource(v, *d).first)
      return rewriter.notifyMatchFailure(store, "not a store of a sliceable `?` tile");
    SmallVector<blk::ScanOp> scans;
    const std::pair<Value, unsigned> roots[] = {{v, *d}};
    if (std::string why = whyNotScannable(roots, scans); !why.empty())
      return rewriter.notifyMatchFailure(store, why);
    Location loc = store.getLoc();
    Value extent = buildExtent(rewriter, loc, v, *d);
    int64_t td = store.getDest().getType().getRank() - tileOf(v).getRank() + *d;
    buildLoop(rewriter, loc, extent, {}, scans, [&](OpBuilder &b, ChunkSlicer &s) {
      SmallVector<Value> idx(store.getIndices());
      idx[td] = b.create<arith::AddIOp>(loc, idx[td], s.offset());
      b.create<blk::StoreOp>(loc, s.slice(v, *d), store.getDest(), idx);
      return SmallVector<Value>{};
    });
    rewriter.eraseOp(store);
    return success();
  }
};

/// A `?` tile some op still uses after tiling, and why.
std::string whyUntiled(Operation *op) {
  for (Value v : op->getOperands())
    if (std::optional<unsigned> d = dynamicDim(v.getType())) {
      if (std::string why = whyNotSliceable(v, *d); !why.empty())
        return why;
      if (!extentSource(v, *d).first)
        return "no load fixes the run-time extent of the `?` dim";
      SmallVector<blk::ScanOp> scans;
      const std::pair<Value, unsigned> roots[] = {{v, *d}};
      if (std::string why = TilingRule::whyNotScannable(roots, scans); !why.empty())
        return why;
    }
  return "no tiling rule consumes it";
}

struct TilePass : tilefuse::impl::TileBase<TilePass> {
  using TileBase::TileBase;
  void runOnOperation() override {
    // 1. Check the options: BLOCK_M is the lowering's row tile.
    func::FuncOp fn = getOperation();
    if (blockN <= 0) {
      fn.emitError() << "tilefuse-tile: block-n must be positive, got " << blockN;
      return signalPassFailure();
    }
    bool rowsMatch = true;
    if (blockM > 0)
      fn.walk([&](blk::ReduceOp red) {
        int64_t rows = red.getInput().getType().getDimSize(0);
        if (rows != blockM && rowsMatch) {
          red.emitWarning() << "tilefuse-tile: block-m=" << blockM
                            << " differs from the row tile " << rows
                            << " the kernel's grid was built for; nothing is tiled";
          rowsMatch = false;
        }
      });
    if (!rowsMatch)
      return;
    // 2. Tile every reduction, contraction and store of a `?` tile.
    MLIRContext *ctx = &getContext();
    RewritePatternSet patterns(ctx);
    patterns.add<TileRowReduction, TileContraction, TileStore>(ctx, blockN.getValue());
    if (failed(applyPatternsAndFoldGreedily(fn, std::move(patterns))))
      return signalPassFailure();
    // 3. Warn about the `?` tiles left (the kernel stays correct, just untiled there).
    fn.walk([](Operation *op) {
      if (isa<blk::MapOp, blk::SelectOp, blk::CopyOp, blk::BroadcastOp, blk::MatmulOp, blk::ScanOp>(op) &&
          dynamicDim(op->getResult(0).getType()))
        return; // producers: reported through their consumer
      if (llvm::any_of(op->getOperandTypes(), [](Type t) { return dynamicDim(t); }))
        op->emitWarning() << "tilefuse-tile: cannot tile '" << op->getName()
                          << "': " << whyUntiled(op);
    });
  }
};

} // namespace
