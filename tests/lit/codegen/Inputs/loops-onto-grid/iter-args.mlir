// independent.mlir with a value carried across the F chunks: the loop also sums Y's rows over the chunks it
// has done (iter_args) and stores the row sums S after it. Iteration i needs iteration i - 1's sum, so
// "loops onto the grid" must leave the loop in place.
func.func @chunked_matmul_rowsum(%X: !blk.tensor<[T, D], bf16> {blk.name = "X"},
                                 %W: !blk.tensor<[F, D], bf16> {blk.name = "W"},
                                 %Y: !blk.tensor<[T, F], bf16> {blk.name = "Y"},
                                 %S: !blk.tensor<[T], f32> {blk.name = "S"}) {
  %c0 = arith.constant 0 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %T = blk.dim %X[0] : !blk.tensor<[T, D], bf16>
  %D = blk.dim %X[1] : !blk.tensor<[T, D], bf16>
  %nt = arith.ceildivui %T, %c64 : index
  blk.kernel @chunked_matmul_rowsum grid(%nt) {
  ^bb0(%t: index):
    %r0 = arith.muli %t, %c64 : index
    %F = blk.dim %W[0] : !blk.tensor<[F, D], bf16>
    %init = blk.fill %zero : f32 -> !blk.tile<64x64xf32, reg>
    %sum0 = blk.fill %zero : f32 -> !blk.tile<64xf32, reg>
    %sum = scf.for %f0 = %c0 to %F step %c64 iter_args(%s = %sum0) -> (!blk.tile<64xf32, reg>) {
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
      %rs = blk.reduce sum %acc : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
      %next = blk.map(%s, %rs) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
      ^bb0(%p: f32, %q: f32):
        %pq = arith.addf %p, %q : f32
        blk.yield %pq : f32
      }
      scf.yield %next : !blk.tile<64xf32, reg>
    }
    blk.store %sum, %S[%r0] : !blk.tile<64xf32, reg>, !blk.tensor<[T], f32>
  }
  return
}
