// The unfused program (one kernel per stage, S and P through HBM) is not something to generate CUDA
// for: the error says so and points at the function.
// RUN: not tilefuse-codegen %s 2>&1 | FileCheck %s

// CHECK: errors-unfused.mlir:[[@LINE+1]]:1: error: func.func: expected exactly one blk.kernel in @vanilla, found 2 (@qk, @pv); code generation needs the fused program (tilefuse-opt --tilefuse-fuse)
func.func @vanilla(%Q: !blk.tensor<[B, Hq, Sq, 64], bf16>, %K: !blk.tensor<[B, Hkv, Sk, 64], bf16>,
                   %V: !blk.tensor<[B, Hkv, Sk, 64], bf16>, %O: !blk.tensor<[B, Hq, Sq, 64], bf16>) {
  %c0 = arith.constant 0 : index
  %B = blk.dim %Q[0] : !blk.tensor<[B, Hq, Sq, 64], bf16>
  %Hq = blk.dim %Q[1] : !blk.tensor<[B, Hq, Sq, 64], bf16>
  %Sq = blk.dim %Q[2] : !blk.tensor<[B, Hq, Sq, 64], bf16>
  %Sk = blk.dim %K[2] : !blk.tensor<[B, Hkv, Sk, 64], bf16>
  %S = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], f32>
  blk.kernel @qk grid(%B, %Hq) {
  ^bb0(%b: index, %h: index):
  }
  blk.kernel @pv grid(%B, %Hq) {
  ^bb0(%b: index, %h: index):
  }
  return
}
