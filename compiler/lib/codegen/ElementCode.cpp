//===- ElementCode.cpp - per-element code of element-wise tiles -------------===//
#include "ElementCode.h"

#include <functional>
#include <map>
#include <optional>
#include <regex>

#include "mlir/IR/Matchers.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace tilefuse::blk;

namespace tilefuse::codegen {

bool isAtom(const std::string &expr) {
  static const std::regex atom(R"(^([A-Za-z_][A-Za-z0-9_.]*|-?[0-9][0-9.e+-]*f?|\(-[0-9][0-9.e+-]*f?\)|tfcg::at\([A-Za-z0-9_]+, x\)|\(-tfcg::inf\(\)\)|tfcg::inf\(\))$)");
  return std::regex_match(expr, atom);
}

/// The iota a map input's positions come from: through broadcasts and, with seeClamps, through the clamp
/// min(position, last) that TileSlice puts on a tiled position indexing a table (it changes only padded
/// positions, which a later mask discards). Null when the input is not a position.
static IotaOp positionIota(Value in, bool seeClamps) {
  while (true) {
    if (auto bc = in.getDefiningOp<BroadcastOp>()) {
      in = bc.getInput();
      continue;
    }
    if (auto clamp = in.getDefiningOp<MapOp>(); seeClamps && clamp && clamp.getInputs().size() == 1) {
      Block &b = clamp.getBody().front();
      auto min = dyn_cast<arith::MinSIOp>(&b.front());
      if (min && &b.front() != b.getTerminator() && cast<YieldOp>(b.getTerminator()).getValue() == min.getResult() &&
          min.getLhs() == b.getArgument(0) && min.getRhs().getParentBlock() != &b) {
        in = clamp.getInputs()[0];
        continue;
      }
    }
    return in.getDefiningOp<IotaOp>();
  }
}

std::string ElementCode::local(const std::string &base) {
  std::string name = base;
  for (int k = 1; sx_.isUsed(name) || locals_.count(name); ++k)
    name = base + "_" + std::to_string(k);
  locals_.insert(name);
  return name;
}

void ElementCode::countRefs(Value tile) {
  if (++refs_[tile] > 1 || r_.isKept(tile))
    return;
  Operation *d = tile.getDefiningOp();
  if (!d)
    return;
  if (auto map = dyn_cast<MapOp>(d)) {
    for (auto [i, in] : llvm::enumerate(map.getInputs()))
      if (!map.getBody().front().getArgument(i).use_empty())
        countRefs(in);
    return;
  }
  for (Value in : d->getOperands())
    if (isa<TileType>(in.getType()))
      countRefs(in);
}

std::string ElementCode::nameIfShared(Value v, const std::string &expr, const std::string &cType) {
  if (refs_.lookup(v) < 2 || isAtom(expr))
    return expr;
  const std::string name = local("e");
  body_.line("const " + cType + " " + name + " = " + expr + ";");
  return name;
}

std::string ElementCode::elem(Value tile) {
  if (auto it = memo_.find(tile); it != memo_.end())
    return it->second;
  const TileInfo &info = r_.tile(tile);
  std::string expr;
  if (info.cls == TileClass::Fragment || info.cls == TileClass::RowVector) {
    auto s = p_.storageOf.find(tile);
    if (s == p_.storageOf.end())
      fail(tile.getLoc(), "", "internal: kept tile without storage");
    expr = "tfcg::at(" + p_.storages[s->second].name + ", x)";
  } else if (info.cls == TileClass::Smem) {
    Operation *user = *tile.getUsers().begin();
    fail(user, "element-wise ops read register tiles, not shared tiles");
  } else {
    Operation *def = tile.getDefiningOp();
    const std::string ct = cTypeOf(info.type.getElementType(), def);
    if (auto iota = dyn_cast<IotaOp>(def)) {
      const bool isRow = iota.getDim() == IotaDim::row;
      std::string e = sx_.ref(iota.getOffset()) + (isRow ? " + row" : " + col");
      if (ct != "long long")
        e = "(" + ct + ")(" + e + ")";
      expr = local(isRow ? "q_idx" : "kv_idx");
      positions_.push_back({expr, "const " + ct + " " + expr + " = " + e + ";"});
    } else if (auto fill = dyn_cast<FillOp>(def)) {
      expr = sx_.ref(fill.getValue());
    } else if (auto bc = dyn_cast<BroadcastOp>(def)) {
      expr = elem(bc.getInput());
    } else if (auto sel = dyn_cast<SelectOp>(def)) {
      const std::string c = elem(sel.getCondition()), a = elem(sel.getTrueValue()), b = elem(sel.getFalseValue());
      expr = nameIfShared(tile, "(" + c + " ? " + a + " : " + b + ")", ct);
    } else if (auto map = dyn_cast<MapOp>(def)) {
      expr = nameIfShared(tile, region(map, mapArgs(map), Value(), false), ct);
    } else {
      fail(def, "internal: not an element-wise op");
    }
  }
  memo_[tile] = expr;
  return expr;
}

Writer ElementCode::lambdaBody(const std::string &result) const {
  Writer out;
  const std::string text = body_.str() + "\n" + result;
  for (const auto &[name, decl] : positions_) // only the positions still read (affine compares read row, col)
    if (std::regex_search(text, std::regex("\\b" + name + "\\b")))
      out.line(decl);
  out.append(body_);
  return out;
}

std::vector<std::string> ElementCode::mapArgs(MapOp map) {
  std::vector<std::string> args;
  for (auto [i, in] : llvm::enumerate(map.getInputs()))
    args.push_back(map.getBody().front().getArgument(i).use_empty() ? std::string("0") : elem(in));
  return args;
}

llvm::DenseSet<Operation *> ElementCode::diagonalTables(MapOp map, llvm::DenseMap<Value, std::string> &val,
                                                       llvm::function_ref<std::optional<Affine>(Value)> affine,
                                                       Value yielded) {
  Block &block = map.getBody().front();
  // The ops the lambda computes: those `yielded` needs, except the tabulated values' own.
  llvm::DenseSet<Value> tabulated;
  auto neededOps = [&] {
    llvm::DenseSet<Operation *> out;
    llvm::SmallVector<Value> work{yielded};
    while (!work.empty()) {
      Value v = work.pop_back_val();
      Operation *d = v.getDefiningOp();
      if (!d || d->getBlock() != &block || tabulated.contains(v) || !out.insert(d).second)
        continue;
      for (Value in : d->getOperands())
        work.push_back(in);
    }
    return out;
  };
  auto tileType = dyn_cast<TileType>(map.getType());
  if (diagRows_ <= 0 || !tileType || tileType.getRank() != 2)
    return neededOps();
  // Classify: Uniform over the tile, a function of the diagonal (Diag), or Other.
  enum Dep { Uniform = 0, Diag = 1, Other = 2 };
  llvm::DenseMap<Value, Dep> dep;
  auto depOf = [&](Value v) {
    if (auto it = dep.find(v); it != dep.end())
      return it->second;
    auto arg = dyn_cast<BlockArgument>(v);
    return arg && arg.getOwner() == &block ? Other : Uniform; // a region argument, or defined outside
  };
  for (Operation &op : block.without_terminator()) {
    if (op.getNumResults() != 1 || op.getNumRegions() != 0) {
      for (Value r : op.getResults())
        dep[r] = Other;
      continue;
    }
    Value res = op.getResult(0);
    if (res.getType().isIntOrIndex())
      if (std::optional<Affine> a = affine(res)) {
        dep[res] = a->rowCoef == 0 && a->colCoef == 0 ? Uniform : a->rowCoef == -a->colCoef ? Diag : Other;
        continue;
      }
    Dep d = Uniform;
    for (Value in : op.getOperands())
      d = std::max(d, depOf(in));
    dep[res] = d;
  }
  // Tabulate the Diag values read by something that is not (the yield, an Other op) and that cost more
  // than a lookup: a table read, a math function, or 8 ops.
  auto slice = [&](Value v) {
    llvm::SetVector<Operation *> ops;
    llvm::SmallVector<Value> work{v};
    while (!work.empty()) {
      Value u = work.pop_back_val();
      Operation *d = u.getDefiningOp();
      if (!d || d->getBlock() != &block || ops.contains(d))
        continue;
      ops.insert(d);
      for (Value in : d->getOperands())
        work.push_back(in);
    }
    return ops;
  };
  const int64_t kMin = 1 - diagRows_ / 8, kMax = diagCols_ / 8 - 1;
  for (Operation &op : block.without_terminator()) {
    if (op.getNumResults() != 1 || depOf(op.getResult(0)) != Diag)
      continue;
    Value res = op.getResult(0);
    const bool escapes = res == yielded || llvm::any_of(res.getUsers(), [&](Operation *u) {
                           return u->getBlock() == &block && (u->hasTrait<OpTrait::IsTerminator>() ||
                                                              u->getNumResults() != 1 || depOf(u->getResult(0)) != Diag);
                         });
    if (!escapes)
      continue;
    llvm::SetVector<Operation *> ops = slice(res);
    const bool costly = ops.size() >= 8 || llvm::any_of(ops, [](Operation *o) {
                          return isa<ReadOp>(o) || o->getDialect()->getNamespace() == "math";
                        });
    if (!costly)
      continue;
    // The table: entry [k - kMin][e] is the value at col - row = 2 (lane & 3) - (lane >> 2) - warp_row0 + 8 k + e,
    // the lane's first row and the column that puts it on that diagonal.
    const std::string name = sx_.fresh("diag");
    const std::string ct = cTypeOf(res.getType(), &op);
    const int64_t kCount = kMax - kMin + 1;
    pre_.comment("The map's " + op.getName().getStringRef().str() + " depends on the position only through kv_idx - q_idx: computed once per diagonal of "
                 "this lane's fragment (" + std::to_string(kCount) + " x 2 values for " +
                 std::to_string(diagRows_ * diagCols_ / 32) + " elements) and looked up by tfcg::diag_of");
    pre_.line(ct + " " + name + "[" + std::to_string(kCount) + "][2];");
    const std::string dk = local("dk"), de = local("de");
    pre_.line("#pragma unroll");
    pre_.open("for (int " + dk + " = 0; " + dk + " < " + std::to_string(kCount) + "; ++" + dk + ")");
    pre_.line("#pragma unroll");
    pre_.open("for (int " + de + " = 0; " + de + " < 2; ++" + de + ")");
    pre_.line("const int row = warp_row0 + (laneid() >> 2);");
    pre_.line("const int col = 2 * (laneid() & 3) + 8 * (" + dk + " - " + std::to_string(-kMin) + ") + " + de + ";");
    llvm::DenseMap<Value, std::string> tv;
    auto operandOf = [&](Value v) -> std::string {
      if (auto it = tv.find(v); it != tv.end())
        return it->second;
      if (auto arg = dyn_cast<BlockArgument>(v); arg && arg.getOwner() == &block) {
        IotaOp iota = positionIota(map.getInputs()[arg.getArgNumber()], /*seeClamps=*/true);
        if (!iota)
          fail(&op, "internal: a diagonal value reads a region argument that is not a position");
        const bool isRow = iota.getDim() == IotaDim::row;
        const std::string t = cTypeOf(arg.getType(), map);
        const std::string nm = local(isRow ? "q_idx" : "kv_idx");
        pre_.line("const " + t + " " + nm + " = " + (t == "long long" ? "" : "(" + t + ")") + "(" +
                  sx_.ref(iota.getOffset()) + (isRow ? " + row);" : " + col);"));
        return tv[v] = nm;
      }
      return sx_.ref(v);
    };
    std::vector<Operation *> ordered(ops.begin(), ops.end());
    llvm::sort(ordered, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
    for (Operation *o : ordered) {
      std::vector<std::string> operands;
      for (Value in : o->getOperands())
        operands.push_back(operandOf(in));
      const std::string expr = sx_.opExpr(o, operands);
      if (isAtom(expr)) { // a constant, a cast that keeps the C type
        tv[o->getResult(0)] = expr;
        continue;
      }
      const std::string v = local("dv");
      pre_.line("const " + cTypeOf(o->getResult(0).getType(), o) + " " + v + " = " + expr + ";");
      tv[o->getResult(0)] = v;
    }
    pre_.line(name + "[" + dk + "][" + de + "] = " + tv[res] + ";");
    pre_.close();
    pre_.close();
    val[res] = name + "[tfcg::diag_of(x) + " + std::to_string(-kMin) + "][x.e]";
    tabulated.insert(res);
  }
  return neededOps();
}

std::string ElementCode::region(MapOp map, const std::vector<std::string> &args, Value result, bool foldTrunc) {
  Block &block = map.getBody().front();
  llvm::DenseMap<Value, std::string> val;
  llvm::DenseMap<Value, std::pair<std::string, std::string>> subOperands; // subf result -> (a, b)
  llvm::DenseMap<Value, std::pair<std::string, std::string>> scaleOperands; // mulf by c > 0 -> (x, c)
  llvm::DenseMap<Value, std::tuple<std::string, std::string, std::string>> scaledSubOperands; // x*c - b
  llvm::DenseMap<Value, std::tuple<std::string, std::string, std::string>> negScaledSub; // -(x*c - b)
  for (auto [i, arg] : llvm::enumerate(block.getArguments())) {
    std::string a = args[i];
    if (!arg.hasOneUse() && !isAtom(a)) {
      const std::string name = local("a");
      body_.line("const " + cTypeOf(arg.getType(), map) + " " + name + " = " + a + ";");
      a = name;
    }
    val[arg] = a;
  }
  auto operand = [&](Value v) {
    auto it = val.find(v);
    return it != val.end() ? it->second : sx_.ref(v);
  };
  // sitofp of a sum of positions (q_idx, kv_idx) and integers uniform over the tile, U + a row + b col
  // (a, b integers, |a|, |b| <= 4), as f32 ((float)U + a (float)row) + b tfcg::col_f32(x): U is converted once, the
  // row term is shared by the row's elements, and the column's f32 value is one conversion per thread
  // plus a compile-time constant. The per-element 64-bit int -> f32 conversion (I2F.S64, a quarter-rate
  // pipe shared with MUFU.EX2) of an ALiBi or relative-position bias goes away. Equal to the conversion
  // of the sum while |U + a row| < 2^24 (positions and sizes are at most 2^24: spec::checkShapeLimits),
  // within one f32 ulp above that.
  bool seeClamps = false; // diagonal tables: positions through TileSlice's clamps (positionIota)
  std::function<std::optional<Affine>(Value, int)> affine = [&](Value v, int depth) -> std::optional<Affine> {
    if (depth > 16 || !v.getType().isIntOrIndex())
      return std::nullopt;
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      if (arg.getOwner() != &block)
        return std::nullopt;
      IotaOp iota = positionIota(map.getInputs()[arg.getArgNumber()], seeClamps);
      if (!iota)
        return std::nullopt;
      const bool row = iota.getDim() == IotaDim::row;
      return Affine{row ? 1 : 0, row ? 0 : 1, sx_.ref(iota.getOffset())};
    }
    Operation *d = v.getDefiningOp();
    if (!d)
      return std::nullopt;
    if (!block.getParent()->isAncestor(d->getParentRegion()))
      return Affine{0, 0, sx_.ref(v)}; // uniform over the tile
    IntegerAttr k;
    if (matchPattern(v, m_Constant(&k)))
      return Affine{0, 0, std::to_string(k.getValue().getSExtValue()) + "ll"};
    if (!isa<arith::AddIOp, arith::SubIOp>(d))
      return std::nullopt;
    auto l = affine(d->getOperand(0), depth + 1), r = affine(d->getOperand(1), depth + 1);
    if (!l || !r)
      return std::nullopt;
    const int64_t sign = isa<arith::AddIOp>(d) ? 1 : -1;
    Affine out{l->rowCoef + sign * r->rowCoef, l->colCoef + sign * r->colCoef, l->uniform};
    if (!r->uniform.empty())
      out.uniform = out.uniform.empty() ? (sign > 0 ? r->uniform : "(-" + r->uniform + ")")
                                        : "(" + out.uniform + (sign > 0 ? " + " : " - ") + r->uniform + ")";
    if (std::abs(out.rowCoef) > 4 || std::abs(out.colCoef) > 4)
      return std::nullopt;
    return out;
  };
  // The f32 row part ((float)U + a (float)row) and column coefficient b of a converted position sum
  // whose b is not 0, by the sitofp's result.
  llvm::DenseMap<Value, std::pair<std::string, int64_t>> positionParts;
  auto positionsF32 = [&](Value v, Value converted) -> std::optional<std::string> {
    std::optional<Affine> a = affine(v, 0);
    if (!a || (a->rowCoef == 0 && a->colCoef == 0))
      return std::nullopt; // uniform: the plain conversion is already done once
    auto term = [](int64_t c, const std::string &t) {
      return c == 1 ? " + " + t : c == -1 ? " - " + t : (c > 0 ? " + " : " - ") + std::to_string(std::abs(c)) + ".0f * " + t;
    };
    std::string e = "(float)" + (a->uniform.empty() ? std::string("0") : a->uniform);
    if (a->rowCoef)
      e = "(" + e + term(a->rowCoef, "(float)row") + ")";
    if (a->colCoef) {
      positionParts[converted] = {e, a->colCoef};
      e = "(" + e + term(a->colCoef, "tfcg::col_f32(x)") + ")";
    }
    return e;
  };
  // u * (R + b col) for u uniform over the tile (defined outside the region: ALiBi's slope), R the row
  // part and b col the column part of a converted position sum, with col = col_base_f32(x) (the lane's
  // part) + col_offset_f32(x) (a compile-time constant): fmaf(u, b offset, u * (R + b base)). The second
  // operand is shared by the row's elements, so each element costs one FFMA with an immediate where
  // the column's conversion, R + b col and u * (R + b col) cost two FADDs and an FMUL. Rounding:
  // u * (R + b base) is rounded once more, an absolute error of |u R| 2^-24 in the score (R is a
  // relative position, |R| <= max(Sq, Sk) + BLOCK_N); f32 evaluates u * (R + b col) to 2^-24 relative.
  auto uniformTimesPositions = [&](arith::MulFOp mul) -> std::optional<std::string> {
    if (!mul.getType().isF32() || exactMath(mul))
      return std::nullopt;
    for (auto [u, pos] : {std::pair{mul.getLhs(), mul.getRhs()}, std::pair{mul.getRhs(), mul.getLhs()}}) {
      auto parts = positionParts.find(pos);
      if (parts == positionParts.end() || u.getParentBlock() == &block)
        continue;
      const std::string us = operand(u);
      const int64_t b = parts->second.second;
      const std::string k = b == 1 ? "" : std::to_string(b) + ".0f * ";
      return "fmaf(" + us + ", " + k + "tfcg::col_offset_f32(x), " + us + " * (" + parts->second.first + " + " + k +
             "tfcg::col_base_f32(x)))";
    }
    return std::nullopt;
  };
  // A signed (or equality) comparison of two position sums, L PRED R with L - R = U + a row + b col, as
  // `a row + b col PRED bound`: bound = -U is computed once before the lambda, clamped to 32 bits
  // (tfcg::position_bound); with b = +-1 as `col PRED' r` (r per row), whose per-element work is one
  // 32-bit compare with an immediate (tfcg::col_offset). Written as is, each element evaluated q_idx,
  // kv_idx and the sides in 64 bits (ISETP.EX pairs and IADD.X): a sliding window's partial tile took
  // 1250 SASS instructions per thread (now 890) where a full tile takes 340. Exact:
  // positions and sizes are at most 2^24 (spec::checkShapeLimits), so |a row + b col| < 2^12 and the
  // clamp at 2^30 changes no result. Only where pre() is written (the lambdas of kept tiles and row
  // reductions: enableDiagonalTables), and only in the sm90 backend. Measured on the H200 (v0.13 calls
  // 1-3, heuristic defaults): sliding window 1024 + causal 0.268 -> 0.252 ms, window 4096 at S16k 0.786
  // -> 0.773, Llama-3-8B 0.886 -> 0.880, causal S4k unchanged; ALiBi + causal 0.519 -> 0.543 (its
  // masked tile's instruction count went down; ptxas also built its full-tile loop differently, with a
  // branch around a V slot's release that the 64-bit build predicates), so Schedule::compares64 keeps the
  // 64-bit form (for ALiBi, the v0.12 SASS exactly) and the tuner times both. On the sm80 backend causal S4k
  // went 1.125 -> 1.160 ms, so its kernels keep the 64-bit comparisons.
  llvm::DenseMap<Operation *, std::pair<std::string, std::string>> affineCompares; // -> (bound's line, expr)
  // The col PRED' r form of an affine compare whose PRED' is <, <=, > or >= (r per row of the lane).
  llvm::DenseMap<Operation *, std::pair<std::string, std::string>> columnBounds; // -> (PRED', r)
  if (diagRows_ > 0 && p_.schedule.mma == MmaFamily::Wgmma && !p_.schedule.compares64)
    for (Operation &op : block.without_terminator()) {
      auto cmp = dyn_cast<arith::CmpIOp>(op);
      if (!cmp || cmp.getLhs().getType().isInteger(1))
        continue;
      const arith::CmpIPredicate pred = cmp.getPredicate();
      static const std::map<arith::CmpIPredicate, std::string> kSigned = {
          {arith::CmpIPredicate::slt, "<"}, {arith::CmpIPredicate::sle, "<="}, {arith::CmpIPredicate::sgt, ">"},
          {arith::CmpIPredicate::sge, ">="}, {arith::CmpIPredicate::eq, "=="}, {arith::CmpIPredicate::ne, "!="}};
      auto cOp = kSigned.find(pred);
      if (cOp == kSigned.end())
        continue;
      std::optional<Affine> l = affine(cmp.getLhs(), 0), r = affine(cmp.getRhs(), 0);
      if (!l || !r)
        continue;
      const int64_t a = l->rowCoef - r->rowCoef, b = l->colCoef - r->colCoef;
      if (a == 0 && b == 0)
        continue; // uniform over the tile: the plain comparison is no per-element work to speak of
      auto term = [](int64_t c, const std::string &t, bool first) {
        const std::string mag = std::abs(c) == 1 ? t : std::to_string(std::abs(c)) + " * " + t;
        return c < 0 ? (first ? "-" : " - ") + mag : (first ? "" : " + ") + mag;
      };
      std::string lhs = a ? term(a, "row", true) : "";
      if (b)
        lhs += term(b, "col", lhs.empty());
      // bound = (R's uniform part) - (L's uniform part), in 64 bits
      const bool is64 = cTypeOf(cmp.getLhs().getType(), cmp) == "long long";
      auto wide = [&](const std::string &e) { return is64 ? e : "static_cast<long long>(" + e + ")"; };
      const std::string u = l->uniform.empty()   ? (r->uniform.empty() ? "0ll" : wide(r->uniform))
                            : r->uniform.empty() ? "-(" + wide(l->uniform) + ")"
                                                 : wide(r->uniform) + " - " + wide(l->uniform);
      const std::string bound = sx_.fresh("bound"); // unique in the kernel: several lambdas share a scope
      const std::string compared = lhs + " " + cOp->second + " " + bound;
      std::string expr = "(" + compared + ")", as;
      if (std::abs(b) == 1) {
        // col PRED' r with r = (bound - a row) / b (PRED' flipped when b = -1), written
        // col_offset(x) PRED' r - col_base(x): r - col_base(x) is one value per row of the lane, and the
        // element's part is a compile-time constant (tfcg::col_offset).
        static const std::map<std::string, std::string> kFlip = {{"<", ">"}, {"<=", ">="}, {">", "<"},
                                                                 {">=", "<="}, {"==", "=="}, {"!=", "!="}};
        const std::string pr = b == 1 ? cOp->second : kFlip.at(cOp->second);
        const int64_t ra = b == 1 ? -a : a; // r = ra row + (b == 1 ? bound : -bound)
        std::string r = b == 1 ? bound : "-" + bound;
        if (ra)
          r = b == 1 ? r + term(ra, "row", false) : term(ra, "row", true) + " - " + bound;
        if (a != 0 || b != 1)
          as = " (col " + pr + " " + r + ")";
        expr = "(tfcg::col_offset(x) " + pr + " " + r + " - tfcg::col_base(x))";
        if (pr != "==" && pr != "!=")
          columnBounds[&op] = {pr, r};
      }
      affineCompares[&op] = {"const int " + bound + " = tfcg::position_bound(" + u + "); // the positions compared: " +
                                 compared + as,
                             expr};
    }
  const Value yielded = result ? result : cast<YieldOp>(block.getTerminator()).getValue();
  llvm::DenseSet<Operation *> needed = diagonalTables(map, val,
                                                             [&](Value v) {
                                                               seeClamps = true;
                                                               std::optional<Affine> a = affine(v, 0);
                                                               seeClamps = false;
                                                               return a;
                                                             },
                                                             yielded);
  if (!affineCompares.empty()) { // the ops only an affine compare read are not written
    llvm::DenseSet<Operation *> reached;
    llvm::SmallVector<Value> work{yielded};
    while (!work.empty()) {
      Operation *d = work.pop_back_val().getDefiningOp();
      if (!d || d->getBlock() != &block || !needed.contains(d) || !reached.insert(d).second)
        continue;
      if (!affineCompares.count(d))
        for (Value in : d->getOperands())
          work.push_back(in);
    }
    needed = std::move(reached);
  }
  // A conjunction (a tree of single-use arith.andi) of column bounds, as one compare per direction:
  //   col <= r1 && col < r2  ->  col <= min(r1, r2 - 1)      col > r1 && col >= r2  ->  col >= max(r1 + 1, r2)
  // The min / max is one value per row of the lane, so each element pays one compare per direction where it
  // paid one per bound: a causal partial tile's mask and its kv_idx < Sk guard (Prepare's merged tail guard)
  // become one compare. Exact: integers, |r| <= 2^30 + 2^12 (position_bound), so r +- 1 does not overflow.
  auto mergedColumnBounds = [&](Operation &op) -> std::optional<std::string> {
    auto root = dyn_cast<arith::AndIOp>(op);
    if (!root || (root->hasOneUse() && isa<arith::AndIOp>(*root->getUsers().begin())))
      return std::nullopt; // not an arith.andi, or inside a larger conjunction
    SmallVector<Value> leaves, work{root.getRhs(), root.getLhs()}; // leaves in program order
    while (!work.empty()) {
      Value v = work.pop_back_val();
      auto inner = v.getDefiningOp<arith::AndIOp>();
      if (inner && inner->getBlock() == &block && v.hasOneUse()) {
        work.push_back(inner.getRhs());
        work.push_back(inner.getLhs());
      } else {
        leaves.push_back(v);
      }
    }
    SmallVector<std::string> upper, lower, others, upperAsIs, lowerAsIs;
    for (Value v : leaves) {
      auto it = v.getDefiningOp() ? columnBounds.find(v.getDefiningOp()) : columnBounds.end();
      if (it == columnBounds.end() || !val.count(v)) {
        if (!val.count(v) && v.getDefiningOp() && v.getDefiningOp()->getBlock() == &block)
          return std::nullopt; // a leaf not written yet (taken from a table): leave the tree as it is
        others.push_back(operand(v));
        continue;
      }
      const auto &[pr, r] = it->second;
      const bool up = pr == "<=" || pr == "<";
      (up ? upper : lower).push_back(pr == "<" ? "(" + r + ") - 1" : pr == ">" ? "(" + r + ") + 1" : r);
      (up ? upperAsIs : lowerAsIs).push_back(operand(v));
    }
    if (upper.size() < 2 && lower.size() < 2)
      return std::nullopt;
    auto fold = [](const SmallVector<std::string> &rs, const char *f) {
      std::string e = rs.front();
      for (size_t k = 1; k < rs.size(); ++k)
        e = std::string("tfcg::") + f + "<int>(" + e + ", " + rs[k] + ")";
      return e;
    };
    SmallVector<std::string> terms;
    if (upper.size() > 1)
      terms.push_back("(tfcg::col_offset(x) <= " + fold(upper, "smin") + " - tfcg::col_base(x))");
    else
      terms.append(upperAsIs);
    if (lower.size() > 1)
      terms.push_back("(tfcg::col_offset(x) >= " + fold(lower, "smax") + " - tfcg::col_base(x))");
    else
      terms.append(lowerAsIs);
    terms.append(others);
    std::string e = terms.front();
    for (size_t k = 1; k < terms.size(); ++k)
      e = "(" + e + " && " + terms[k] + ")";
    return e;
  };
  for (Operation &op : block.without_terminator()) {
    if (op.getResult(0).use_empty() || !needed.contains(&op))
      continue; // dead in the region, or taken from a diagonal table
    if (auto it = affineCompares.find(&op); it != affineCompares.end()) {
      pre_.line(it->second.first);
      val[op.getResult(0)] = it->second.second;
      continue;
    }
    if (std::optional<std::string> merged = mergedColumnBounds(op)) {
      val[op.getResult(0)] = *merged;
      continue;
    }
    if (isa<arith::SIToFPOp>(op) && op.getResult(0).getType().isF32())
      if (std::optional<std::string> f = positionsF32(op.getOperand(0), op.getResult(0))) {
        val[op.getResult(0)] = *f;
        continue;
      }
    std::vector<std::string> operands;
    for (Value in : op.getOperands())
      operands.push_back(operand(in));
    std::string expr;
    auto sub = isa<math::ExpOp>(op) && op.getResult(0).getType().isF32() && !exactMath(&op)
                   ? subOperands.find(op.getOperand(0))
                   : subOperands.end();
    auto scaledSub = sub == subOperands.end() ? scaledSubOperands.end() : scaledSubOperands.find(op.getOperand(0));
    if (scaledSub != scaledSubOperands.end() && p_.schedule.exp2FmaQuarters > 0)
      // The same with some columns' exponentials on the FMA pipe (Schedule::exp2FmaQuarters); `x` is the
      // element position of the map or row reduction this region is written into.
      expr = "tfcg::exp_diff_scaled_split<" + std::to_string(p_.schedule.exp2FmaQuarters) + ">(x, " +
             std::get<0>(scaledSub->second) + ", " + std::get<1>(scaledSub->second) + ", " +
             std::get<2>(scaledSub->second) + ")";
    else if (scaledSub != scaledSubOperands.end()) // e^(x*c - b): one FFMA (coefficient c log2 e) + EX2
      expr = ScalarExprs::expDiffScaled(std::get<0>(scaledSub->second), std::get<1>(scaledSub->second),
                                        std::get<2>(scaledSub->second));
    else if (sub != subOperands.end())
      expr = ScalarExprs::expDiff(sub->second.first, sub->second.second); // e^(a-b): one FFMA + EX2
    else if (auto neg = isa<math::ExpOp>(op) && op.getResult(0).getType().isF32() && !exactMath(&op)
                            ? negScaledSub.find(op.getOperand(0))
                            : negScaledSub.end();
             neg != negScaledSub.end()) // e^(b - x*c) (sigmoid's e^-x): one FFMA (coefficient -c log2 e) + EX2
      expr = "tfcg::exp_affine(" + std::get<0>(neg->second) + ", -" + std::get<1>(neg->second) + ", " +
             std::get<2>(neg->second) + ")";
    else if (auto mul = dyn_cast<arith::MulFOp>(op); std::optional<std::string> fma = mul ? uniformTimesPositions(mul) : std::nullopt)
      expr = *fma;
    else
      expr = sx_.opExpr(&op, operands);
    Value res = op.getResult(0);
    if (isa<arith::SubFOp>(op) && res.hasOneUse()) {
      subOperands[res] = {operands[0], operands[1]};
      if (auto it = scaleOperands.find(op.getOperand(0)); it != scaleOperands.end())
        scaledSubOperands[res] = {it->second.first, it->second.second, operands[1]};
    }
    if (isa<arith::NegFOp>(op) && res.hasOneUse())
      if (auto it = scaledSubOperands.find(op.getOperand(0)); it != scaledSubOperands.end())
        negScaledSub[res] = it->second;
    // x * c with c a constant > 0, read once: exp(x * c - b) folds c into the exponent's FFMA.
    if (auto mul = dyn_cast<arith::MulFOp>(op); mul && res.hasOneUse() && res.getType().isF32()) {
      FloatAttr k;
      if (matchPattern(mul.getRhs(), m_Constant(&k)) && k.getValue().isNormal() && !k.getValue().isNegative())
        scaleOperands[res] = {operands[0], operands[1]};
    }
    if (isa<ReadOp>(op) || (!res.hasOneUse() && !isAtom(expr))) {
      const std::string name = local(isa<ReadOp>(op) ? "t" : "v");
      body_.line("const " + cTypeOf(res.getType(), &op) + " " + name + " = " + expr + ";");
      expr = name;
    }
    val[res] = expr;
  }
  Value y = yielded;
  if (foldTrunc)
    if (auto trunc = y.getDefiningOp<arith::TruncFOp>(); trunc && trunc.getIn().getType().isF32())
      y = trunc.getIn();
  return operand(y);
}

} // namespace tilefuse::codegen
