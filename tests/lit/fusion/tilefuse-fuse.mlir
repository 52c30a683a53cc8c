// The whole pipeline on unfused programs (Inputs/): each rule's own test is the file named
// after its flag; this one checks what they produce together.
//
// RUN: tilefuse-opt %S/Inputs/vanilla_attention.mlir --tilefuse-fuse | FileCheck %s --check-prefix=ATTN
// RUN: tilefuse-opt %S/Inputs/rmsnorm_matmul.mlir --tilefuse-fuse | FileCheck %s --check-prefix=RMS
// RUN: tilefuse-opt %S/Inputs/row_mean_score.mlir --tilefuse-fuse --mlir-print-op-on-diagnostic=false 2>&1 | FileCheck %s --check-prefix=MEAN
// RUN: tilefuse lower %specs/causal.json | tilefuse-opt --tilefuse-fuse="block-n=32" | FileCheck %s --check-prefix=CAUSAL
// RUN: tilefuse-opt %S/Inputs/vanilla_attention.mlir --tilefuse-fuse --mlir-print-ir-after-all 2>&1 | FileCheck %s --check-prefix=STEPS

// FlashAttention-2 (Dao 2023, Algorithm 1), rediscovered from Algorithm 0: one kernel, one loop
// over K/V tiles carrying (m, l, O) in registers; rescale by alpha = exp(m_old - m_new); S and P
// never touch HBM; divide by l once after the loop; write O and LSE.

// ATTN-LABEL: func.func @vanilla_attention
// ATTN-NOT: blk.alloc
// ATTN: blk.kernel @qk_softmax_pv grid
// ATTN: [[Q:%.*]] = blk.load %arg0{{.*}} -> !blk.tile<64x128xbf16, smem>
// ATTN: [[R:%.*]]:3 = scf.for [[C0:%.*]] = %{{.*}} to %{{.*}} step %c64 iter_args([[M:%.*]] = %{{.*}}, [[L:%.*]] = %{{.*}}, [[O:%.*]] = %{{.*}}) -> (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>) {
//        empty tiles (above the causal diagonal, or past Sk) are skipped
// ATTN:   scf.if %{{.*}} -> (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>) {
// ATTN-NEXT: scf.yield [[M]], [[L]], [[O]]
// ATTN-NEXT: } else {
//        full tiles: no mask
// ATTN-NEXT: scf.if %{{.*}} -> (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>) {
// ATTN-NEXT: [[K:%.*]] = blk.load %arg1[%{{.*}}, %{{.*}}, [[C0]], %{{.*}}] {{.*}} -> !blk.tile<64x128xbf16, smem>
// ATTN-NEXT: [[S:%.*]] = blk.matmul [[Q]], [[K]] transpose_b {{.*}} -> !blk.tile<64x64xf32, reg>
// ATTN-NOT: blk.select
// ATTN:      [[RM:%.*]] = blk.reduce max
// ATTN:      [[MN:%.*]] = blk.map([[M]], [[RM]])
// ATTN:        arith.maximumf
// ATTN:      [[ALPHA:%.*]] = blk.map([[M]], [[MN]])
// ATTN:        math.exp
// ATTN:      [[LS:%.*]] = blk.map([[L]], [[ALPHA]])
// ATTN:        arith.mulf
// ATTN:      [[MB:%.*]] = blk.broadcast [[MN]]
// ATTN:      [[P:%.*]] = blk.map(%{{.*}}, [[MB]])
// ATTN:        math.exp
// ATTN:      [[RS:%.*]] = blk.reduce sum [[P]]
// ATTN:      [[LN:%.*]] = blk.map([[LS]], [[RS]])
// ATTN:      [[AB:%.*]] = blk.broadcast [[ALPHA]] : !blk.tile<64xf32, reg> -> !blk.tile<64x128xf32, reg>
// ATTN:      [[OS:%.*]] = blk.map([[O]], [[AB]])
// ATTN:      [[PB:%.*]] = blk.map([[P]])
// ATTN:        arith.truncf
// ATTN:      [[V:%.*]] = blk.load %arg2[%{{.*}}, %{{.*}}, [[C0]], %{{.*}}] {{.*}} -> !blk.tile<64x128xbf16, smem>
// ATTN:      [[ON:%.*]] = blk.matmul [[PB]], [[V]] acc([[OS]] : !blk.tile<64x128xf32, reg>)
// ATTN:      scf.yield [[MN]], [[LN]], [[ON]]
//        partial tiles: the same with the causal and tail masks
// ATTN:   } else {
// ATTN:      blk.select
// ATTN: [[LSE:%.*]] = blk.map([[R]]#0, [[R]]#1)
// ATTN:   math.log
// ATTN: blk.store [[LSE]], %arg4
// ATTN: [[INV:%.*]] = blk.map([[R]]#1) : (!blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg>
// ATTN:   arith.divf
// ATTN: [[LB:%.*]] = blk.broadcast [[INV]] : !blk.tile<64xf32, reg> -> !blk.tile<64x128xf32, reg>
// ATTN: blk.map([[R]]#2, [[LB]])
// ATTN-NEXT: ^bb0
// ATTN-NEXT:   arith.mulf
// ATTN: blk.store %{{.*}}, %arg3
// ATTN-NOT: blk.kernel
// ATTN-NOT: scf.for

