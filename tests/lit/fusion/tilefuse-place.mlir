// RUN: tilefuse-opt %s --tilefuse-place="q-in=reg" -split-input-file | FileCheck %s --check-prefixes=CHECK,REG
// RUN: tilefuse-opt %s --tilefuse-place -split-input-file | FileCheck %s --check-prefixes=CHECK,SMEM
// RUN: tilefuse-opt %s --tilefuse-place -split-input-file --verify-diagnostics > /dev/null

// Q is loaded once and used by the matmul of every iteration: it goes where q-in says. K is
// only a matmul operand: SMEM, even if the program loaded it into registers.

// CHECK-LABEL: func.func @q_and_k
// REG: [[Q:%.*]] = blk.load %{{.*}} : !blk.tensor<[S, 64], bf16> -> !blk.tile<16x64xbf16, reg>
// SMEM: [[Q:%.*]] = blk.load %{{.*}} : !blk.tensor<[S, 64], bf16> -> !blk.tile<16x64xbf16, smem>
// CHECK: scf.for
// CHECK:   [[K:%.*]] = blk.load %{{.*}} : !blk.tensor<[S, 64], bf16> -> !blk.tile<32x64xbf16, smem>
// CHECK:   blk.matmul [[Q]], [[K]] transpose_b
func.func @q_and_k(%Q: !blk.tensor<[S, 64], bf16>, %K: !blk.tensor<[S, 64], bf16>, %r0: index)
    -> !blk.tile<16x32xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %n = blk.dim %K[0] : !blk.tensor<[S, 64], bf16>
  %init = blk.fill %zero : f32 -> !blk.tile<16x32xf32, reg>
  %q = blk.load %Q[%r0, %c0] : !blk.tensor<[S, 64], bf16> -> !blk.tile<16x64xbf16, smem>
  %r = scf.for %j = %c0 to %n step %c32 iter_args(%acc = %init) -> (!blk.tile<16x32xf32, reg>) {
    %k = blk.load %K[%j, %c0] : !blk.tensor<[S, 64], bf16> -> !blk.tile<32x64xbf16, reg>
    %s = blk.matmul %q, %k transpose_b : !blk.tile<16x64xbf16, smem>, !blk.tile<32x64xbf16, reg> -> !blk.tile<16x32xf32, reg>
    scf.yield %s : !blk.tile<16x32xf32, reg>
  }
  return %r : !blk.tile<16x32xf32, reg>
}

// -----

// A tile staged in SMEM only to be copied into registers is loaded into registers.

// CHECK-LABEL: func.func @load_then_copy
// CHECK: [[X:%.*]] = blk.load %{{.*}} -> !blk.tile<16x32xf32, reg>
// CHECK-NOT: blk.copy
// CHECK: blk.reduce max [[X]]
func.func @load_then_copy(%X: !blk.tensor<[S, 32], f32>, %r0: index) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %x = blk.load %X[%r0, %c0] : !blk.tensor<[S, 32], f32> -> !blk.tile<16x32xf32, smem>
  %xr = blk.copy %x : !blk.tile<16x32xf32, smem> -> !blk.tile<16x32xf32, reg>
  %m = blk.reduce max %xr : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
  return %m : !blk.tile<16xf32, reg>
}

// -----

// A scratch tensor left in HBM is reported.

// CHECK-LABEL: func.func @round_trip_left
// CHECK: blk.alloc
func.func @round_trip_left(%S: index) {
  // expected-warning @+1 {{tilefuse-place: HBM round trip left: a scratch tensor}}
  %t = blk.alloc(%S) : !blk.tensor<[S, 32], f32>
  return
}
