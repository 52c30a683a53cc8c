// A map over a tile with two `?` dims (weights scaled in the kernel before a matmul whose result and
// contraction dims are both `?`): no rule slices it, so the matmul stays on `?` tiles. The rules still fuse the
// chain into one kernel without HBM scratch; the tiling pass warns, naming the op and the missing rule, and
// driver::runFusion counts the ops left on `?` tiles (FusionOutcome::untiled), so the program is not called
// fully fused (tests/unit/driver).
// RUN: tilefuse-opt %S/Inputs/rmsnorm_matmul_scaled_w.mlir --tilefuse-fuse 2>&1 | FileCheck %s

// CHECK: warning: tilefuse-tile: cannot tile 'blk.store': a tile with two `?` dims
// CHECK: blk.kernel @rmsnorm_matmul grid
// CHECK: blk.matmul {{.*}} !blk.tile<?x?xbf16, reg> -> !blk.tile<32x?xf32, reg>
// CHECK-NOT: blk.kernel
// CHECK-NOT: blk.alloc
