// RUN: tilefuse-opt %s --tilefuse-tile="block-n=32" -split-input-file | FileCheck %s
// RUN: tilefuse-opt %s --tilefuse-tile="block-n=32" -split-input-file --verify-diagnostics > /dev/null

// A row max over a `?` dim becomes a loop over 32-column chunks carrying the running max; the
// chain producing the row (a load and a matmul) is recomputed per chunk, and the padded
// columns of the last chunk are set to the identity of max (-inf).

// CHECK-LABEL: func.func @row_max
// CHECK-SAME: (%[[Q:.*]]: !blk.tile<16x64xf32, smem>, %[[K:.*]]: !blk.tensor<[Sk, 64], f32>)
// CHECK-DAG: [[NINF:%.*]] = arith.constant 0xFF800000 : f32
// CHECK-DAG: [[C32:%.*]] = arith.constant 32 : index
// CHECK: [[INIT:%.*]] = blk.fill [[NINF]] : f32 -> !blk.tile<16xf32, reg>
// CHECK: [[N:%.*]] = blk.dim %[[K]][0]
// CHECK: [[M:%.*]] = scf.for [[J:%.*]] = %{{.*}} to [[N]] step [[C32]] iter_args([[ACC:%.*]] = [[INIT]]) -> (!blk.tile<16xf32, reg>) {
// CHECK:   [[KJ:%.*]] = blk.load %[[K]][[[J]], %{{.*}}] : !blk.tensor<[Sk, 64], f32> -> !blk.tile<32x64xf32, smem>
// CHECK:   [[SJ:%.*]] = blk.matmul %[[Q]], [[KJ]] transpose_b : {{.*}} -> !blk.tile<16x32xf32, reg>
// CHECK:   [[COL:%.*]] = blk.iota col [[J]] : !blk.tile<16x32xi64, reg>
// CHECK:   [[IN:%.*]] = blk.map([[COL]])
// CHECK:     arith.cmpi slt
// CHECK:   [[X:%.*]] = blk.select [[IN]], [[SJ]], %{{.*}}
// CHECK:   [[R:%.*]] = blk.reduce max [[X]] : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
// CHECK:   [[NEXT:%.*]] = blk.map([[ACC]], [[R]])
// CHECK:     arith.maximumf
// CHECK:   scf.yield [[NEXT]] : !blk.tile<16xf32, reg>
// CHECK: return [[M]]
func.func @row_max(%q: !blk.tile<16x64xf32, smem>, %K: !blk.tensor<[Sk, 64], f32>) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %k = blk.load %K[%c0, %c0] : !blk.tensor<[Sk, 64], f32> -> !blk.tile<?x64xf32, smem>
  %s = blk.matmul %q, %k transpose_b : !blk.tile<16x64xf32, smem>, !blk.tile<?x64xf32, smem> -> !blk.tile<16x?xf32, reg>
  %m = blk.reduce max %s : !blk.tile<16x?xf32, reg> -> !blk.tile<16xf32, reg>
  return %m : !blk.tile<16xf32, reg>
}

// -----

// A row sum of loaded data needs no tail mask: the load pads with 0, the identity of sum.
// The chunks start at the load's offset plus the loop's.

// CHECK-LABEL: func.func @row_sum_of_load
// CHECK: [[D:%.*]] = blk.dim %{{.*}}[1]
// CHECK: [[N:%.*]] = arith.subi [[D]], %{{.*}} : index
// CHECK: scf.for [[J:%.*]] = %{{.*}} to [[N]] step
// CHECK:   [[OFF:%.*]] = arith.addi %{{.*}}, [[J]] : index
// CHECK:   [[X:%.*]] = blk.load %{{.*}}[%{{.*}}, [[OFF]]] : !blk.tensor<[T, D], f32> -> !blk.tile<8x32xf32, reg>
// CHECK-NOT: blk.select
// CHECK:   blk.reduce sum [[X]]
func.func @row_sum_of_load(%X: !blk.tensor<[T, D], f32>, %r0: index, %c0: index) -> !blk.tile<8xf32, reg> {
  %x = blk.load %X[%r0, %c0] : !blk.tensor<[T, D], f32> -> !blk.tile<8x?xf32, reg>
  %s = blk.reduce sum %x : !blk.tile<8x?xf32, reg> -> !blk.tile<8xf32, reg>
  return %s : !blk.tile<8xf32, reg>
}

