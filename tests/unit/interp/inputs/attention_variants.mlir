// Block programs the interpreter tests run against a naive fp64 attention. Not a lit test.
//
// @safe_attention  unfused (FlashAttention Algorithm 0, three kernels through HBM), any head dim D
//                  (`?` tile dims), GQA group Hq / Hkv, scale 1/sqrt(D), bottom-right causal mask
//                  (kv_idx <= q_idx + Sk - Sq, so rows q_idx < Sq - Sk are fully masked when
//                  Sq > Sk) and the safe softmax: m_safe = (m == -inf ? 0 : m),
//                  p = (l == 0 ? 0 : e / l), LSE = m_safe + log(l): a fully masked row gives
//                  O = 0 and LSE = -inf.
// @flash_attention the same attention fused (FlashAttention-2 forward): one kernel, an scf.for over
//                  64-wide K/V tiles carrying the running max m, running sum l and the O
//                  accumulator as iter_args, plus a tanh soft-cap score_mod (cap 20).

func.func @safe_attention(%Q: !blk.tensor<[B, Hq, Sq, D], bf16>,
                          %K: !blk.tensor<[B, Hkv, Sk, D], bf16>,
                          %V: !blk.tensor<[B, Hkv, Sk, D], bf16>,
                          %O: !blk.tensor<[B, Hq, Sq, D], bf16>,
                          %LSE: !blk.tensor<[B, Hq, Sq], f32>) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %B = blk.dim %Q[0] : !blk.tensor<[B, Hq, Sq, D], bf16>
  %Hq = blk.dim %Q[1] : !blk.tensor<[B, Hq, Sq, D], bf16>
  %Sq = blk.dim %Q[2] : !blk.tensor<[B, Hq, Sq, D], bf16>
  %D = blk.dim %Q[3] : !blk.tensor<[B, Hq, Sq, D], bf16>
  %Hkv = blk.dim %K[1] : !blk.tensor<[B, Hkv, Sk, D], bf16>
  %Sk = blk.dim %K[2] : !blk.tensor<[B, Hkv, Sk, D], bf16>
  %group = arith.divui %Hq, %Hkv : index
  %nq = arith.ceildivui %Sq, %c64 : index
  %Di = arith.index_cast %D : index to i64
  %Df = arith.sitofp %Di : i64 to f32
  %scale = math.rsqrt %Df : f32
  %diag = arith.subi %Sk, %Sq : index
  %diag32 = arith.index_cast %diag : index to i32
  %S = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], f32>
  %P = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], bf16>

  blk.kernel @qk grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %hk = arith.divui %h, %group : index
    %q = blk.load %Q[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, D], bf16> -> !blk.tile<64x?xbf16, smem>
    %k = blk.load %K[%b, %hk, %c0, %c0] : !blk.tensor<[B, Hkv, Sk, D], bf16> -> !blk.tile<?x?xbf16, smem>
    %s = blk.matmul %q, %k transpose_b : !blk.tile<64x?xbf16, smem>, !blk.tile<?x?xbf16, smem> -> !blk.tile<64x?xf32, reg>
    blk.store %s, %S[%b, %h, %r0, %c0] : !blk.tile<64x?xf32, reg>, !blk.tensor<[B, Hq, Sq, Sk], f32>
  }

  blk.kernel @softmax grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %s = blk.load %S[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, Sk], f32> -> !blk.tile<64x?xf32, reg>
    %qi = blk.iota row %r0 : !blk.tile<64x?xi32, reg>
    %ki = blk.iota col %c0 : !blk.tile<64x?xi32, reg>
    %s1 = blk.map(%s) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32):
      %y = arith.mulf %x, %scale : f32
      blk.yield %y : f32
    }
    %keep = blk.map(%qi, %ki) : (!blk.tile<64x?xi32, reg>, !blk.tile<64x?xi32, reg>) -> !blk.tile<64x?xi1, reg> {
    ^bb0(%i: i32, %j: i32):
      %lim = arith.addi %i, %diag32 : i32
      %c = arith.cmpi sle, %j, %lim : i32
      blk.yield %c : i1
    }
    %ninf = arith.constant 0xFF800000 : f32
    %ninf_t = blk.fill %ninf : f32 -> !blk.tile<64x?xf32, reg>
    %s2 = blk.select %keep, %s1, %ninf_t : !blk.tile<64x?xi1, reg>, !blk.tile<64x?xf32, reg>
    %m = blk.reduce max %s2 : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %msafe = blk.map(%m) : (!blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%x: f32):
      %zero = arith.constant 0.0 : f32
      %isninf = arith.cmpf oeq, %x, %ninf : f32
      %y = arith.select %isninf, %zero, %x : f32
      blk.yield %y : f32
    }
    %mb = blk.broadcast %msafe : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %e = blk.map(%s2, %mb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32, %mx: f32):
      %t = arith.subf %x, %mx : f32
      %y = math.exp %t : f32
      blk.yield %y : f32
    }
    %l = blk.reduce sum %e : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %lb = blk.broadcast %l : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %p = blk.map(%e, %lb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%x: f32, %sum: f32):
      %zero = arith.constant 0.0 : f32
      %empty = arith.cmpf oeq, %sum, %zero : f32
      %quot = arith.divf %x, %sum : f32
      %y = arith.select %empty, %zero, %quot : f32
      %yb = arith.truncf %y : f32 to bf16
      blk.yield %yb : bf16
    }
    blk.store %p, %P[%b, %h, %r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[B, Hq, Sq, Sk], bf16>
    %lse = blk.map(%msafe, %l) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%mx: f32, %sum: f32):
      %lg = math.log %sum : f32
      %y = arith.addf %mx, %lg : f32
      blk.yield %y : f32
    }
    blk.store %lse, %LSE[%b, %h, %r0] : !blk.tile<64xf32, reg>, !blk.tensor<[B, Hq, Sq], f32>
  }

  blk.kernel @pv grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %hk = arith.divui %h, %group : index
    %p = blk.load %P[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, Sk], bf16> -> !blk.tile<64x?xbf16, smem>
    %pr = blk.copy %p : !blk.tile<64x?xbf16, smem> -> !blk.tile<64x?xbf16, reg>
    %v = blk.load %V[%b, %hk, %c0, %c0] : !blk.tensor<[B, Hkv, Sk, D], bf16> -> !blk.tile<?x?xbf16, smem>
    %zero = arith.constant 0.0 : f32
    %acc = blk.fill %zero : f32 -> !blk.tile<64x?xf32, reg>
    %o = blk.matmul %pr, %v acc(%acc : !blk.tile<64x?xf32, reg>) : !blk.tile<64x?xbf16, reg>, !blk.tile<?x?xbf16, smem> -> !blk.tile<64x?xf32, reg>
    %ob = blk.map(%o) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%x: f32):
      %y = arith.truncf %x : f32 to bf16
      blk.yield %y : bf16
    }
    blk.store %ob, %O[%b, %h, %r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[B, Hq, Sq, D], bf16>
  }
  return
}

