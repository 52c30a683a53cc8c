// Programs the generator cannot handle: an error at the op's location, exit code 1.
// RUN: not tilefuse-codegen %s 2>&1 | FileCheck %s


func.func @f(%Q: !blk.tensor<[B, Hq, Sq, 64], bf16>, %K: !blk.tensor<[B, Hkv, Sk, 64], bf16>,
             %V: !blk.tensor<[B, Hkv, Sk, 64], bf16>, %O: !blk.tensor<[B, Hq, Sq, 64], bf16>) {
  %c0 = arith.constant 0 : index
  %B = blk.dim %Q[0] : !blk.tensor<[B, Hq, Sq, 64], bf16>
  blk.kernel @k grid(%B) {
  ^bb0(%b: index):
    %q = blk.load %Q[%b, %c0, %c0, %c0] : !blk.tensor<[B, Hq, Sq, 64], bf16> -> !blk.tile<64x64xbf16, reg>
    %t = blk.map(%q) : (!blk.tile<64x64xbf16, reg>) -> !blk.tile<64x64xbf16, reg> {
    ^bb0(%x: bf16):
      %i = arith.constant 3 : i32
// CHECK: errors.mlir:[[@LINE+1]]:12: error: math.ctlz: no CUDA translation for this scalar op
      %n = math.ctlz %i : i32
      %f = arith.sitofp %n : i32 to bf16
      %y = arith.addf %x, %f : bf16
      blk.yield %y : bf16
    }
    blk.store %t, %O[%b, %c0, %c0, %c0] : !blk.tile<64x64xbf16, reg>, !blk.tensor<[B, Hq, Sq, 64], bf16>
  }
  return
}
