//===- Lowering.cpp - spec -> unfused block program -----------------------===//
//
// Builds the three-kernel "vanilla attention" program described in Lowering.h.
//
#include "tilefuse/lowering/Lowering.h"

#include "ExprToArith.h"

#include "blk/BlkDialect.h"
#include "blk/SpecLocation.h"

#include "mlir/IR/Builders.h"

#include <cmath>
#include <limits>

using namespace mlir;
using namespace tilefuse::blk;
namespace spec = tilefuse::spec;

namespace tilefuse::lowering {

void loadDialects(MLIRContext &context) {
  context.loadDialect<BlkDialect, func::FuncDialect, scf::SCFDialect, arith::ArithDialect,
                      math::MathDialect>();
}

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

Type elementTypeOf(MLIRContext *ctx, spec::DType t) {
  return t == spec::DType::BF16 ? Type(BFloat16Type::get(ctx)) : Type(Float16Type::get(ctx));
}

Type elementTypeOf(MLIRContext *ctx, spec::ElementType t) {
  switch (t) {
  case spec::ElementType::F32: return Float32Type::get(ctx);
  case spec::ElementType::F16: return Float16Type::get(ctx);
  case spec::ElementType::BF16: return BFloat16Type::get(ctx);
  case spec::ElementType::I32: return IntegerType::get(ctx, 32);
  case spec::ElementType::I64: return IntegerType::get(ctx, 64);
  }
  llvm_unreachable("unknown element type");
}

/// A tensor type whose dims are symbols (names) or integers (non-empty names are symbolic).
HbmTensorType tensorType(MLIRContext *ctx, ArrayRef<std::string> dims, Type elem) {
  SmallVector<int64_t> shape;
  SmallVector<StringAttr> names;
  for (const std::string &d : dims) {
    bool isInt = !d.empty() && llvm::all_of(d, [](char c) { return std::isdigit(c); });
    shape.push_back(isInt ? std::stoll(d) : kDyn);
    names.push_back(StringAttr::get(ctx, isInt ? "" : d));
  }
  return HbmTensorType::get(ctx, shape, names, elem);
}

/// Symbolic name of a capture dim: the size's name (Sk), its value (128), or NAME_dI.
std::string captureDimName(const spec::Capture &c, size_t i) {
  const spec::Expr &e = c.shape[i];
  if (e.kind == spec::ExprKind::IntLiteral)
    return std::to_string(e.intValue);
  if (e.kind == spec::ExprKind::Variable)
    return e.name;
  return c.name + "_d" + std::to_string(i);
}

class UnfusedBuilder {
public:
  UnfusedBuilder(ModuleOp module, const spec::Spec &s, const spec::Shape &shape,
                 const LoweringOptions &opt)
      : ctx(module.getContext()), b(ctx), loc(b.getUnknownLoc()), s(s), shape(shape), opt(opt) {
    b.setInsertionPointToEnd(module.getBody());
    loc = FileLineColLoc::get(ctx, s.file.empty() ? "<spec>" : s.file, 1, 1);
  }

