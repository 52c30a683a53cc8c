// RUN: tilefuse-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{tile rank must be 1 or 2, got 3}}
func.func @tile_rank(%t: !blk.tile<4x4x4xf32, reg>) { return }

// -----

// expected-error @+1 {{unknown memory space 'gmem': expected hbm, smem or reg}}
func.func @tile_space(%t: !blk.tile<4x4xf32, gmem>) { return }

// -----

// expected-error @+1 {{tile dims must be positive or ?, got 0}}
func.func @tile_zero(%t: !blk.tile<0x4xf32, reg>) { return }

// -----

func.func @kernel_args(%n: index) {
  // expected-error @+1 {{body must take one program id per grid dim (2), got 1}}
  blk.kernel @k grid(%n, %n) {
  ^bb0(%i: index):
  }
  return
}

// -----

func.func @dim_range(%Q: !blk.tensor<[B, S, 64], bf16>) {
  // expected-error @+1 {{dim index 3 out of range for a rank-3 tensor}}
  %d = blk.dim %Q[3] : !blk.tensor<[B, S, 64], bf16>
  return
}

// -----

func.func @alloc_sizes(%n: index) {
  // expected-error @+1 {{expects one size per symbolic dim (2), got 1}}
  %S = blk.alloc(%n) : !blk.tensor<[B, S], f32>
  return
}

// -----

func.func @load_indices(%Q: !blk.tensor<[B, S, 64], bf16>, %i: index) {
  // expected-error @+1 {{expects 3 indices (one per tensor dim), got 2}}
  %t = blk.load %Q[%i, %i] : !blk.tensor<[B, S, 64], bf16> -> !blk.tile<64x64xbf16, smem>
  return
}

// -----

func.func @load_elem(%Q: !blk.tensor<[B, S, 64], bf16>, %i: index) {
  // expected-error @+1 {{element type mismatch: tile has 'f16', tensor has 'bf16'}}
  %t = blk.load %Q[%i, %i, %i] : !blk.tensor<[B, S, 64], bf16> -> !blk.tile<64x64xf16, smem>
  return
}

// -----

func.func @load_space(%Q: !blk.tensor<[B, S, 64], bf16>, %i: index) {
  // expected-error @+1 {{the tile must live in smem or reg, got hbm}}
  %t = blk.load %Q[%i, %i, %i] : !blk.tensor<[B, S, 64], bf16> -> !blk.tile<64x64xbf16, hbm>
  return
}

// -----

func.func @store_elem(%t: !blk.tile<64x64xf32, reg>, %O: !blk.tensor<[B, S, 64], bf16>, %i: index) {
  // expected-error @+1 {{element type mismatch: tile has 'f32', tensor has 'bf16'}}
  blk.store %t, %O[%i, %i, %i] : !blk.tile<64x64xf32, reg>, !blk.tensor<[B, S, 64], bf16>
  return
}

// -----

func.func @read_type(%T: !blk.tensor<[H], f32>, %i: index) {
  // expected-error @+1 {{result type 'f16' must be the tensor's element type 'f32'}}
  %x = blk.read %T[%i] : !blk.tensor<[H], f32> -> f16
  return
}

// -----

func.func @copy_same_space(%t: !blk.tile<64x64xbf16, smem>) {
  // expected-error @+1 {{copy must change the memory space}}
  %r = blk.copy %t : !blk.tile<64x64xbf16, smem> -> !blk.tile<64x64xbf16, smem>
  return
}

// -----

func.func @copy_shape(%t: !blk.tile<64x64xbf16, smem>) {
  // expected-error @+1 {{copy must keep shape and element type}}
  %r = blk.copy %t : !blk.tile<64x64xbf16, smem> -> !blk.tile<64x32xbf16, reg>
  return
}

// -----

func.func @matmul_k(%a: !blk.tile<64x128xbf16, smem>, %b: !blk.tile<64x64xbf16, smem>) {
  // expected-error @+1 {{contraction dims differ: lhs is 64x128, rhs is 64x64 (transposed)}}
  %c = blk.matmul %a, %b transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<64x64xbf16, smem> -> !blk.tile<64x64xf32, reg>
  return
}

