// RUN: tilefuse-opt %s --tilefuse-online-normalization -split-input-file | FileCheck %s
// RUN: tilefuse-opt %s --tilefuse-online-normalization -split-input-file --verify-diagnostics > /dev/null

// l = sum_j exp(s_j - c(m)) needs the final max m of the first loop. The rule merges the sum
// into the max loop: each iteration rescales l by alpha = exp(c(m_old) - c(m_new)) (1 when the
// max did not move, 0 while it is still -inf) and adds exp(s_j - c(m_new)). The safe
// c(m) = (m == -inf ? 0 : m) is cloned into alpha.

// CHECK-LABEL: func.func @sum_against_running_max
// CHECK: [[ML:%.*]]:2 = scf.for [[J:%.*]] = {{.*}} iter_args([[MI:%.*]] = %{{.*}}, [[LI:%.*]] = %{{.*}}) -> (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) {
// CHECK:   [[S:%.*]] = blk.load
// CHECK:   [[R:%.*]] = blk.reduce max [[S]]
// CHECK:   [[MN:%.*]] = blk.map([[MI]], [[R]])
// CHECK:     arith.maximumf
// CHECK:   [[ALPHA:%.*]] = blk.map([[MI]], [[MN]])
// CHECK-NEXT: ^bb0(%[[OLD:.*]]: f32, %[[NEW:.*]]: f32):
// CHECK:     [[COLD:%.*]] = arith.select %{{.*}}, %{{.*}}, %[[OLD]] : f32
// CHECK:     [[CNEW:%.*]] = arith.select %{{.*}}, %{{.*}}, %[[NEW]] : f32
// CHECK:     [[D:%.*]] = arith.subf [[COLD]], [[CNEW]] : f32
// CHECK:     [[E:%.*]] = math.exp [[D]] : f32
// CHECK:     [[EMPTY:%.*]] = arith.cmpf oeq, %[[OLD]], %{{.*}} : f32
// CHECK:     [[G:%.*]] = arith.select [[EMPTY]], %{{.*}}, [[E]] : f32
// CHECK:     [[SAME:%.*]] = arith.cmpf oeq, %[[OLD]], %[[NEW]] : f32
// CHECK:     arith.select [[SAME]], %{{.*}}, [[G]] : f32
// CHECK:   [[LS:%.*]] = blk.map([[LI]], [[ALPHA]])
// CHECK:     arith.mulf
// CHECK:   [[MB:%.*]] = blk.broadcast [[MN]] : !blk.tile<16xf32, reg> -> !blk.tile<16x32xf32, reg>
// CHECK:   [[EX:%.*]] = blk.map(%{{.*}}, [[MB]])
// CHECK:   [[RS:%.*]] = blk.reduce sum [[EX]]
// CHECK:   [[LN:%.*]] = blk.map([[LS]], [[RS]])
// CHECK:   scf.yield [[MN]], [[LN]]
// CHECK-NOT: scf.for
// CHECK: return [[ML]]#0, [[ML]]#1
func.func @sum_against_running_max(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %n = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %m = scf.for %j = %c0 to %n step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %s : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %x = arith.maximumf %a, %b : f32
      blk.yield %x : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  %l0 = blk.fill %zero : f32 -> !blk.tile<16xf32, reg>
  %l = scf.for %j = %c0 to %n step %c32 iter_args(%li = %l0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %mb = blk.broadcast %m : !blk.tile<16xf32, reg> -> !blk.tile<16x32xf32, reg>
    %e = blk.map(%s, %mb) : (!blk.tile<16x32xf32, reg>, !blk.tile<16x32xf32, reg>) -> !blk.tile<16x32xf32, reg> {
    ^bb0(%x: f32, %mx: f32):
      %ni = arith.constant 0xFF800000 : f32
      %z = arith.constant 0.0 : f32
      %inf = arith.cmpf oeq, %mx, %ni : f32
      %ms = arith.select %inf, %z, %mx : f32
      %t = arith.subf %x, %ms : f32
      %y = math.exp %t : f32
      blk.yield %y : f32
    }
    %r = blk.reduce sum %e : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %ln = blk.map(%li, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %x = arith.addf %a, %b : f32
      blk.yield %x : f32
    }
    scf.yield %ln : !blk.tile<16xf32, reg>
  }
  return %m, %l : !blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>
}

// -----

// The P V accumulator (a matmul accumulator, 16x64) is rescaled the same way: the row factor
// alpha is broadcast over its columns.

