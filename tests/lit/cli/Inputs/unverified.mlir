func.func @bad(%a: !blk.tile<64x128xbf16, smem>, %b: !blk.tile<64x64xbf16, smem>) {
  %c = blk.matmul %a, %b transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<64x64xbf16, smem> -> !blk.tile<64x64xf32, reg>
  return
}
