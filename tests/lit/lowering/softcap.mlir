// RUN: tilefuse lower %specs/softcap.json | FileCheck %s
// RUN: tilefuse lower %specs/softcap.json | tilefuse-opt | FileCheck %s

// CHECK-LABEL: func.func @softcap(

// CHECK: blk.alloc({{.*}}) : !blk.tensor<[B, Hq, Sq, Sk], f32>
// CHECK: blk.kernel @qk grid(
// CHECK: blk.matmul {{.*}} transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x?xf32, reg>
// CHECK: blk.store {{.*}} : !blk.tile<64x?xf32, reg>, !blk.tensor<[B, Hq, Sq, Sk], f32>
// CHECK: blk.kernel @softmax grid(
// CHECK: blk.load {{.*}} : !blk.tensor<[B, Hq, Sq, Sk], f32> -> !blk.tile<64x?xf32, reg>
// CHECK: arith.divf
// CHECK: math.tanh
// CHECK-NOT: blk.select
// CHECK: blk.reduce max
// CHECK: math.exp
// CHECK: blk.reduce sum
// CHECK: arith.divf
// CHECK: blk.store {{.*}} : !blk.tile<64x?xbf16, reg>, !blk.tensor<[B, Hq, Sq, Sk], bf16>
// CHECK: blk.kernel @pv grid(
// CHECK: blk.matmul {{.*}} : !blk.tile<64x?xbf16, reg>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
// CHECK: blk.store {{.*}} : !blk.tile<64x128xbf16, reg>, !blk.tensor<[B, Hq, Sq, 128], bf16>