// CHECK-LABEL: func.func @matmul_accumulator_against_running_max
// CHECK: scf.for {{.*}} -> (!blk.tile<16xf32, reg>, !blk.tile<16x64xf32, reg>) {
// CHECK:   [[MN:%.*]] = blk.map
// CHECK:     arith.maximumf
// CHECK:   [[ALPHA:%.*]] = blk.map(%{{.*}}, [[MN]])
// CHECK:   [[AB:%.*]] = blk.broadcast [[ALPHA]] : !blk.tile<16xf32, reg> -> !blk.tile<16x64xf32, reg>
// CHECK:   [[OS:%.*]] = blk.map(%{{.*}}, [[AB]])
// CHECK:     arith.mulf
// CHECK:   blk.matmul %{{.*}}, %{{.*}} acc([[OS]] : !blk.tile<16x64xf32, reg>)
// CHECK-NOT: scf.for
func.func @matmul_accumulator_against_running_max(%S: !blk.tensor<[Sq, Sk], f32>, %V: !blk.tensor<[Sk, 64], f32>, %r0: index)
    -> (!blk.tile<16xf32, reg>, !blk.tile<16x64xf32, reg>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %n = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %m = scf.for %j = %c0 to %n step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %s : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %x = arith.maximumf %a, %b : f32
      blk.yield %x : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  %o0 = blk.fill %zero : f32 -> !blk.tile<16x64xf32, reg>
  %o = scf.for %j = %c0 to %n step %c32 iter_args(%oi = %o0) -> (!blk.tile<16x64xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %mb = blk.broadcast %m : !blk.tile<16xf32, reg> -> !blk.tile<16x32xf32, reg>
    %e = blk.map(%s, %mb) : (!blk.tile<16x32xf32, reg>, !blk.tile<16x32xf32, reg>) -> !blk.tile<16x32xf32, reg> {
    ^bb0(%x: f32, %mx: f32):
      %ni = arith.constant 0xFF800000 : f32
      %z = arith.constant 0.0 : f32
      %inf = arith.cmpf oeq, %mx, %ni : f32
      %ms = arith.select %inf, %z, %mx : f32
      %t = arith.subf %x, %ms : f32
      %y = math.exp %t : f32
      blk.yield %y : f32
    }
    %v = blk.load %V[%j, %c0] : !blk.tensor<[Sk, 64], f32> -> !blk.tile<32x64xf32, smem>
    %on = blk.matmul %e, %v acc(%oi : !blk.tile<16x64xf32, reg>) : !blk.tile<16x32xf32, reg>, !blk.tile<32x64xf32, smem> -> !blk.tile<16x64xf32, reg>
    scf.yield %on : !blk.tile<16x64xf32, reg>
  }
  return %m, %o : !blk.tile<16xf32, reg>, !blk.tile<16x64xf32, reg>
}

// -----

// The unsafe exp(s - m): with m_running = -inf on a fully masked chunk, exp(-inf + inf) = NaN
// where the unfused program gives 0. The loops stay apart.

// CHECK-LABEL: func.func @unsafe_offset
// CHECK: scf.for
// CHECK: scf.for
func.func @unsafe_offset(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %n = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %m = scf.for %j = %c0 to %n step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %s : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %x = arith.maximumf %a, %b : f32
      blk.yield %x : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  %l0 = blk.fill %zero : f32 -> !blk.tile<16xf32, reg>
  // expected-warning @+1 {{c(m) in exp(x - c(m)) is not finite at m = -inf}}
  %l = scf.for %j = %c0 to %n step %c32 iter_args(%li = %l0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %mb = blk.broadcast %m : !blk.tile<16xf32, reg> -> !blk.tile<16x32xf32, reg>
    %e = blk.map(%s, %mb) : (!blk.tile<16x32xf32, reg>, !blk.tile<16x32xf32, reg>) -> !blk.tile<16x32xf32, reg> {
    ^bb0(%x: f32, %mx: f32):
      %t = arith.subf %x, %mx : f32
      %y = math.exp %t : f32
      blk.yield %y : f32
    }
    %r = blk.reduce sum %e : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %ln = blk.map(%li, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %x = arith.addf %a, %b : f32
      blk.yield %x : f32
    }
    scf.yield %ln : !blk.tile<16xf32, reg>
  }
  return %m, %l : !blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>
}

// -----

