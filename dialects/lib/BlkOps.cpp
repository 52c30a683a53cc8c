//===- BlkOps.cpp - blk op verifiers --------------------------------------===//
//
// Verifiers check what the types alone cannot: shapes that must agree, element
// types that must match, and memory spaces an op may read or produce.
//
#include "blk/BlkDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"

using namespace mlir;
using namespace tilefuse::blk;

#define GET_OP_CLASSES
#include "blk/BlkOps.cpp.inc"

namespace {

std::string shapeStr(ArrayRef<int64_t> shape) {
  std::string s;
  for (unsigned i = 0; i < shape.size(); ++i) {
    if (i)
      s += "x";
    s += ShapedType::isDynamic(shape[i]) ? std::string("?") : std::to_string(shape[i]);
  }
  return s;
}

/// Two extents agree when they are equal or either is only known at run time.
bool compatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

LogicalResult requireSpace(Operation *op, StringRef what, TileType t,
                           std::initializer_list<MemorySpace> allowed) {
  for (MemorySpace s : allowed)
    if (t.getMemorySpace() == s)
      return success();
  std::string names;
  for (MemorySpace s : allowed)
    names += (names.empty() ? "" : " or ") + stringifyMemorySpace(s).str();
  return op->emitOpError() << what << " must live in " << names << ", got "
                           << stringifyMemorySpace(t.getMemorySpace());
}

LogicalResult verifyIndexing(Operation *op, HbmTensorType tensor, size_t numIndices) {
  if (numIndices != static_cast<size_t>(tensor.getRank()))
    return op->emitOpError() << "expects " << tensor.getRank()
                             << " indices (one per tensor dim), got " << numIndices;
  return success();
}

LogicalResult verifyTileAccess(Operation *op, HbmTensorType tensor, TileType tile,
                               size_t numIndices) {
  if (failed(verifyIndexing(op, tensor, numIndices)))
    return failure();
  if (tile.getRank() > tensor.getRank())
    return op->emitOpError() << "tile rank " << tile.getRank() << " exceeds tensor rank "
                             << tensor.getRank();
  if (tile.getElementType() != tensor.getElementType())
    return op->emitOpError() << "element type mismatch: tile has " << tile.getElementType()
                             << ", tensor has " << tensor.getElementType();
  return requireSpace(op, "the tile", tile, {MemorySpace::smem, MemorySpace::reg});
}

/// What reduce and broadcast share: one element type, input and result in registers.
LogicalResult verifyRegisterRowOp(Operation *op, TileType in, TileType res) {
  if (in.getElementType() != res.getElementType())
    return op->emitOpError() << "element type must not change";
  if (failed(requireSpace(op, "the input", in, {MemorySpace::reg})) ||
      failed(requireSpace(op, "the result", res, {MemorySpace::reg})))
    return failure();
  return success();
}

} // namespace