// RMSNorm + matmul (Blockbuster): one kernel, one loop carrying the sum of squares and the
// N W accumulator; the rsqrt scaling happens once, on the 32x64 result.

// RMS-LABEL: func.func @rmsnorm_matmul
// RMS-NOT: blk.alloc
// RMS: blk.kernel @rmsnorm_matmul
// RMS: [[R:%.*]]:2 = scf.for {{.*}} -> (!blk.tile<32xf32, reg>, !blk.tile<32x64xf32, reg>) {
// RMS:   blk.reduce sum
// RMS:   blk.read
// RMS:   blk.matmul
// RMS: [[INV:%.*]] = blk.map([[R]]#0)
// RMS:   math.rsqrt
// RMS: [[IB:%.*]] = blk.broadcast [[INV]]
// RMS: [[Y:%.*]] = blk.map([[R]]#1, [[IB]])
// RMS:   arith.mulf
// RMS: blk.store [[Y]]
// RMS-NOT: scf.for

// A score_mod dividing by the row mean of |S|: the mean needs the whole row first. Kernels
// still fuse (S never in HBM) but two passes over K stay, with a warning naming the reason.

// MEAN: warning: tilefuse-online-normalization: the loop stays a separate pass over the same range: it needs the final value of a running sum (not of a running max)
// MEAN-LABEL: func.func @row_mean_score
// MEAN-NOT: blk.alloc
// MEAN: scf.for {{.*}} -> (!blk.tile<64xf32, reg>) {
// MEAN: scf.for {{.*}} -> (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>) {

// The lowering's own output for causal attention (bottom-right aligned when Sq != Sk).

// CAUSAL-LABEL: func.func @causal
// CAUSAL-NOT: blk.alloc
// CAUSAL: scf.for {{.*}} step %c32 {{.*}} -> (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>) {
// CAUSAL: scf.if
// CAUSAL: scf.if
// CAUSAL-NOT: blk.kernel

// Each rule is a step of its own.

// STEPS: IR Dump After FuseKernels (tilefuse-fuse-kernels)
// STEPS: IR Dump After DeferNormalization (tilefuse-defer-normalization)
// STEPS: IR Dump After Tile (tilefuse-tile)
// STEPS: IR Dump After OnlineNormalization (tilefuse-online-normalization)
// STEPS: IR Dump After FuseLoops (tilefuse-fuse-loops)
// STEPS: IR Dump After Place (tilefuse-place)
// STEPS: IR Dump After ClassifyTiles (tilefuse-classify-tiles)
