// RUN: tilefuse-opt %s --tilefuse-classify-tiles -split-input-file | FileCheck %s

// Causal attention aligned bottom-right (query i sees keys up to i + (Sk - Sq)). Over a tile
// with q_idx in [r0, r0 + 15] and kv_idx in [c0, c0 + 31]:
//   all true  <=> c0 + 31 <= r0 + off      (below the diagonal: no select)
//   all false <=> c0 > r0 + 15 + off       (above it: skipped, the body is then the identity)
// (The canonical form tests "some true" and puts the skip in the else branch.)

// CHECK-LABEL: func.func @causal_bottom_right
// CHECK: scf.for [[C0:%.*]] = {{.*}} iter_args([[M:%.*]] = {{.*}}) -> (!blk.tile<16xf32, reg>) {
// CHECK-DAG: [[R0:%.*]] = arith.index_cast %{{.*}} : index to i64
// CHECK-DAG: [[RLAST:%.*]] = arith.addi [[R0]], %c15_i64 : i64
// CHECK-DAG: [[CLO:%.*]] = arith.index_cast [[C0]] : index to i64
// CHECK-DAG: [[CHI:%.*]] = arith.addi [[CLO]], %c31_i64 : i64
// CHECK-DAG: [[QLO:%.*]] = arith.addi [[R0]], [[OFF:%.*]] : i64
// CHECK-DAG: [[QHI:%.*]] = arith.addi [[RLAST]], [[OFF]] : i64
// CHECK-DAG: [[FULL:%.*]] = arith.cmpi sle, [[CHI]], [[QLO]] : i64
// CHECK-DAG: [[SOME:%.*]] = arith.cmpi sle, [[CLO]], [[QHI]] : i64
// CHECK: [[R:%.*]] = scf.if [[SOME]] -> (!blk.tile<16xf32, reg>) {
// CHECK-NEXT: [[F:%.*]] = scf.if [[FULL]] -> (!blk.tile<16xf32, reg>) {
// CHECK-NOT: blk.select
// CHECK: blk.reduce max
// CHECK: } else {
// CHECK: blk.select
// CHECK: blk.reduce max
// CHECK: } else {
// CHECK-NEXT: scf.yield [[M]] : !blk.tile<16xf32, reg>
// CHECK: scf.yield [[R]]
func.func @causal_bottom_right(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %Sq = blk.dim %S[0] : !blk.tensor<[Sq, Sk], f32>
  %Sk = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %n = arith.addi %Sk, %c0 : index
  %d = arith.subi %Sk, %Sq : index
  %off = arith.index_cast %d : index to i64
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %ninf_t = blk.fill %ninf : f32 -> !blk.tile<16x32xf32, reg>
  %zero_t = blk.fill %zero : f32 -> !blk.tile<16x32xf32, reg>
  %qi = blk.iota row %r0 : !blk.tile<16x32xi64, reg>
  %m = scf.for %j = %c0 to %n step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %ki = blk.iota col %j : !blk.tile<16x32xi64, reg>
    %keep = blk.map(%qi, %ki) : (!blk.tile<16x32xi64, reg>, !blk.tile<16x32xi64, reg>) -> !blk.tile<16x32xi1, reg> {
    ^bb0(%i: i64, %k: i64):
      %io = arith.addi %i, %off : i64
      %c = arith.cmpi sge, %io, %k : i64
      blk.yield %c : i1
    }
    %x = blk.select %keep, %s, %ninf_t : !blk.tile<16x32xi1, reg>, !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %x : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %y = arith.maximumf %a, %b : f32
      blk.yield %y : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  return %m : !blk.tile<16xf32, reg>
}

// -----

// Sliding window (query i sees keys in (i + off - 48, i + off]): tiles right of the diagonal
// and tiles further left than the window are both empty; only tiles inside the band run.