func.func @flash_attention(%Q: !blk.tensor<[B, Hq, Sq, D], bf16>,
                           %K: !blk.tensor<[B, Hkv, Sk, D], bf16>,
                           %V: !blk.tensor<[B, Hkv, Sk, D], bf16>,
                           %O: !blk.tensor<[B, Hq, Sq, D], bf16>,
                           %LSE: !blk.tensor<[B, Hq, Sq], f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %B = blk.dim %Q[0] : !blk.tensor<[B, Hq, Sq, D], bf16>
  %Hq = blk.dim %Q[1] : !blk.tensor<[B, Hq, Sq, D], bf16>
  %Sq = blk.dim %Q[2] : !blk.tensor<[B, Hq, Sq, D], bf16>
  %D = blk.dim %Q[3] : !blk.tensor<[B, Hq, Sq, D], bf16>
  %Hkv = blk.dim %K[1] : !blk.tensor<[B, Hkv, Sk, D], bf16>
  %Sk = blk.dim %K[2] : !blk.tensor<[B, Hkv, Sk, D], bf16>
  %group = arith.divui %Hq, %Hkv : index
  %nq = arith.ceildivui %Sq, %c64 : index
  %nk = arith.ceildivui %Sk, %c64 : index
  %Di = arith.index_cast %D : index to i64
  %Df = arith.sitofp %Di : i64 to f32
  %scale = math.rsqrt %Df : f32
  %diag = arith.subi %Sk, %Sq : index
  %diag32 = arith.index_cast %diag : index to i32
  %Sk32 = arith.index_cast %Sk : index to i32
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.0 : f32
  %cap = arith.constant 20.0 : f32

  blk.kernel @flash grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %hk = arith.divui %h, %group : index
    %q = blk.load %Q[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, D], bf16> -> !blk.tile<64x?xbf16, smem>
    %m0 = blk.fill %ninf : f32 -> !blk.tile<64xf32, reg>
    %l0 = blk.fill %zero : f32 -> !blk.tile<64xf32, reg>
    %acc0 = blk.fill %zero : f32 -> !blk.tile<64x?xf32, reg>
    %ninf_t = blk.fill %ninf : f32 -> !blk.tile<64x64xf32, reg>
    %res:3 = scf.for %kt = %c0 to %nk step %c1
        iter_args(%m = %m0, %l = %l0, %acc = %acc0)
        -> (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x?xf32, reg>) {
      %k0 = arith.muli %kt, %c64 : index
      %k = blk.load %K[%b, %hk, %k0, %c0] : !blk.tensor<[B, Hkv, Sk, D], bf16> -> !blk.tile<64x?xbf16, smem>
      %v = blk.load %V[%b, %hk, %k0, %c0] : !blk.tensor<[B, Hkv, Sk, D], bf16> -> !blk.tile<64x?xbf16, smem>
      %s = blk.matmul %q, %k transpose_b : !blk.tile<64x?xbf16, smem>, !blk.tile<64x?xbf16, smem> -> !blk.tile<64x64xf32, reg>
      %qi = blk.iota row %r0 : !blk.tile<64x64xi32, reg>
      %ki = blk.iota col %k0 : !blk.tile<64x64xi32, reg>
      %keep = blk.map(%qi, %ki) : (!blk.tile<64x64xi32, reg>, !blk.tile<64x64xi32, reg>) -> !blk.tile<64x64xi1, reg> {
      ^bb0(%i: i32, %j: i32):
        %lim = arith.addi %i, %diag32 : i32
        %causal = arith.cmpi sle, %j, %lim : i32
        %inside = arith.cmpi slt, %j, %Sk32 : i32
        %c = arith.andi %causal, %inside : i1
        blk.yield %c : i1
      }
      %s1 = blk.map(%s) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
      ^bb0(%x: f32):
        %xs = arith.mulf %x, %scale : f32
        %t = arith.divf %xs, %cap : f32
        %th = math.tanh %t : f32
        %y = arith.mulf %th, %cap : f32
        blk.yield %y : f32
      }
      %s2 = blk.select %keep, %s1, %ninf_t : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
      %mt = blk.reduce max %s2 : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
      %mn = blk.map(%m, %mt) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
      ^bb0(%a: f32, %c: f32):
        %y = arith.maximumf %a, %c : f32
        blk.yield %y : f32
      }
      %ms = blk.map(%mn) : (!blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
      ^bb0(%x: f32):
        %isninf = arith.cmpf oeq, %x, %ninf : f32
        %y = arith.select %isninf, %zero, %x : f32
        blk.yield %y : f32
      }
      %alpha = blk.map(%m, %ms) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
      ^bb0(%old: f32, %new: f32):
        %d = arith.subf %old, %new : f32
        %y = math.exp %d : f32
        blk.yield %y : f32
      }
      %msb = blk.broadcast %ms : !blk.tile<64xf32, reg> -> !blk.tile<64x64xf32, reg>
      %p = blk.map(%s2, %msb) : (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
      ^bb0(%x: f32, %mx: f32):
        %t = arith.subf %x, %mx : f32
        %y = math.exp %t : f32
        blk.yield %y : f32
      }
      %lt = blk.reduce sum %p : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
      %ln = blk.map(%l, %alpha, %lt) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
      ^bb0(%lo: f32, %a: f32, %add: f32):
        %sc = arith.mulf %lo, %a : f32
        %y = arith.addf %sc, %add : f32
        blk.yield %y : f32
      }
      %ab = blk.broadcast %alpha : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
      %accs = blk.map(%acc, %ab) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
      ^bb0(%o: f32, %a: f32):
        %y = arith.mulf %o, %a : f32
        blk.yield %y : f32
      }
      %pb = blk.map(%p) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg> {
      ^bb0(%x: f32):
        %y = arith.truncf %x : f32 to bf16
        blk.yield %y : bf16
      }
      %accn = blk.matmul %pb, %v acc(%accs : !blk.tile<64x?xf32, reg>) : !blk.tile<64x64xbf16, reg>, !blk.tile<64x?xbf16, smem> -> !blk.tile<64x?xf32, reg>
      scf.yield %mn, %ln, %accn : !blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x?xf32, reg>
    }
    %lb = blk.broadcast %res#1 : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %o = blk.map(%res#2, %lb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%x: f32, %sum: f32):
      %empty = arith.cmpf oeq, %sum, %zero : f32
      %quot = arith.divf %x, %sum : f32
      %y = arith.select %empty, %zero, %quot : f32
      %yb = arith.truncf %y : f32 to bf16
      blk.yield %yb : bf16
    }
    blk.store %o, %O[%b, %h, %r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[B, Hq, Sq, D], bf16>
    %lse = blk.map(%res#0, %res#1) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%mx: f32, %sum: f32):
      %isninf = arith.cmpf oeq, %mx, %ninf : f32
      %ms = arith.select %isninf, %zero, %mx : f32
      %lg = math.log %sum : f32
      %y = arith.addf %ms, %lg : f32
      blk.yield %y : f32
    }
    blk.store %lse, %LSE[%b, %h, %r0] : !blk.tile<64xf32, reg>, !blk.tensor<[B, Hq, Sq], f32>
  }
  return
}
