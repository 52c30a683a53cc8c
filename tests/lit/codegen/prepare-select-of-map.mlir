// --dump=prepare, the rule "select of a map" (lib/codegen/Prepare.h):
//   select(m, f(x), fill(f(c))) -> f(select(m, x, fill(c)))   when select(m, x, fill(c)) is computed first.
// RUN: tilefuse-codegen %s --dump=prepare --func=truncf_of_masked | FileCheck %s --check-prefix=TRUNC
// RUN: tilefuse-codegen %s --dump=prepare --func=false_side | FileCheck %s --check-prefix=FALSE
// RUN: tilefuse-codegen %s --dump=prepare --func=other_constant | FileCheck %s --check-prefix=CONST
// RUN: tilefuse-codegen %s --dump=prepare --func=other_mask | FileCheck %s --check-prefix=MASK
// RUN: tilefuse-codegen %s --dump=prepare --func=masked_after | FileCheck %s --check-prefix=AFTER
// RUN: tilefuse-codegen %s --dump=prepare --func=reads_from_above | FileCheck %s --check-prefix=ABOVE

// P = bf16(select(valid, p, 0)) reads the masked f32 tile: truncf(0.0) = bf16 0.0.
// TRUNC-LABEL: func.func @truncf_of_masked
// TRUNC: [[MASKED:%.*]] = blk.select %arg0, %arg1, {{%.*}} : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
// TRUNC-NEXT: [[P:%.*]] = blk.map([[MASKED]]) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg>
// TRUNC: arith.truncf
// TRUNC-NOT: blk.select
// TRUNC: return [[MASKED]], [[P]]
func.func @truncf_of_masked(%m: !blk.tile<64x64xi1, reg>, %x: !blk.tile<64x64xf32, reg>) -> (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xbf16, reg>) {
  %zero = arith.constant 0.000000e+00 : f32
  %zero_bf16 = arith.constant 0.000000e+00 : bf16
  %z = blk.fill %zero : f32 -> !blk.tile<64x64xf32, reg>
  %zb = blk.fill %zero_bf16 : bf16 -> !blk.tile<64x64xbf16, reg>
  %masked = blk.select %m, %x, %z : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
  %p = blk.map(%x) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg> {
  ^bb0(%a: f32):
    %t = arith.truncf %a : f32 to bf16
    blk.yield %t : bf16
  }
  %pm = blk.select %m, %p, %zb : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xbf16, reg>
  return %masked, %pm : !blk.tile<64x64xf32, reg>, !blk.tile<64x64xbf16, reg>
}

// The map in the false operand: select(m, fill(0), exp(x)) = exp(select(m, fill(-inf), x)), e^-inf = 0.
// FALSE-LABEL: func.func @false_side
// FALSE: [[MASKED:%.*]] = blk.select %arg0, {{%.*}}, %arg1
// FALSE-NEXT: [[E:%.*]] = blk.map([[MASKED]])
// FALSE: math.exp
// FALSE-NOT: blk.select
// FALSE: return [[MASKED]], [[E]]
func.func @false_side(%m: !blk.tile<64x64xi1, reg>, %x: !blk.tile<64x64xf32, reg>) -> (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>) {
  %ninf = arith.constant 0xFF800000 : f32
  %zero = arith.constant 0.000000e+00 : f32
  %n = blk.fill %ninf : f32 -> !blk.tile<64x64xf32, reg>
  %z = blk.fill %zero : f32 -> !blk.tile<64x64xf32, reg>
  %masked = blk.select %m, %n, %x : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
  %e = blk.map(%x) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
  ^bb0(%a: f32):
    %t = math.exp %a : f32
    blk.yield %t : f32
  }
  %em = blk.select %m, %z, %e : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
  return %masked, %em : !blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>
}

