// RMSNorm + matmul (rmsnorm_matmul_dynamic_f.mlir) whose weights are scaled in the kernel (W * 0.5, a map over
// the whole [D?, F?] tile, as a dequantization would be): no tiling rule slices an op's tile along one of two
// `?` dims yet (loads only), so the matmul stays on `?` tiles. The rules still fuse the chain into one kernel
// with no HBM scratch, and the program is correct, but it is not done: FusionOutcome::untiled counts the ops
// left on `?` tiles (tests/unit/driver/BuildKernelTest.cpp), and tilefuse-tile warns naming the missing rule
// (fusion/tilefuse-untiled.mlir).
func.func @rmsnorm_matmul_scaled_w(%X: !blk.tensor<[T, D], f32>, %G: !blk.tensor<[D], f32>,
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
    %wq = blk.load %W[%c0, %c0] : !blk.tensor<[D, F], bf16> -> !blk.tile<?x?xbf16, reg>
    %w = blk.map(%wq) : (!blk.tile<?x?xbf16, reg>) -> !blk.tile<?x?xbf16, reg> {
    ^bb0(%q: bf16):
      %half = arith.constant 5.000000e-01 : bf16
      %s = arith.mulf %q, %half : bf16
      blk.yield %s : bf16
    }
    %y = blk.matmul %n, %w : !blk.tile<32x?xbf16, reg>, !blk.tile<?x?xbf16, reg> -> !blk.tile<32x?xf32, reg>
    blk.store %y, %Y[%r0, %c0] : !blk.tile<32x?xf32, reg>, !blk.tensor<[T, F], f32>
  }
  return
}
