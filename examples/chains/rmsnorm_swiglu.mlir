// RMSNorm + SwiGLU feed-forward (Llama's FFN block; Blockbuster part 1), unfused, one kernel per step:
//   kernel @rmsnorm: ss = sum_j x_j^2, r = rsqrt(ss / D + eps), n_j = x_j * g_j * r -> HBM scratch N
//   kernel @gate:    H1 = N W1^T                                                  -> HBM scratch H1
//   kernel @up:      H3 = N W3^T                                                  -> HBM scratch H3
//   kernel @swiglu:  A = silu(H1) * H3, silu(h) = h / (1 + exp(-h))              -> HBM scratch A
//   kernel @down:    Y = A W2^T
// Shapes: X [T, D] bf16 (hidden states), G [D] bf16 (the norm's weight), W1 and W3 [F, D] bf16 (gate and
// up projections), W2 [D, F] bf16 (down projection; all nn.Linear weights, row-major), Y [T, D] bf16.
// T, D (hidden) and F (intermediate) are run-time sizes; eps = 1e-5. The rules fuse it into one kernel
// (docs/FUSION.md, "Non-attention chains"): N, H1, H3 and A stay in registers, r leaves both gate and up
// contractions (deferred normalization), and the store of Y[:, D] becomes a loop over D chunks holding the
// down projection's loop over F chunks, which holds the gate and up contractions' loop over D chunks
// (nested tiling, twice). The gate and up products are recomputed for every D chunk of Y: ceil(D / BLOCK_N)
// times (docs/FUSION.md counts the cost).
func.func @rmsnorm_swiglu(%X: !blk.tensor<[T, D], bf16> {blk.name = "X"}, %G: !blk.tensor<[D], bf16> {blk.name = "G"},
                          %W1: !blk.tensor<[F, D], bf16> {blk.name = "W1"}, %W3: !blk.tensor<[F, D], bf16> {blk.name = "W3"},
                          %W2: !blk.tensor<[D, F], bf16> {blk.name = "W2"}, %Y: !blk.tensor<[T, D], bf16> {blk.name = "Y"}) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %T = blk.dim %X[0] : !blk.tensor<[T, D], bf16>
  %D = blk.dim %X[1] : !blk.tensor<[T, D], bf16>
  %F = blk.dim %W1[0] : !blk.tensor<[F, D], bf16>
  %nt = arith.ceildivui %T, %c64 : index
  %N = blk.alloc(%T, %D) : !blk.tensor<[T, D], bf16>
  %H1 = blk.alloc(%T, %F) : !blk.tensor<[T, F], bf16>
  %H3 = blk.alloc(%T, %F) : !blk.tensor<[T, F], bf16>
  %A = blk.alloc(%T, %F) : !blk.tensor<[T, F], bf16>
  blk.kernel @rmsnorm grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %x = blk.load %X[%r0, %c0] : !blk.tensor<[T, D], bf16> -> !blk.tile<64x?xbf16, reg>
    %sq = blk.map(%x) : (!blk.tile<64x?xbf16, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%v: bf16):
      %vf = arith.extf %v : bf16 to f32
      %v2 = arith.mulf %vf, %vf : f32
      blk.yield %v2 : f32
    }
    %ss = blk.reduce sum %sq : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %r = blk.map(%ss) : (!blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%s: f32):
      %di = arith.index_cast %D : index to i64
      %df = arith.sitofp %di : i64 to f32
      %eps = arith.constant 1.0e-05 : f32
      %mean = arith.divf %s, %df : f32
      %me = arith.addf %mean, %eps : f32
      %rs = math.rsqrt %me : f32
      blk.yield %rs : f32
    }
    %rb = blk.broadcast %r : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %col = blk.iota col %c0 : !blk.tile<64x?xi64, reg>
    %n = blk.map(%x, %col, %rb) : (!blk.tile<64x?xbf16, reg>, !blk.tile<64x?xi64, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%v: bf16, %j: i64, %rr: f32):
      %ji = arith.index_cast %j : i64 to index
      %g = blk.read %G[%ji] : !blk.tensor<[D], bf16> -> bf16
      %vf = arith.extf %v : bf16 to f32
      %gf = arith.extf %g : bf16 to f32
      %vg = arith.mulf %vf, %gf : f32
      %y = arith.mulf %vg, %rr : f32
      %yb = arith.truncf %y : f32 to bf16
      blk.yield %yb : bf16
    }
    blk.store %n, %N[%r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[T, D], bf16>
  }
  blk.kernel @gate grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %n = blk.load %N[%r0, %c0] : !blk.tensor<[T, D], bf16> -> !blk.tile<64x?xbf16, reg>
    %w1 = blk.load %W1[%c0, %c0] : !blk.tensor<[F, D], bf16> -> !blk.tile<?x?xbf16, smem>
    %h = blk.matmul %n, %w1 transpose_b : !blk.tile<64x?xbf16, reg>, !blk.tile<?x?xbf16, smem> -> !blk.tile<64x?xf32, reg>
    %hb = blk.map(%h) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%v: f32):
      %b = arith.truncf %v : f32 to bf16
      blk.yield %b : bf16
    }
    blk.store %hb, %H1[%r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[T, F], bf16>
  }
  blk.kernel @up grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %n = blk.load %N[%r0, %c0] : !blk.tensor<[T, D], bf16> -> !blk.tile<64x?xbf16, reg>
    %w3 = blk.load %W3[%c0, %c0] : !blk.tensor<[F, D], bf16> -> !blk.tile<?x?xbf16, smem>
    %h = blk.matmul %n, %w3 transpose_b : !blk.tile<64x?xbf16, reg>, !blk.tile<?x?xbf16, smem> -> !blk.tile<64x?xf32, reg>
    %hb = blk.map(%h) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%v: f32):
      %b = arith.truncf %v : f32 to bf16
      blk.yield %b : bf16
    }
    blk.store %hb, %H3[%r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[T, F], bf16>
  }
  blk.kernel @swiglu grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %h1 = blk.load %H1[%r0, %c0] : !blk.tensor<[T, F], bf16> -> !blk.tile<64x?xbf16, reg>
    %h3 = blk.load %H3[%r0, %c0] : !blk.tensor<[T, F], bf16> -> !blk.tile<64x?xbf16, reg>
    %a = blk.map(%h1, %h3) : (!blk.tile<64x?xbf16, reg>, !blk.tile<64x?xbf16, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%u: bf16, %v: bf16):
      %one = arith.constant 1.0 : f32
      %uf = arith.extf %u : bf16 to f32
      %vf = arith.extf %v : bf16 to f32
      %nu = arith.negf %uf : f32
      %e = math.exp %nu : f32
      %den = arith.addf %e, %one : f32
      %s = arith.divf %uf, %den : f32
      %p = arith.mulf %s, %vf : f32
      %pb = arith.truncf %p : f32 to bf16
      blk.yield %pb : bf16
    }
    blk.store %a, %A[%r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[T, F], bf16>
  }
  blk.kernel @down grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %a = blk.load %A[%r0, %c0] : !blk.tensor<[T, F], bf16> -> !blk.tile<64x?xbf16, reg>
    %w2 = blk.load %W2[%c0, %c0] : !blk.tensor<[D, F], bf16> -> !blk.tile<?x?xbf16, smem>
    %y = blk.matmul %a, %w2 transpose_b : !blk.tile<64x?xbf16, reg>, !blk.tile<?x?xbf16, smem> -> !blk.tile<64x?xf32, reg>
    %yb = blk.map(%y) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%v: f32):
      %b = arith.truncf %v : f32 to bf16
      blk.yield %b : bf16
    }
    blk.store %yb, %Y[%r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[T, D], bf16>
  }
  return
}
