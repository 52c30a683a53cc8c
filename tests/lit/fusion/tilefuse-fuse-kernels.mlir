// RUN: tilefuse-opt %s --tilefuse-fuse-kernels -split-input-file | FileCheck %s
// RUN: tilefuse-opt %s --tilefuse-fuse-kernels -split-input-file --verify-diagnostics > /dev/null

// S = Q K^T goes through HBM from @qk to @rowmax: the kernels merge, the load of S becomes the
// matmul's value, the store and the scratch tensor die.

// CHECK-LABEL: func.func @producer_consumer
// CHECK-NOT: blk.alloc
// CHECK: blk.kernel @qk_rowmax grid
// CHECK: [[S:%.*]] = blk.matmul
// CHECK-NOT: blk.store
// CHECK-NOT: blk.load {{.*}}!blk.tensor<[B, Sq, Sk], f32>
// CHECK: [[M:%.*]] = blk.reduce max [[S]]
// CHECK: blk.store [[M]]
// CHECK-NOT: blk.kernel
func.func @producer_consumer(%Q: !blk.tensor<[B, Sq, 64], f32>, %K: !blk.tensor<[B, Sk, 64], f32>,
                             %M: !blk.tensor<[B, Sq], f32>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %B = blk.dim %Q[0] : !blk.tensor<[B, Sq, 64], f32>
  %Sq = blk.dim %Q[1] : !blk.tensor<[B, Sq, 64], f32>
  %Sk = blk.dim %K[1] : !blk.tensor<[B, Sk, 64], f32>
  %n = arith.ceildivui %Sq, %c32 : index
  %S = blk.alloc(%B, %Sq, %Sk) : !blk.tensor<[B, Sq, Sk], f32>
  blk.kernel @qk grid(%B, %n) {
  ^bb0(%b: index, %t: index):
    %r0 = arith.muli %t, %c32 : index
    %q = blk.load %Q[%b, %r0, %c0] : !blk.tensor<[B, Sq, 64], f32> -> !blk.tile<32x64xf32, smem>
    %k = blk.load %K[%b, %c0, %c0] : !blk.tensor<[B, Sk, 64], f32> -> !blk.tile<?x64xf32, smem>
    %s = blk.matmul %q, %k transpose_b : !blk.tile<32x64xf32, smem>, !blk.tile<?x64xf32, smem> -> !blk.tile<32x?xf32, reg>
    blk.store %s, %S[%b, %r0, %c0] : !blk.tile<32x?xf32, reg>, !blk.tensor<[B, Sq, Sk], f32>
  }
  blk.kernel @rowmax grid(%B, %n) {
  ^bb0(%b: index, %t: index):
    %r0 = arith.muli %t, %c32 : index
    %s = blk.load %S[%b, %r0, %c0] : !blk.tensor<[B, Sq, Sk], f32> -> !blk.tile<32x?xf32, reg>
    %m = blk.reduce max %s : !blk.tile<32x?xf32, reg> -> !blk.tile<32xf32, reg>
    blk.store %m, %M[%b, %r0] : !blk.tile<32xf32, reg>, !blk.tensor<[B, Sq], f32>
  }
  return
}

// -----

// P is stored from registers and loaded into SMEM, then copied back: the forwarded value needs
// no copy at all (copy(copy(x)) = x).

// CHECK-LABEL: func.func @copy_round_trip
// CHECK: [[P:%.*]] = blk.map
// CHECK-NOT: blk.copy
// CHECK: blk.matmul [[P]], %{{.*}} : !blk.tile<32x?xf32, reg>, !blk.tile<?x64xf32, smem>
func.func @copy_round_trip(%X: !blk.tensor<[Sq, Sk], f32>, %V: !blk.tensor<[Sk, 64], f32>,
                           %O: !blk.tensor<[Sq, 64], f32>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %Sq = blk.dim %X[0] : !blk.tensor<[Sq, Sk], f32>
  %Sk = blk.dim %X[1] : !blk.tensor<[Sq, Sk], f32>
  %n = arith.ceildivui %Sq, %c32 : index
  %P = blk.alloc(%Sq, %Sk) : !blk.tensor<[Sq, Sk], f32>
  blk.kernel @p grid(%n) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c32 : index
    %x = blk.load %X[%r0, %c0] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<32x?xf32, reg>
    %p = blk.map(%x) : (!blk.tile<32x?xf32, reg>) -> !blk.tile<32x?xf32, reg> {
    ^bb0(%v: f32):
      %e = math.exp %v : f32
      blk.yield %e : f32
    }
    blk.store %p, %P[%r0, %c0] : !blk.tile<32x?xf32, reg>, !blk.tensor<[Sq, Sk], f32>
  }
  blk.kernel @pv grid(%n) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c32 : index
    %p = blk.load %P[%r0, %c0] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<32x?xf32, smem>
    %pr = blk.copy %p : !blk.tile<32x?xf32, smem> -> !blk.tile<32x?xf32, reg>
    %v = blk.load %V[%c0, %c0] : !blk.tensor<[Sk, 64], f32> -> !blk.tile<?x64xf32, smem>
    %o = blk.matmul %pr, %v : !blk.tile<32x?xf32, reg>, !blk.tile<?x64xf32, smem> -> !blk.tile<32x64xf32, reg>
    blk.store %o, %O[%r0, %c0] : !blk.tile<32x64xf32, reg>, !blk.tensor<[Sq, 64], f32>
  }
  return
}