// exp(2 s - m): the exponent is not bounded by the running max of s, so the running form
// could overflow where the unfused program does not.

// CHECK-LABEL: func.func @unbounded_exponent
// CHECK: scf.for
// CHECK: scf.for
func.func @unbounded_exponent(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %n = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %m0 = blk.fill %ninf : f32 -> !blk.tile<16xf32, reg>
  %m = scf.for %j = %c0 to %n step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %r = blk.reduce max %s : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %x = arith.maximumf %a, %b : f32
      blk.yield %x : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  %l0 = blk.fill %zero : f32 -> !blk.tile<16xf32, reg>
  // expected-warning @+1 {{the exponent's argument is not the operand of the running max}}
  %l = scf.for %j = %c0 to %n step %c32 iter_args(%li = %l0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %mb = blk.broadcast %m : !blk.tile<16xf32, reg> -> !blk.tile<16x32xf32, reg>
    %e = blk.map(%s, %mb) : (!blk.tile<16x32xf32, reg>, !blk.tile<16x32xf32, reg>) -> !blk.tile<16x32xf32, reg> {
    ^bb0(%x: f32, %mx: f32):
      %two = arith.constant 2.0 : f32
      %x2 = arith.mulf %x, %two : f32
      %ni = arith.constant 0xFF800000 : f32
      %z = arith.constant 0.0 : f32
      %inf = arith.cmpf oeq, %mx, %ni : f32
      %ms = arith.select %inf, %z, %mx : f32
      %t = arith.subf %x2, %ms : f32
      %y = math.exp %t : f32
      blk.yield %y : f32
    }
    %r = blk.reduce sum %e : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %ln = blk.map(%li, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %x = arith.addf %a, %b : f32
      blk.yield %x : f32
    }
    scf.yield %ln : !blk.tile<16xf32, reg>
  }
  return %m, %l : !blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>
}

// -----

// The first loop carries a running sum, not a max: nothing can rescale a value that needs the
// whole row's sum (a score_mod dividing by the row mean). Two passes stay.

// CHECK-LABEL: func.func @needs_running_sum
// CHECK: scf.for
// CHECK: scf.for
func.func @needs_running_sum(%S: !blk.tensor<[Sq, Sk], f32>, %r0: index) -> (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %n = blk.dim %S[1] : !blk.tensor<[Sq, Sk], f32>
  %m0 = blk.fill %zero : f32 -> !blk.tile<16xf32, reg>
  %m = scf.for %j = %c0 to %n step %c32 iter_args(%mi = %m0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %r = blk.reduce sum %s : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %mn = blk.map(%mi, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %x = arith.addf %a, %b : f32
      blk.yield %x : f32
    }
    scf.yield %mn : !blk.tile<16xf32, reg>
  }
  %l0 = blk.fill %zero : f32 -> !blk.tile<16xf32, reg>
  // expected-warning @+1 {{it needs the final value of a running sum (not of a running max)}}
  %l = scf.for %j = %c0 to %n step %c32 iter_args(%li = %l0) -> (!blk.tile<16xf32, reg>) {
    %s = blk.load %S[%r0, %j] : !blk.tensor<[Sq, Sk], f32> -> !blk.tile<16x32xf32, reg>
    %mb = blk.broadcast %m : !blk.tile<16xf32, reg> -> !blk.tile<16x32xf32, reg>
    %e = blk.map(%s, %mb) : (!blk.tile<16x32xf32, reg>, !blk.tile<16x32xf32, reg>) -> !blk.tile<16x32xf32, reg> {
    ^bb0(%x: f32, %mx: f32):
      %ni = arith.constant 0xFF800000 : f32
      %z = arith.constant 0.0 : f32
      %inf = arith.cmpf oeq, %mx, %ni : f32
      %ms = arith.select %inf, %z, %mx : f32
      %t = arith.subf %x, %ms : f32
      %y = math.exp %t : f32
      blk.yield %y : f32
    }
    %r = blk.reduce sum %e : !blk.tile<16x32xf32, reg> -> !blk.tile<16xf32, reg>
    %ln = blk.map(%li, %r) : (!blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>) -> !blk.tile<16xf32, reg> {
    ^bb0(%a: f32, %b: f32):
      %x = arith.addf %a, %b : f32
      blk.yield %x : f32
    }
    scf.yield %ln : !blk.tile<16xf32, reg>
  }
  return %m, %l : !blk.tile<16xf32, reg>, !blk.tile<16xf32, reg>
}
