//===- Emit.cpp - phase 3: write the kernel ---------------------------------===//
#include "Emit.h"

#include "EmitWalker.h"

using namespace mlir;
using namespace tilefuse::blk;

namespace tilefuse::codegen {

// ---------------------------------------------------------------------------------------------------
// Params

ParamLayout buildParamLayout(const ResolvedKernel &r, const KernelPlan &p) {
  ParamLayout layout;
  layout.packed = r.packed;

  for (const TensorInfo &t : r.tensors) {
    TensorAbi abi;
    abi.arg = t.sig;
    abi.rank = static_cast<int>(t.type.getRank());
    Type e = t.type.getElementType();
    abi.elementType = e.isBF16() ? "bf16" : e.isF16() ? "f16" : e.isF32() ? "f32" : e.isInteger(32) ? "i32"
                      : e.isInteger(64) ? "i64" : "?";
    abi.elementBytes = static_cast<int>((e.getIntOrFloatBitWidth() + 7) / 8);
    for (int d = 0; d < abi.rank; ++d)
      abi.dimNames.push_back(t.type.getDimName(d));
    abi.written = t.stored;
    // cp.async and TMA copies move 16-byte chunks; so does the TMA store of a staged store (Plan.h).
    abi.needs16ByteRows = t.loaded || (p.staged && &r.tensorOf(p.staged->op.getDest()) == &t);
    layout.tensors.push_back(abi);
  }
  // sm90: a TMA tensor map (128 bytes, 64-byte aligned) per loaded tensor and per staged store's tensor, first.
  std::size_t mapBytes = 0;
  if (p.schedule.mma == MmaFamily::Wgmma)
    for (size_t i = 0; i < r.tensors.size(); ++i) {
      int rows = 0;
      for (const SmemBuffer &b : p.smem)
        if (&r.tensorOf(b.loads.front().getSource()) == &r.tensors[i]) {
          if (rows && rows != b.rows)
            fail(b.loads.front(), "the sm90 backend loads each tensor with one tile shape (one TMA box); " +
                                      r.tensors[i].sig.name + " is loaded with " + std::to_string(rows) + " and " +
                                      std::to_string(b.rows) + " rows");
          rows = static_cast<int>(b.rows);
        }
      if (p.staged && &r.tensorOf(p.staged->op.getDest()) == &r.tensors[i]) {
        if (rows)
          fail(p.staged->op, "the sm90 backend loads and stores each tensor with one TMA box; " +
                                 r.tensors[i].sig.name + " is both loaded and stored through shared memory");
        rows = 64; // one consumer warpgroup's rows
      }
      if (!rows)
        continue;
      ParamField f{r.tensors[i].sig.name + "_tma", ParamSource::TensorMap, static_cast<int>(i), -1, ""};
      f.offset = mapBytes;
      f.boxRows = rows;
      f.boxCols = 128 / layout.tensors[i].elementBytes;
      layout.fields.push_back(f);
      mapBytes += 128;
    }
  auto add = [&](ParamField f) {
    f.offset = mapBytes + 8 * (layout.fields.size() - mapBytes / 128);
    layout.fields.push_back(std::move(f));
  };
  for (size_t i = 0; i < r.tensors.size(); ++i)
    add({r.tensors[i].sig.name, ParamSource::TensorPointer, static_cast<int>(i), -1, ""});
  for (size_t i = 0; i < r.tensors.size(); ++i)
    for (int d = 0; d + 1 < layout.tensors[i].rank; ++d)
      add({r.tensors[i].sig.name + "_stride[" + std::to_string(d) + "]", ParamSource::TensorStride,
           static_cast<int>(i), d, ""});
  for (size_t i = 0; i < r.tensors.size(); ++i)
    if (r.tensors[i].sig.role == TensorRole::Capture)
      for (int d = 0; d < layout.tensors[i].rank; ++d)
        add({r.tensors[i].sig.name + "_extent[" + std::to_string(d) + "]", ParamSource::TensorExtent,
             static_cast<int>(i), d, ""});
  for (const std::string &s : r.sizes)
    add({identifier(s), ParamSource::Size, -1, -1, s});
  if (r.packed) {
    add({"cu_seqlens_q", ParamSource::SeqStarts, -1, 0, ""});
    add({"cu_seqlens_k", ParamSource::SeqStarts, -1, 1, ""});
  }
  if (p.blockMask.present) {
    layout.blockMask.present = true;
    layout.blockMask.blockM = static_cast<int>(p.schedule.blockM);
    layout.blockMask.blockN = static_cast<int>(p.schedule.blockN);
    layout.blockMask.perHead = p.blockMask.perHead;
    for (int list = 0; list < 4; ++list)
      add({std::string(BlockMaskAbi::listName(list)), ParamSource::BlockMask, -1, list, ""});
  }
  if (p.schedule.dynamicTiles())
    add({"tile_counter", ParamSource::TileCounter, -1, -1, ""});
  layout.bytes = mapBytes + 8 * (layout.fields.size() - mapBytes / 128);
  if (mapBytes)
    layout.bytes = (layout.bytes + 63) / 64 * 64; // sizeof(Params) with its 64-byte aligned members
  return layout;
}


std::string emitKernel(const ResolvedKernel &r, const KernelPlan &p, const ParamLayout &params) {
  std::string source = p.schedule.mma == MmaFamily::Wgmma ? emitKernelSm90(r, p, params)
                                                          : detail::Emitter(r, p, params).run();
  if (p.blockMask.present)
    source += "\n" + emitBlockMaskKernel(r, p, params);
  return source;
}

} // namespace tilefuse::codegen