  func::FuncOp build() {
    Type dt = elementTypeOf(ctx, s.dtype);
    std::string D = std::to_string(shape.D), Dv = std::to_string(shape.Dv);
    SmallVector<Type> args = {tensorType(ctx, {"B", "Hq", "Sq", D}, dt),
                              tensorType(ctx, {"B", "Hkv", "Sk", D}, dt),
                              tensorType(ctx, {"B", "Hkv", "Sk", Dv}, dt),
                              tensorType(ctx, {"B", "Hq", "Sq", Dv}, dt)};
    if (s.lse)
      args.push_back(tensorType(ctx, {"B", "Hq", "Sq"}, b.getF32Type()));
    for (const spec::Capture &c : s.captures) {
      SmallVector<std::string> dims;
      for (size_t i = 0; i < c.shape.size(); ++i)
        dims.push_back(captureDimName(c, i));
      args.push_back(tensorType(ctx, dims, elementTypeOf(ctx, c.dtype)));
    }
    auto fn = b.create<func::FuncOp>(loc, s.name, b.getFunctionType(args, {}));
    fn->setAttr("blk.spec", b.getStringAttr(s.name));
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToStart(entry);
    Q = entry->getArgument(0);
    K = entry->getArgument(1);
    V = entry->getArgument(2);
    O = entry->getArgument(3);
    unsigned next = 4;
    if (s.lse)
      LSE = entry->getArgument(next++);
    for (size_t i = 0; i < s.captures.size(); ++i)
      captures.push_back(entry->getArgument(next++));

    prologue();
    Value S = b.create<AllocOp>(loc, tensorType(ctx, {"B", "Hq", "Sq", "Sk"}, b.getF32Type()),
                                ValueRange{dimB, dimHq, dimSq, dimSk});
    Value P = b.create<AllocOp>(loc, tensorType(ctx, {"B", "Hq", "Sq", "Sk"}, dt),
                                ValueRange{dimB, dimHq, dimSq, dimSk});
    buildQK(S);
    switch (s.normalizer) {
    case spec::Normalizer::None:
      buildWeights(S, P);
      break;
    case spec::Normalizer::StickBreaking:
      buildStickBreaking(S, P);
      break;
    case spec::Normalizer::Softmax:
      buildSoftmax(S, P);
      break;
    }
    buildPV(P);
    b.create<func::ReturnOp>(loc);
    return fn;
  }

private:
  /// The location of the character at `column` of the expression string of spec field `field`
  /// (blk/SpecLocation.h).
  Location specLoc(StringRef field, int column) {
    spec::SourceLocation w = s.locate(field, column);
    blk::SpecPosition p{w.file, static_cast<unsigned>(w.line), static_cast<unsigned>(w.column), field.str(),
                        static_cast<unsigned>(std::max(column, 0))};
    return blk::getSpecLoc(ctx, p);
  }
  /// The spec expression of `field` at the insertion point, each op at its node's place.
  Value lowerExpr(StringRef field, const spec::Expr &e, const ExprValues &values) {
    auto locate = [this](StringRef f, int column) { return specLoc(f, column); };
    return emitExpr(b, locate, field, e, values, s.math);
  }

  /// A transcendental of the normalizer's own element code: it follows the spec's "math" as the spec's
  /// expressions do (marked blk.exact_math under "exact"; specs/README.md, "Math").
  Value specMath(Operation *op) {
    if (s.math == spec::MathMode::Exact)
      op->setAttr(blk::kExactMathAttrName, b.getUnitAttr());
    return op->getResult(0);
  }

  Value idx(int64_t v) { return b.create<arith::ConstantIndexOp>(loc, v); }
  Value f32(double v) {
    return b.create<arith::ConstantFloatOp>(loc, APFloat(static_cast<float>(v)), b.getF32Type());
  }
  Value i64(Value index) { return b.create<arith::IndexCastOp>(loc, b.getI64Type(), index); }
  TileType tile(ArrayRef<int64_t> shape, Type elem, MemorySpace space = MemorySpace::reg) {
    return TileType::get(ctx, shape, elem, space);
  }

  void prologue() {
    c0 = idx(0);
    cBM = idx(opt.blockM);
    cG = idx(shape.groupSize());
    dimB = b.create<DimOp>(loc, b.getIndexType(), Q, b.getI64IntegerAttr(0));
    dimHq = b.create<DimOp>(loc, b.getIndexType(), Q, b.getI64IntegerAttr(1));
    dimSq = b.create<DimOp>(loc, b.getIndexType(), Q, b.getI64IntegerAttr(2));
    dimHkv = b.create<DimOp>(loc, b.getIndexType(), K, b.getI64IntegerAttr(1));
    dimSk = b.create<DimOp>(loc, b.getIndexType(), K, b.getI64IntegerAttr(2));
    numQTiles = b.create<arith::CeilDivUIOp>(loc, dimSq, cBM);
    sizes = {i64(dimB), i64(dimHq), i64(dimHkv), i64(dimSq), i64(dimSk)};
  }

