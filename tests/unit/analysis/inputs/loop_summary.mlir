// Two copies of one program for tests/unit/analysis/IOReportTest.cpp. In @walked the induction
// variable reaches the body through arith.divui %j0, %c1 (the same value), which LoopPlan does not
// model, so the IO report walks every iteration; @summarized uses it directly and is walked once
// per run of equal iterations. The loop starts below 0 (windows before the tensor), steps by 48
// (not a divisor of the tile), runs past the end, has a window moving backwards, compares of
// every kind (sle on 3 * iv against the Q tile, eq, ne), branches of different cost, a store and
// a nested loop. Both reports must be equal.
func.func @summarized(%T: !blk.tensor<[Sk, 32], f32>, %U: !blk.tensor<[Sq, 32], f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c3_i64 = arith.constant 3 : i64
  %c44 = arith.constant 44 : index
  %c48 = arith.constant 48 : index
  %c64 = arith.constant 64 : index
  %c92 = arith.constant 92 : index
  %cm100 = arith.constant -100 : index
  %zero = arith.constant 0.000000e+00 : f32
  %Sk = blk.dim %T[0] : !blk.tensor<[Sk, 32], f32>
  %Sq = blk.dim %U[0] : !blk.tensor<[Sq, 32], f32>
  %nq = arith.ceildivui %Sq, %c64 : index
  %hi = arith.addi %Sk, %c64 : index
  blk.kernel @summarized grid(%nq) {
  ^bb0(%qt: index):
    %q0 = arith.muli %qt, %c64 : index
    %u = blk.load %U[%q0, %c0] : !blk.tensor<[Sq, 32], f32> -> !blk.tile<64x32xf32, reg>
    %acc0 = blk.fill %zero : f32 -> !blk.tile<64x32xf32, reg>
    %r = scf.for %j0 = %cm100 to %hi step %c48 iter_args(%acc = %acc0) -> (!blk.tile<64x32xf32, reg>) {
      %j = arith.addi %j0, %c0 : index
      %a = blk.load %T[%j, %c0] : !blk.tensor<[Sk, 32], f32> -> !blk.tile<64x32xf32, smem>
      %back = arith.subi %Sk, %j : index
      %back2 = arith.subi %back, %c64 : index
      %b = blk.load %T[%back2, %c0] : !blk.tensor<[Sk, 32], f32> -> !blk.tile<16x32xf32, reg>
      %j64 = arith.index_cast %j : index to i64
      %twice = arith.muli %j64, %c3_i64 : i64
      %q064 = arith.index_cast %q0 : index to i64
      %near = arith.cmpi sle, %twice, %q064 : i64
      %at = arith.cmpi eq, %j, %c44 : index
      %not92 = arith.cmpi ne, %j, %c92 : index
      %x = arith.ori %near, %at : i1
      %res = scf.if %x -> (!blk.tile<64x32xf32, reg>) {
        %s = blk.map(%acc, %u) : (!blk.tile<64x32xf32, reg>, !blk.tile<64x32xf32, reg>) -> !blk.tile<64x32xf32, reg> {
        ^bb0(%p: f32, %q: f32):
          %e = math.exp %q : f32
          %t = arith.addf %p, %e : f32
          blk.yield %t : f32
        }
        scf.yield %s : !blk.tile<64x32xf32, reg>
      } else {
        %ar = blk.copy %a : !blk.tile<64x32xf32, smem> -> !blk.tile<64x32xf32, reg>
        %s = blk.map(%acc, %ar) : (!blk.tile<64x32xf32, reg>, !blk.tile<64x32xf32, reg>) -> !blk.tile<64x32xf32, reg> {
        ^bb0(%p: f32, %q: f32):
          %t = arith.addf %p, %q : f32
          blk.yield %t : f32
        }
        scf.yield %s : !blk.tile<64x32xf32, reg>
      }
      scf.if %not92 {
        blk.store %b, %T[%back2, %c0] : !blk.tile<16x32xf32, reg>, !blk.tensor<[Sk, 32], f32>
      }
      scf.for %i = %c0 to %c2 step %c1 {
        %w = blk.load %U[%q0, %c0] : !blk.tensor<[Sq, 32], f32> -> !blk.tile<64x32xf32, smem>
      }
      scf.yield %res : !blk.tile<64x32xf32, reg>
    }
    blk.store %r, %U[%q0, %c0] : !blk.tile<64x32xf32, reg>, !blk.tensor<[Sq, 32], f32>
  }
  return
}

