//===- BlkBuild.cpp - small builders and matchers for blk IR --------------===//
#include "BlkBuild.h"

#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

using namespace mlir;

namespace tilefuse::fusion {

blk::MapOp buildMap(OpBuilder &b, Location loc, ValueRange inputs, Type resultElem,
                    BodyFn body) {
  auto in0 = tileOf(inputs.front());
  auto resultType = blk::TileType::get(b.getContext(), in0.getShape(), resultElem,
                                       blk::MemorySpace::reg);
  auto map = b.create<blk::MapOp>(loc, resultType, inputs);
  Block *block = new Block();
  map.getBody().push_back(block);
  SmallVector<Value> args;
  for (Value in : inputs)
    args.push_back(block->addArgument(tileOf(in).getElementType(), loc));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(block);
  Value y = body(b, loc, args);
  b.create<blk::YieldOp>(loc, y);
  return map;
}

Value floatConst(OpBuilder &b, Location loc, Type type, double v) {
  return b.create<arith::ConstantOp>(loc, type, b.getFloatAttr(type, v));
}

Value convertFloat(OpBuilder &b, Location loc, Value v, Type type) {
  Type from = v.getType();
  if (from == type)
    return v;
  if (from.getIntOrFloatBitWidth() < type.getIntOrFloatBitWidth())
    return b.create<arith::ExtFOp>(loc, type, v);
  return b.create<arith::TruncFOp>(loc, type, v);
}

Value fillFloat(OpBuilder &b, Location loc, blk::TileType type, double v) {
  Value s = floatConst(b, loc, type.getElementType(), v);
  return b.create<blk::FillOp>(loc, type.withMemorySpace(blk::MemorySpace::reg), s);
}

std::optional<double> floatConstant(Value v) {
  FloatAttr attr;
  if (v && matchPattern(v, m_Constant(&attr)))
    return attr.getValueAsDouble();
  return std::nullopt;
}

std::optional<double> fillConstant(Value v) {
  if (auto fill = v.getDefiningOp<blk::FillOp>())
    return floatConstant(fill.getValue());
  return std::nullopt;
}

void TensorAccesses::add(Operation *root) {
  root->walk([&](Operation *op) {
    if (auto l = dyn_cast<blk::LoadOp>(op))
      reads.insert(l.getSource());
    else if (auto r = dyn_cast<blk::ReadOp>(op))
      reads.insert(r.getSource());
    else if (auto s = dyn_cast<blk::StoreOp>(op))
      writes.insert(s.getDest());
    else if (!isa<blk::AllocOp>(op) && !op->hasTrait<OpTrait::HasRecursiveMemoryEffects>() &&
             !isMemoryEffectFree(op))
      unknown = true;
  });
}

bool TensorAccesses::conflictsWith(const TensorAccesses &o) const {
  if (unknown || o.unknown)
    return true;
  auto meets = [](const DenseSet<Value> &a, const DenseSet<Value> &b) {
    return llvm::any_of(a, [&](Value v) { return b.contains(v); });
  };
  return meets(writes, o.reads) || meets(writes, o.writes) || meets(reads, o.writes);
}

blk::TileType withDim(blk::TileType t, unsigned d, int64_t size) {
  SmallVector<int64_t> shape(t.getShape());
  shape[d] = size;
  return t.withShape(shape);
}

} // namespace tilefuse::fusion
