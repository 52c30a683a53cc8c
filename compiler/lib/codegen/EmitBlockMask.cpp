//===- EmitBlockMask.cpp - the block-classification kernel of a run-time block mask -===//
//
// For a kernel whose K/V loop a run-time block mask drives (BlockMaskPlan), writes a second kernel into
// the same source, `<kernel>_block_mask(Params)`: one block of BlockMaskAbi::kThreads (256) threads per list row (batch, head
// when the mask reads it, Q tile). For each iteration of the attention kernel's K/V loop (the same
// bounds), the threads evaluate the loop's masks at every (row, col) of the BLOCK_M x BLOCK_N tile pair
// with the attention kernel's own element code (captured tables read the same way), then combine:
//
//   full  = every mask true at every position                       (__syncthreads_and)
//   empty = some skippable mask false at every position             (__syncthreads_or, negated)
//
// and thread 0 appends the iteration to the partial or the full list of the row (ascending). This is
// FlexAttention's BlockMask (kv_num_blocks, kv_indices, full_kv_num_blocks, full_kv_indices) computed
// exactly from the mask rather than from interval bounds. Padded rows and columns of tail tiles are
// evaluated like the attention kernel evaluates them (captured tables read 0 outside their extents):
// they can only make a tile partial where it might have been empty or full, never the reverse.
//
#include "EmitWalker.h"

namespace tilefuse::codegen {

namespace {

using namespace detail;

class BlockMaskEmitter : public Emitter {
public:
  using Emitter::Emitter;

  std::string run() override {
    const BlockMaskPlan &b = p.blockMask;
    const LoopPlan &lp = *p.loopPlan(b.loop);
    const std::string bn = str(lp.step), bmRows = str(p.schedule.blockM);
    w.comment("Block classification of the run-time block mask (KernelAbi.h: BlockMaskAbi): grid (x = ceil(Sq / " +
              bmRows + "), y = " + (b.perHead ? "Hq" : "1") + ", z = B), " + str(BlockMaskAbi::kThreads) +
              " threads. Per K/V tile of the loop: empty (skipped), partial (listed in kv_indices, run with the "
              "mask) or full (listed in full_kv_indices, run without it).");
    w.open("extern \"C\" __global__ void __launch_bounds__(" + str(BlockMaskAbi::kThreads) + ") " +
           BlockMaskAbi{}.kernelName(r.kernelName) + "(const " + r.kernelName + "_abi::Params p)");
    prologue();
    // This kernel's names (row, col, x and it, which the element code reads, are reserved words of ScalarExprs).
    const std::string listRow = sx.fresh("list_row"), kvTiles = sx.fresh("kv_tiles"), base = sx.fresh("list_base"),
                      nPartial = sx.fresh("n_partial"), nFull = sx.fresh("n_full"), e = sx.fresh("e");
    // The kernel body's scalars above the loop (tile offsets, sizes), as the attention kernel has them.
    for (Operation &op : r.kernel.getBodyBlock()) {
      if (&op == b.loop.getOperation())
        break;
      if (isScalarOp(&op) && llvm::all_of(op.getOperands(), [&](Value v) { return available(v); }))
        sx.define(&op, w);
    }
    const auto [begin, n] = loopBounds(lp, /*withBlockMask=*/false);
    Block &body = r.kernel.getBodyBlock();
    w.line("const long long " + listRow + " = (" + sx.ref(body.getArgument(0)) + " * " +
           (b.perHead ? "p.Hq + " + sx.ref(body.getArgument(1)) : std::string("1")) + ") * gridDim.x + " +
           sx.ref(body.getArgument(2)) + ";");
    w.line("const int " + kvTiles + " = static_cast<int>((p.Sk + " + bn + " - 1) / " + bn + ");");
    w.line("const long long " + base + " = " + listRow + " * " + kvTiles + ";");
    w.open("if (" + n + " > " + kvTiles + ")");
    w.comment("The loop visits more tiles than a list row holds: no lists for this row (the attention "
              "kernel visits every tile).");
    w.open("if (threadIdx.x == 0)");
    w.line("p.kv_num_blocks[" + listRow + "] = -1;");
    w.line("p.full_kv_num_blocks[" + listRow + "] = 0;");
    w.close();
    w.line("return;");
    w.close();
    w.line("int " + nPartial + " = 0, " + nFull + " = 0; // thread 0's list lengths");
    w.open("for (int it = 0; it < " + n + "; ++it)");
    const std::string iv = sx.fresh(r.scalarNames.lookup(b.loop.getInductionVar()));
    w.line("const long long " + iv + " = " + begin + " + it * " + bn + ";");
    sx.bind(b.loop.getInductionVar(), iv);
    subst[b.loop.getInductionVar()] = iv;
    for (auto &[m, skip] : b.masks)
      bindLoopValues(m);
    const size_t k = b.masks.size();
    for (size_t i = 0; i < k; ++i)
      w.line("bool some_true" + str(i) + " = false, all_true" + str(i) + " = true; // mask " + str(i) + ": " +
             where(b.masks[i].first.getDefiningOp()));
    w.open("for (int " + e + " = threadIdx.x; " + e + " < " + bmRows + " * " + bn + "; " + e + " += " +
           str(BlockMaskAbi::kThreads) + ")");
    w.line("const int row = " + e + " / " + bn + ", col = " + e + " % " + bn + ";");
    w.line("const tfcg::element_pos x{col};");
    w.line("(void)row, (void)col, (void)x; // the masks may read only some of them");
    ElementCode ec(r, p, sx);
    std::vector<std::string> exprs;
    for (auto &[m, skip] : b.masks)
      exprs.push_back(elem(ec, m));
    std::string read; // what the lambda returns: the positions these read are declared
    for (const std::string &x : exprs)
      read += x + "\n";
    w.append(ec.lambdaBody(read));
    for (size_t i = 0; i < k; ++i) {
      w.line("const bool m" + str(i) + " = " + exprs[i] + ";");
      w.line("some_true" + str(i) + " |= m" + str(i) + ";");
      w.line("all_true" + str(i) + " &= m" + str(i) + ";");
    }
    w.close();
    std::string all = "all_true0", empty;
    for (size_t i = 1; i < k; ++i)
      all += " && all_true" + str(i);
    w.line("const bool full = __syncthreads_and(" + all + ");");
    for (size_t i = 0; i < k; ++i) {
      if (!b.masks[i].second) // an all-false mask that changes the carried values: not a reason to skip
        continue;
      w.line("const bool none" + str(i) + " = !__syncthreads_or(some_true" + str(i) + ");");
      empty += (empty.empty() ? "" : " || ") + std::string("none") + str(i);
    }
    w.open("if (threadIdx.x == 0" + (empty.empty() ? std::string() : " && !(" + empty + ")") + ")");
    w.open("if (full)");
    w.line("p.full_kv_indices[" + base + " + " + nFull + "++] = it;");
    w.orElse();
    w.line("p.kv_indices[" + base + " + " + nPartial + "++] = it;");
    w.close();
    w.close();
    w.close();
    w.open("if (threadIdx.x == 0)");
    w.line("p.kv_num_blocks[" + listRow + "] = " + nPartial + ";");
    w.line("p.full_kv_num_blocks[" + listRow + "] = " + nFull + ";");
    w.close();
    w.close();
    return w.str();
  }

private:
  void declareSmem() override {}
  void declareWarpRow() override {}

