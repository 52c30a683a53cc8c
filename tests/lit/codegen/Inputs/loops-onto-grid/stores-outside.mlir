// independent.mlir plus a store to Y before the loop: the kernel first writes the bias row B broadcast over
// Y[t, 0 : 64], then the loop writes every chunk, the iteration over f0 = 0 that one again (so Y = X W^T in
// the end). On the grid every program runs what comes before the loop: a program for another chunk could
// write the bias over chunk 0 after the program for chunk 0 stored X W^T there. So "loops onto the grid" must
// leave the loop in place.
func.func @chunked_matmul_prestore(%X: !blk.tensor<[T, D], bf16> {blk.name = "X"},
                                   %W: !blk.tensor<[F, D], bf16> {blk.name = "W"},
                                   %Y: !blk.tensor<[T, F], bf16> {blk.name = "Y"},
                                   %B: !blk.tensor<[64], bf16> {blk.name = "B"}) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %T = blk.dim %X[0] : !blk.tensor<[T, D], bf16>
  %D = blk.dim %X[1] : !blk.tensor<[T, D], bf16>
  %nt = arith.ceildivui %T, %c64 : index
  blk.kernel @chunked_matmul_prestore grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %F = blk.dim %W[0] : !blk.tensor<[F, D], bf16>
    %init = blk.fill %zero : f32 -> !blk.tile<64x64xf32, reg>
    %col = blk.iota col %c0 : !blk.tile<64x64xi64, reg>
    %bias = blk.map(%col) : (!blk.tile<64x64xi64, reg>) -> !blk.tile<64x64xbf16, reg> {
    ^bb0(%j: i64):
      %ji = arith.index_cast %j : i64 to index
      %b = blk.read %B[%ji] : !blk.tensor<[64], bf16> -> bf16
      blk.yield %b : bf16
    }
    blk.store %bias, %Y[%r0, %c0] : !blk.tile<64x64xbf16, reg>, !blk.tensor<[T, F], bf16>
    scf.for %f0 = %c0 to %F step %c64 {
      %acc = scf.for %k0 = %c0 to %D step %c64 iter_args(%a = %init) -> (!blk.tile<64x64xf32, reg>) {
        %x = blk.load %X[%r0, %k0] : !blk.tensor<[T, D], bf16> -> !blk.tile<64x64xbf16, reg>
        %w = blk.load %W[%f0, %k0] : !blk.tensor<[F, D], bf16> -> !blk.tile<64x64xbf16, smem>
        %m = blk.matmul %x, %w acc(%a : !blk.tile<64x64xf32, reg>) transpose_b : !blk.tile<64x64xbf16, reg>, !blk.tile<64x64xbf16, smem> -> !blk.tile<64x64xf32, reg>
        scf.yield %m : !blk.tile<64x64xf32, reg>
      }
      %yb = blk.map(%acc) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg> {
      ^bb0(%v: f32):
        %b = arith.truncf %v : f32 to bf16
        blk.yield %b : bf16
      }
      blk.store %yb, %Y[%r0, %f0] : !blk.tile<64x64xbf16, reg>, !blk.tensor<[T, F], bf16>
    }
  }
  return
}
