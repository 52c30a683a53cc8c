// Stick-breaking attention (Tan et al. 2024, "Scaling Stick-Breaking Attention", Sec. 2), unfused: the
// weight of key j in query row i is A_ij = beta_ij * prod_{j < k < i} (1 - beta_ik), beta = sigmoid(s),
// for j < i (0 elsewhere), and O_i = sum_j A_ij V_j (no normalizer: the weights sum to at most 1).
// In log space, with z_ik = softplus(s_ik) = -log(1 - beta_ik) masked to 0 for k >= i:
//   A_ij = exp(s_ij - z_ij - R_ij),  R_ij = sum_{k > j} z_ik   (log beta = s - softplus(s))
// R is a reverse exclusive scan along the row (blk.scan sum reverse exclusive). The exponent is <= 0,
// so no running max is needed. Scale 1/sqrt(128); GQA group 4; Sq = Sk aligned top-left.
func.func @stick_breaking(%Q: !blk.tensor<[B, Hq, Sq, 128], bf16>,
                          %K: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
                          %V: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
                          %O: !blk.tensor<[B, Hq, Sq, 128], bf16>) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  %c0f = arith.constant 0.0 : f32
  %B = blk.dim %Q[0] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Hq = blk.dim %Q[1] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Sq = blk.dim %Q[2] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Sk = blk.dim %K[2] : !blk.tensor<[B, Hkv, Sk, 128], bf16>
  %nq = arith.ceildivui %Sq, %c64 : index
  %S = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], f32>
  %P = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], bf16>
  blk.kernel @qk grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %hk = arith.divui %h, %c4 : index
    %q = blk.load %Q[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, 128], bf16> -> !blk.tile<64x128xbf16, smem>
    %k = blk.load %K[%b, %hk, %c0, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<?x128xbf16, smem>
    %s = blk.matmul %q, %k transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x?xf32, reg>
    blk.store %s, %S[%b, %h, %r0, %c0] : !blk.tile<64x?xf32, reg>, !blk.tensor<[B, Hq, Sq, Sk], f32>
  }
  blk.kernel @weights grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %s = blk.load %S[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, Sk], f32> -> !blk.tile<64x?xf32, reg>
    %qi = blk.iota row %r0 : !blk.tile<64x?xi64, reg>
    %ki = blk.iota col %c0 : !blk.tile<64x?xi64, reg>
    %keep = blk.map(%qi, %ki) : (!blk.tile<64x?xi64, reg>, !blk.tile<64x?xi64, reg>) -> !blk.tile<64x?xi1, reg> {
    ^bb0(%i: i64, %j: i64):
      %c = arith.cmpi sgt, %i, %j : i64
      blk.yield %c : i1
    }
    // z = softplus(scale * s) = max(x, 0) + log1p(exp(-|x|)), 0 where masked.
    %sp = blk.map(%s) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32):
      %scale = arith.constant 0.0883883461 : f32
      %zero = arith.constant 0.0 : f32
      %xs = arith.mulf %x, %scale : f32
      %pos = arith.maximumf %xs, %zero : f32
      %a = math.absf %xs : f32
      %na = arith.negf %a : f32
      %e = math.exp %na : f32
      %l = math.log1p %e : f32
      %y = arith.addf %pos, %l : f32
      blk.yield %y : f32
    }
    %zeros = blk.fill %c0f : f32 -> !blk.tile<64x?xf32, reg>
    %z = blk.select %keep, %sp, %zeros : !blk.tile<64x?xi1, reg>, !blk.tile<64x?xf32, reg>
    %r = blk.scan sum %z reverse exclusive : !blk.tile<64x?xf32, reg> -> !blk.tile<64x?xf32, reg>
    %w = blk.map(%s, %z, %r) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32, %zz: f32, %rr: f32):
      %scale = arith.constant 0.0883883461 : f32
      %xs = arith.mulf %x, %scale : f32
      %t0 = arith.subf %xs, %zz : f32
      %t = arith.subf %t0, %rr : f32
      %y = math.exp %t : f32
      blk.yield %y : f32
    }
    %wm = blk.select %keep, %w, %zeros : !blk.tile<64x?xi1, reg>, !blk.tile<64x?xf32, reg>
    %p = blk.map(%wm) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%x: f32):
      %y = arith.truncf %x : f32 to bf16
      blk.yield %y : bf16
    }
    blk.store %p, %P[%b, %h, %r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[B, Hq, Sq, Sk], bf16>
  }
  blk.kernel @pv grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %hk = arith.divui %h, %c4 : index
    %p = blk.load %P[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, Sk], bf16> -> !blk.tile<64x?xbf16, reg>
    %v = blk.load %V[%b, %hk, %c0, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<?x128xbf16, smem>
    %o = blk.matmul %p, %v : !blk.tile<64x?xbf16, reg>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
    %ob = blk.map(%o) : (!blk.tile<64x128xf32, reg>) -> !blk.tile<64x128xbf16, reg> {
    ^bb0(%x: f32):
      %y = arith.truncf %x : f32 to bf16
      blk.yield %y : bf16
    }
    blk.store %ob, %O[%b, %h, %r0, %c0] : !blk.tile<64x128xbf16, reg>, !blk.tensor<[B, Hq, Sq, 128], bf16>
  }
  return
}