// -----

// The consumer reads the next row block, which another instance writes: the kernels stay
// apart, with a warning.

// CHECK-LABEL: func.func @other_instance
// CHECK: blk.alloc
// CHECK: blk.kernel @produce
// CHECK: blk.kernel @consume
func.func @other_instance(%X: !blk.tensor<[S, 16], f32>, %Y: !blk.tensor<[S, 16], f32>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %S = blk.dim %X[0] : !blk.tensor<[S, 16], f32>
  %n = arith.ceildivui %S, %c32 : index
  %T = blk.alloc(%S) : !blk.tensor<[S, 16], f32>
  blk.kernel @produce grid(%n) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c32 : index
    %x = blk.load %X[%r0, %c0] : !blk.tensor<[S, 16], f32> -> !blk.tile<32x16xf32, reg>
    blk.store %x, %T[%r0, %c0] : !blk.tile<32x16xf32, reg>, !blk.tensor<[S, 16], f32>
  }
  // expected-warning @+1 {{kernel @consume stays apart from @produce: the second kernel loads a tile of a tensor the first writes at indices no store of the first writes}}
  blk.kernel @consume grid(%n) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c32 : index
    %r1 = arith.addi %r0, %c32 : index
    %x = blk.load %T[%r1, %c0] : !blk.tensor<[S, 16], f32> -> !blk.tile<32x16xf32, reg>
    blk.store %x, %Y[%r0, %c0] : !blk.tile<32x16xf32, reg>, !blk.tensor<[S, 16], f32>
  }
  return
}

// -----

// Rows of the forwarded tile past S would be contracted by a matmul rhs (the load pads them
// with 0, the producer's value does not): the kernels merge but the load stays.

// CHECK-LABEL: func.func @overhang_visible
// CHECK: blk.kernel @produce_consume
// CHECK: [[T:%.*]] = blk.load %{{.*}} : !blk.tensor<[S, 16], f32> -> !blk.tile<32x16xf32, smem>
// CHECK: blk.matmul %{{.*}}, [[T]]
func.func @overhang_visible(%X: !blk.tensor<[S, 16], f32>, %A: !blk.tensor<[16, 32], f32>,
                            %Y: !blk.tensor<[S, 16], f32>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %S = blk.dim %X[0] : !blk.tensor<[S, 16], f32>
  %n = arith.ceildivui %S, %c32 : index
  %T = blk.alloc(%S) : !blk.tensor<[S, 16], f32>
  blk.kernel @produce grid(%n) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c32 : index
    %x = blk.load %X[%r0, %c0] : !blk.tensor<[S, 16], f32> -> !blk.tile<32x16xf32, reg>
    %y = blk.map(%x) : (!blk.tile<32x16xf32, reg>) -> !blk.tile<32x16xf32, reg> {
    ^bb0(%v: f32):
      %one = arith.constant 1.0 : f32
      %w = arith.addf %v, %one : f32
      blk.yield %w : f32
    }
    blk.store %y, %T[%r0, %c0] : !blk.tile<32x16xf32, reg>, !blk.tensor<[S, 16], f32>
  }
  blk.kernel @consume grid(%n) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c32 : index
    %a = blk.load %A[%c0, %c0] : !blk.tensor<[16, 32], f32> -> !blk.tile<16x32xf32, smem>
    %x = blk.load %T[%r0, %c0] : !blk.tensor<[S, 16], f32> -> !blk.tile<32x16xf32, smem>
    %y = blk.matmul %a, %x : !blk.tile<16x32xf32, smem>, !blk.tile<32x16xf32, smem> -> !blk.tile<16x16xf32, reg>
    blk.store %y, %Y[%r0, %c0] : !blk.tile<16x16xf32, reg>, !blk.tensor<[S, 16], f32>
  }
  return
}