LogicalResult KernelOp::verify() {
  size_t n = getGrid().size();
  if (n < 1 || n > 3)
    return emitOpError() << "grid must have 1 to 3 dims, got " << n;
  Block &body = getBodyBlock();
  if (body.getNumArguments() != n)
    return emitOpError() << "body must take one program id per grid dim (" << n << "), got "
                         << body.getNumArguments();
  for (BlockArgument arg : body.getArguments())
    if (!arg.getType().isIndex())
      return emitOpError() << "program ids must be of type index, got " << arg.getType();
  // Kernels are the top-level steps of a function: not inside a module, a loop or a kernel.
  Operation *parent = (*this)->getParentOp();
  if (!isa_and_nonnull<func::FuncOp>(parent))
    return emitOpError() << "must be directly inside a func.func (the kernels of a function run "
                            "in order), found inside "
                         << (parent ? parent->getName().getStringRef() : StringRef("nothing"));
  for (Operation &other : *(*this)->getBlock()) {
    if (&other == getOperation())
      break;
    if (auto kernel = dyn_cast<KernelOp>(other); kernel && kernel.getSymName() == getSymName())
      return emitOpError() << "symbol @" << getSymName()
                           << " is already the name of an earlier kernel of this function";
  }
  // A loop whose step is a constant <= 0 never ends (scf.for does not check this itself).
  WalkResult walk = body.walk([&](scf::ForOp loop) {
    APInt step;
    if (matchPattern(loop.getStep(), m_ConstantInt(&step)) && !step.isStrictlyPositive()) {
      loop.emitOpError() << "step must be positive, got " << step.getSExtValue();
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return failure(walk.wasInterrupted());
}

LogicalResult DimOp::verify() {
  int64_t rank = getSource().getType().getRank();
  if (getIndex() < 0 || getIndex() >= rank)
    return emitOpError() << "dim index " << getIndex() << " out of range for a rank-" << rank
                         << " tensor";
  return success();
}

LogicalResult AllocOp::verify() {
  HbmTensorType t = getResult().getType();
  if (getSizes().size() != t.getNumDynamicDims())
    return emitOpError() << "expects one size per symbolic dim (" << t.getNumDynamicDims()
                         << "), got " << getSizes().size();
  return success();
}

LogicalResult LoadOp::verify() {
  return verifyTileAccess(*this, getSource().getType(), getResult().getType(),
                          getIndices().size());
}

LogicalResult StoreOp::verify() {
  return verifyTileAccess(*this, getDest().getType(), getValue().getType(),
                          getIndices().size());
}

LogicalResult ReadOp::verify() {
  HbmTensorType t = getSource().getType();
  if (failed(verifyIndexing(*this, t, getIndices().size())))
    return failure();
  if (getResult().getType() != t.getElementType())
    return emitOpError() << "result type " << getResult().getType()
                         << " must be the tensor's element type " << t.getElementType();
  return success();
}

LogicalResult CopyOp::verify() {
  TileType src = getSource().getType(), dst = getResult().getType();
  if (src.getShape() != dst.getShape() || src.getElementType() != dst.getElementType())
    return emitOpError() << "copy must keep shape and element type";
  if (failed(requireSpace(*this, "the source", src, {MemorySpace::smem, MemorySpace::reg})) ||
      failed(requireSpace(*this, "the result", dst, {MemorySpace::smem, MemorySpace::reg})))
    return failure();
  if (src.getMemorySpace() == dst.getMemorySpace())
    return emitOpError() << "copy must change the memory space";
  return success();
}

LogicalResult MatmulOp::verify() {
  TileType a = getLhs().getType(), b = getRhs().getType(), c = getResult().getType();
  if (a.getRank() != 2 || b.getRank() != 2 || c.getRank() != 2)
    return emitOpError() << "operands and result must be rank-2 tiles";
  if (failed(requireSpace(*this, "lhs", a, {MemorySpace::smem, MemorySpace::reg})) ||
      failed(requireSpace(*this, "rhs", b, {MemorySpace::smem, MemorySpace::reg})) ||
      failed(requireSpace(*this, "the result", c, {MemorySpace::reg})))
    return failure();
  if (a.getElementType() != b.getElementType())
    return emitOpError() << "lhs and rhs element types differ: " << a.getElementType()
                         << " vs " << b.getElementType();
  if (!c.getElementType().isF32())
    return emitOpError() << "the result accumulates in f32, got " << c.getElementType();
  int64_t m = a.getDimSize(0), k = a.getDimSize(1);
  int64_t kb = getTransposeB() ? b.getDimSize(1) : b.getDimSize(0);
  int64_t n = getTransposeB() ? b.getDimSize(0) : b.getDimSize(1);
  if (!compatible(k, kb))
    return emitOpError() << "contraction dims differ: lhs is " << shapeStr(a.getShape())
                         << ", rhs is " << shapeStr(b.getShape())
                         << (getTransposeB() ? " (transposed)" : "");
  if (!compatible(m, c.getDimSize(0)) || !compatible(n, c.getDimSize(1)))
    return emitOpError() << "result shape " << shapeStr(c.getShape()) << " must be "
                         << shapeStr({m, n});
  if (getAcc() && getAcc().getType() != c)
    return emitOpError() << "accumulator type must equal the result type";
  return success();
}

LogicalResult MapOp::verify() {
  if (getInputs().empty())
    return emitOpError() << "needs at least one input tile";
  TileType first = cast<TileType>(getInputs()[0].getType());
  TileType res = getResult().getType();
  for (Value in : getInputs()) {
    TileType t = cast<TileType>(in.getType());
    if (t.getShape() != first.getShape())
      return emitOpError() << "all inputs must have one shape: " << shapeStr(first.getShape())
                           << " vs " << shapeStr(t.getShape());
    if (failed(requireSpace(*this, "every input", t, {MemorySpace::reg})))
      return failure();
  }
  if (res.getShape() != first.getShape())
    return emitOpError() << "result shape " << shapeStr(res.getShape())
                         << " must equal the input shape " << shapeStr(first.getShape());
  if (failed(requireSpace(*this, "the result", res, {MemorySpace::reg})))
    return failure();
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size())
    return emitOpError() << "region takes one scalar per input (" << getInputs().size()
                         << "), got " << body.getNumArguments();
  for (auto [arg, in] : llvm::zip(body.getArguments(), getInputs()))
    if (arg.getType() != cast<TileType>(in.getType()).getElementType())
      return emitOpError() << "region argument type " << arg.getType()
                           << " must be the input element type "
                           << cast<TileType>(in.getType()).getElementType();
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield)
    return emitOpError() << "region must end in blk.yield";
  if (yield.getValue().getType() != res.getElementType())
    return emitOpError() << "yielded type " << yield.getValue().getType()
                         << " must be the result element type " << res.getElementType();
  return success();
}

LogicalResult ReduceOp::verify() {
  TileType in = getInput().getType(), res = getResult().getType();
  if (in.getRank() != 2 || res.getRank() != 1)
    return emitOpError() << "reduces a rank-2 tile to a rank-1 tile (MxN -> M)";
  if (!compatible(in.getDimSize(0), res.getDimSize(0)))
    return emitOpError() << "result has " << shapeStr(res.getShape()) << " rows, input has "
                         << shapeStr(in.getShape());
  return verifyRegisterRowOp(*this, in, res);
}

LogicalResult ScanOp::verify() {
  TileType in = getInput().getType(), res = getResult().getType();
  if (getKind() != ReduceKind::sum)
    return emitOpError() << "scans by sum only (a running max is blk.reduce max in a loop)";
  if (in.getRank() != 2 || in.getShape() != res.getShape())
    return emitOpError() << "scans a rank-2 tile into one of the same shape (MxN -> MxN); input "
                         << shapeStr(in.getShape()) << ", result " << shapeStr(res.getShape());
  if (!in.getElementType().isF32() || !res.getElementType().isF32())
    return emitOpError() << "scans f32 tiles (the running sum is kept in f32)";
  return verifyRegisterRowOp(*this, in, res);
}

LogicalResult BroadcastOp::verify() {
  TileType in = getInput().getType(), res = getResult().getType();
  if (in.getRank() != 1 || res.getRank() != 2)
    return emitOpError() << "broadcasts a rank-1 tile to a rank-2 tile (M -> MxN)";
  if (!compatible(in.getDimSize(0), res.getDimSize(0)))
    return emitOpError() << "row count differs: " << shapeStr(in.getShape()) << " vs "
                         << shapeStr(res.getShape());
  return verifyRegisterRowOp(*this, in, res);
}

LogicalResult FillOp::verify() {
  TileType res = getResult().getType();
  if (getValue().getType() != res.getElementType())
    return emitOpError() << "scalar type " << getValue().getType()
                         << " must be the tile element type " << res.getElementType();
  return requireSpace(*this, "the result", res, {MemorySpace::reg});
}

LogicalResult IotaOp::verify() {
  TileType res = getResult().getType();
  if (!res.getElementType().isSignlessInteger() || res.getElementType().isInteger(1))
    return emitOpError() << "index tiles have an integer element type (i32 or i64), got "
                         << res.getElementType();
  if (getDim() == IotaDim::col && res.getRank() != 2)
    return emitOpError() << "a col index tile must be rank 2";
  return requireSpace(*this, "the result", res, {MemorySpace::reg});
}

LogicalResult SelectOp::verify() {
  TileType cond = getCondition().getType(), res = getResult().getType();
  if (!cond.getElementType().isInteger(1))
    return emitOpError() << "condition must be an i1 tile, got " << cond.getElementType();
  if (cond.getShape() != res.getShape())
    return emitOpError() << "condition shape " << shapeStr(cond.getShape())
                         << " must equal the value shape " << shapeStr(res.getShape());
  if (failed(requireSpace(*this, "the condition", cond, {MemorySpace::reg})))
    return failure();
  return requireSpace(*this, "the result", res, {MemorySpace::reg});
}
