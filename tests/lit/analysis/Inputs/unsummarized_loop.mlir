// A loop the IO report cannot summarize (LoopPlan.h): its tile offset divides the induction
// variable, which is not affine, so every iteration is walked, bounded by kMaxAbstractSteps.
func.func @unsummarized(%K: !blk.tensor<[Sk, 64], f32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %Sk = blk.dim %K[0] : !blk.tensor<[Sk, 64], f32>
  blk.kernel @rows grid(%c1) {
  ^bb0(%i: index):
    scf.for %j = %c0 to %Sk step %c1 {
      %half = arith.divui %j, %c2 : index
      %row = blk.load %K[%half, %c0] : !blk.tensor<[Sk, 64], f32> -> !blk.tile<1x64xf32, reg>
    }
  }
  return
}
