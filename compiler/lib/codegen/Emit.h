//===- Emit.h - phase 3: write the kernel ------------------------------*- C++ -*-===//
//
// Walks the kernel body once more, in program order, and writes CUDA through Writer using the plan:
//   block-uniform scalar ops      const long long q_row0 = q_tile * 64;
//   blk.load                      block::load_async(q_smem, gv{...}, row0); cp_async_commit();
//   blk.matmul                    for (kk) { warp::load(k_frag, k_smem[stage], 0, 16 * kk);
//                                            warp::mma_ABt(s_acc, warp::subtile_cols<16>(q_frag, kk), k_frag); }
//   blk.reduce (+ its combine)    warp::row_max(m_new, s_acc, m_i);
//   kept element-wise tiles       tfcg::map(s_acc, warp_row0, [&](tfcg::fidx x, int row, int col) {...});
//                                 or warp::mul_row / warp::copy / warp::zero when the map is exactly that
//   blk.store                     warp::store(gv{...}, o_acc, q_row0 + warp_row0, 0);
//   scf.for                       prologue prefetch, for (it) { wait; __syncthreads(); prefetch; body }
//   scf.if                        if (c) { ... } else { ... } with results in variables
//
#pragma once

#include "Plan.h"

#include <string>

namespace tilefuse::codegen {

/// The Params layout of a resolved kernel (KernelAbi.h describes it); with a wgmma plan, led by one TMA
/// tensor map per loaded tensor.
ParamLayout buildParamLayout(const ResolvedKernel &r, const KernelPlan &p);

/// The kernel's CUDA source: the sm80 backend (EmitWalker.h) or, for mma = wgmma, the sm90 backend
/// (EmitSm90.cpp).
std::string emitKernel(const ResolvedKernel &r, const KernelPlan &p, const ParamLayout &params);
std::string emitKernelSm90(const ResolvedKernel &r, const KernelPlan &p, const ParamLayout &params);
/// The block-classification kernel of a plan with a run-time block mask (EmitBlockMask.cpp):
/// `<kernel>_block_mask(Params)`, one block of BlockMaskAbi::kThreads threads per list row.
std::string emitBlockMaskKernel(const ResolvedKernel &r, const KernelPlan &p, const ParamLayout &params);

/// Dynamic shared memory of an sm90 kernel, bytes: 1024 of alignment slack, the plan's tiles, 8 per
/// mbarrier (one per tile loaded once, a full and an empty one per ring slot).
std::size_t sm90DynamicSmemBytes(const KernelPlan &p);

} // namespace tilefuse::codegen
