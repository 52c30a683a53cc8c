// LayerNorm + matmul (GPT-2's and ViT's attention and MLP input projections), unfused:
//   kernel @layernorm: mu = sum_j x_j / D, var = max(sum_j x_j^2 / D - mu^2, 0), r = rsqrt(var + eps),
//                      n_j = (x_j - mu) * r * g_j + b_j -> HBM scratch N
//   kernel @matmul:    Y = N W^T
// Shapes: X [T, D] bf16 (hidden states), G [D] bf16 and Bn [D] bf16 (the norm's weight and bias),
// W [F, D] bf16 (nn.Linear's weight, row-major), Y [T, F] bf16. T, D and F are run-time sizes; eps
// = 1e-5. var is the biased variance of torch.nn.functional.layer_norm, sum_j (x_j - mu)^2 / D, in its
// one-pass form (max(., 0) keeps a rounding below 0 from giving NaN): the two-pass form needs the final
// mu before its loop starts, so it would stay a second pass over D with a warning (docs/FUSION.md).
// The rules fuse it into one kernel (docs/FUSION.md, "Non-attention chains"): N stays in registers,
// the two row sums become one loop over D chunks (loop fusion), and the store of Y[:, F] becomes a loop
// over F chunks around the contraction's loop over D (nested tiling). The bias keeps n from being a
// product of a row factor and the rest, so mu and r stay inside the contraction (no deferred
// normalization).
func.func @layernorm_matmul(%X: !blk.tensor<[T, D], bf16> {blk.name = "X"}, %G: !blk.tensor<[D], bf16> {blk.name = "G"},
                            %Bn: !blk.tensor<[D], bf16> {blk.name = "Bn"}, %W: !blk.tensor<[F, D], bf16> {blk.name = "W"},
                            %Y: !blk.tensor<[T, F], bf16> {blk.name = "Y"}) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %T = blk.dim %X[0] : !blk.tensor<[T, D], bf16>
  %D = blk.dim %X[1] : !blk.tensor<[T, D], bf16>
  %nt = arith.ceildivui %T, %c64 : index
  %N = blk.alloc(%T, %D) : !blk.tensor<[T, D], bf16>
  blk.kernel @layernorm grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %x = blk.load %X[%r0, %c0] : !blk.tensor<[T, D], bf16> -> !blk.tile<64x?xbf16, reg>
    %xf = blk.map(%x) : (!blk.tile<64x?xbf16, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%v: bf16):
      %vf = arith.extf %v : bf16 to f32
      blk.yield %vf : f32
    }
    %s = blk.reduce sum %xf : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %mu = blk.map(%s) : (!blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%a: f32):
      %di = arith.index_cast %D : index to i64
      %df = arith.sitofp %di : i64 to f32
      %m = arith.divf %a, %df : f32
      blk.yield %m : f32
    }
    %sq = blk.map(%x) : (!blk.tile<64x?xbf16, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%v: bf16):
      %vf = arith.extf %v : bf16 to f32
      %v2 = arith.mulf %vf, %vf : f32
      blk.yield %v2 : f32
    }
    %ss = blk.reduce sum %sq : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %r = blk.map(%ss, %mu) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%a: f32, %m: f32):
      %di = arith.index_cast %D : index to i64
      %df = arith.sitofp %di : i64 to f32
      %eps = arith.constant 1.0e-05 : f32
      %zero = arith.constant 0.0 : f32
      %ex2 = arith.divf %a, %df : f32
      %m2 = arith.mulf %m, %m : f32
      %d = arith.subf %ex2, %m2 : f32
      %var = arith.maximumf %d, %zero : f32
      %ve = arith.addf %var, %eps : f32
      %rs = math.rsqrt %ve : f32
      blk.yield %rs : f32
    }
    %mub = blk.broadcast %mu : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %rb = blk.broadcast %r : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %col = blk.iota col %c0 : !blk.tile<64x?xi64, reg>
    %n = blk.map(%x, %col, %mub, %rb) : (!blk.tile<64x?xbf16, reg>, !blk.tile<64x?xi64, reg>, !blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%v: bf16, %j: i64, %m: f32, %rr: f32):
      %ji = arith.index_cast %j : i64 to index
      %g = blk.read %G[%ji] : !blk.tensor<[D], bf16> -> bf16
      %b = blk.read %Bn[%ji] : !blk.tensor<[D], bf16> -> bf16
      %vf = arith.extf %v : bf16 to f32
      %gf = arith.extf %g : bf16 to f32
      %bf = arith.extf %b : bf16 to f32
      %c = arith.subf %vf, %m : f32
      %cr = arith.mulf %c, %rr : f32
      %cg = arith.mulf %cr, %gf : f32
      %y = arith.addf %cg, %bf : f32
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
