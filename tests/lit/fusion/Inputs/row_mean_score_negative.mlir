// Issue 14: row_mean_score.mlir with %c0 = -1, so every tiled loop starts at -1 (and every
// load at offset -1); --tilefuse-fuse once crashed on it.
func.func @row_mean_score(%Q: !blk.tensor<[B, Hq, Sq, 128], bf16>,
                             %K: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
                             %V: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
                             %O: !blk.tensor<[B, Hq, Sq, 128], bf16>,
                             %LSE: !blk.tensor<[B, Hq, Sq], f32>,
                             %slopes: !blk.tensor<[Hq], f32>) {
  %c0 = arith.constant -1 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
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
  blk.kernel @softmax grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %s = blk.load %S[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, Sk], f32> -> !blk.tile<64x?xf32, reg>
    %qi = blk.iota row %r0 : !blk.tile<64x?xi64, reg>
    %ki = blk.iota col %c0 : !blk.tile<64x?xi64, reg>
    %s1 = blk.map(%s, %qi, %ki) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xi64, reg>, !blk.tile<64x?xi64, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32, %i: i64, %j: i64):
      %scale = arith.constant 0.0883883461 : f32
      %xs = arith.mulf %x, %scale : f32
      %slope = blk.read %slopes[%h] : !blk.tensor<[Hq], f32> -> f32
      %d = arith.subi %j, %i : i64
      %df = arith.sitofp %d : i64 to f32
      %bias = arith.mulf %slope, %df : f32
      %y = arith.addf %xs, %bias : f32
      blk.yield %y : f32
    }
    %keep = blk.map(%qi, %ki) : (!blk.tile<64x?xi64, reg>, !blk.tile<64x?xi64, reg>) -> !blk.tile<64x?xi1, reg> {
    ^bb0(%i: i64, %j: i64):
      %c = arith.cmpi sge, %i, %j : i64
      blk.yield %c : i1
    }
    %abs = blk.map(%s1) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32):
      %a = math.absf %x : f32
      blk.yield %a : f32
    }
    %asum = blk.reduce sum %abs : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %mean = blk.map(%asum) : (!blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%x: f32):
      %ski = arith.index_cast %Sk : index to i64
      %skf = arith.sitofp %ski : i64 to f32
      %mu = arith.divf %x, %skf : f32
      blk.yield %mu : f32
    }
    %meanb = blk.broadcast %mean : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %s1n = blk.map(%s1, %meanb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32, %mu: f32):
      %y = arith.divf %x, %mu : f32
      blk.yield %y : f32
    }
    %ninf = arith.constant 0xFF800000 : f32
    %ninf_t = blk.fill %ninf : f32 -> !blk.tile<64x?xf32, reg>
    %s2 = blk.select %keep, %s1n, %ninf_t : !blk.tile<64x?xi1, reg>, !blk.tile<64x?xf32, reg>
    %m = blk.reduce max %s2 : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %mb = blk.broadcast %m : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %e = blk.map(%s2, %mb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32, %mx: f32):
      %ni = arith.constant 0xFF800000 : f32
      %z = arith.constant 0.0 : f32
      %isinf = arith.cmpf oeq, %mx, %ni : f32
      %ms = arith.select %isinf, %z, %mx : f32
      %t = arith.subf %x, %ms : f32
      %y = math.exp %t : f32
      blk.yield %y : f32
    }
    %l = blk.reduce sum %e : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %lb = blk.broadcast %l : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %p = blk.map(%e, %lb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%x: f32, %sum: f32):
      %z = arith.constant 0.0 : f32
      %empty = arith.cmpf oeq, %sum, %z : f32
      %y = arith.divf %x, %sum : f32
      %ys = arith.select %empty, %z, %y : f32
      %yb = arith.truncf %ys : f32 to bf16
      blk.yield %yb : bf16
    }
    blk.store %p, %P[%b, %h, %r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[B, Hq, Sq, Sk], bf16>
    %lse = blk.map(%m, %l) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%mx: f32, %sum: f32):
      %ni = arith.constant 0xFF800000 : f32
      %z = arith.constant 0.0 : f32
      %isinf = arith.cmpf oeq, %mx, %ni : f32
      %ms = arith.select %isinf, %z, %mx : f32
      %lg = math.log %sum : f32
      %y = arith.addf %ms, %lg : f32
      blk.yield %y : f32
    }
    blk.store %lse, %LSE[%b, %h, %r0] : !blk.tile<64xf32, reg>, !blk.tensor<[B, Hq, Sq], f32>
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