// -----

// A contraction over `?` (P V) becomes a loop carrying the accumulator. P is computed, so its
// padded columns are zeroed; V is loaded, its padded rows already are 0.

// CHECK-LABEL: func.func @contraction
// CHECK: [[ZERO:%.*]] = blk.fill %{{.*}} : f32 -> !blk.tile<16x64xf32, reg>
// CHECK: scf.for [[J:%.*]] = {{.*}} iter_args([[ACC:%.*]] = [[ZERO]]) -> (!blk.tile<16x64xf32, reg>) {
// CHECK:   [[PJ:%.*]] = blk.map
// CHECK:     math.exp
// CHECK:   [[VJ:%.*]] = blk.load %{{.*}}[[[J]], %{{.*}}] : !blk.tensor<[Sk, 64], f32> -> !blk.tile<32x64xf32, smem>
// CHECK:   [[A:%.*]] = blk.select %{{.*}}, [[PJ]], %{{.*}} : !blk.tile<16x32xi1, reg>, !blk.tile<16x32xf32, reg>
// CHECK:   [[NEXT:%.*]] = blk.matmul [[A]], [[VJ]] acc([[ACC]] : !blk.tile<16x64xf32, reg>)
// CHECK:   scf.yield [[NEXT]]
func.func @contraction(%S: !blk.tensor<[Sq, Sk], f32>, %V: !blk.tensor<[Sk, 64], f32>, %r0: index)
    -> !blk.tile<16x64xf32, reg> {
  %c0 = arith.constant 0 : index
  %s = blk.load %S[%r0, %c0] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x?xf32, reg>
  %p = blk.map(%s) : (!blk.tile<16x?xf32, reg>) -> !blk.tile<16x?xf32, reg> {
  ^bb0(%x: f32):
    %e = math.exp %x : f32
    blk.yield %e : f32
  }
  %v = blk.load %V[%c0, %c0] : !blk.tensor<[Sk, 64], f32> -> !blk.tile<?x64xf32, smem>
  %o = blk.matmul %p, %v : !blk.tile<16x?xf32, reg>, !blk.tile<?x64xf32, smem> -> !blk.tile<16x64xf32, reg>
  return %o : !blk.tile<16x64xf32, reg>
}

// -----

// A store of a `?` tile becomes one store per chunk (stores drop padded positions). The index
// tile along the tiled dim reaches a table read, so it is clamped to the extent: padded
// positions read the last entry, never past the table.

// CHECK-LABEL: func.func @store_with_table
// CHECK: scf.for [[J:%.*]] =
// CHECK:   [[COL:%.*]] = blk.iota col [[J]] : !blk.tile<8x32xi64, reg>
// CHECK:   [[CLAMPED:%.*]] = blk.map([[COL]])
// CHECK:     arith.minsi
// CHECK:   [[Y:%.*]] = blk.map(%{{.*}}, [[CLAMPED]])
// CHECK:     blk.read
// CHECK:   blk.store [[Y]], %{{.*}}[%{{.*}}, [[J]]] : !blk.tile<8x32xf32, reg>
// CHECK-NOT: blk.store
func.func @store_with_table(%X: !blk.tensor<[T, D], f32>, %G: !blk.tensor<[D], f32>,
                            %Y: !blk.tensor<[T, D], f32>, %r0: index) {
  %c0 = arith.constant 0 : index
  %x = blk.load %X[%r0, %c0] : !blk.tensor<[T, D], f32> -> !blk.tile<8x?xf32, reg>
  %col = blk.iota col %c0 : !blk.tile<8x?xi64, reg>
  %y = blk.map(%x, %col) : (!blk.tile<8x?xf32, reg>, !blk.tile<8x?xi64, reg>) -> !blk.tile<8x?xf32, reg> {
  ^bb0(%v: f32, %j: i64):
    %ji = arith.index_cast %j : i64 to index
    %g = blk.read %G[%ji] : !blk.tensor<[D], f32> -> f32
    %w = arith.mulf %v, %g : f32
    blk.yield %w : f32
  }
  blk.store %y, %Y[%r0, %c0] : !blk.tile<8x?xf32, reg>, !blk.tensor<[T, D], f32>
  return
}