func.func @walked(%T: !blk.tensor<[Sk, 32], f32>, %U: !blk.tensor<[Sq, 32], f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %c3_i64 = arith.constant 3 : i64
  %c44 = arith.constant 44 : index
  %c48 = arith.constant 48 : index
  %c64 = arith.constant 64 : index
  %c92 = arith.constant 92 : index
  %cm100 = arith.constant -100 : index
  %zero = arith.constant 0.000000e+00 : f32
  %Sk = blk.dim %T[0] : !blk.tensor<[Sk, 32], f32>
  %Sq = blk.dim %U[0] : !blk.tensor<[Sq, 32], f32>
  %nq = arith.ceildivui %Sq, %c64 : index
  %hi = arith.addi %Sk, %c64 : index
  blk.kernel @walked grid(%nq) {
  ^bb0(%qt: index):
    %q0 = arith.muli %qt, %c64 : index
    %u = blk.load %U[%q0, %c0] : !blk.tensor<[Sq, 32], f32> -> !blk.tile<64x32xf32, reg>
    %acc0 = blk.fill %zero : f32 -> !blk.tile<64x32xf32, reg>
    %r = scf.for %j0 = %cm100 to %hi step %c48 iter_args(%acc = %acc0) -> (!blk.tile<64x32xf32, reg>) {
      %j = arith.divui %j0, %c1 : index
      %a = blk.load %T[%j, %c0] : !blk.tensor<[Sk, 32], f32> -> !blk.tile<64x32xf32, smem>
      %back = arith.subi %Sk, %j : index
      %back2 = arith.subi %back, %c64 : index
      %b = blk.load %T[%back2, %c0] : !blk.tensor<[Sk, 32], f32> -> !blk.tile<16x32xf32, reg>
      %j64 = arith.index_cast %j : index to i64
      %twice = arith.muli %j64, %c3_i64 : i64
      %q064 = arith.index_cast %q0 : index to i64
      %near = arith.cmpi sle, %twice, %q064 : i64
      %at = arith.cmpi eq, %j, %c44 : index
      %not92 = arith.cmpi ne, %j, %c92 : index
      %x = arith.ori %near, %at : i1
      %res = scf.if %x -> (!blk.tile<64x32xf32, reg>) {
        %s = blk.map(%acc, %u) : (!blk.tile<64x32xf32, reg>, !blk.tile<64x32xf32, reg>) -> !blk.tile<64x32xf32, reg> {
        ^bb0(%p: f32, %q: f32):
          %e = math.exp %q : f32
          %t = arith.addf %p, %e : f32
          blk.yield %t : f32
        }
        scf.yield %s : !blk.tile<64x32xf32, reg>
      } else {
        %ar = blk.copy %a : !blk.tile<64x32xf32, smem> -> !blk.tile<64x32xf32, reg>
        %s = blk.map(%acc, %ar) : (!blk.tile<64x32xf32, reg>, !blk.tile<64x32xf32, reg>) -> !blk.tile<64x32xf32, reg> {
        ^bb0(%p: f32, %q: f32):
          %t = arith.addf %p, %q : f32
          blk.yield %t : f32
        }
        scf.yield %s : !blk.tile<64x32xf32, reg>
      }
      scf.if %not92 {
        blk.store %b, %T[%back2, %c0] : !blk.tile<16x32xf32, reg>, !blk.tensor<[Sk, 32], f32>
      }
      scf.for %i = %c0 to %c2 step %c1 {
        %w = blk.load %U[%q0, %c0] : !blk.tensor<[Sq, 32], f32> -> !blk.tile<64x32xf32, smem>
      }
      scf.yield %res : !blk.tile<64x32xf32, reg>
    }
    blk.store %r, %U[%q0, %c0] : !blk.tile<64x32xf32, reg>, !blk.tensor<[Sq, 32], f32>
  }
  return
}
