// Y = X W^T tiled as the rules tile a matmul with a run-time output width (nested tiling, as in
// examples/chains/rmsnorm_matmul.mlir fused): a loop over 64-wide F chunks around the contraction's loop over
// D; each iteration stores its own chunk Y[t, f0 : f0 + 64] and nothing in the kernel reads Y. Prepare's
// "loops onto the grid" applies: the control case of prepare-loops-onto-grid.test (the other inputs here
// change one thing each).
func.func @chunked_matmul(%X: !blk.tensor<[T, D], bf16> {blk.name = "X"}, %W: !blk.tensor<[F, D], bf16> {blk.name = "W"},
                          %Y: !blk.tensor<[T, F], bf16> {blk.name = "Y"}) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %T = blk.dim %X[0] : !blk.tensor<[T, D], bf16>
  %D = blk.dim %X[1] : !blk.tensor<[T, D], bf16>
  %nt = arith.ceildivui %T, %c64 : index
  blk.kernel @chunked_matmul grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %F = blk.dim %W[0] : !blk.tensor<[F, D], bf16>
    %init = blk.fill %zero : f32 -> !blk.tile<64x64xf32, reg>
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