// -----

// The same from column 5: the `?` extent is D - 5 and the iota counts from 5, so the last position inside
// the extent is 5 + (D - 5) - 1 = D - 1. The clamp adds the iota's start to extent - 1 (it once clamped
// to D - 6 and read the wrong entries of G on the last 5 columns: fuzz target block_program).

// CHECK-LABEL: func.func @store_with_table_from_column_5
// CHECK-DAG: [[C5:%.*]] = arith.constant 5 : index
// CHECK-DAG: [[C1:%.*]] = arith.constant 1 : index
// CHECK-DAG: [[C5I:%.*]] = arith.constant 5 : i64
// CHECK: [[DIM:%.*]] = blk.dim %{{.*}}[1]
// CHECK: [[EXT:%.*]] = arith.subi [[DIM]], [[C5]] : index
// CHECK: scf.for
// CHECK:   [[LASTREL:%.*]] = arith.subi [[EXT]], [[C1]] : index
// CHECK:   [[LASTI:%.*]] = arith.index_cast [[LASTREL]] : index to i64
// CHECK:   [[LAST:%.*]] = arith.addi [[LASTI]], [[C5I]] : i64
// CHECK:   blk.map
// CHECK:     arith.minsi %{{.*}}, [[LAST]] : i64
func.func @store_with_table_from_column_5(%X: !blk.tensor<[T, D], f32>, %G: !blk.tensor<[D], f32>,
                                          %Y: !blk.tensor<[T, D], f32>, %r0: index) {
  %c5 = arith.constant 5 : index
  %x = blk.load %X[%r0, %c5] : !blk.tensor<[T, D], f32> -> !blk.tile<8x?xf32, reg>
  %col = blk.iota col %c5 : !blk.tile<8x?xi64, reg>
  %y = blk.map(%x, %col) : (!blk.tile<8x?xf32, reg>, !blk.tile<8x?xi64, reg>) -> !blk.tile<8x?xf32, reg> {
  ^bb0(%v: f32, %j: i64):
    %ji = arith.index_cast %j : i64 to index
    %g = blk.read %G[%ji] : !blk.tensor<[D], f32> -> f32
    %w = arith.mulf %v, %g : f32
    blk.yield %w : f32
  }
  blk.store %y, %Y[%r0, %c5] : !blk.tile<8x?xf32, reg>, !blk.tensor<[T, D], f32>
  return
}

// -----

// No rule tiles a `?` tile that comes from a function argument: a warning, no change.

// CHECK-LABEL: func.func @untileable
// CHECK: blk.reduce max %{{.*}} : !blk.tile<16x?xf32, reg>
func.func @untileable(%s: !blk.tile<16x?xf32, reg>) -> !blk.tile<16xf32, reg> {
  // expected-warning @+1 {{tilefuse-tile: cannot tile 'blk.reduce': a `?` tile that is a block argument}}
  %m = blk.reduce max %s : !blk.tile<16x?xf32, reg> -> !blk.tile<16xf32, reg>
  return %m : !blk.tile<16xf32, reg>
}
