// RUN: tilefuse-opt %s --tilefuse-tile="block-n=32" -split-input-file | FileCheck %s
// RUN: tilefuse-opt %s --tilefuse-tile="block-n=32" -split-input-file --verify-diagnostics > /dev/null

// Scans across a tiled loop: a suffix sum along the row, y_j = sum_{k > j} x_k, is for chunk c
// the chunk's own suffix sum plus the sum of x over the chunks after c. The contraction's loop
// visits the chunks last to first (offset roundup(extent) - 32 - it) and carries that sum, a row
// vector from 0, adding each chunk's row sum. The padded columns of the last chunk are set to 0
// before the scan (they would enter the sums of the columns before them).

// CHECK-LABEL: func.func @suffix_scan_matmul
// CHECK-SAME: (%[[X:.*]]: !blk.tensor<[16, Sk], f32>, %[[V:.*]]: !blk.tensor<[Sk, 64], f32>)
// CHECK-DAG: [[C32:%.*]] = arith.constant 32 : index
// CHECK: [[ACC0:%.*]] = blk.fill %{{.*}} : f32 -> !blk.tile<16x64xf32, reg>
// CHECK: [[N:%.*]] = blk.dim %[[X]][1]
// CHECK: [[CARRY0:%.*]] = blk.fill %{{.*}} : f32 -> !blk.tile<16xf32, reg>
// CHECK: [[CHUNKS:%.*]] = arith.ceildivui [[N]], [[C32]]
// CHECK: [[ROUND:%.*]] = arith.muli [[CHUNKS]], [[C32]]
// CHECK: [[LAST:%.*]] = arith.subi [[ROUND]], [[C32]]
// CHECK: scf.for [[IT:%.*]] = %{{.*}} to [[N]] step [[C32]] iter_args([[ACC:%.*]] = [[ACC0]], [[CARRY:%.*]] = [[CARRY0]])
// CHECK:   [[OFF:%.*]] = arith.subi [[LAST]], [[IT]] : index
// CHECK:   [[XT:%.*]] = blk.load %[[X]][%{{.*}}, [[OFF]]] : !blk.tensor<[16, Sk], f32> -> !blk.tile<16x32xf32, reg>
// CHECK:   [[E:%.*]] = blk.map([[XT]])
// CHECK:     math.exp
// CHECK:   [[XC:%.*]] = blk.select %{{.*}}, [[E]], %{{.*}}
// CHECK:   [[OWN:%.*]] = blk.scan sum [[XC]] reverse exclusive : !blk.tile<16x32xf32, reg> -> !blk.tile<16x32xf32, reg>
// CHECK:   [[BC:%.*]] = blk.broadcast [[CARRY]] : !blk.tile<16xf32, reg> -> !blk.tile<16x32xf32, reg>
// CHECK:   [[Y:%.*]] = blk.map([[OWN]], [[BC]])
// CHECK:     arith.addf
// CHECK:   blk.load %[[V]][[[OFF]], %{{.*}}]
// CHECK:   blk.matmul {{.*}} acc([[ACC]]
// CHECK:   [[PART:%.*]] = blk.reduce sum [[XC]] : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
// CHECK:   [[NEXT:%.*]] = blk.map([[CARRY]], [[PART]])
// CHECK:     arith.addf
// CHECK:   scf.yield %{{.*}}, [[NEXT]] : !blk.tile<16x64xf32, reg>, !blk.tile<16xf32, reg>
func.func @suffix_scan_matmul(%X: !blk.tensor<[16, Sk], f32>, %V: !blk.tensor<[Sk, 64], f32>) -> !blk.tile<16x64xf32, reg> {
  %c0 = arith.constant 0 : index
  %xt = blk.load %X[%c0, %c0] : !blk.tensor<[16, Sk], f32> -> !blk.tile<16x?xf32, reg>
  %x = blk.map(%xt) : (!blk.tile<16x?xf32, reg>) -> !blk.tile<16x?xf32, reg> {
  ^bb0(%a: f32):
    %e = math.exp %a : f32
    blk.yield %e : f32
  }
  %y = blk.scan sum %x reverse exclusive : !blk.tile<16x?xf32, reg> -> !blk.tile<16x?xf32, reg>
  %v = blk.load %V[%c0, %c0] : !blk.tensor<[Sk, 64], f32> -> !blk.tile<?x64xf32, smem>
  %o = blk.matmul %y, %v : !blk.tile<16x?xf32, reg>, !blk.tile<?x64xf32, smem> -> !blk.tile<16x64xf32, reg>
  return %o : !blk.tile<16x64xf32, reg>
}

// -----

// A prefix scan (inclusive) keeps the loop's order: the chunk offset is the induction variable.

// CHECK-LABEL: func.func @prefix_scan_max
// CHECK: scf.for [[IT:%.*]] = {{.*}} iter_args([[M:%.*]] = %{{.*}}, [[CARRY:%.*]] = %{{.*}})
// CHECK-NOT: arith.subi
// CHECK:   blk.load %{{.*}}[%{{.*}}, [[IT]]]
// CHECK:   blk.scan sum %{{.*}} : !blk.tile<16x32xf32, reg> -> !blk.tile<16x32xf32, reg>
func.func @prefix_scan_max(%X: !blk.tensor<[16, Sk], f32>) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %x = blk.load %X[%c0, %c0] : !blk.tensor<[16, Sk], f32> -> !blk.tile<16x?xf32, reg>
  %y = blk.scan sum %x : !blk.tile<16x?xf32, reg> -> !blk.tile<16x?xf32, reg>
  %m = blk.reduce max %y : !blk.tile<16x?xf32, reg> -> !blk.tile<16xf32, reg>
  return %m : !blk.tile<16xf32, reg>
}

// -----

// A chain with a prefix and a suffix scan along the tiled dim would need the chunks in both
// orders: nothing is tiled, and the warning says why.
func.func @both_directions(%X: !blk.tensor<[16, Sk], f32>) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %x = blk.load %X[%c0, %c0] : !blk.tensor<[16, Sk], f32> -> !blk.tile<16x?xf32, reg>
  %a = blk.scan sum %x : !blk.tile<16x?xf32, reg> -> !blk.tile<16x?xf32, reg>
  %b = blk.scan sum %x reverse : !blk.tile<16x?xf32, reg> -> !blk.tile<16x?xf32, reg>
  %c = blk.map(%a, %b) : (!blk.tile<16x?xf32, reg>, !blk.tile<16x?xf32, reg>) -> !blk.tile<16x?xf32, reg> {
  ^bb0(%p: f32, %q: f32):
    %r = arith.mulf %p, %q : f32
    blk.yield %r : f32
  }
  // expected-warning @+1 {{cannot tile 'blk.reduce': the chain holds both a prefix and a suffix scan along the tiled dim}}
  %m = blk.reduce sum %c : !blk.tile<16x?xf32, reg> -> !blk.tile<16xf32, reg>
  return %m : !blk.tile<16xf32, reg>
}