// CHECK-LABEL: func.func @sliding_window
// CHECK: scf.for {{.*}} iter_args([[M:%.*]] = {{.*}})
// CHECK: arith.cmpi sle
// CHECK: arith.cmpi slt
// CHECK: [[SOME:%.*]] = arith.andi
// CHECK: scf.if [[SOME]]
// CHECK: scf.yield [[M]] : !blk.tile<16xf32, reg>
func.func @sliding_window(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %Sq = blk.dim %S[0] : !blk.tensor<[Sq, Sk], f32>
  %Sk = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %n = arith.addi %Sk, %c0 : index
  %d = arith.subi %Sk, %Sq : index
  %off = arith.index_cast %d : index to i64
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %ninf_t = blk.fill %ninf : f32 -> !blk.tile<16x32xf32, reg>
  %zero_t = blk.fill %zero : f32 -> !blk.tile<16x32xf32, reg>
  %qi = blk.iota row %r0 : !blk.tile<16x32xi64, reg>
  %m = scf.for %j = %c0 to %n step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %ki = blk.iota col %j : !blk.tile<16x32xi64, reg>
    %keep = blk.map(%qi, %ki) : (!blk.tile<16x32xi64, reg>, !blk.tile<16x32xi64, reg>) -> !blk.tile<16x32xi1, reg> {
    ^bb0(%i: i64, %k: i64):
      %io = arith.addi %i, %off : i64
      %c = arith.cmpi sge, %io, %k : i64
      %dist = arith.subi %io, %k : i64
      %w = arith.constant 48 : i64
      %near = arith.cmpi slt, %dist, %w : i64
      %both = arith.andi %c, %near : i1
      blk.yield %both : i1
    }
    %x = blk.select %keep, %s, %ninf_t : !blk.tile<16x32xi1, reg>, !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %x : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %y = arith.maximumf %a, %b : f32
      blk.yield %y : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  return %m : !blk.tile<16xf32, reg>
}

// -----

// Document mask doc[i + off] == doc[j]: the bounds of each side are the min and max of the
// table over the tile's index range (a loop over the table), a tile is empty when the
// ranges do not overlap and full when both are one and the same document.

// CHECK-LABEL: func.func @document_mask
// CHECK: scf.for
// CHECK: [[DQ:%.*]]:2 = scf.for {{.*}} -> (i32, i32) {
// CHECK:   blk.read
// CHECK:   arith.minsi
// CHECK:   arith.maxsi
// CHECK: [[DK:%.*]]:2 = scf.for {{.*}} -> (i32, i32) {
// CHECK: arith.cmpi eq, [[DQ]]#0, [[DQ]]#1 : i32
// CHECK: arith.cmpi sle
// The bounds read the table: a run-time block mask may decide the classes instead (blk.tile_class),
// and the masks it evaluates are tagged (skippable: an all-false mask leaves the max unchanged).
// CHECK: [[FULL:%.*]] = blk.tile_class full {{.*}} at %{{.*}}
// CHECK: [[EMPTY:%.*]] = blk.tile_class empty {{.*}} at %{{.*}}
// CHECK: scf.if [[EMPTY]]
// CHECK: scf.if [[FULL]]
// CHECK: blk.map{{.*}}blk.runtime_mask = true
func.func @document_mask(%S: !blk.tensor<[Sq, Sk], f32>, %Doc: !blk.tensor<[Sk], i32>, %r0: index) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %Sq = blk.dim %S[0] : !blk.tensor<[Sq, Sk], f32>
  %Sk = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %n = arith.addi %Sk, %c0 : index
  %d = arith.subi %Sk, %Sq : index
  %off = arith.index_cast %d : index to i64
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %ninf_t = blk.fill %ninf : f32 -> !blk.tile<16x32xf32, reg>
  %zero_t = blk.fill %zero : f32 -> !blk.tile<16x32xf32, reg>
  %qi = blk.iota row %r0 : !blk.tile<16x32xi64, reg>
  %m = scf.for %j = %c0 to %n step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %ki = blk.iota col %j : !blk.tile<16x32xi64, reg>
    %keep = blk.map(%qi, %ki) : (!blk.tile<16x32xi64, reg>, !blk.tile<16x32xi64, reg>) -> !blk.tile<16x32xi1, reg> {
    ^bb0(%i: i64, %k: i64):
      %io = arith.addi %i, %off : i64
      %qx = arith.index_cast %io : i64 to index
      %kx = arith.index_cast %k : i64 to index
      %dq = blk.read %Doc[%qx] : !blk.tensor<[Sk], i32> -> i32
      %dk = blk.read %Doc[%kx] : !blk.tensor<[Sk], i32> -> i32
      %c = arith.cmpi eq, %dq, %dk : i32
      blk.yield %c : i1
    }
    %x = blk.select %keep, %s, %ninf_t : !blk.tile<16x32xi1, reg>, !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %x : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %y = arith.maximumf %a, %b : f32
      blk.yield %y : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  return %m : !blk.tile<16xf32, reg>
}

