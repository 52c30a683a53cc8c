//===- DeferNormalization.cpp - row scaling moves after a matmul ----------===//
//
// --tilefuse-defer-normalization (FlashAttention-2, Dao 2023, section 3.1: "we do not have
// to rescale both terms of the output update by diag(l)^-1 ... only the final output").
//
#include "Algebra.h"
#include "BlkBuild.h"

#include "tilefuse/compiler/Passes.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace tilefuse {
#define GEN_PASS_DEF_DEFERNORMALIZATION
#include "tilefuse/compiler/Passes.h.inc"
} // namespace tilefuse

using namespace mlir;
using namespace tilefuse;
using namespace tilefuse::fusion;

namespace {

constexpr unsigned kRow = 1, kOther = 2;

/// Clones the ops of `from` that `roots` need into the block at `b`'s insertion point.
void cloneSlice(OpBuilder &b, Region &from, ArrayRef<Value> roots, IRMapping &map) {
  for (Operation *op : sliceInRegion(from, roots))
    b.clone(*op, map);
}

/// prod_i leaf_i^(+/-1), starting from `start` (or 1 when null), in type `type`.
Value emitProduct(OpBuilder &b, Location loc, Value start, Type type,
                  ArrayRef<ProductForm::Leaf> leaves, IRMapping &map) {
  Value acc = start;
  for (const ProductForm::Leaf &leaf : leaves) {
    Value x = convertFloat(b, loc, map.lookupOrDefault(leaf.value), type);
    if (!acc)
      acc = leaf.inverse ? b.create<arith::DivFOp>(loc, floatConst(b, loc, type, 1.0), x)
                         : x;
    else if (leaf.inverse)
      acc = b.create<arith::DivFOp>(loc, acc, x);
    else
      acc = b.create<arith::MulFOp>(loc, acc, x);
  }
  return acc ? acc : floatConst(b, loc, type, 1.0);
}

Value emitGates(OpBuilder &b, Location loc, Value x, ArrayRef<ProductForm::Gate> gates,
                IRMapping &map) {
  for (const ProductForm::Gate &g : gates) {
    Value zero = floatConst(b, loc, x.getType(), 0.0);
    Value c = map.lookupOrDefault(g.cond);
    x = g.zeroWhenTrue ? b.create<arith::SelectOp>(loc, c, zero, x)
                       : b.create<arith::SelectOp>(loc, c, x, zero);
  }
  return x;
}

// sum_k (f(x_ik) * h(r_i)) B_kj = h(r_i) * sum_k f(x_ik) B_kj   (a row factor leaves the sum)
// The lhs of the matmul is a map whose yield is a product (divisions, gates "r == 0 ? 0 :")
// of factors that depend only on the row-broadcast inputs r (h) or only on the other
// inputs (f). The accumulator must be absent or zero (h * 0 = 0). Exponentials stay: moving
// exp(-m) out of the sum would overflow. h is built as a row vector, then broadcast: a gate
// "r == 0 ? 0 :" zeroes the row factor, so the row of h * acc is 0 when acc is finite (a
// product over no unmasked scores is a sum of zeros).
struct DeferRowScaling : OpRewritePattern<blk::MatmulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(blk::MatmulOp mm, PatternRewriter &rewriter) const override {
    auto lhs = mm.getLhs().getDefiningOp<blk::MapOp>();
    if (!lhs)
      return rewriter.notifyMatchFailure(mm, "lhs is not a map");
    if (mm.getAcc() && fillConstant(mm.getAcc()) != 0.0)
      return rewriter.notifyMatchFailure(mm, "non-zero accumulator");
    // 1. Classify the map's inputs: row broadcasts (r) and the rest (x).
    SmallVector<unsigned> cls;
    SmallVector<Value> rows, others;
    for (Value in : lhs.getInputs()) {
      auto bc = in.getDefiningOp<blk::BroadcastOp>();
      cls.push_back(bc ? kRow : kOther);
      (bc ? rows : others).push_back(bc ? bc.getInput() : in);
    }
    if (rows.empty() || others.empty())
      return rewriter.notifyMatchFailure(mm, "no row-broadcast and element inputs to split");
    // 2. Write the yield as a product; every factor and gate depends on one side only.
    Block &body = lhs.getBody().front();
    Dependence dep(&body, cls);
    Value y = cast<blk::YieldOp>(body.getTerminator()).getValue();
    FailureOr<ProductForm> form =
        flattenProduct(y, [&](Value v) { return dep.of(v) == (kRow | kOther); });
    if (failed(form) || !form->exps.empty())
      return rewriter.notifyMatchFailure(mm, "not a product of row and element factors");
    ProductForm inner, outer;
    outer.negate = form->negate;
    for (const ProductForm::Leaf &l : form->leaves)
      (dep.of(l.value) == kRow ? outer : inner).leaves.push_back(l);
    for (const ProductForm::Gate &g : form->gates) {
      if (dep.of(g.cond) == (kRow | kOther))
        return rewriter.notifyMatchFailure(mm, "a gate depends on both sides");
      (dep.of(g.cond) == kRow ? outer : inner).gates.push_back(g);
    }
    if (outer.leaves.empty() && outer.gates.empty())
      return rewriter.notifyMatchFailure(mm, "no row factor");
    if (llvm::any_of(form->leaves, [](auto &l) { return !isa<FloatType>(l.value.getType()); }))
      return rewriter.notifyMatchFailure(mm, "a non-float factor");

