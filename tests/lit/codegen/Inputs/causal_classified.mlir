// Hand-written fused program of specs/causal.json in the form tilefuse-classify-tiles produces (see
// compiler/include/tilefuse/compiler/Passes.td): every (Q tile, K/V tile) pair is classified at run
// time as empty (skipped: the carried values pass through), full (no mask) or partial (mask_mod and the
// K/V tail applied); K and V are loaded in both bodies. Q goes straight into registers (tilefuse-place
// q-in=reg), ops are in another order than in causal.mlir (V loaded before the softmax, l updated after
// P V, operands of the maps swapped, maxnumf), and O is normalised by a reciprocal.
func.func @causal(%Q: !blk.tensor<[B, Hq, Sq, 128], bf16>, %K: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
    %V: !blk.tensor<[B, Hkv, Sk, 128], bf16>, %O: !blk.tensor<[B, Hq, Sq, 128], bf16>,
    %LSE: !blk.tensor<[B, Hq, Sq], f32>) attributes {blk.spec = "causal"} {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c63 = arith.constant 63 : index
  %c64 = arith.constant 64 : index
  %B = blk.dim %Q[0] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Hq = blk.dim %Q[1] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Sq = blk.dim %Q[2] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Sk = blk.dim %K[2] : !blk.tensor<[B, Hkv, Sk, 128], bf16>
  %nq = arith.ceildivui %Sq, %c64 : index
  %Sq64 = arith.index_cast %Sq : index to i64
  %Sk64 = arith.index_cast %Sk : index to i64
  %off = arith.subi %Sk, %Sq : index
  blk.kernel @causal_fa2 grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %hk = arith.divui %h, %c1 : index
    %q = blk.load %Q[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, 128], bf16> -> !blk.tile<64x128xbf16, reg>
    %ninf = arith.constant 0xFF800000 : f32
    %zero = arith.constant 0.000000e+00 : f32
    %m0 = blk.fill %ninf : f32 -> !blk.tile<64xf32, reg>
    %l0 = blk.fill %zero : f32 -> !blk.tile<64xf32, reg>
    %acc0 = blk.fill %zero : f32 -> !blk.tile<64x128xf32, reg>
    // The last key any row of the Q tile sees, and the first key its first row does not.
    %lastq = arith.addi %r0, %c63 : index
    %lastk = arith.addi %lastq, %off : index
    %firstk = arith.addi %r0, %off : index
    %res:3 = scf.for %j = %c0 to %Sk step %c64 iter_args(%m = %m0, %l = %l0, %acc = %acc0) -> (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>) {
      %empty = arith.cmpi sgt, %j, %lastk : index
      %r:3 = scf.if %empty -> (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>) {
        scf.yield %m, %l, %acc : !blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>
      } else {
        %jl = arith.addi %j, %c63 : index
        %f1 = arith.cmpi sle, %jl, %firstk : index
        %jn = arith.addi %j, %c64 : index
        %f2 = arith.cmpi sle, %jn, %Sk : index
        %full = arith.andi %f1, %f2 : i1
        %t:3 = scf.if %full -> (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>) {
          %k_f = blk.load %K[%b, %hk, %j, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<64x128xbf16, smem>
          %s_f = blk.matmul %q, %k_f transpose_b : !blk.tile<64x128xbf16, reg>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x64xf32, reg>
          %v_f = blk.load %V[%b, %hk, %j, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<64x128xbf16, smem>
          %x_f = blk.map(%s_f) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
          ^bb0(%x: f32):
            %sc = arith.constant 0.0883883461 : f32
            %y = arith.mulf %x, %sc : f32
            blk.yield %y : f32
          }
          %mt_f = blk.reduce max %x_f : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
          %mn_f = blk.map(%mt_f, %m) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
          ^bb0(%y: f32, %xo: f32):
            %z = arith.maxnumf %xo, %y : f32
            blk.yield %z : f32
          }
          %mb_f = blk.broadcast %mn_f : !blk.tile<64xf32, reg> -> !blk.tile<64x64xf32, reg>
          %e_f = blk.map(%x_f, %mb_f) : (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
          ^bb0(%xv: f32, %mx: f32):
            %em = arith.cmpf oeq, %mx, %ninf : f32
            %sm = arith.select %em, %zero, %mx : f32
            %d = arith.subf %xv, %sm : f32
            %p = math.exp %d : f32
            blk.yield %p : f32
          }
          %alpha_f = blk.map(%m, %mn_f) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
          ^bb0(%old: f32, %new: f32):
            %e1 = arith.cmpf oeq, %new, %ninf : f32
            %sn = arith.select %e1, %zero, %new : f32
            %d = arith.subf %old, %sn : f32
            %a = math.exp %d : f32
            blk.yield %a : f32
          }
          %p_f = blk.map(%e_f) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg> {
          ^bb0(%xv: f32):
            %t = arith.truncf %xv : f32 to bf16
            blk.yield %t : bf16
          }
          %ab_f = blk.broadcast %alpha_f : !blk.tile<64xf32, reg> -> !blk.tile<64x128xf32, reg>
          %accs_f = blk.map(%ab_f, %acc) : (!blk.tile<64x128xf32, reg>, !blk.tile<64x128xf32, reg>) -> !blk.tile<64x128xf32, reg> {
          ^bb0(%a: f32, %xv: f32):
            %y = arith.mulf %a, %xv : f32
            blk.yield %y : f32
          }
          %accn_f = blk.matmul %p_f, %v_f acc(%accs_f : !blk.tile<64x128xf32, reg>) : !blk.tile<64x64xbf16, reg>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
          %rs_f = blk.reduce sum %e_f : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
          %ln_f = blk.map(%l, %alpha_f, %rs_f) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
          ^bb0(%lv: f32, %a: f32, %r: f32):
            %y = arith.mulf %lv, %a : f32
            %z = arith.addf %y, %r : f32
            blk.yield %z : f32
          }
          scf.yield %mn_f, %ln_f, %accn_f : !blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>
        } else {
          %k_p = blk.load %K[%b, %hk, %j, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<64x128xbf16, smem>
          %s_p = blk.matmul %q, %k_p transpose_b : !blk.tile<64x128xbf16, reg>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x64xf32, reg>
          %v_p = blk.load %V[%b, %hk, %j, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<64x128xbf16, smem>
          %qi_p = blk.iota row %r0 : !blk.tile<64x64xi64, reg>
          %ki_p = blk.iota col %j : !blk.tile<64x64xi64, reg>
          %keep_p = blk.map(%qi_p, %ki_p) : (!blk.tile<64x64xi64, reg>, !blk.tile<64x64xi64, reg>) -> !blk.tile<64x64xi1, reg> {
          ^bb0(%i: i64, %jj: i64):
            %o64 = arith.subi %Sk64, %Sq64 : i64
            %a = arith.addi %i, %o64 : i64
            %k1 = arith.cmpi sge, %a, %jj : i64
            %k2 = arith.cmpi slt, %jj, %Sk64 : i64
            %c = arith.andi %k1, %k2 : i1
            blk.yield %c : i1
          }
          %ninf_t_p = blk.fill %ninf : f32 -> !blk.tile<64x64xf32, reg>
          %x_p = blk.map(%s_p) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
          ^bb0(%x: f32):
            %sc = arith.constant 0.0883883461 : f32
            %y = arith.mulf %x, %sc : f32
            blk.yield %y : f32
          }
          %xm_p = blk.select %keep_p, %x_p, %ninf_t_p : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
          %mt_p = blk.reduce max %xm_p : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
          %mn_p = blk.map(%mt_p, %m) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
          ^bb0(%y: f32, %xo: f32):
            %z = arith.maxnumf %xo, %y : f32
            blk.yield %z : f32
          }
          %mb_p = blk.broadcast %mn_p : !blk.tile<64xf32, reg> -> !blk.tile<64x64xf32, reg>
          %e_p = blk.map(%xm_p, %mb_p) : (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
          ^bb0(%xv: f32, %mx: f32):
            %em = arith.cmpf oeq, %mx, %ninf : f32
            %sm = arith.select %em, %zero, %mx : f32
            %d = arith.subf %xv, %sm : f32
            %p = math.exp %d : f32
            blk.yield %p : f32
          }
          %alpha_p = blk.map(%m, %mn_p) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
          ^bb0(%old: f32, %new: f32):
            %e1 = arith.cmpf oeq, %new, %ninf : f32
            %sn = arith.select %e1, %zero, %new : f32
            %d = arith.subf %old, %sn : f32
            %a = math.exp %d : f32
            blk.yield %a : f32
          }
          %p_p = blk.map(%e_p) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg> {
          ^bb0(%xv: f32):
            %t = arith.truncf %xv : f32 to bf16
            blk.yield %t : bf16
          }
          %ab_p = blk.broadcast %alpha_p : !blk.tile<64xf32, reg> -> !blk.tile<64x128xf32, reg>
          %accs_p = blk.map(%ab_p, %acc) : (!blk.tile<64x128xf32, reg>, !blk.tile<64x128xf32, reg>) -> !blk.tile<64x128xf32, reg> {
          ^bb0(%a: f32, %xv: f32):
            %y = arith.mulf %a, %xv : f32
            blk.yield %y : f32
          }
          %accn_p = blk.matmul %p_p, %v_p acc(%accs_p : !blk.tile<64x128xf32, reg>) : !blk.tile<64x64xbf16, reg>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
          %rs_p = blk.reduce sum %e_p : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
          %ln_p = blk.map(%l, %alpha_p, %rs_p) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
          ^bb0(%lv: f32, %a: f32, %r: f32):
            %y = arith.mulf %lv, %a : f32
            %z = arith.addf %y, %r : f32
            blk.yield %z : f32
          }
          scf.yield %mn_p, %ln_p, %accn_p : !blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>
        }
        scf.yield %t#0, %t#1, %t#2 : !blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>
      }
      scf.yield %r#0, %r#1, %r#2 : !blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>
    }
    %inv = blk.map(%res#1) : (!blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%lv: f32):
      %one = arith.constant 1.000000e+00 : f32
      %pos = arith.cmpf ogt, %lv, %zero : f32
      %rc = arith.divf %one, %lv : f32
      %y = arith.select %pos, %rc, %zero : f32
      blk.yield %y : f32
    }
    %ib = blk.broadcast %inv : !blk.tile<64xf32, reg> -> !blk.tile<64x128xf32, reg>
    %o = blk.map(%res#2, %ib) : (!blk.tile<64x128xf32, reg>, !blk.tile<64x128xf32, reg>) -> !blk.tile<64x128xbf16, reg> {
    ^bb0(%x: f32, %s: f32):
      %y = arith.mulf %x, %s : f32
      %t = arith.truncf %y : f32 to bf16
      blk.yield %t : bf16
    }
    blk.store %o, %O[%b, %h, %r0, %c0] : !blk.tile<64x128xbf16, reg>, !blk.tensor<[B, Hq, Sq, 128], bf16>
    %lse = blk.map(%res#0, %res#1) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%mx: f32, %lv: f32):
      %lg = math.log %lv : f32
      %em = arith.cmpf oeq, %mx, %ninf : f32
      %sm = arith.select %em, %zero, %mx : f32
      %y = arith.addf %sm, %lg : f32
      blk.yield %y : f32
    }
    blk.store %lse, %LSE[%b, %h, %r0] : !blk.tile<64xf32, reg>, !blk.tensor<[B, Hq, Sq], f32>
  }
  return
}
