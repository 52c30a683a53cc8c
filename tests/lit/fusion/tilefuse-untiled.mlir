// A matmul whose result and contraction dims are both `?` (RMSNorm + matmul with a run-time output width F):
// the rules fuse the chain into one kernel without HBM scratch, but no tiling rule cuts the matmul, and the
// tiling pass says so, naming the op and the missing rule. driver::runFusion counts those ops
// (FusionOutcome::untiled) and does not call the program fully fused (tests/unit/driver).
// RUN: tilefuse-opt %S/Inputs/rmsnorm_matmul_dynamic_f.mlir --tilefuse-fuse 2>&1 | FileCheck %s

// CHECK: warning: tilefuse-tile: cannot tile 'blk.store': a matmul whose result and contraction dims are both `?`
// CHECK: blk.kernel @rmsnorm_matmul grid
// CHECK: blk.matmul {{.*}} !blk.tile<?x?xbf16, smem> -> !blk.tile<32x?xf32, reg>
// CHECK-NOT: blk.kernel
// CHECK-NOT: blk.alloc