// -----

func.func @matmul_elem(%a: !blk.tile<64x64xbf16, smem>, %b: !blk.tile<64x64xf16, smem>) {
  // expected-error @+1 {{lhs and rhs element types differ: 'bf16' vs 'f16'}}
  %c = blk.matmul %a, %b : !blk.tile<64x64xbf16, smem>, !blk.tile<64x64xf16, smem> -> !blk.tile<64x64xf32, reg>
  return
}

// -----

func.func @matmul_result(%a: !blk.tile<64x64xbf16, smem>, %b: !blk.tile<64x32xbf16, smem>) {
  // expected-error @+1 {{result shape 64x64 must be 64x32}}
  %c = blk.matmul %a, %b : !blk.tile<64x64xbf16, smem>, !blk.tile<64x32xbf16, smem> -> !blk.tile<64x64xf32, reg>
  return
}

// -----

func.func @matmul_acc_f32(%a: !blk.tile<64x64xbf16, smem>, %b: !blk.tile<64x64xbf16, smem>) {
  // expected-error @+1 {{the result accumulates in f32, got 'bf16'}}
  %c = blk.matmul %a, %b : !blk.tile<64x64xbf16, smem>, !blk.tile<64x64xbf16, smem> -> !blk.tile<64x64xbf16, reg>
  return
}

// -----

func.func @matmul_hbm(%a: !blk.tile<64x64xbf16, hbm>, %b: !blk.tile<64x64xbf16, smem>) {
  // expected-error @+1 {{lhs must live in smem or reg, got hbm}}
  %c = blk.matmul %a, %b : !blk.tile<64x64xbf16, hbm>, !blk.tile<64x64xbf16, smem> -> !blk.tile<64x64xf32, reg>
  return
}

// -----

func.func @map_shapes(%a: !blk.tile<64x64xf32, reg>, %b: !blk.tile<64x32xf32, reg>) {
  // expected-error @+1 {{all inputs must have one shape: 64x64 vs 64x32}}
  %c = blk.map(%a, %b) : (!blk.tile<64x64xf32, reg>, !blk.tile<64x32xf32, reg>) -> !blk.tile<64x64xf32, reg> {
  ^bb0(%x: f32, %y: f32):
    blk.yield %x : f32
  }
  return
}

// -----

func.func @map_smem(%a: !blk.tile<64x64xf32, smem>) {
  // expected-error @+1 {{every input must live in reg, got smem}}
  %c = blk.map(%a) : (!blk.tile<64x64xf32, smem>) -> !blk.tile<64x64xf32, reg> {
  ^bb0(%x: f32):
    blk.yield %x : f32
  }
  return
}

// -----

func.func @map_arg_type(%a: !blk.tile<64x64xf32, reg>) {
  // expected-error @+1 {{region argument type 'f16' must be the input element type 'f32'}}
  %c = blk.map(%a) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xf32, reg> {
  ^bb0(%x: f16):
    %y = arith.extf %x : f16 to f32
    blk.yield %y : f32
  }
  return
}

// -----

func.func @map_yield_type(%a: !blk.tile<64x64xf32, reg>) {
  // expected-error @+1 {{yielded type 'f32' must be the result element type 'bf16'}}
  %c = blk.map(%a) : (!blk.tile<64x64xf32, reg>) -> !blk.tile<64x64xbf16, reg> {
  ^bb0(%x: f32):
    blk.yield %x : f32
  }
  return
}

// -----

func.func @reduce_rank(%a: !blk.tile<64xf32, reg>) {
  // expected-error @+1 {{reduces a rank-2 tile to a rank-1 tile (MxN -> M)}}
  %m = blk.reduce max %a : !blk.tile<64xf32, reg> -> !blk.tile<64xf32, reg>
  return
}

// -----

func.func @reduce_rows(%a: !blk.tile<64x64xf32, reg>) {
  // expected-error @+1 {{result has 32 rows, input has 64x64}}
  %m = blk.reduce sum %a : !blk.tile<64x64xf32, reg> -> !blk.tile<32xf32, reg>
  return
}

