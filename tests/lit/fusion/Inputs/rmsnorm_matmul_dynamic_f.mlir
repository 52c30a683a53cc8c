// RMSNorm + matmul (rmsnorm_matmul.mlir) with a run-time output width F, as an FFN with F = 14336 given at
// run time: the matmul's result and contraction dims are both `?`. Nested tiling cuts both: the store's loop
// over F chunks holds the contraction's loop over D chunks (tests/unit/fusion/FuseProgramsTest.cpp checks it
// against the unfused program in the fp64 interpreter; fusion/tilefuse-nested-tiling.mlir shows the loops).
func.func @rmsnorm_matmul_dynamic_f(%X: !blk.tensor<[T, D], f32>, %G: !blk.tensor<[D], f32>,
                          %W: !blk.tensor<[D, F], bf16>, %Y: !blk.tensor<[T, F], f32>) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %T = blk.dim %X[0] : !blk.tensor<[T, D], f32>
  %D = blk.dim %X[1] : !blk.tensor<[T, D], f32>
  %nt = arith.ceildivui %T, %c32 : index
  %N = blk.alloc(%T, %D) : !blk.tensor<[T, D], bf16>
  blk.kernel @rmsnorm grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c32 : index
    %x = blk.load %X[%r0, %c0] : !blk.tensor<[T, D], f32> -> !blk.tile<32x?xf32, reg>
    %sq = blk.map(%x) : (!blk.tile<32x?xf32, reg>) -> !blk.tile<32x?xf32, reg> {
    ^bb0(%v: f32):
      %v2 = arith.mulf %v, %v : f32
      blk.yield %v2 : f32
    }
    %ss = blk.reduce sum %sq : !blk.tile<32x?xf32, reg> -> !blk.tile<32xf32, reg>
    %r = blk.map(%ss) : (!blk.tile<32xf32, reg>) -> !blk.tile<32xf32, reg> {
    ^bb0(%s: f32):
      %di = arith.index_cast %D : index to i64
      %df = arith.sitofp %di : i64 to f32
      %eps = arith.constant 1.0e-06 : f32
      %mean = arith.divf %s, %df : f32
      %me = arith.addf %mean, %eps : f32
      %rs = math.rsqrt %me : f32
      blk.yield %rs : f32
    }
    %rb = blk.broadcast %r : !blk.tile<32xf32, reg> -> !blk.tile<32x?xf32, reg>
    %col = blk.iota col %c0 : !blk.tile<32x?xi64, reg>
    %n = blk.map(%x, %col, %rb) : (!blk.tile<32x?xf32, reg>, !blk.tile<32x?xi64, reg>, !blk.tile<32x?xf32, reg>) -> !blk.tile<32x?xbf16, reg> {
    ^bb0(%v: f32, %j: i64, %rr: f32):
      %ji = arith.index_cast %j : i64 to index
      %g = blk.read %G[%ji] : !blk.tensor<[D], f32> -> f32
      %vg = arith.mulf %v, %g : f32
      %y = arith.mulf %vg, %rr : f32
      %yb = arith.truncf %y : f32 to bf16
      blk.yield %yb : bf16
    }
    blk.store %n, %N[%r0, %c0] : !blk.tile<32x?xbf16, reg>, !blk.tensor<[T, D], bf16>
  }
  blk.kernel @matmul grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c32 : index
    %n = blk.load %N[%r0, %c0] : !blk.tensor<[T, D], bf16> -> !blk.tile<32x?xbf16, reg>
    %w = blk.load %W[%c0, %c0] : !blk.tensor<[D, F], bf16> -> !blk.tile<?x?xbf16, smem>
    %y = blk.matmul %n, %w : !blk.tile<32x?xbf16, reg>, !blk.tile<?x?xbf16, smem> -> !blk.tile<32x?xf32, reg>
    blk.store %y, %Y[%r0, %c0] : !blk.tile<32x?xf32, reg>, !blk.tensor<[T, F], f32>
  }
  return
}
