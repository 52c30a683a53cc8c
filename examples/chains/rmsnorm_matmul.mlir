// RMSNorm + matmul (Blockbuster part 1; Llama's attention and FFN input projections), unfused:
//   kernel @rmsnorm: ss = sum_j x_j^2, r = rsqrt(ss / D + eps), n_j = x_j * g_j * r -> HBM scratch N
//   kernel @matmul:  Y = N W^T
// Shapes: X [T, D] bf16 (hidden states), G [D] bf16 (the norm's weight), W [F, D] bf16 (nn.Linear's
// weight, row-major), Y [T, F] bf16. T, D and F are run-time sizes. The rules fuse it into one kernel
// (docs/FUSION.md): N stays in registers, r leaves the contraction (deferred normalization), and the
// store of Y[:, F] becomes a loop over F chunks around the contraction's loop over D (nested tiling).
func.func @rmsnorm_matmul(%X: !blk.tensor<[T, D], bf16> {blk.name = "X"}, %G: !blk.tensor<[D], bf16> {blk.name = "G"},
                          %W: !blk.tensor<[F, D], bf16> {blk.name = "W"}, %Y: !blk.tensor<[T, F], bf16> {blk.name = "Y"}) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %T = blk.dim %X[0] : !blk.tensor<[T, D], bf16>
  %D = blk.dim %X[1] : !blk.tensor<[T, D], bf16>
  %nt = arith.ceildivui %T, %c64 : index
  %N = blk.alloc(%T, %D) : !blk.tensor<[T, D], bf16>
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
  blk.kernel @matmul grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %n = blk.load %N[%r0, %c0] : !blk.tensor<[T, D], bf16> -> !blk.tile<64x?xbf16, reg>
    %w = blk.load %W[%c0, %c0] : !blk.tensor<[F, D], bf16> -> !blk.tile<?x?xbf16, smem>
    %y = blk.matmul %n, %w transpose_b : !blk.tile<64x?xbf16, reg>, !blk.tile<?x?xbf16, smem> -> !blk.tile<64x?xf32, reg>
    %yb = blk.map(%y) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%v: f32):
      %b = arith.truncf %v : f32 to bf16
      blk.yield %b : bf16
    }
    blk.store %yb, %Y[%r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[T, F], bf16>
  }
  return
}
