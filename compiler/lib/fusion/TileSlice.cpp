//===- TileSlice.cpp - recompute one chunk of a whole-row (`?`) tile ------===//
#include "TileSlice.h"

#include "Algebra.h"
#include "BlkBuild.h"

#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/ScopeExit.h"

using namespace mlir;

namespace tilefuse::fusion {

namespace {

/// The operand of `op` whose dim `od` becomes dim `d` of its result, for the ops that keep
/// positions (elementwise) or move them (matmul, broadcast, reduce).
SmallVector<std::pair<Value, unsigned>> chunkOperands(Operation *op, unsigned d) {
  SmallVector<std::pair<Value, unsigned>> r;
  if (isa<blk::MapOp, blk::SelectOp, blk::CopyOp, blk::ScanOp>(op)) {
    for (Value v : op->getOperands())
      r.push_back({v, d});
  } else if (auto mm = dyn_cast<blk::MatmulOp>(op)) {
    if (d == 0)
      r.push_back({mm.getLhs(), 0});
    else
      r.push_back({mm.getRhs(), mm.getTransposeB() ? 0u : 1u});
    if (mm.getAcc())
      r.push_back({mm.getAcc(), d});
  } else if (auto bc = dyn_cast<blk::BroadcastOp>(op)) {
    if (d == 0)
      r.push_back({bc.getInput(), 0});
  } else if (auto red = dyn_cast<blk::ReduceOp>(op)) {
    r.push_back({red.getInput(), 0});
  }
  return r;
}

bool isIotaAlong(Value v, unsigned d) {
  auto iota = v.getDefiningOp<blk::IotaOp>();
  return iota && ((iota.getDim() == blk::IotaDim::row && d == 0) ||
                  (iota.getDim() == blk::IotaDim::col && d == 1));
}

/// Whether region argument `i` of `map` reaches the index of a blk.read.
bool indexesTable(blk::MapOp map, unsigned i) {
  Block &body = map.getBody().front();
  SmallVector<unsigned> cls(body.getNumArguments(), 0);
  cls[i] = 1;
  Dependence dep(&body, cls);
  bool found = false;
  map.getBody().walk([&](blk::ReadOp read) {
    for (Value idx : read.getIndices())
      found |= dep.of(idx) != 0;
  });
  return found;
}

} // namespace

std::string whyNotSliceable(Value v, unsigned d) {
  auto t = dyn_cast<blk::TileType>(v.getType());
  if (!t || !t.isDynamicDim(d))
    return "";
  Operation *op = v.getDefiningOp();
  // A load is sliced along one `?` dim and keeps its others (the B operand of a matmul whose result
  // and contraction dims are both `?`: [K? x N?] sliced along N; the contraction is tiled after).
  if (op && isa<blk::LoadOp>(op))
    return "";
  for (unsigned e = 0; e < t.getRank(); ++e)
    if (e != d && t.isDynamicDim(e))
      return "a tile with two `?` dims";
  if (!op)
    return "a `?` tile that is a block argument";
  if (isa<blk::FillOp, blk::IotaOp>(op))
    return "";
  // A matmul sliced along its result's `?` dim keeps a `?` contraction (its operand along the sliced
  // dim is cut, the other kept whole): TileContraction then tiles that contraction inside the chunk
  // loop, which nests the two loops (an FFN with run-time widths: Y[:, n-chunk] = sum over k-chunks).
  if (auto mm = dyn_cast<blk::MatmulOp>(op))
    if (mm.getLhs().getType().isDynamicDim(1) && mm.getAcc())
      return "a matmul whose result and contraction dims are both `?`, with an accumulator";
  if (!isa<blk::MapOp, blk::SelectOp, blk::CopyOp, blk::MatmulOp, blk::BroadcastOp,
           blk::ReduceOp, blk::ScanOp>(op))
    return ("'" + op->getName().getStringRef() + "' produces a `?` tile").str();
  for (auto [operand, od] : chunkOperands(op, d))
    if (std::string why = whyNotSliceable(operand, od); !why.empty())
      return why;
  return "";
}

std::pair<blk::LoadOp, unsigned> extentSource(Value v, unsigned d) {
  auto t = dyn_cast<blk::TileType>(v.getType());
  Operation *op = v.getDefiningOp();
  if (!t || !t.isDynamicDim(d) || !op)
    return {};
  if (auto load = dyn_cast<blk::LoadOp>(op))
    return {load, d};
  if (isa<blk::FillOp, blk::IotaOp>(op))
    return {};
  for (auto [operand, od] : chunkOperands(op, d))
    if (auto src = extentSource(operand, od); src.first)
      return src;
  return {};
}

Value buildExtent(OpBuilder &b, Location loc, Value v, unsigned d) {
  auto [load, td] = extentSource(v, d);
  blk::HbmTensorType t = load.getSource().getType();
  int64_t dim = t.getRank() - load.getType().getRank() + td;
  Value full = b.create<blk::DimOp>(loc, b.getIndexType(), load.getSource(),
                                    b.getI64IntegerAttr(dim));
  Value start = load.getIndices()[dim];
  if (matchPattern(start, m_Zero()))
    return full;
  return b.create<arith::SubIOp>(loc, full, start);
}

bool padsWith(Value v, unsigned d, double value) {
  if (value != 0.0)
    return false;
  if (v.getDefiningOp<blk::LoadOp>())
    return true;
  if (auto copy = v.getDefiningOp<blk::CopyOp>())
    return padsWith(copy.getSource(), d, value);
  return false;
}

Value ChunkSlicer::slice(Value v, unsigned d) {
  auto t = cast<blk::TileType>(v.getType());
  if (!t.isDynamicDim(d))
    return v;
  auto key = std::make_pair(v, d);
  if (auto it = memo.find(key); it != memo.end())
    return it->second;
  Value r = sliceOp(v.getDefiningOp(), v, d);
  memo[key] = r;
  // The input of a scan carried along the tiled dim: every user reads the chunk with its tail set to 0.
  // Padded columns are don't-care for every user (each one that a padded value could reach masks its own
  // tail), and one chunk instead of two keeps a [BLOCK_M, BLOCK_N] tile less live in the kernel
  // (stick-breaking's z, read by its scan, its weights and the carry's update).
  if (d == 1 && !padsWith(v, 1, 0.0) && llvm::any_of(v.getUsers(), [&](Operation *u) {
        return isa<blk::ScanOp>(u) && carries.count(u);
      }))
    memo[key] = r = maskTail(r, 1, 0.0);
  return r;
}

Value ChunkSlicer::sliceOp(Operation *op, Value v, unsigned d) {
  // The slice of an op stands where the op stood (a score_mod / mask_mod map keeps its spec field).
  Location outer = loc;
  loc = op->getLoc();
  auto restore = llvm::make_scope_exit([&] { loc = outer; });
  blk::TileType type = withDim(cast<blk::TileType>(v.getType()), d, size);
  if (auto load = dyn_cast<blk::LoadOp>(op)) {
    SmallVector<Value> idx(load.getIndices());
    int64_t td = load.getSource().getType().getRank() - type.getRank() + d;
    idx[td] = matchPattern(idx[td], m_Zero()) ? off
                                               : b.create<arith::AddIOp>(loc, idx[td], off);
    return b.create<blk::LoadOp>(loc, type, load.getSource(), idx);
  }
  if (auto mm = dyn_cast<blk::MatmulOp>(op)) {
    Value lhs = d == 0 ? slice(mm.getLhs(), 0) : mm.getLhs();
    Value rhs = d == 1 ? slice(mm.getRhs(), mm.getTransposeB() ? 0 : 1) : mm.getRhs();
    Value acc = mm.getAcc() ? slice(mm.getAcc(), d) : Value();
    return b.create<blk::MatmulOp>(loc, type, lhs, rhs, acc, mm.getTransposeBAttr());
  }
  if (auto map = dyn_cast<blk::MapOp>(op)) {
    // Padded positions are masked later, but a table read must stay in bounds there:
    // index tiles along the tiled dim feeding a map that reads tables are clamped to the last
    // position inside the extent, which for an iota counting from `start` is start + extent - 1
    // (a load at a column offset; clamping to extent - 1 read the wrong entries on the last
    // `start` positions, found by the block_program fuzz target).
    SmallVector<Value> inputs;
    for (auto [i, in] : llvm::enumerate(map.getInputs())) {
      Value chunk = slice(in, d);
      if (isIotaAlong(in, d) && indexesTable(map, i)) {
        Type it = tileOf(chunk).getElementType();
        Value last = extentAs(it, 1);
        Value start = in.getDefiningOp<blk::IotaOp>().getOffset();
        if (!matchPattern(start, m_Zero()))
          last = b.create<arith::AddIOp>(loc, last, b.create<arith::IndexCastOp>(loc, it, start));
        chunk = buildMap(b, loc, chunk, it, [&](OpBuilder &bb, Location l, ValueRange x) {
          return bb.create<arith::MinSIOp>(l, x[0], last).getResult();
        });
      }
      inputs.push_back(chunk);
    }
    auto sliced = b.create<blk::MapOp>(loc, type, inputs);
    IRMapping mapping;
    map.getBody().cloneInto(&sliced.getBody(), mapping);
    return sliced;
  }
  if (auto sel = dyn_cast<blk::SelectOp>(op))
    return b.create<blk::SelectOp>(loc, type, slice(sel.getCondition(), d),
                                   slice(sel.getTrueValue(), d), slice(sel.getFalseValue(), d));
  if (auto copy = dyn_cast<blk::CopyOp>(op))
    return b.create<blk::CopyOp>(loc, type, slice(copy.getSource(), d));
  if (auto bc = dyn_cast<blk::BroadcastOp>(op))
    return b.create<blk::BroadcastOp>(loc, type, d == 0 ? slice(bc.getInput(), 0)
                                                        : bc.getInput());
  if (auto fill = dyn_cast<blk::FillOp>(op))
    return b.create<blk::FillOp>(loc, type, fill.getValue());
  if (auto iota = dyn_cast<blk::IotaOp>(op)) {
    Value offset = iota.getOffset();
    if (isIotaAlong(v, d))
      offset = matchPattern(offset, m_Zero()) ? off
                                              : b.create<arith::AddIOp>(loc, offset, off);
    return b.create<blk::IotaOp>(loc, type, iota.getDimAttr(), offset);
  }
  if (auto scan = dyn_cast<blk::ScanOp>(op)) {
    // Rows scan apart: a chunk of rows is the scan of that chunk. Along the scanned dim,
    // scan(x)_j = scan(x restricted to the chunk)_j + (the sum of x over the chunks visited before):
    // the loop visits the chunks in the scan's direction and carries that sum.
    if (d == 0)
      return b.create<blk::ScanOp>(loc, type, scan.getKindAttr(), slice(scan.getInput(), 0),
                                   scan.getReverseAttr(), scan.getExclusiveAttr());
    Value carry = carries.lookup(scan);
    assert(carry && "a scan along the tiled dim needs a carry (Tile.cpp)");
    Value chunk = scanChunkInput(scan);
    Value own = b.create<blk::ScanOp>(loc, type, scan.getKindAttr(), chunk, scan.getReverseAttr(),
                                      scan.getExclusiveAttr());
    Value before = b.create<blk::BroadcastOp>(loc, type, carry);
    return buildMap(b, loc, {own, before}, type.getElementType(),
                    [&](OpBuilder &bb, Location l, ValueRange x) -> Value {
                      return bb.create<arith::AddFOp>(l, x[0], x[1]);
                    });
  }
  auto red = cast<blk::ReduceOp>(op);
  return b.create<blk::ReduceOp>(loc, type, red.getKindAttr(), slice(red.getInput(), 0));
}

Value ChunkSlicer::scanChunkInput(blk::ScanOp scan) {
  // Padded columns of the last chunk would enter a suffix sum (and the carry): slice() sets them to 0.
  return slice(scan.getInput(), 1);
}

void scansOnChain(Value v, unsigned d, SmallVectorImpl<blk::ScanOp> &out) {
  SmallVector<std::pair<Value, unsigned>> todo = {{v, d}};
  llvm::DenseSet<std::pair<Value, unsigned>> seen;
  while (!todo.empty()) {
    auto [u, e] = todo.pop_back_val();
    auto t = dyn_cast<blk::TileType>(u.getType());
    if (!t || !t.isDynamicDim(e) || !seen.insert({u, e}).second)
      continue;
    Operation *op = u.getDefiningOp();
    if (!op || isa<blk::LoadOp>(op))
      continue;
    if (auto scan = dyn_cast<blk::ScanOp>(op); scan && e == 1 && !llvm::is_contained(out, scan))
      out.push_back(scan);
    for (auto operand : chunkOperands(op, e))
      todo.push_back(operand);
  }
}

Value ChunkSlicer::extentAs(Type intType, int64_t minus) {
  Value e = extent;
  if (minus)
    e = b.create<arith::SubIOp>(loc, e, b.create<arith::ConstantIndexOp>(loc, minus));
  return b.create<arith::IndexCastOp>(loc, intType, e);
}

Value ChunkSlicer::tailMask(blk::TileType chunk, unsigned d) {
  Type i64 = b.getI64Type();
  blk::TileType idxType = blk::TileType::get(b.getContext(), chunk.getShape(), i64,
                                             blk::MemorySpace::reg);
  Value pos = b.create<blk::IotaOp>(loc, idxType, d == 0 ? blk::IotaDim::row
                                                           : blk::IotaDim::col, off);
  Value ext = extentAs(i64, 0);
  return buildMap(b, loc, pos, b.getI1Type(), [&](OpBuilder &bb, Location l, ValueRange x) {
    return bb.create<arith::CmpIOp>(l, arith::CmpIPredicate::slt, x[0], ext).getResult();
  });
}

Value ChunkSlicer::maskTail(Value x, unsigned d, double identity) {
  blk::TileType t = tileOf(x);
  Value keep = tailMask(t, d);
  Value fill = fillFloat(b, loc, t, identity);
  return b.create<blk::SelectOp>(loc, t, keep, x, fill);
}

} // namespace tilefuse::fusion
