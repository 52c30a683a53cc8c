// Nested tiling: a matmul whose result and contraction dims are both `?` (RMSNorm + matmul with a run-time
// output width F, an FFN's shape). The store of Y[:, F?] becomes a loop over F chunks; in each chunk the
// matmul keeps a `?` contraction over D, which becomes the inner loop, with W's [D?, F?] load cut along both
// dims. The sum of squares keeps its own loop over D. No `?` tile and no warning remain. The fp64
// interpreter checks it against the unfused program (tests/unit/fusion/FuseProgramsTest.cpp).
// RUN: tilefuse-opt %S/Inputs/rmsnorm_matmul_dynamic_f.mlir --tilefuse-fuse 2>&1 | FileCheck %s

// CHECK-NOT: warning
// CHECK: blk.kernel @rmsnorm_matmul grid
// CHECK: scf.for {{.*}} step %c64 iter_args({{.*}}) -> (!blk.tile<32xf32, reg>)
// CHECK: %[[F:.*]] = blk.dim %arg2[1] : !blk.tensor<[D, F], bf16>
// CHECK: scf.for %[[N:.*]] = %c0 to %[[F]] step %c64 {
// CHECK: scf.for {{.*}} step %c64 iter_args({{.*}}) -> (!blk.tile<32x64xf32, reg>)
// CHECK: blk.load %arg2[{{.*}}, %[[N]]] : !blk.tensor<[D, F], bf16> -> !blk.tile<64x64xbf16, smem>
// CHECK: blk.matmul {{.*}} : !blk.tile<32x64xbf16, reg>, !blk.tile<64x64xbf16, smem> -> !blk.tile<32x64xf32, reg>
// CHECK: blk.store {{.*}}, %arg3[{{.*}}, %[[N]]] : !blk.tile<32x64xf32, reg>, !blk.tensor<[T, F], f32>
// CHECK-NOT: ?x
// CHECK-NOT: x?