  /// Opens a kernel over (B, Hq, ceil(Sq / BLOCK_M)); sets bIdx, hIdx, row0, kvHead.
  KernelOp openKernel(StringRef name) {
    auto k = b.create<KernelOp>(loc, b.getStringAttr(name), ValueRange{dimB, dimHq, numQTiles});
    Block *body = new Block();
    k.getBody().push_back(body);
    for (int i = 0; i < 3; ++i)
      body->addArgument(b.getIndexType(), loc);
    b.setInsertionPointToStart(body);
    bIdx = body->getArgument(0);
    hIdx = body->getArgument(1);
    row0 = b.create<arith::MulIOp>(loc, body->getArgument(2), cBM);
    kvHead = b.create<arith::DivUIOp>(loc, hIdx, cG);
    return k;
  }

  void closeKernel(KernelOp k) { b.setInsertionPointAfter(k); }

  /// Builds a blk.map over `inputs`; `body` gets the region's scalar arguments. `at`: the map's
  /// location when it is not the spec's (the field a score_mod / mask_mod map computes).
  Value map(ValueRange inputs, Type resultElem, llvm::function_ref<Value(ArrayRef<Value>)> body,
            std::optional<Location> at = std::nullopt) {
    auto in0 = cast<TileType>(inputs[0].getType());
    auto op = b.create<MapOp>(at.value_or(loc), in0.cloneWith(std::nullopt, resultElem), inputs);
    Block *blk = new Block();
    op.getBody().push_back(blk);
    SmallVector<Value> scalars;
    for (Value in : inputs)
      scalars.push_back(blk->addArgument(cast<TileType>(in.getType()).getElementType(), loc));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(blk);
    b.create<YieldOp>(loc, body(scalars));
    return op;
  }

  // S = Q K^T, written to HBM.
  void buildQK(Value S) {
    KernelOp k = openKernel("qk");
    Type dt = elementTypeOf(ctx, s.dtype);
    Value q = b.create<LoadOp>(loc, tile({opt.blockM, shape.D}, dt, MemorySpace::smem), Q,
                               ValueRange{bIdx, hIdx, row0, c0});
    Value kt = b.create<LoadOp>(loc, tile({kDyn, shape.D}, dt, MemorySpace::smem), K,
                                ValueRange{bIdx, kvHead, c0, c0});
    Value st = b.create<MatmulOp>(loc, tile({opt.blockM, kDyn}, b.getF32Type()), q, kt, Value(),
                                  /*transpose_b=*/true);
    b.create<StoreOp>(loc, st, S, ValueRange{bIdx, hIdx, row0, c0});
    closeKernel(k);
  }

  /// The kernel's expression inputs at (bIdx, hIdx): b, h, the sizes and the captures.
  ExprValues exprValues() {
    ExprValues ev;
    ev.b = i64(bIdx);
    ev.h = i64(hIdx);
    ev.sizes = sizes;
    ev.captures = captures;
    return ev;
  }

  /// The row block's score and mask tiles: scores = score_mod(scale * S) at every position and
  /// keep = mask_mod(q_idx, kv_idx) (null without a mask_mod), both [BLOCK_M, Sk].
  struct RowScores {
    Value scores, keep;
  };

  /// Loads the row block of S (rowTile is its type) and maps score_mod and mask_mod over it.
  RowScores rowScores(Value S, TileType rowTile) {
    Type i64Ty = b.getI64Type();
    Value st = b.create<LoadOp>(loc, rowTile, S, ValueRange{bIdx, hIdx, row0, c0});
    Value qIdx = b.create<IotaOp>(loc, tile({opt.blockM, kDyn}, i64Ty), IotaDim::row, row0);
    Value kvIdx = b.create<IotaOp>(loc, tile({opt.blockM, kDyn}, i64Ty), IotaDim::col, c0);
    ExprValues ev = exprValues();
    return {scoreMap(st, qIdx, kvIdx, ev), s.maskMod ? keepMap(qIdx, kvIdx, ev) : Value()};
  }

