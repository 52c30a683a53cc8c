//===- CodeGen.cpp - resolve -> plan -> emit ---------------------------------===//
#include "tilefuse/codegen/CodeGen.h"

#include "Emit.h"
#include "Plan.h"
#include "Prepare.h"
#include "Resolve.h"

#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace tilefuse::codegen {

GeneratedKernel generateKernel(func::FuncOp fused, const Schedule &schedule, const KernelSignature &signature) {
  // 0. prepare: a copy of the program with the rewrites that spare registers (Prepare.h).
  OwningOpRef<func::FuncOp> prepared = prepare(fused, schedule.mma == MmaFamily::Wgmma, schedule.lazyRescale);
  // 1. resolve: the kernel, its loops and tensors; every tile value classified and named.
  const ResolvedKernel r = resolve(*prepared, signature);
  // 2. plan: shared memory, the cp.async pipeline, register storage (validates the schedule).
  const KernelPlan p = plan(r, schedule);
  // 3. emit: walk the ops again and write CUDA.
  GeneratedKernel k;
  k.params = buildParamLayout(r, p);
  k.source = emitKernel(r, p, k.params);
  k.kernelName = r.kernelName;
  k.threadsPerBlock = schedule.threadsPerBlock();
  k.dynamicSmemBytes = schedule.mma == MmaFamily::Wgmma ? sm90DynamicSmemBytes(p) : p.smemBytes;
  k.grid = r.grid;
  k.grid.persistent = schedule.persistent;
  k.grid.cluster = schedule.cluster;
  k.grid.packedTiles = r.packed && !schedule.persistent; // a persistent packed kernel walks (x, y, z) itself
  k.schedule = schedule;
  return k;
}

std::string dumpPrepare(func::FuncOp fused) {
  OwningOpRef<func::FuncOp> prepared = prepare(fused);
  std::string text;
  llvm::raw_string_ostream os(text);
  prepared->print(os);
  os << "\n";
  return text;
}

std::string dumpResolve(func::FuncOp fused, const KernelSignature &signature) {
  OwningOpRef<func::FuncOp> prepared = prepare(fused);
  return resolve(*prepared, signature).toString();
}

std::string dumpPlan(func::FuncOp fused, const Schedule &schedule, const KernelSignature &signature) {
  OwningOpRef<func::FuncOp> prepared = prepare(fused, schedule.mma == MmaFamily::Wgmma, schedule.lazyRescale);
  const ResolvedKernel r = resolve(*prepared, signature);
  const KernelPlan p = plan(r, schedule);
  return p.toString() + buildParamLayout(r, p).toString();
}

Schedule matchProgram(func::FuncOp fused, Schedule base) {
  OwningOpRef<func::FuncOp> prepared = prepare(fused);
  const ResolvedKernel r = resolve(*prepared, inferSignature(fused));
  base.blockM = static_cast<int>(r.blockM);
  if (!r.loops.empty())
    base.blockN = static_cast<int>(*getConstantIntValue(r.loops.front().getStep()));
  if (base.mma == MmaFamily::Wgmma)
    base.warps = base.blockM / 16; // the consumer warps
  while (base.warps > 1 && base.blockM % (16 * base.warps) != 0)
    base.warps /= 2;
  return base;
}

KernelSignature inferSignature(func::FuncOp fused) {
  const unsigned n = fused.getNumArguments();
  // Attention programs take Q [B, Hq, Sq, D] first (Lowering.h); anything else has operands only.
  auto first = n ? dyn_cast<tilefuse::blk::HbmTensorType>(fused.getArgument(0).getType()) : nullptr;
  bool attention = false;
  for (unsigned d = 0; first && d < first.getRank(); ++d)
    attention |= first.isDynamicDim(d) && first.getDimName(d) == "Sq";
  if (!attention) {
    std::vector<std::string> names;
    for (unsigned i = 0; i < n; ++i) {
      auto name = fused.getArgAttrOfType<StringAttr>(i, "blk.name");
      names.push_back(name ? name.str() : "arg" + std::to_string(i));
    }
    return KernelSignature::operands(names);
  }
  if (n < 4)
    fail(fused, "a fused attention function takes at least Q, K, V, O; @" + fused.getSymName().str() + " takes " +
                    std::to_string(n) + " arguments");
  bool lse = false;
  if (n > 4) {
    auto t = dyn_cast<tilefuse::blk::HbmTensorType>(fused.getArgument(4).getType());
    lse = t && t.getRank() == 3 && t.getElementType().isF32() && t.getDimName(0) == "B" && t.getDimName(1) == "Hq" &&
          t.getDimName(2) == "Sq" && !fused.getArgAttr(4, "blk.name");
  }
  std::vector<std::string> captures;
  for (unsigned i = lse ? 5 : 4; i < n; ++i) {
    auto name = fused.getArgAttrOfType<StringAttr>(i, "blk.name");
    captures.push_back(name ? name.str() : "capture" + std::to_string(captures.size()));
  }
  return KernelSignature::standard(lse, captures);
}

} // namespace tilefuse::codegen