    // 3. The element factor f(x) feeds the matmul.
    Location loc = mm.getLoc();
    Type f32 = rewriter.getF32Type();
    Type operandElem = lhs.getType().getElementType();
    auto f = buildMap(rewriter, loc, others, operandElem, [&](OpBuilder &b, Location l,
                                                               ValueRange args) {
      IRMapping map;
      unsigned k = 0;
      for (auto [i, c] : llvm::enumerate(cls))
        if (c == kOther)
          map.map(body.getArgument(i), args[k++]);
      SmallVector<Value> roots;
      for (auto &leaf : inner.leaves)
        roots.push_back(leaf.value);
      for (auto &g : inner.gates)
        roots.push_back(g.cond);
      cloneSlice(b, lhs.getBody(), roots, map);
      Value v = emitProduct(b, l, Value(), f32, inner.leaves, map);
      v = emitGates(b, l, v, inner.gates, map);
      return convertFloat(b, l, v, operandElem);
    });
    Value acc = rewriter.create<blk::MatmulOp>(loc, mm.getType(), f, mm.getRhs(), mm.getAcc(),
                                               mm.getTransposeBAttr());
    // 4. The row factor h(r) is a function of the row alone: computed once per row as a vector
    //    (one reciprocal per row instead of one division per element: FlashAttention-2's
    //    epilogue), then it scales the result, h(r) * acc, once.
    auto hv = buildMap(rewriter, loc, rows, f32, [&](OpBuilder &b, Location l, ValueRange args) {
      IRMapping map;
      unsigned k = 0;
      for (auto [i, c] : llvm::enumerate(cls))
        if (c == kRow)
          map.map(body.getArgument(i), args[k++]);
      SmallVector<Value> roots;
      for (auto &leaf : outer.leaves)
        roots.push_back(leaf.value);
      for (auto &g : outer.gates)
        roots.push_back(g.cond);
      cloneSlice(b, lhs.getBody(), roots, map);
      Value v = emitProduct(b, l, Value(), f32, outer.leaves, map);
      v = emitGates(b, l, v, outer.gates, map);
      return outer.negate ? b.create<arith::NegFOp>(l, v).getResult() : v;
    });
    Value hRow = hv.getResult();
    // A row factor that is one of the row vectors as it is (RMSNorm's rsqrt): that vector.
    if (auto arg = dyn_cast<BlockArgument>(cast<blk::YieldOp>(hv.getBody().front().getTerminator()).getValue());
        arg && arg.getOwner() == &hv.getBody().front() && tileOf(rows[arg.getArgNumber()]).getElementType() == f32) {
      hRow = rows[arg.getArgNumber()];
      rewriter.eraseOp(hv);
    }
    Value hb = rewriter.create<blk::BroadcastOp>(loc, tileOf(hRow).withShape(mm.getType().getShape()), hRow);
    auto h = buildMap(rewriter, loc, ValueRange{acc, hb}, f32, [&](OpBuilder &b, Location l, ValueRange args) {
      return b.create<arith::MulFOp>(l, args[0], args[1]).getResult();
    });
    rewriter.replaceOp(mm, h);
    return success();
  }
};

struct DeferNormalizationPass : tilefuse::impl::DeferNormalizationBase<DeferNormalizationPass> {
  void runOnOperation() override {
    // 1. Apply DeferRowScaling to every matmul whose lhs is a row-scaled map.
    RewritePatternSet patterns(&getContext());
    patterns.add<DeferRowScaling>(&getContext());
    if (failed(applyPatternsAndFoldGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