  /// score_mod(scale * st) as a blk.map over (st, q_idx, kv_idx); just scale * st without one.
  Value scoreMap(Value st, Value qIdx, Value kvIdx, const ExprValues &ev) {
    double scale = spec::softmaxScale(s, shape);
    return map({st, qIdx, kvIdx}, b.getF32Type(), [&](ArrayRef<Value> x) {
      Value scaled = b.create<arith::MulFOp>(loc, x[0], f32(scale));
      if (!s.scoreMod)
        return scaled;
      ExprValues e = ev;
      e.score = scaled;
      e.qIdx = x[1];
      e.kvIdx = x[2];
      return lowerExpr("score_mod", *s.scoreMod, e);
    }, s.scoreMod ? std::optional(specLoc("score_mod", 0)) : std::nullopt);
  }

  /// mask_mod(q_idx, kv_idx) as an i1 blk.map over the index tiles (the spec must have a mask_mod).
  Value keepMap(Value qIdx, Value kvIdx, const ExprValues &ev) {
    return map({qIdx, kvIdx}, b.getI1Type(), [&](ArrayRef<Value> x) {
      ExprValues e = ev;
      e.qIdx = x[0];
      e.kvIdx = x[1];
      return lowerExpr("mask_mod", *s.maskMod, e);
    }, specLoc("mask_mod", 0));
  }

  /// A tile of `rowTile`'s type with every element `value`, or null when the spec has no mask_mod
  /// (nothing to fill masked entries with).
  Value maskFill(TileType rowTile, double value) {
    return s.maskMod ? b.create<FillOp>(loc, rowTile, f32(value)).getResult() : Value();
  }

  /// select(keep, x, fill): x where the mask keeps the score, `fill` (maskFill) elsewhere; x itself
  /// when keep is null (no mask_mod).
  Value keepOr(Value keep, Value x, Value fill) {
    return keep ? b.create<SelectOp>(loc, x.getType(), keep, x, fill).getResult() : x;
  }

  /// Loads the row block of S and returns score_mod(scale * S) with masked entries `masked`
  /// (-inf for softmax, 0 for normalizer none); rowTile is its type.
  Value maskedScores(Value S, TileType rowTile, double masked) {
    RowScores r = rowScores(S, rowTile);
    return keepOr(r.keep, r.scores, maskFill(rowTile, masked));
  }

  // P = mask(score_mod(scale * S)) with masked entries 0 (normalizer "none": the scores are the
  // weights; no max, no row sum, no LSE).
  void buildWeights(Value S, Value P) {
    KernelOp k = openKernel("weights");
    Type dt = elementTypeOf(ctx, s.dtype);
    Value w = maskedScores(S, tile({opt.blockM, kDyn}, b.getF32Type()), 0.0);
    Value p = map({w}, dt, [&](ArrayRef<Value> x) {
      return b.create<arith::TruncFOp>(loc, dt, x[0]).getResult();
    });
    b.create<StoreOp>(loc, p, P, ValueRange{bIdx, hIdx, row0, c0});
    closeKernel(k);
  }

  // P = stick-breaking weights (Tan et al. 2024, "Scaling Stick-Breaking Attention", Sec. 2) of
  // s = score_mod(scale * S): A_ij = beta_ij prod_{kept k > j} (1 - beta_ik), beta = sigmoid(s), for
  // kept j, 0 elsewhere; no normalization, no LSE. In log space, with log(1 - beta) = -softplus(s)
  // and log beta = s - softplus(s):
  //   z_ij = kept_ij ? softplus(s_ij) : 0,   softplus(x) = max(x, 0) + log1p(exp(-|x|))
  //   R_ij = sum_{k >= j} z_ik               (blk.scan sum reverse, inclusive)
  //   A_ij = kept_ij ? exp(s_ij - R_ij) : 0   (= beta_ij exp(-sum_{k > j} z_ik))
  // The weights read R, not z: z's last reader is the scan, which the kernel may then do in place.
  // The exponent is <= 0, so no running max is needed (docs/FUSION.md, rule 3: the scan is carried
  // across the K/V loop, which visits the tiles last to first).
  void buildStickBreaking(Value S, Value P) {
    KernelOp k = openKernel("weights");
    Type f32Ty = b.getF32Type(), dt = elementTypeOf(ctx, s.dtype);
    TileType rowTile = tile({opt.blockM, kDyn}, f32Ty);
    RowScores r = rowScores(S, rowTile);
    Value sp = map({r.scores}, f32Ty, [&](ArrayRef<Value> x) {
      Value pos = b.create<arith::MaximumFOp>(loc, x[0], f32(0.0));
      Value negAbs = b.create<arith::NegFOp>(loc, b.create<math::AbsFOp>(loc, x[0]));
      Value tail = specMath(b.create<math::Log1pOp>(loc, specMath(b.create<math::ExpOp>(loc, negAbs))));
      return b.create<arith::AddFOp>(loc, pos, tail).getResult();
    });
    Value zeros = maskFill(rowTile, 0.0);
    Value z = keepOr(r.keep, sp, zeros);
    Value rs = b.create<ScanOp>(loc, rowTile, ReduceKind::sum, z, /*reverse=*/true, /*exclusive=*/false);
    Value w = map({r.scores, rs}, f32Ty, [&](ArrayRef<Value> x) {
      return specMath(b.create<math::ExpOp>(loc, b.create<arith::SubFOp>(loc, x[0], x[1])));
    });
    Value wm = keepOr(r.keep, w, zeros);
    Value p = map({wm}, dt, [&](ArrayRef<Value> x) {
      return b.create<arith::TruncFOp>(loc, dt, x[0]).getResult();
    });
    b.create<StoreOp>(loc, p, P, ValueRange{bIdx, hIdx, row0, c0});
    closeKernel(k);
  }