// -----

func.func @broadcast_rows(%a: !blk.tile<32xf32, reg>) {
  // expected-error @+1 {{row count differs: 32 vs 64x64}}
  %m = blk.broadcast %a : !blk.tile<32xf32, reg> -> !blk.tile<64x64xf32, reg>
  return
}

// -----

func.func @fill_type(%v: f16) {
  // expected-error @+1 {{scalar type 'f16' must be the tile element type 'f32'}}
  %t = blk.fill %v : f16 -> !blk.tile<64x64xf32, reg>
  return
}

// -----

func.func @iota_type(%o: index) {
  // expected-error @+1 {{index tiles have an integer element type (i32 or i64), got 'f32'}}
  %t = blk.iota row %o : !blk.tile<64x64xf32, reg>
  return
}

// -----

func.func @select_cond(%c: !blk.tile<64x64xi32, reg>, %a: !blk.tile<64x64xf32, reg>) {
  // expected-error @+1 {{condition must be an i1 tile, got 'i32'}}
  %t = blk.select %c, %a, %a : !blk.tile<64x64xi32, reg>, !blk.tile<64x64xf32, reg>
  return
}

// -----

func.func @tensor_dims(%t: !blk.tensor<[0], f32>) { return } // expected-error {{static tensor dims must be positive, got 0}}

// -----

func.func @reduce_elem(%a: !blk.tile<64x64xf32, reg>) {
  // expected-error @+1 {{element type must not change}}
  %m = blk.reduce max %a : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf16, reg>
  return
}

// -----

func.func @broadcast_space(%a: !blk.tile<64xf32, reg>) {
  // expected-error @+1 {{the result must live in reg, got smem}}
  %m = blk.broadcast %a : !blk.tile<64xf32, reg> -> !blk.tile<64x64xf32, smem>
  return
}

// -----

// Issue 14: a kernel outside a function body.
%n = arith.constant 1 : index
// expected-error @+1 {{'blk.kernel' op must be directly inside a func.func (the kernels of a function run in order), found inside builtin.module}}
blk.kernel @top grid(%n) {
^bb0(%i: index):
}

// -----

func.func @nested_kernel(%n: index) {
  blk.kernel @outer grid(%n) {
  ^bb0(%i: index):
    // expected-error @+1 {{must be directly inside a func.func (the kernels of a function run in order), found inside blk.kernel}}
    blk.kernel @inner grid(%n) {
    ^bb0(%j: index):
    }
  }
  return
}

// -----

func.func @duplicate_kernels(%n: index) {
  blk.kernel @k grid(%n) {
  ^bb0(%i: index):
  }
  // expected-error @+1 {{symbol @k is already the name of an earlier kernel of this function}}
  blk.kernel @k grid(%n) {
  ^bb0(%i: index):
  }
  return
}

// -----

func.func @zero_step(%n: index) {
  blk.kernel @k grid(%n) {
  ^bb0(%i: index):
    %c0 = arith.constant 0 : index
    %c4 = arith.constant 4 : index
    // expected-error @+1 {{step must be positive, got 0}}
    scf.for %j = %c0 to %c4 step %c0 {
    }
  }
  return
}

// -----

// expected-error @+2 {{'blk.scan' op scans by sum only}}
func.func @scan_max(%x: !blk.tile<16x32xf32, reg>) -> !blk.tile<16x32xf32, reg> {
  %y = blk.scan max %x : !blk.tile<16x32xf32, reg> -> !blk.tile<16x32xf32, reg>
  return %y : !blk.tile<16x32xf32, reg>
}

// -----

// expected-error @+2 {{'blk.scan' op scans a rank-2 tile into one of the same shape}}
func.func @scan_shape(%x: !blk.tile<16x32xf32, reg>) -> !blk.tile<16x16xf32, reg> {
  %y = blk.scan sum %x reverse : !blk.tile<16x32xf32, reg> -> !blk.tile<16x16xf32, reg>
  return %y : !blk.tile<16x16xf32, reg>
}
