func.func @store_with_table(%X: !blk.tensor<[T, D], f32>, %G: !blk.tensor<[D], f32>,
                            %Y: !blk.tensor<[T, D], f32>, %r0: index) {
  %c5 = arith.constant 5 : index
  %x = blk.load %X[%r0, %c5] : !blk.tensor<[T, D], f32> -> !blk.tile<8x?xf32, reg>
  %col = blk.iota col %c5 : !blk.tile<8x?xi64, reg>
  %y = blk.map(%x, %col) : (!blk.tile<8x?xf32, reg>, !blk.tile<8x?xi64, reg>) -> !blk.tile<8x?xf32, reg> {
  ^bb0(%v: f32, %j: i64):
    %ji = arith.index_cast %j : i64 to index
    %g = blk.read %G[%ji] : !blk.tensor<[D], f32> -> f32
    %w = arith.mulf %v, %g : f32
    blk.yield %w : f32
  }
  blk.store %y, %Y[%r0, %c5] : !blk.tile<8x?xf32, reg>, !blk.tensor<[T, D], f32>
  return
}
