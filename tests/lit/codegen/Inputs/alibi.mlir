// Hand-written fused program of specs/alibi.json (until tilefuse-opt --tilefuse-fuse lands): ALiBi bias slopes[h] * (kv_idx - q_idx - (Sk - Sq)), causal.
// BLOCK_M = 64, BLOCK_N = 64, D = 128, bf16; the canonical FlashAttention-2 form (tail mask kv_idx < Sk,
// safe online softmax, deferred normalisation).
func.func @alibi(%Q: !blk.tensor<[B, Hq, Sq, 128], bf16>,
    %K: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
    %V: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
    %O: !blk.tensor<[B, Hq, Sq, 128], bf16>,
    %slopes: !blk.tensor<[Hq], f32> {blk.name = "slopes"}) attributes {blk.spec = "alibi"} {
  %c0 = arith.constant 0 : index
  %cG = arith.constant 1 : index
  %cBM = arith.constant 64 : index
  %cBN = arith.constant 64 : index
  %B = blk.dim %Q[0] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Hq = blk.dim %Q[1] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Sq = blk.dim %Q[2] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Sk = blk.dim %K[2] : !blk.tensor<[B, Hkv, Sk, 128], bf16>
  %nq = arith.ceildivui %Sq, %cBM : index
  %Sq64 = arith.index_cast %Sq : index to i64
  %Sk64 = arith.index_cast %Sk : index to i64
  blk.kernel @alibi_fa2 grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %cBM : index
    %hk = arith.divui %h, %cG : index
    %b64 = arith.index_cast %b : index to i64
    %h64 = arith.index_cast %h : index to i64
    %q = blk.load %Q[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, 128], bf16> -> !blk.tile<64x128xbf16, smem>
    %ninf = arith.constant 0xFF800000 : f32
    %zero = arith.constant 0.000000e+00 : f32
    %m0 = blk.fill %ninf : f32 -> !blk.tile<64xf32, reg>
    %l0 = blk.fill %zero : f32 -> !blk.tile<64xf32, reg>
    %acc0 = blk.fill %zero : f32 -> !blk.tile<64x128xf32, reg>
    %res:3 = scf.for %j = %c0 to %Sk step %cBN iter_args(%m = %m0, %l = %l0, %acc = %acc0) -> (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>) {
      %k = blk.load %K[%b, %hk, %j, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<64x128xbf16, smem>
      %s = blk.matmul %q, %k transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x64xf32, reg>
      %qi = blk.iota row %r0 : !blk.tile<64x64xi64, reg>
      %ki = blk.iota col %j : !blk.tile<64x64xi64, reg>
      %s1 = blk.map(%s, %qi, %ki) : (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xi64, reg>, !blk.tile<64x64xi64, reg>) -> !blk.tile<64x64xf32, reg> {
      ^bb0(%x: f32, %i: i64, %jj: i64):
        %scale = arith.constant 0.0883883461 : f32
        %xs = arith.mulf %x, %scale : f32
        %hi = arith.index_cast %h64 : i64 to index
        %sl = blk.read %slopes[%hi] : !blk.tensor<[Hq], f32> -> f32
        %qa = arith.addi %i, %Sk64 : i64
        %qb = arith.subi %qa, %Sq64 : i64
        %dist = arith.subi %jj, %qb : i64
        %df = arith.sitofp %dist : i64 to f32
        %bias = arith.mulf %sl, %df : f32
        %y = arith.addf %xs, %bias : f32
        blk.yield %y : f32
      }
      %inb = blk.map(%ki) : (!blk.tile<64x64xi64, reg>) -> !blk.tile<64x64xi1, reg> {
      ^bb0(%jj: i64):
        %c = arith.cmpi slt, %jj, %Sk64 : i64
        blk.yield %c : i1
      }
      %ninf_t = blk.fill %ninf : f32 -> !blk.tile<64x64xf32, reg>
      %keep = blk.map(%qi, %ki) : (!blk.tile<64x64xi64, reg>, !blk.tile<64x64xi64, reg>) -> !blk.tile<64x64xi1, reg> {
      ^bb0(%i: i64, %jj: i64):
        %off = arith.subi %Sk64, %Sq64 : i64
        %a = arith.addi %i, %off : i64
        %c = arith.cmpi sge, %a, %jj : i64
        blk.yield %c : i1
      }
      %s2 = blk.select %keep, %s1, %ninf_t : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
      %s3 = blk.select %inb, %s2, %ninf_t : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
      %mt = blk.reduce max %s3 : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
      %mn = blk.map(%m, %mt) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
      ^bb0(%x: f32, %y: f32):
        %z = arith.maximumf %x, %y : f32
        blk.yield %z : f32
      }
      %alpha = blk.map(%m, %mn) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
      ^bb0(%old: f32, %new: f32):
        // alpha = exp(m_old - safe(m_new)): 0 while nothing is accumulated (m_old = -inf)
        %e1 = arith.cmpf oeq, %new, %ninf : f32
        %sn = arith.select %e1, %zero, %new : f32
        %d = arith.subf %old, %sn : f32
        %a = math.exp %d : f32
        blk.yield %a : f32
      }
      %mb = blk.broadcast %mn : !blk.tile<64xf32, reg> -> !blk.tile<64x64xf32, reg>
      %e = blk.map(%s3, %mb) : (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
      ^bb0(%x: f32, %mx: f32):
        %em = arith.cmpf oeq, %mx, %ninf : f32
        %sm = arith.select %em, %zero, %mx : f32
        %d = arith.subf %x, %sm : f32
        %p = math.exp %d : f32
        blk.yield %p : f32
      }
      %rs = blk.reduce sum %e : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
      %ls = blk.map(%l, %alpha) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
      ^bb0(%x: f32, %a: f32):
        %y = arith.mulf %x, %a : f32
        blk.yield %y : f32
      }
      %ln = blk.map(%ls, %rs) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
      ^bb0(%x: f32, %r: f32):
        %y = arith.addf %x, %r : f32
        blk.yield %y : f32
      }
      %ab = blk.broadcast %alpha : !blk.tile<64xf32, reg> -> !blk.tile<64x128xf32, reg>
      %accs = blk.map(%acc, %ab) : (!blk.tile<64x128xf32, reg>, !blk.tile<64x128xf32, reg>) -> !blk.tile<64x128xf32, reg> {
      ^bb0(%x: f32, %a: f32):
        %y = arith.mulf %x, %a : f32
        blk.yield %y : f32
      }
      %p = blk.map(%e) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg> {
      ^bb0(%x: f32):
        %t = arith.truncf %x : f32 to bf16
        blk.yield %t : bf16
      }
      %v = blk.load %V[%b, %hk, %j, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<64x128xbf16, smem>
      %accn = blk.matmul %p, %v acc(%accs : !blk.tile<64x128xf32, reg>) : !blk.tile<64x64xbf16, reg>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
      scf.yield %mn, %ln, %accn : !blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>
    }
    %lb = blk.broadcast %res#1 : !blk.tile<64xf32, reg> -> !blk.tile<64x128xf32, reg>
    %o = blk.map(%res#2, %lb) : (!blk.tile<64x128xf32, reg>, !blk.tile<64x128xf32, reg>) -> !blk.tile<64x128xbf16, reg> {
    ^bb0(%x: f32, %lv: f32):
      %empty = arith.cmpf oeq, %lv, %zero : f32
      %qo = arith.divf %x, %lv : f32
      %y = arith.select %empty, %zero, %qo : f32
      %t = arith.truncf %y : f32 to bf16
      blk.yield %t : bf16
    }
    blk.store %o, %O[%b, %h, %r0, %c0] : !blk.tile<64x128xbf16, reg>, !blk.tensor<[B, Hq, Sq, 128], bf16>
  }
  return
}