// -----

// Masked scores replaced by 0 (not the identity of max): an all-false tile still changes the
// running max, so it is not skipped; full tiles still drop the select.

// CHECK-LABEL: func.func @mask_not_identity
// CHECK: scf.for
// CHECK: scf.if
// CHECK-NOT: scf.if
// CHECK-NOT: blk.select
// CHECK: } else {
// CHECK: blk.select
func.func @mask_not_identity(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %Sq = blk.dim %S[0] : !blk.tensor<[Sq, Sk], f32>
  %Sk = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %n = arith.addi %Sk, %c0 : index
  %d = arith.subi %Sk, %Sq : index
  %off = arith.index_cast %d : index to i64
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %ninf_t = blk.fill %ninf : f32 -> !blk.tile<16x32xf32, reg>
  %zero_t = blk.fill %zero : f32 -> !blk.tile<16x32xf32, reg>
  %qi = blk.iota row %r0 : !blk.tile<16x32xi64, reg>
  %m = scf.for %j = %c0 to %n step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %ki = blk.iota col %j : !blk.tile<16x32xi64, reg>
    %keep = blk.map(%qi, %ki) : (!blk.tile<16x32xi64, reg>, !blk.tile<16x32xi64, reg>) -> !blk.tile<16x32xi1, reg> {
    ^bb0(%i: i64, %k: i64):
      %io = arith.addi %i, %off : i64
      %c = arith.cmpi sge, %io, %k : i64
      blk.yield %c : i1
    }
    %x = blk.select %keep, %s, %zero_t : !blk.tile<16x32xi1, reg>, !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %x : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %y = arith.maximumf %a, %b : f32
      blk.yield %y : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  return %m : !blk.tile<16xf32, reg>
}

// -----

// A mask of positions without an interval rule (a remainder): no tile is known empty or full in the
// kernel (constant bounds), a run-time block mask classifies them.

// CHECK-LABEL: func.func @no_interval_rule
// CHECK: %[[F:.*]] = arith.constant false
// CHECK: blk.tile_class full %[[F]] at
// CHECK: blk.tile_class empty %[[F]] at
// CHECK: blk.runtime_mask = true
func.func @no_interval_rule(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : i64
  %c48 = arith.constant 48 : i64
  %ninf = arith.constant 0xFF800000 : f32
  %Sk = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %ninf_t = blk.fill %ninf : f32 -> !blk.tile<16x32xf32, reg>
  %m = scf.for %j = %c0 to %Sk step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %ki = blk.iota col %j : !blk.tile<16x32xi64, reg>
    %keep = blk.map(%ki) : (!blk.tile<16x32xi64, reg>) -> !blk.tile<16x32xi1, reg> {
    ^bb0(%k: i64):
      %r = arith.remsi %k, %c64 : i64
      %c = arith.cmpi slt, %r, %c48 : i64
      blk.yield %c : i1
    }
    %x = blk.select %keep, %s, %ninf_t : !blk.tile<16x32xi1, reg>, !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %x : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %y = arith.maximumf %a, %b : f32
      blk.yield %y : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  return %m : !blk.tile<16xf32, reg>
}

// -----

// Symmetric window |q_idx - kv_idx| < 64 (math.absi): |x| over [lo, hi] is [lo, hi] when lo >= 0,
// [-hi, -lo] when hi <= 0, else [0, max(-lo, hi)]; classified in the kernel, no run-time block mask.

