// RUN: tilefuse lower %specs/stick_breaking.json | FileCheck %s
// RUN: tilefuse lower %specs/stick_breaking.json | tilefuse-opt | FileCheck %s

// "normalizer": "stick_breaking" (Tan et al. 2024, Sec. 2): the middle kernel is @weights, the
// stick-breaking weights in log space with s = scale * S (no score_mod here):
//   z = keep ? softplus(s) : 0;  r = scan sum z reverse (inclusive);  P = keep ? exp(s - r) : 0
// with one keep mask (mask_mod) for both selects; no max, no row sum, no LSE argument.

// CHECK-LABEL: func.func @stick_breaking(
// CHECK-NOT: !blk.tensor<[B, Hq, Sq], f32>
// CHECK-SAME: {
// CHECK: blk.kernel @qk grid(
// CHECK: blk.kernel @weights grid(
// CHECK: [[S:%[0-9]+]] = blk.load {{.*}} : !blk.tensor<[B, Hq, Sq, Sk], f32> -> !blk.tile<64x?xf32, reg>
// CHECK: [[SC:%[0-9]+]] = blk.map([[S]], {{.*}}) -> !blk.tile<64x?xf32, reg> {
// CHECK: arith.mulf
// CHECK: [[KEEP:%[0-9]+]] = blk.map({{.*}}) -> !blk.tile<64x?xi1, reg> {
// CHECK: arith.cmpi slt
// CHECK: [[SP:%[0-9]+]] = blk.map([[SC]]) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
// CHECK: arith.maximumf
// CHECK: math.absf
// CHECK: arith.negf
// CHECK: math.exp
// CHECK: math.log1p
// CHECK: arith.addf
// CHECK: [[ZEROS:%[0-9]+]] = blk.fill %{{.*}} : f32 -> !blk.tile<64x?xf32, reg>
// CHECK: [[Z:%[0-9]+]] = blk.select [[KEEP]], [[SP]], [[ZEROS]]
// CHECK: [[R:%[0-9]+]] = blk.scan sum [[Z]] reverse : !blk.tile<64x?xf32, reg> -> !blk.tile<64x?xf32, reg>
// CHECK: [[W:%[0-9]+]] = blk.map([[SC]], [[R]])
// CHECK: arith.subf
// CHECK-NOT: arith.subf
// CHECK: math.exp
// CHECK: [[WM:%[0-9]+]] = blk.select [[KEEP]], [[W]], [[ZEROS]]
// CHECK: [[P:%[0-9]+]] = blk.map([[WM]]) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
// CHECK: arith.truncf
// CHECK: blk.store [[P]], {{.*}} : !blk.tile<64x?xbf16, reg>, !blk.tensor<[B, Hq, Sq, Sk], bf16>
// CHECK-NOT: blk.reduce
// CHECK: blk.kernel @pv grid(
