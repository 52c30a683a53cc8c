// RUN: tilefuse-opt %s --tilefuse-fuse-loops -split-input-file | FileCheck %s

// Two independent loops over the same chunks (RMSNorm's sum of squares and the N W
// contraction after deferred normalization) become one loop carrying both values. The map
// both bodies compute (it reads a table, so upstream CSE leaves it) is computed once.

// CHECK-LABEL: func.func @independent_loops
// CHECK: [[R:%.*]]:2 = scf.for [[J:%.*]] = {{.*}} iter_args([[A:%.*]] = %{{.*}}, [[B:%.*]] = %{{.*}}) -> (!blk.tile<8xf32, reg>, !blk.tile<8x16xf32, reg>) {
// CHECK:   [[X:%.*]] = blk.load
// CHECK:   [[G:%.*]] = blk.map([[X]], %{{.*}})
// CHECK:     blk.read
// CHECK:   blk.reduce sum [[G]]
// CHECK-NOT: blk.read
// CHECK:   blk.matmul [[G]], %{{.*}} acc([[B]] : !blk.tile<8x16xf32, reg>)
// CHECK:   scf.yield
// CHECK-NOT: scf.for
// CHECK: return [[R]]#0, [[R]]#1
func.func @independent_loops(%X: !blk.tensor<[T, D], f32>, %W: !blk.tensor<[D, 16], f32>,
                             %G: !blk.tensor<[D], f32>, %r0: index)
    -> (!blk.tile<8xf32, reg>, !blk.tile<8x16xf32, reg>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %n = blk.dim %X[1] : !blk.tensor<[T, D], f32>
  %col = blk.iota col %c0 : !blk.tile<8x32xi64, reg>
  %a0 = blk.fill %zero : f32 -> !blk.tile<8xf32, reg>
  %a = scf.for %j = %c0 to %n step %c32 iter_args(%ai = %a0) -> (!blk.tile<8xf32, reg>) {
    %x = blk.load %X[%r0, %j] : !blk.tensor<[T, D], f32> -> !blk.tile<8x32xf32, reg>
    %g = blk.map(%x, %col) : (!blk.tile<8x32xf32, reg>, !blk.tile<8x32xi64, reg>) -> !blk.tile<8x32xf32, reg> {
    ^bb0(%v: f32, %k: i64):
      %ki = arith.index_cast %k : i64 to index
      %t = blk.read %G[%ki] : !blk.tensor<[D], f32> -> f32
      %w = arith.mulf %v, %t : f32
      blk.yield %w : f32
    }
    %s = blk.reduce sum %g : !blk.tile<8x32xf32, reg> -> !blk.tile<8xf32, reg>
    %an = blk.map(%ai, %s) : (!blk.tile<8xf32, reg>, !blk.tile<8xf32, reg>) -> !blk.tile<8xf32, reg> {
    ^bb0(%p: f32, %q: f32):
      %r = arith.addf %p, %q : f32
      blk.yield %r : f32
    }
    scf.yield %an : !blk.tile<8xf32, reg>
  }
  %b0 = blk.fill %zero : f32 -> !blk.tile<8x16xf32, reg>
  %b = scf.for %j = %c0 to %n step %c32 iter_args(%bi = %b0) -> (!blk.tile<8x16xf32, reg>) {
    %x = blk.load %X[%r0, %j] : !blk.tensor<[T, D], f32> -> !blk.tile<8x32xf32, reg>
    %g = blk.map(%x, %col) : (!blk.tile<8x32xf32, reg>, !blk.tile<8x32xi64, reg>) -> !blk.tile<8x32xf32, reg> {
    ^bb0(%v: f32, %k: i64):
      %ki = arith.index_cast %k : i64 to index
      %t = blk.read %G[%ki] : !blk.tensor<[D], f32> -> f32
      %w = arith.mulf %v, %t : f32
      blk.yield %w : f32
    }
    %w = blk.load %W[%j, %c0] : !blk.tensor<[D, 16], f32> -> !blk.tile<32x16xf32, smem>
    %bn = blk.matmul %g, %w acc(%bi : !blk.tile<8x16xf32, reg>) : !blk.tile<8x32xf32, reg>, !blk.tile<32x16xf32, smem> -> !blk.tile<8x16xf32, reg>
    scf.yield %bn : !blk.tile<8x16xf32, reg>
  }
  return %a, %b : !blk.tile<8xf32, reg>, !blk.tile<8x16xf32, reg>
}

