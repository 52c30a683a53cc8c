// independent.mlir with a step (32) narrower than the stored tile (64 columns): iteration i writes
// Y[t, 32 i : 32 i + 64], half of it again in iteration i + 1. Programs on the grid would race for the shared
// halves, so "loops onto the grid" must leave the loop in place.
func.func @chunked_matmul_overlap(%X: !blk.tensor<[T, D], bf16> {blk.name = "X"},
                                  %W: !blk.tensor<[F, D], bf16> {blk.name = "W"},
                                  %Y: !blk.tensor<[T, F], bf16> {blk.name = "Y"}) {
  %c0 = arith.constant 0 : index
  %c32 = arith.constant 32 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %T = blk.dim %X[0] : !blk.tensor<[T, D], bf16>
  %D = blk.dim %X[1] : !blk.tensor<[T, D], bf16>
  %nt = arith.ceildivui %T, %c64 : index
  blk.kernel @chunked_matmul_overlap grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %F = blk.dim %W[0] : !blk.tensor<[F, D], bf16>
    %init = blk.fill %zero : f32 -> !blk.tile<64x64xf32, reg>
    scf.for %f0 = %c0 to %F step %c32 {
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
