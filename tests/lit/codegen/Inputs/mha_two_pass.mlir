// specs/mha.json after the fusion passes without online normalization (two passes over K: the row max
// first, then the row sum and P V), from:
//   tilefuse lower specs/mha.json | tilefuse-opt --pass-pipeline='builtin.module(func.func(tilefuse-fuse-kernels,
//     cse,tilefuse-defer-normalization,tilefuse-tile,canonicalize,tilefuse-fuse-loops,cse,canonicalize,tilefuse-place))'
// Code generation must handle two K/V loops in one kernel (their shared tiles share addresses).
module {
  func.func @mha(%arg0: !blk.tensor<[B, Hq, Sq, 128], bf16>, %arg1: !blk.tensor<[B, Hkv, Sk, 128], bf16>, %arg2: !blk.tensor<[B, Hkv, Sk, 128], bf16>, %arg3: !blk.tensor<[B, Hq, Sq, 128], bf16>) attributes {blk.spec = "mha"} {
    %cst = arith.constant 0.000000e+00 : bf16
    %cst_0 = arith.constant 0.000000e+00 : f32
    %cst_1 = arith.constant 0xFF800000 : f32
    %cst_2 = arith.constant 0.0883883461 : f32
    %c0 = arith.constant 0 : index
    %c64 = arith.constant 64 : index
    %0 = blk.dim %arg0[0] : !blk.tensor<[B, Hq, Sq, 128], bf16>
    %1 = blk.dim %arg0[1] : !blk.tensor<[B, Hq, Sq, 128], bf16>
    %2 = blk.dim %arg0[2] : !blk.tensor<[B, Hq, Sq, 128], bf16>
    %3 = arith.ceildivui %2, %c64 : index
    blk.kernel @qk_softmax_pv grid(%0, %1, %3) {
    ^bb0(%arg4: index, %arg5: index, %arg6: index):
      %4 = arith.muli %arg6, %c64 : index
      %5 = blk.load %arg0[%arg4, %arg5, %4, %c0] : !blk.tensor<[B, Hq, Sq, 128], bf16> -> !blk.tile<64x128xbf16, smem>
      %6 = blk.fill %cst_1 : f32 -> !blk.tile<64xf32, reg>
      %7 = blk.dim %arg1[2] : !blk.tensor<[B, Hkv, Sk, 128], bf16>
      %8 = scf.for %arg7 = %c0 to %7 step %c64 iter_args(%arg8 = %6) -> (!blk.tile<64xf32, reg>) {
        %15 = blk.load %arg1[%arg4, %arg5, %arg7, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<64x128xbf16, smem>
        %16 = blk.matmul %5, %15 transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x64xf32, reg>
        %17 = blk.iota row %4 : !blk.tile<64x64xi64, reg>
        %18 = blk.iota col %arg7 : !blk.tile<64x64xi64, reg>
        %19 = blk.map(%16, %17, %18) : (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xi64, reg>, !blk.tile<64x64xi64, reg>) -> !blk.tile<64x64xf32, reg> {
        ^bb0(%arg9: f32, %arg10: i64, %arg11: i64):
          %26 = arith.mulf %arg9, %cst_2 : f32
          blk.yield %26 : f32
        }
        %20 = arith.index_cast %7 : index to i64
        %21 = blk.map(%18) : (!blk.tile<64x64xi64, reg>) -> !blk.tile<64x64xi1, reg> {
        ^bb0(%arg9: i64):
          %26 = arith.cmpi slt, %arg9, %20 : i64
          blk.yield %26 : i1
        }
        %22 = blk.fill %cst_1 : f32 -> !blk.tile<64x64xf32, reg>
        %23 = blk.select %21, %19, %22 : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
        %24 = blk.reduce max %23 : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
        %25 = blk.map(%arg8, %24) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
        ^bb0(%arg9: f32, %arg10: f32):
          %26 = arith.maximumf %arg9, %arg10 : f32
          blk.yield %26 : f32
        }
        scf.yield %25 : !blk.tile<64xf32, reg>
      }
      %9 = blk.fill %cst_0 : f32 -> !blk.tile<64xf32, reg>
      %10 = blk.fill %cst_0 : f32 -> !blk.tile<64x128xf32, reg>
      %11:2 = scf.for %arg7 = %c0 to %7 step %c64 iter_args(%arg8 = %9, %arg9 = %10) -> (!blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>) {
        %15 = blk.load %arg1[%arg4, %arg5, %arg7, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<64x128xbf16, smem>
        %16 = blk.matmul %5, %15 transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x64xf32, reg>
        %17 = blk.iota row %4 : !blk.tile<64x64xi64, reg>
        %18 = blk.iota col %arg7 : !blk.tile<64x64xi64, reg>
        %19 = blk.map(%16, %17, %18) : (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xi64, reg>, !blk.tile<64x64xi64, reg>) -> !blk.tile<64x64xf32, reg> {
        ^bb0(%arg10: f32, %arg11: i64, %arg12: i64):
          %33 = arith.mulf %arg10, %cst_2 : f32
          blk.yield %33 : f32
        }
        %20 = blk.broadcast %8 : !blk.tile<64xf32, reg> -> !blk.tile<64x64xf32, reg>
        %21 = blk.map(%19, %20) : (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
        ^bb0(%arg10: f32, %arg11: f32):
          %33 = arith.cmpf oeq, %arg11, %cst_1 : f32
          %34 = arith.select %33, %cst_0, %arg11 : f32
          %35 = arith.subf %arg10, %34 : f32
          %36 = math.exp %35 : f32
          blk.yield %36 : f32
        }
        %22 = arith.index_cast %7 : index to i64
        %23 = blk.map(%18) : (!blk.tile<64x64xi64, reg>) -> !blk.tile<64x64xi1, reg> {
        ^bb0(%arg10: i64):
          %33 = arith.cmpi slt, %arg10, %22 : i64
          blk.yield %33 : i1
        }
        %24 = blk.fill %cst_0 : f32 -> !blk.tile<64x64xf32, reg>
        %25 = blk.select %23, %21, %24 : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
        %26 = blk.reduce sum %25 : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
        %27 = blk.map(%arg8, %26) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
        ^bb0(%arg10: f32, %arg11: f32):
          %33 = arith.addf %arg10, %arg11 : f32
          blk.yield %33 : f32
        }
        %28 = blk.map(%21) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg> {
        ^bb0(%arg10: f32):
          %33 = arith.truncf %arg10 : f32 to bf16
          blk.yield %33 : bf16
        }
        %29 = blk.load %arg2[%arg4, %arg5, %arg7, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<64x128xbf16, smem>
        %30 = blk.fill %cst : bf16 -> !blk.tile<64x64xbf16, reg>
        %31 = blk.select %23, %28, %30 : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xbf16, reg>
        %32 = blk.matmul %31, %29 acc(%arg9 : !blk.tile<64x128xf32, reg>) : !blk.tile<64x64xbf16, reg>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
        scf.yield %27, %32 : !blk.tile<64xf32, reg>, !blk.tile<64x128xf32, reg>
      }
      %12 = blk.broadcast %11#0 : !blk.tile<64xf32, reg> -> !blk.tile<64x128xf32, reg>
      %13 = blk.map(%11#1, %12) : (!blk.tile<64x128xf32, reg>, !blk.tile<64x128xf32, reg>) -> !blk.tile<64x128xf32, reg> {
      ^bb0(%arg7: f32, %arg8: f32):
        %15 = arith.cmpf oeq, %arg8, %cst_0 : f32
        %16 = arith.divf %arg7, %arg8 : f32
        %17 = arith.select %15, %cst_0, %16 : f32
        blk.yield %17 : f32
      }
      %14 = blk.map(%13) : (!blk.tile<64x128xf32, reg>) -> !blk.tile<64x128xbf16, reg> {
      ^bb0(%arg7: f32):
        %15 = arith.truncf %arg7 : f32 to bf16
        blk.yield %15 : bf16
      }
      blk.store %14, %arg3[%arg4, %arg5, %4, %c0] : !blk.tile<64x128xbf16, reg>, !blk.tensor<[B, Hq, Sq, 128], bf16>
    }
    return
  }
}

