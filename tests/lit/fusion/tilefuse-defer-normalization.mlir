// RUN: tilefuse-opt %s --tilefuse-defer-normalization -split-input-file | FileCheck %s

// The safe division p = (l == 0 ? 0 : e / l) leaves the P V contraction: the matmul takes e,
// and the row factor, computed once per row (l == 0 ? 0 : 1 / l), scales its 64x128 result.

// CHECK-LABEL: func.func @safe_division
// CHECK-SAME: (%[[E:.*]]: !blk.tile<64x?xf32, reg>, %[[L:.*]]: !blk.tile<64xf32, reg>, %[[V:.*]]: !blk.tile<?x128xbf16, smem>)
// CHECK: [[P:%.*]] = blk.map(%[[E]]) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg>
// CHECK-NEXT: ^bb0(%[[X:.*]]: f32):
// CHECK-NEXT: [[T:%.*]] = arith.truncf %[[X]] : f32 to bf16
// CHECK-NEXT: blk.yield [[T]] : bf16
// CHECK: [[ACC:%.*]] = blk.matmul [[P]], %[[V]] : !blk.tile<64x?xbf16, reg>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
// CHECK: [[INV:%.*]] = blk.map(%[[L]]) : (!blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg>
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32):
// CHECK: [[Z:%.*]] = arith.cmpf oeq, %[[S]]
// CHECK: [[Q:%.*]] = arith.divf %{{.*}}, %[[S]] : f32
// CHECK: [[Y:%.*]] = arith.select [[Z]], %{{.*}}, [[Q]] : f32
// CHECK-NEXT: blk.yield [[Y]] : f32
// CHECK: [[LB:%.*]] = blk.broadcast [[INV]] : !blk.tile<64xf32, reg> -> !blk.tile<64x128xf32, reg>
// CHECK: blk.map([[ACC]], [[LB]])
// CHECK-NEXT: ^bb0(%[[A:.*]]: f32, %[[R:.*]]: f32):
// CHECK-NEXT: [[H:%.*]] = arith.mulf %[[A]], %[[R]] : f32
// CHECK-NEXT: blk.yield [[H]] : f32
func.func @safe_division(%e: !blk.tile<64x?xf32, reg>, %l: !blk.tile<64xf32, reg>,
                         %v: !blk.tile<?x128xbf16, smem>) -> !blk.tile<64x128xf32, reg> {
  %lb = blk.broadcast %l : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
  %p = blk.map(%e, %lb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
  ^bb0(%x: f32, %s: f32):
    %z = arith.constant 0.0 : f32
    %empty = arith.cmpf oeq, %s, %z : f32
    %q = arith.divf %x, %s : f32
    %y = arith.select %empty, %z, %q : f32
    %t = arith.truncf %y : f32 to bf16
    blk.yield %t : bf16
  }
  %o = blk.matmul %p, %v : !blk.tile<64x?xbf16, reg>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
  return %o : !blk.tile<64x128xf32, reg>
}

// -----

// RMSNorm's n = x * g_j * r: x * g_j (a column factor, from a table) stays in the operand,
// the row factor r moves after the matmul.

// CHECK-LABEL: func.func @row_scale_with_column_table
// CHECK: [[N:%.*]] = blk.map(%{{.*}}, %{{.*}}) : (!blk.tile<32x?xf32, reg>, !blk.tile<32x?xi64, reg>) -> !blk.tile<32x?xbf16, reg>
// CHECK: blk.read
// CHECK: arith.mulf
// CHECK-NOT: arith.mulf
// CHECK: arith.truncf
// CHECK: [[ACC:%.*]] = blk.matmul [[N]]
// CHECK: blk.map([[ACC]], %{{.*}})
// CHECK-NEXT: ^bb0(%[[A:.*]]: f32, %[[R:.*]]: f32):
// CHECK-NEXT: [[Y:%.*]] = arith.mulf %[[A]], %[[R]] : f32
// CHECK-NEXT: blk.yield [[Y]] : f32
func.func @row_scale_with_column_table(%x: !blk.tile<32x?xf32, reg>, %col: !blk.tile<32x?xi64, reg>,
                                       %r: !blk.tile<32xf32, reg>, %w: !blk.tile<?x64xbf16, smem>,
                                       %G: !blk.tensor<[D], f32>) -> !blk.tile<32x64xf32, reg> {
  %rb = blk.broadcast %r : !blk.tile<32xf32, reg> -> !blk.tile<32x?xf32, reg>
  %n = blk.map(%x, %col, %rb) : (!blk.tile<32x?xf32, reg>, !blk.tile<32x?xi64, reg>, !blk.tile<32x?xf32, reg>) -> !blk.tile<32x?xbf16, reg> {
  ^bb0(%v: f32, %j: i64, %rr: f32):
    %ji = arith.index_cast %j : i64 to index
    %g = blk.read %G[%ji] : !blk.tensor<[D], f32> -> f32
    %vg = arith.mulf %v, %g : f32
    %y = arith.mulf %vg, %rr : f32
    %yb = arith.truncf %y : f32 to bf16
    blk.yield %yb : bf16
  }
  %o = blk.matmul %n, %w : !blk.tile<32x?xbf16, reg>, !blk.tile<?x64xbf16, smem> -> !blk.tile<32x64xf32, reg>
  return %o : !blk.tile<32x64xf32, reg>
}

// -----

// exp(s - m) is not moved out of the sum: exp(-m) * sum_j exp(s_j) would overflow.

// CHECK-LABEL: func.func @exponential_stays
// CHECK: blk.map(%{{.*}}, %{{.*}}) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg>
// CHECK: math.exp
// CHECK: blk.matmul
// CHECK-NOT: blk.map
func.func @exponential_stays(%s: !blk.tile<64x?xf32, reg>, %m: !blk.tile<64xf32, reg>,
                             %v: !blk.tile<?x128xbf16, smem>) -> !blk.tile<64x128xf32, reg> {
  %mb = blk.broadcast %m : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
  %p = blk.map(%s, %mb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
  ^bb0(%x: f32, %mx: f32):
    %d = arith.subf %x, %mx : f32
    %e = math.exp %d : f32
    %t = arith.truncf %e : f32 to bf16
    blk.yield %t : bf16
  }
  %o = blk.matmul %p, %v : !blk.tile<64x?xbf16, reg>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
  return %o : !blk.tile<64x128xf32, reg>
}

// -----

// With a non-zero accumulator, h(r) * (acc + sum) != acc + h(r) * sum: nothing moves.

// CHECK-LABEL: func.func @nonzero_accumulator
// CHECK: arith.divf
// CHECK: blk.matmul {{.*}} acc(
// CHECK-NOT: blk.map
func.func @nonzero_accumulator(%e: !blk.tile<64x?xf32, reg>, %l: !blk.tile<64xf32, reg>,
                               %v: !blk.tile<?x128xf32, smem>, %acc: !blk.tile<64x128xf32, reg>)
    -> !blk.tile<64x128xf32, reg> {
  %lb = blk.broadcast %l : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
  %p = blk.map(%e, %lb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
  ^bb0(%x: f32, %s: f32):
    %q = arith.divf %x, %s : f32
    blk.yield %q : f32
  }
  %o = blk.matmul %p, %v acc(%acc : !blk.tile<64x128xf32, reg>) : !blk.tile<64x?xf32, reg>, !blk.tile<?x128xf32, smem> -> !blk.tile<64x128xf32, reg>
  return %o : !blk.tile<64x128xf32, reg>
}