  /// q_tile, head, batch from the grid (x, y, z); head 0 when the lists are not per head.
  void programIds() override {
    Block &body = r.kernel.getBodyBlock();
    const char *axes[] = {"blockIdx.z", "blockIdx.y", "blockIdx.x"};
    for (unsigned k = 0; k < 3; ++k) {
      const std::string name = sx.fresh(r.scalarNames.lookup(body.getArgument(k)));
      const std::string value = k == 1 && !p.blockMask.perHead ? std::string("0") : axes[k];
      w.line("const long long " + name + " = " + value + ";");
      sx.bind(body.getArgument(k), name);
    }
  }

  bool available(Value v) {
    return sx.isBound(v) || v.getDefiningOp<arith::ConstantOp>() || isa<HbmTensorType>(v.getType());
  }

  /// A scalar of the loop body (or above it) as C: recomputed from the induction variable.
  std::string scalar(Value v) {
    std::optional<std::string> e = sx.expand(v, p.blockMask.loop.getRegion(), subst);
    if (!e)
      fail(p.blockMask.loop, "internal: a mask of the run-time block mask reads a value the classification "
                             "kernel cannot recompute");
    return *e;
  }

  /// Binds the values of the loop body that the regions of `mask`'s maps read from above.
  void bindLoopValues(Value tile) {
    Operation *def = tile.getDefiningOp();
    auto bindScalar = [&](Value v) {
      if (!sx.isBound(v) && !v.getDefiningOp<arith::ConstantOp>())
        sx.bind(v, paren(scalar(v)));
    };
    if (auto bc = dyn_cast<BroadcastOp>(def))
      return bindLoopValues(bc.getInput());
    if (auto iota = dyn_cast<IotaOp>(def))
      return bindScalar(iota.getOffset()); // ElementCode reads it by name (positions as f32)
    if (auto fill = dyn_cast<FillOp>(def))
      return bindScalar(fill.getValue());
    auto map = dyn_cast<MapOp>(def);
    if (!map)
      return;
    for (Value in : map.getInputs())
      bindLoopValues(in);
    map.getBody().walk([&](Operation *op) {
      for (Value v : op->getOperands()) {
        Region *owner = v.getDefiningOp() ? v.getDefiningOp()->getParentRegion()
                                          : cast<BlockArgument>(v).getOwner()->getParent();
        if (!map.getBody().isAncestor(owner) && p.blockMask.loop.getRegion().isAncestor(owner) && !sx.isBound(v))
          sx.bind(v, paren(scalar(v)));
      }
    });
  }

  /// The element of an index-only tile at (row, col): iota, fill, broadcast, map (its region).
  std::string elem(ElementCode &ec, Value tile) {
    Operation *def = tile.getDefiningOp();
    const std::string ct = cTypeOf(cast<TileType>(tile.getType()).getElementType(), def);
    if (auto iota = dyn_cast<IotaOp>(def)) {
      std::string e = "(" + scalar(iota.getOffset()) + (iota.getDim() == IotaDim::row ? " + row)" : " + col)");
      return ct == "long long" ? e : "((" + ct + ")" + e + ")";
    }
    if (auto fill = dyn_cast<FillOp>(def))
      return paren(scalar(fill.getValue()));
    if (auto bc = dyn_cast<BroadcastOp>(def))
      return elem(ec, bc.getInput());
    auto map = cast<MapOp>(def);
    std::vector<std::string> args;
    for (auto [i, in] : llvm::enumerate(map.getInputs()))
      args.push_back(map.getBody().front().getArgument(i).use_empty() ? std::string("0") : elem(ec, in));
    return ec.region(map, args, Value(), /*foldTrunc=*/false);
  }

  llvm::DenseMap<Value, std::string> subst;
};

} // namespace

std::string emitBlockMaskKernel(const ResolvedKernel &r, const KernelPlan &p, const ParamLayout &params) {
  return BlockMaskEmitter(r, p, params).run();
}

} // namespace tilefuse::codegen