  // P = softmax(mask(score_mod(scale * S))) in the safe form; LSE when asked. A sink adds
  // exp(sink - m_safe) to the row sum l (the sink is one more logit with no value row).
  void buildSoftmax(Value S, Value P) {
    KernelOp k = openKernel("softmax");
    Type f32Ty = b.getF32Type(), dt = elementTypeOf(ctx, s.dtype);
    TileType rowTile = tile({opt.blockM, kDyn}, f32Ty);
    Value scores = maskedScores(S, rowTile, -std::numeric_limits<double>::infinity());
    TileType vec = tile({opt.blockM}, f32Ty);
    Value m = b.create<ReduceOp>(loc, vec, ReduceKind::max, scores);
    // m_safe = (m == -inf ? 0 : m): a fully masked row keeps exp(-inf - 0) = 0, never NaN.
    auto safeMax = [&](Value mx) {
      Value isEmpty = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ, mx,
                                              f32(-std::numeric_limits<double>::infinity()));
      return b.create<arith::SelectOp>(loc, isEmpty, f32(0.0), mx).getResult();
    };
    Value mb = b.create<BroadcastOp>(loc, rowTile, m);
    Value e = map({scores, mb}, f32Ty, [&](ArrayRef<Value> x) {
      return b.create<math::ExpOp>(loc, b.create<arith::SubFOp>(loc, x[0], safeMax(x[1])))
          .getResult();
    });
    Value l = b.create<ReduceOp>(loc, vec, ReduceKind::sum, e);
    Value sink, lSum = l;
    if (s.sink) {
      // One block-uniform value: sink(b, h).
      sink = lowerExpr("sink", *s.sink, exprValues());
      l = map({lSum, m}, f32Ty, [&](ArrayRef<Value> x) {
        Value d = b.create<arith::SubFOp>(loc, sink, safeMax(x[1]));
        return b.create<arith::AddFOp>(loc, x[0], b.create<math::ExpOp>(loc, d)).getResult();
      });
    }
    Value lb = b.create<BroadcastOp>(loc, rowTile, l);
    Value p = map({e, lb}, dt, [&](ArrayRef<Value> x) {
      Value isEmpty = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ, x[1], f32(0.0));
      Value q = b.create<arith::DivFOp>(loc, x[0], x[1]);
      Value sel = b.create<arith::SelectOp>(loc, isEmpty, f32(0.0), q);
      return b.create<arith::TruncFOp>(loc, dt, sel).getResult();
    });
    b.create<StoreOp>(loc, p, P, ValueRange{bIdx, hIdx, row0, c0});
    if (LSE && sink) {
      // log(l + exp(sink - m_safe)) + m_safe against top = max(m, sink), so that neither a large
      // sink nor a row far below it overflows: top + log(l exp(m_safe - top) + exp(sink - top)),
      // the first term 0 for an empty row (l = 0).
      Value lse = map({m, lSum}, f32Ty, [&](ArrayRef<Value> x) {
        Value top = b.create<arith::MaximumFOp>(loc, x[0], sink);
        Value ms = safeMax(x[0]);
        Value rowPart = b.create<arith::MulFOp>(
            loc, x[1], b.create<math::ExpOp>(loc, b.create<arith::SubFOp>(loc, ms, top)));
        Value isEmpty = b.create<arith::CmpFOp>(loc, arith::CmpFPredicate::OEQ, x[0],
                                                f32(-std::numeric_limits<double>::infinity()));
        rowPart = b.create<arith::SelectOp>(loc, isEmpty, f32(0.0), rowPart);
        Value sinkPart = b.create<math::ExpOp>(loc, b.create<arith::SubFOp>(loc, sink, top));
        return b.create<arith::AddFOp>(
                    loc, top, b.create<math::LogOp>(loc, b.create<arith::AddFOp>(loc, rowPart, sinkPart)))
            .getResult();
      });
      b.create<StoreOp>(loc, lse, LSE, ValueRange{bIdx, hIdx, row0});
    } else if (LSE) {
      Value lse = map({m, l}, f32Ty, [&](ArrayRef<Value> x) {
        return b.create<arith::AddFOp>(loc, safeMax(x[0]), b.create<math::LogOp>(loc, x[1]))
            .getResult();
      });
      b.create<StoreOp>(loc, lse, LSE, ValueRange{bIdx, hIdx, row0});
    }
    closeKernel(k);
  }

  // O = P V.
  void buildPV(Value P) {
    KernelOp k = openKernel("pv");
    Type dt = elementTypeOf(ctx, s.dtype);
    Value p = b.create<LoadOp>(loc, tile({opt.blockM, kDyn}, dt), P,
                               ValueRange{bIdx, hIdx, row0, c0});
    Value v = b.create<LoadOp>(loc, tile({kDyn, shape.Dv}, dt, MemorySpace::smem), V,
                               ValueRange{bIdx, kvHead, c0, c0});
    Value o = b.create<MatmulOp>(loc, tile({opt.blockM, shape.Dv}, b.getF32Type()), p, v,
                                 Value(), /*transpose_b=*/false);
    Value ot = map({o}, dt, [&](ArrayRef<Value> x) {
      return b.create<arith::TruncFOp>(loc, dt, x[0]).getResult();
    });
    b.create<StoreOp>(loc, ot, O, ValueRange{bIdx, hIdx, row0, c0});
    closeKernel(k);
  }

  MLIRContext *ctx;
  OpBuilder b;
  Location loc;
  const spec::Spec &s;
  const spec::Shape &shape;
  const LoweringOptions &opt;
  Value Q, K, V, O, LSE;
  std::vector<Value> captures;
  Value c0, cBM, cG, dimB, dimHq, dimHkv, dimSq, dimSk, numQTiles;
  std::array<Value, 5> sizes;
  Value bIdx, hIdx, row0, kvHead;
};

} // namespace

std::map<std::string, int64_t> dimBindings(const spec::Spec &s, const spec::Shape &shape) {
  std::map<std::string, int64_t> dims = {
      {"B", shape.B}, {"Hq", shape.Hq}, {"Hkv", shape.Hkv}, {"Sq", shape.Sq}, {"Sk", shape.Sk}};
  for (size_t slot = 0; slot < s.captures.size(); ++slot) {
    std::vector<int64_t> extents = spec::captureShape(s, slot, shape);
    for (size_t i = 0; i < extents.size(); ++i)
      dims[captureDimName(s.captures[slot], i)] = extents[i];
  }
  return dims;
}

func::FuncOp lowerToUnfused(ModuleOp module, const spec::Spec &s, const spec::Shape &shape,
                            const LoweringOptions &options) {
  if (options.blockM <= 0)
    throw s.errorAt("", "BLOCK_M must be positive, got " + std::to_string(options.blockM));
  return UnfusedBuilder(module, s, shape, options).build();
}

} // namespace tilefuse::lowering