// f(c) must be the fill's constant bit for bit: e^0 = 1, not 0. Unchanged.
// CONST-LABEL: func.func @other_constant
// CONST: [[E:%.*]] = blk.map(%arg1)
// CONST: blk.select %arg0, [[E]], {{%.*}}
func.func @other_constant(%m: !blk.tile<64x64xi1, reg>, %x: !blk.tile<64x64xf32, reg>) -> (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>) {
  %zero = arith.constant 0.000000e+00 : f32
  %z = blk.fill %zero : f32 -> !blk.tile<64x64xf32, reg>
  %masked = blk.select %m, %x, %z : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
  %e = blk.map(%x) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
  ^bb0(%a: f32):
    %t = math.exp %a : f32
    blk.yield %t : f32
  }
  %em = blk.select %m, %e, %z : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
  return %masked, %em : !blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>
}

// Another mask: nothing to share. Unchanged.
// MASK-LABEL: func.func @other_mask
// MASK: [[P:%.*]] = blk.map(%arg2)
// MASK: blk.select %arg1, [[P]], {{%.*}}
func.func @other_mask(%m: !blk.tile<64x64xi1, reg>, %m2: !blk.tile<64x64xi1, reg>, %x: !blk.tile<64x64xf32, reg>) -> (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xbf16, reg>) {
  %zero = arith.constant 0.000000e+00 : f32
  %zero_bf16 = arith.constant 0.000000e+00 : bf16
  %z = blk.fill %zero : f32 -> !blk.tile<64x64xf32, reg>
  %zb = blk.fill %zero_bf16 : bf16 -> !blk.tile<64x64xbf16, reg>
  %masked = blk.select %m, %x, %z : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
  %p = blk.map(%x) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg> {
  ^bb0(%a: f32):
    %t = arith.truncf %a : f32 to bf16
    blk.yield %t : bf16
  }
  %pm = blk.select %m2, %p, %zb : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xbf16, reg>
  return %masked, %pm : !blk.tile<64x64xf32, reg>, !blk.tile<64x64xbf16, reg>
}

// The masked tile is computed after the select that would read it. Unchanged.
// AFTER-LABEL: func.func @masked_after
// AFTER: [[P:%.*]] = blk.map(%arg1)
// AFTER: blk.select %arg0, [[P]], {{%.*}}
func.func @masked_after(%m: !blk.tile<64x64xi1, reg>, %x: !blk.tile<64x64xf32, reg>) -> (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xbf16, reg>) {
  %zero = arith.constant 0.000000e+00 : f32
  %zero_bf16 = arith.constant 0.000000e+00 : bf16
  %z = blk.fill %zero : f32 -> !blk.tile<64x64xf32, reg>
  %zb = blk.fill %zero_bf16 : bf16 -> !blk.tile<64x64xbf16, reg>
  %p = blk.map(%x) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg> {
  ^bb0(%a: f32):
    %t = arith.truncf %a : f32 to bf16
    blk.yield %t : bf16
  }
  %pm = blk.select %m, %p, %zb : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xbf16, reg>
  %masked = blk.select %m, %x, %z : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
  return %masked, %pm : !blk.tile<64x64xf32, reg>, !blk.tile<64x64xbf16, reg>
}

// f reads a value from above (a scale): f(c) is not a constant the rule can check. Unchanged.
// ABOVE-LABEL: func.func @reads_from_above
// ABOVE: [[S:%.*]] = blk.map(%arg1)
// ABOVE: blk.select %arg0, [[S]], {{%.*}}
func.func @reads_from_above(%m: !blk.tile<64x64xi1, reg>, %x: !blk.tile<64x64xf32, reg>, %scale: f32) -> (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>) {
  %zero = arith.constant 0.000000e+00 : f32
  %z = blk.fill %zero : f32 -> !blk.tile<64x64xf32, reg>
  %masked = blk.select %m, %x, %z : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
  %s = blk.map(%x) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
  ^bb0(%a: f32):
    %t = arith.mulf %a, %scale : f32
    blk.yield %t : f32
  }
  %sm = blk.select %m, %s, %z : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
  return %masked, %sm : !blk.tile<64x64xf32, reg>, !blk.tile<64x64xf32, reg>
}