// -----

// The second loop needs the first's final value: no merge (online normalization's job when
// that value is a running max).

// CHECK-LABEL: func.func @dependent_loops
// CHECK: scf.for
// CHECK: scf.for
func.func @dependent_loops(%X: !blk.tensor<[T, D], f32>, %r0: index) -> !blk.tile<8xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %n = blk.dim %X[1] : !blk.tensor<[T, D], f32>
  %a0 = blk.fill %zero : f32 -> !blk.tile<8xf32, reg>
  %a = scf.for %j = %c0 to %n step %c32 iter_args(%ai = %a0) -> (!blk.tile<8xf32, reg>) {
    %x = blk.load %X[%r0, %j] : !blk.tensor<[T, D], f32> -> !blk.tile<8x32xf32, reg>
    %s = blk.reduce sum %x : !blk.tile<8x32xf32, reg> -> !blk.tile<8xf32, reg>
    %an = blk.map(%ai, %s) : (!blk.tile<8xf32, reg>, !blk.tile<8xf32, reg>) -> !blk.tile<8xf32, reg> {
    ^bb0(%p: f32, %q: f32):
      %r = arith.addf %p, %q : f32
      blk.yield %r : f32
    }
    scf.yield %an : !blk.tile<8xf32, reg>
  }
  %b = scf.for %j = %c0 to %n step %c32 iter_args(%bi = %a0) -> (!blk.tile<8xf32, reg>) {
    %x = blk.load %X[%r0, %j] : !blk.tensor<[T, D], f32> -> !blk.tile<8x32xf32, reg>
    %ab = blk.broadcast %a : !blk.tile<8xf32, reg> -> !blk.tile<8x32xf32, reg>
    %d = blk.map(%x, %ab) : (!blk.tile<8x32xf32, reg>, !blk.tile<8x32xf32, reg>) -> !blk.tile<8x32xf32, reg> {
    ^bb0(%p: f32, %q: f32):
      %r = arith.divf %p, %q : f32
      blk.yield %r : f32
    }
    %s = blk.reduce max %d : !blk.tile<8x32xf32, reg> -> !blk.tile<8xf32, reg>
    %bn = blk.map(%bi, %s) : (!blk.tile<8xf32, reg>, !blk.tile<8xf32, reg>) -> !blk.tile<8xf32, reg> {
    ^bb0(%p: f32, %q: f32):
      %r = arith.maximumf %p, %q : f32
      blk.yield %r : f32
    }
    scf.yield %bn : !blk.tile<8xf32, reg>
  }
  return %b : !blk.tile<8xf32, reg>
}

// -----

// The first loop writes the tensor the second reads: reordering their iterations could change
// what the second sees. No merge.

// CHECK-LABEL: func.func @write_conflict
// CHECK: scf.for
// CHECK: blk.store
// CHECK: scf.for
func.func @write_conflict(%X: !blk.tensor<[T, D], f32>, %r0: index) -> !blk.tile<8xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %zero = arith.constant 0.0 : f32
  %n = blk.dim %X[1] : !blk.tensor<[T, D], f32>
  %a0 = blk.fill %zero : f32 -> !blk.tile<8xf32, reg>
  scf.for %j = %c0 to %n step %c32 {
    %x = blk.fill %zero : f32 -> !blk.tile<8x32xf32, reg>
    blk.store %x, %X[%r0, %j] : !blk.tile<8x32xf32, reg>, !blk.tensor<[T, D], f32>
  }
  %b = scf.for %j = %c0 to %n step %c32 iter_args(%bi = %a0) -> (!blk.tile<8xf32, reg>) {
    %x = blk.load %X[%r0, %j] : !blk.tensor<[T, D], f32> -> !blk.tile<8x32xf32, reg>
    %s = blk.reduce sum %x : !blk.tile<8x32xf32, reg> -> !blk.tile<8xf32, reg>
    %bn = blk.map(%bi, %s) : (!blk.tile<8xf32, reg>, !blk.tile<8xf32, reg>) -> !blk.tile<8xf32, reg> {
    ^bb0(%p: f32, %q: f32):
      %r = arith.addf %p, %q : f32
      blk.yield %r : f32
    }
    scf.yield %bn : !blk.tile<8xf32, reg>
  }
  return %b : !blk.tile<8xf32, reg>
}
