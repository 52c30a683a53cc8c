// --dump=resolve and --dump=plan: the phases of code generation, printable for debugging.
// RUN: tilefuse-codegen %S/Inputs/gqa.mlir --dump=resolve | FileCheck %s --check-prefix=RESOLVE
// RUN: tilefuse-codegen %S/Inputs/gqa.mlir --dump=plan --kv-stages=3 | FileCheck %s --check-prefix=PLAN
// RUN: tilefuse-codegen %S/Inputs/mha_d64_fp16.mlir --dump=plan --q=smem | FileCheck %s --check-prefix=D64

// RESOLVE-LABEL: resolve: @gqa -> kernel tilefuse_gqa (blk.kernel @gqa_fa2)
// RESOLVE: grid: x = ceil(Sq / 64), y = Hq, z = B
// RESOLVE: arg1 K (K) !blk.tensor<[B, Hkv, Sk, 128], bf16> loaded
// RESOLVE: arg4 LSE (LSE) !blk.tensor<[B, Hq, Sq], f32> stored
// RESOLVE: scf.for at {{.*}}gqa.mlir:{{[0-9]+}}:{{[0-9]+}}, step 64, 3 carried values
// RESOLVE: q_smem = blk.load : !blk.tile<64x128xbf16, smem>  [smem]
// RESOLVE: o_acc = (carried by scf.for) : !blk.tile<64x128xf32, reg>  [fragment]
// RESOLVE: s_acc = blk.matmul : !blk.tile<64x64xf32, reg>  [fragment]
// RESOLVE: kv_idx = blk.iota : !blk.tile<64x64xi64, reg>  [inline]
// RESOLVE: alpha = blk.map : !blk.tile<64xf32, reg>  [row-vector]
// RESOLVE: p_frag = blk.map : !blk.tile<64x64xbf16, reg>  [fragment]

// PLAN-LABEL: plan: BLOCK_M=64 BLOCK_N=64 warps=4 kv_stages=3 mma=mma_sync_m16n8k16 q=registers min_blocks_per_sm=1 q_tile_order=descending
// PLAN: shared memory: 114688 bytes
// PLAN: +0 q_smem : st<__nv_bfloat16, 64, 128>, 16384 bytes, swizzle chunk ^ (row % 8) (16-byte chunks), loaded once
// PLAN: +16384 k_smem[3] : st<__nv_bfloat16, 64, 128>, 16384 bytes per stage
// PLAN: +65536 v_smem[3]
// PLAN: step 64, 3 stages (prefetch iteration it + 2)
// PLAN: o_acc : rt<f32, 16, 128>
// PLAN: fused: blk.reduce max
// PLAN: kept in registers for the loop: q_smem -> q_frag
// PLAN: Params: 192 bytes
// PLAN: +184 Sk

// D64: plan: BLOCK_M=128 BLOCK_N=64 warps=8 kv_stages=2 mma=mma_sync_m16n8k16 q=smem
// D64: +0 q_smem : st<__half, 128, 64>
// D64-NOT: kept in registers for the loop