// CHECK-LABEL: func.func @abs_window
// CHECK: arith.cmpi sge
// CHECK: arith.select
// CHECK: arith.maxsi
// CHECK-NOT: blk.tile_class
// CHECK: scf.if
func.func @abs_window(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %Sq = blk.dim %S[0] : !blk.tensor<[Sq, Sk], f32>
  %Sk = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %ninf_t = blk.fill %ninf : f32 -> !blk.tile<16x32xf32, reg>
  %qi = blk.iota row %r0 : !blk.tile<16x32xi64, reg>
  %m = scf.for %j = %c0 to %Sk step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %ki = blk.iota col %j : !blk.tile<16x32xi64, reg>
    %keep = blk.map(%qi, %ki) : (!blk.tile<16x32xi64, reg>, !blk.tile<16x32xi64, reg>) -> !blk.tile<16x32xi1, reg> {
    ^bb0(%i: i64, %k: i64):
      %d = arith.subi %i, %k : i64
      %a = math.absi %d : i64
      %w = arith.constant 64 : i64
      %c = arith.cmpi slt, %a, %w : i64
      blk.yield %c : i1
    }
    %x = blk.select %keep, %s, %ninf_t : !blk.tile<16x32xi1, reg>, !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %x : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %y = arith.maximumf %a, %b : f32
      blk.yield %y : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  return %m : !blk.tile<16xf32, reg>
}

// -----

// Stripes kv_idx mod 64 < 48, as the lowering writes mod: x - 64 * floordiv(x, 64). Within one quotient
// block the remainder is x - 64 q; a 32-column tile starting at a multiple of 32 stays in one block.

// CHECK-LABEL: func.func @mod_stripes
// CHECK: arith.floordivsi
// CHECK: arith.cmpi eq
// CHECK-NOT: blk.tile_class
// CHECK: scf.if
func.func @mod_stripes(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %Sq = blk.dim %S[0] : !blk.tensor<[Sq, Sk], f32>
  %Sk = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %ninf_t = blk.fill %ninf : f32 -> !blk.tile<16x32xf32, reg>
  %qi = blk.iota row %r0 : !blk.tile<16x32xi64, reg>
  %m = scf.for %j = %c0 to %Sk step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %ki = blk.iota col %j : !blk.tile<16x32xi64, reg>
    %keep = blk.map(%qi, %ki) : (!blk.tile<16x32xi64, reg>, !blk.tile<16x32xi64, reg>) -> !blk.tile<16x32xi1, reg> {
    ^bb0(%i: i64, %k: i64):
      %r = arith.constant 64 : i64
      %q = arith.floordivsi %k, %r : i64
      %rq = arith.muli %r, %q : i64
      %md = arith.subi %k, %rq : i64
      %w = arith.constant 48 : i64
      %c = arith.cmpi slt, %md, %w : i64
      blk.yield %c : i1
    }
    %x = blk.select %keep, %s, %ninf_t : !blk.tile<16x32xi1, reg>, !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %x : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %y = arith.maximumf %a, %b : f32
      blk.yield %y : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  return %m : !blk.tile<16xf32, reg>
}

// -----

// q_idx < Sq / 2 written with float division: sitofp keeps the order, an ordered float comparison
// is bounded as the integer one.

// CHECK-LABEL: func.func @float_half
// CHECK: arith.cmpf olt
// CHECK-NOT: blk.tile_class
// CHECK: scf.if
func.func @float_half(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> !blk.tile<16xf32, reg> {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %Sq = blk.dim %S[0] : !blk.tensor<[Sq, Sk], f32>
  %Sk = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %ninf_t = blk.fill %ninf : f32 -> !blk.tile<16x32xf32, reg>
  %qi = blk.iota row %r0 : !blk.tile<16x32xi64, reg>
  %m = scf.for %j = %c0 to %Sk step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %ki = blk.iota col %j : !blk.tile<16x32xi64, reg>
    %keep = blk.map(%qi, %ki) : (!blk.tile<16x32xi64, reg>, !blk.tile<16x32xi64, reg>) -> !blk.tile<16x32xi1, reg> {
    ^bb0(%i: i64, %k: i64):
      %if = arith.sitofp %i : i64 to f32
      %sq = arith.index_cast %Sq : index to i64
      %sqf = arith.sitofp %sq : i64 to f32
      %two = arith.constant 2.0 : f32
      %half = arith.divf %sqf, %two : f32
      %c = arith.cmpf olt, %if, %half : f32
      blk.yield %c : i1
    }
    %x = blk.select %keep, %s, %ninf_t : !blk.tile<16x32xi1, reg>, !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %x : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %y = arith.maximumf %a, %b : f32
      blk.yield %y : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  return %m : !blk.tile<16xf32, reg>
}
