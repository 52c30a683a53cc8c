//===- BlockMask.cpp - which K/V loop a run-time block mask drives ---------===//
//
// A K/V loop whose tile classification reads tensor contents (a mask_mod over a captured table) or
// has no interval rule carries blk.tile_class ops (ClassifyTiles.cpp). Such a loop can iterate lists
// computed before the kernel (FlexAttention's BlockMask: per Q tile the partial and the full K/V
// tiles) instead of visiting every tile and bounding each in the kernel. This file finds that loop,
// the masks the classification kernel evaluates (tagged blk.runtime_mask), whether they read the
// head, and the ops that compute only the in-kernel bounds (skipped when the lists are given).
//
#include "Plan.h"

#include "mlir/IR/Matchers.h"

#include <functional>

using namespace mlir;
using namespace tilefuse::blk;

namespace tilefuse::codegen {

namespace {

/// Whether `tile` is a function of its position and of uniform values only (iota, fill, broadcast,
/// maps of those): what the classification kernel evaluates at each (row, col).
bool positional(Value tile, int depth = 0) {
  Operation *op = tile.getDefiningOp();
  if (!op || depth > 64)
    return false;
  if (isa<IotaOp, FillOp>(op))
    return true;
  if (auto bc = dyn_cast<BroadcastOp>(op))
    return positional(bc.getInput(), depth + 1);
  if (auto map = dyn_cast<MapOp>(op))
    return llvm::all_of(map.getInputs(), [&](Value in) { return positional(in, depth + 1); });
  return false;
}

/// Whether `v` (a value, or any value read by the ops nested in its definition) depends on `arg`.
bool dependsOn(Value v, Value arg, llvm::DenseSet<Value> &seen) {
  if (v == arg)
    return true;
  if (!seen.insert(v).second)
    return false;
  Operation *def = v.getDefiningOp();
  if (!def)
    return false;
  bool found = false;
  def->walk([&](Operation *inner) {
    for (Value o : inner->getOperands())
      found = found || dependsOn(o, arg, seen);
  });
  return found;
}

} // namespace

BlockMaskPlan planBlockMask(const ResolvedKernel &r, const KernelPlan &p) {
  BlockMaskPlan bm;
  // Packed sequences: no run-time block mask (its lists are laid out per Q tile of one Sq for every
  // batch); the kernel classifies its tiles in place, with the in-kernel bounds (KernelAbi.h).
  if (r.packed)
    return bm;
  // 1. The loop with blk.tile_class ops at the top of its body (one such loop, with a plan).
  std::vector<Operation *> classOps;
  r.kernel.getBody().walk([&](TileClassOp op) { classOps.push_back(op); });
  if (classOps.empty())
    return bm;
  auto loop = dyn_cast<scf::ForOp>(classOps.front()->getParentOp());
  if (!loop || !p.loopPlan(loop) || loop->getBlock() != &r.kernel.getBodyBlock())
    return bm;
  for (Operation *op : classOps)
    if (op->getParentOp() != loop.getOperation())
      return bm;
  // The list row of a Q tile is (batch, head, q_tile): the FlashAttention-2 program ids.
  Block &body = r.kernel.getBodyBlock();
  if (body.getNumArguments() != 3 || r.scalarNames.lookup(body.getArgument(2)) != "q_tile")
    return bm;
  // 2. The tagged masks (their copies in the partial tiles' body), each evaluable by position.
  llvm::DenseSet<Value> seenMask;
  bool ok = true;
  loop.getBody()->walk([&](SelectOp sel) {
    Value c = sel.getCondition();
    auto map = c.getDefiningOp<MapOp>();
    if (!map || !map->hasAttr(kRuntimeMaskAttrName) || !seenMask.insert(c).second)
      return;
    ok &= positional(c) && cast<TileType>(c.getType()).getRank() == 2;
    bm.masks.push_back({c, map->getAttrOfType<BoolAttr>(kRuntimeMaskAttrName).getValue()});
  });
  if (!ok || bm.masks.empty())
    return bm;
  // 3. Per head when a mask reads the head id.
  for (auto &[m, skip] : bm.masks) {
    llvm::DenseSet<Value> seen;
    bm.perHead |= dependsOn(m, body.getArgument(1), seen);
  }
  // 4. The ops that only feed the in-kernel bounds: every use (through the ops nesting it) is a
  //    bound operand of a blk.tile_class or another such op. Scanned bottom-up.
  Block *lb = loop.getBody();
  llvm::DenseSet<Operation *> only(classOps.begin(), classOps.end());
  for (Operation &op : llvm::reverse(lb->without_terminator())) {
    if (only.count(&op) || op.getNumResults() == 0)
      continue;
    bool onlyBounds = !llvm::any_of(op.getResultTypes(), [](Type t) { return isa<TileType>(t); });
    for (Value res : op.getResults())
      for (Operation *user : res.getUsers()) {
        Operation *top = lb->findAncestorOpInBlock(*user);
        onlyBounds = onlyBounds && top && only.count(top);
      }
    if (onlyBounds)
      only.insert(&op);
  }
  for (Operation *op : classOps)
    only.erase(op);
  bm.boundOps = std::move(only);
  bm.classOps = std::move(classOps);
  bm.loop = loop;
  bm.present = true;
  return bm;
}

} // namespace tilefuse::codegen
