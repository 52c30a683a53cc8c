//===- ClassifyTiles.cpp - empty / partial / full tiles under a mask -------===//
//
// --tilefuse-classify-tiles: in each loop over K/V tiles, bound every mask (an i1 tile
// computed from index tiles: a mask_mod, or the tail mask) by interval arithmetic over the
// tile's q_idx and kv_idx ranges, and branch: skip the iteration when a mask is all false and
// SkipProof shows the body is then the identity; drop the masks when all are all true.
//
#include "BlkBuild.h"
#include "MaskInterval.h"
#include "SkipProof.h"

#include "tilefuse/compiler/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace tilefuse {
#define GEN_PASS_DEF_CLASSIFYTILES
#include "tilefuse/compiler/Passes.h.inc"
} // namespace tilefuse

using namespace mlir;
using namespace tilefuse;
using namespace tilefuse::fusion;

namespace {

/// i1 tiles of the body that select between values, are maps, and change with the loop's
/// induction variable (a mask that does not is the same for every tile).
SmallVector<Value> masksOf(scf::ForOp loop) {
  DenseSet<Value> varying = {loop.getInductionVar()};
  SmallVector<Value> masks;
  for (Operation &op : loop.getBody()->without_terminator()) {
    bool v = false;
    op.walk([&](Operation *inner) {
      for (Value o : inner->getOperands())
        v |= varying.contains(o);
    });
    if (v)
      for (Value r : op.getResults())
        varying.insert(r);
    if (auto sel = dyn_cast<blk::SelectOp>(op)) {
      Value c = sel.getCondition();
      if (c.getDefiningOp<blk::MapOp>() && varying.contains(c) && !llvm::is_contained(masks, c))
        masks.push_back(c);
    }
  }
  return masks;
}

/// Whether every element of `tile` is a function of its (row, col) position and of values
/// uniform over the tile (iota, fill, broadcast, maps of those): what a block-classification
/// kernel can evaluate at each position of a tile pair.
bool isIndexOnly(Value tile, int depth = 0) {
  Operation *op = tile.getDefiningOp();
  if (!op || depth > 64)
    return false;
  if (isa<blk::IotaOp, blk::FillOp>(op))
    return true;
  if (auto bc = dyn_cast<blk::BroadcastOp>(op))
    return isIndexOnly(bc.getInput(), depth + 1);
  if (auto map = dyn_cast<blk::MapOp>(op))
    return llvm::all_of(map.getInputs(), [&](Value in) { return isIndexOnly(in, depth + 1); });
  return false;
}

/// Clones the body's ops (from `ops`) at `b`, with each mask replaced by an all-true tile when
/// `allTrue`; returns the values the body yields.
SmallVector<Value> cloneBody(OpBuilder &b, Location loc, scf::ForOp loop,
                             ArrayRef<Operation *> ops, ArrayRef<Value> masks, bool allTrue) {
  IRMapping map;
  if (allTrue)
    for (Value m : masks) {
      Value t = b.create<arith::ConstantIntOp>(loc, 1, 1);
      map.map(m, b.create<blk::FillOp>(loc, tileOf(m), t));
    }
  for (Operation *op : ops)
    if (!(allTrue && llvm::is_contained(masks, op->getNumResults() ? op->getResult(0) : Value())))
      b.clone(*op, map);
  SmallVector<Value> yields;
  for (Value v : loop.getBody()->getTerminator()->getOperands())
    yields.push_back(map.lookupOrDefault(v));
  return yields;
}

// Rule ClassifyMaskedTiles:
//   mask(tile) all false and body(carried, mask = false) = carried   =>  skip the tile
//   every mask(tile) all true                                        =>  body(mask = true)
//   otherwise                                                        =>  body
// "All true / all false" are interval bounds of the mask over the tile's index ranges; the
// identity is SkipProof's abstract evaluation. Returns false when no mask can be bounded.
bool classify(scf::ForOp loop) {
  SmallVector<Value> candidates = masksOf(loop);
  if (candidates.empty())
    return false;
  Block *body = loop.getBody();
  SmallVector<Operation *> ops;
  for (Operation &op : body->without_terminator())
    ops.push_back(&op);
  Operation *yield = body->getTerminator();
  Location loc = loop.getLoc();
  OpBuilder b(yield);
  // 1. Bounds of each mask over this tile; which masks allow skipping.
  //    A mask of positions without an interval rule is bounded by [false, true] (no tile
  //    known empty or full) and left to a run-time block mask, as are bounds that read tensor
  //    contents (step 2 wraps them in blk.tile_class).
  IntervalBuilder bounds(b, loc);
  SmallVector<Value> masks, allTrue, allFalse;
  SmallVector<bool> skippable;
  bool runtime = false;
  for (Value m : candidates) {
    FailureOr<Interval> i = bounds.ofTile(m);
    if (failed(i)) {
      // At the op the reason is about when there is one (lowered from a spec: its field and
      // column), else at the mask.
      Operation *at = bounds.whyAt ? bounds.whyAt : m.getDefiningOp();
      if (!isIndexOnly(m)) {
        at->emitRemark() << "tilefuse-classify-tiles: this mask is not classified: " << bounds.why;
        bounds.whyAt = nullptr;
        continue;
      }
      at->emitRemark() << "tilefuse-classify-tiles: this mask is classified only by a run-time block mask: "
                       << bounds.why;
      bounds.whyAt = nullptr;
      runtime = true;
      i = Interval{b.create<arith::ConstantIntOp>(loc, 0, 1), b.create<arith::ConstantIntOp>(loc, 1, 1)};
    }
    masks.push_back(m);
    allTrue.push_back(i->lo);
    skippable.push_back(skipsWhenFalse(loop, m));
    if (skippable.back())
      allFalse.push_back(b.create<arith::XOrIOp>(loc, i->hi,
                                                 b.create<arith::ConstantIntOp>(loc, 1, 1)));
  }
  if (masks.empty())
    return false;
  runtime |= bounds.readsTensor;
  auto reduce = [&](ArrayRef<Value> xs, bool conj) {
    Value acc = xs.front();
    for (Value x : xs.drop_front())
      acc = conj ? b.create<arith::AndIOp>(loc, acc, x).getResult()
                 : b.create<arith::OrIOp>(loc, acc, x).getResult();
    return acc;
  };
  Value full = reduce(allTrue, true);
  Value empty = allFalse.empty() ? Value() : reduce(allFalse, false);
  if (runtime) {
    // The classification kernel of a block mask evaluates these masks (their copies in the
    // partial tiles' body carry the tag) and skips a tile only for a skippable one.
    for (auto [m, skip] : llvm::zip(masks, skippable))
      m.getDefiningOp()->setAttr(blk::kRuntimeMaskAttrName, b.getBoolAttr(skip));
    Value kv = loop.getInductionVar();
    full = b.create<blk::TileClassOp>(loc, b.getI1Type(), blk::MaskTileClass::full, full, kv);
    if (empty)
      empty = b.create<blk::TileClassOp>(loc, b.getI1Type(), blk::MaskTileClass::empty, empty, kv);
  }
  // 2. if full { body without masks } else { body }, inside if empty { skip } when allowed.
  TypeRange types = loop.getResultTypes();
  // An scf.if without results gets its (empty) scf.yield terminators from its builder, and the
  // body builders insert before them: add a yield only when there are values to yield.
  auto terminate = [&](OpBuilder &bb, ValueRange values) {
    if (!types.empty())
      bb.create<scf::YieldOp>(loc, values);
  };
  auto buildFullOrPartial = [&](OpBuilder &bb) {
    auto ifFull = bb.create<scf::IfOp>(loc, types, full, /*withElseRegion=*/true);
    OpBuilder tb = ifFull.getThenBodyBuilder();
    terminate(tb, cloneBody(tb, loc, loop, ops, masks, true));
    OpBuilder eb = ifFull.getElseBodyBuilder();
    terminate(eb, cloneBody(eb, loc, loop, ops, masks, false));
    return ifFull;
  };
  Operation *result;
  if (allFalse.empty()) {
    result = buildFullOrPartial(b);
  } else {
    auto ifEmpty = b.create<scf::IfOp>(loc, types, empty, true);
    OpBuilder tb = ifEmpty.getThenBodyBuilder();
    terminate(tb, loop.getRegionIterArgs());
    OpBuilder eb = ifEmpty.getElseBodyBuilder();
    terminate(eb, buildFullOrPartial(eb).getResults());
    result = ifEmpty;
  }
  yield->setOperands(result->getResults());
  // 3. The original body is dead except what the bounds read (index tiles): erase only ops
  //    without uses (wouldOpBeTriviallyDead alone ignores uses, and erasing an index tile the
  //    bounds still read left them pointing at freed memory).
  for (Operation *op : llvm::reverse(ops))
    if (isOpTriviallyDead(op))
      op->erase();
  return true;
}

// select(fill(true), x, y) = x ; select(fill(false), x, y) = y
struct SelectOfConstantMask : OpRewritePattern<blk::SelectOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(blk::SelectOp sel, PatternRewriter &rewriter) const override {
    auto fill = sel.getCondition().getDefiningOp<blk::FillOp>();
    IntegerAttr c;
    if (!fill || !matchPattern(fill.getValue(), m_Constant(&c)))
      return failure();
    rewriter.replaceOp(sel, c.getValue().isZero() ? sel.getFalseValue() : sel.getTrueValue());
    return success();
  }
};

struct ClassifyTilesPass : tilefuse::impl::ClassifyTilesBase<ClassifyTilesPass> {
  void runOnOperation() override {
    // 1. Classify each loop over tiles that applies a mask (collected first: the bounds add
    //    loops over tables).
    SmallVector<scf::ForOp> loops;
    getOperation().walk([&](scf::ForOp loop) { loops.push_back(loop); });
    for (scf::ForOp loop : loops)
      classify(loop);
    // 2. Full tiles: the masks are constant true, the selects go.
    RewritePatternSet patterns(&getContext());
    patterns.add<SelectOfConstantMask>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
