// RUN: tilefuse-opt %s | tilefuse-opt | FileCheck %s
// RUN: tilefuse-opt %s --mlir-print-op-generic | tilefuse-opt | FileCheck %s

// Every blk op, in the unfused attention program of the FlashAttention paper
// (Algorithm 0): S = QK^T goes to HBM, P = softmax(S) goes to HBM, O = PV.

// CHECK-LABEL: func.func @vanilla_attention
// CHECK-SAME: %[[Q:[a-z0-9]*]]: !blk.tensor<[B, Hq, Sq, 128], bf16>
// CHECK-SAME: !blk.tensor<[Hq], f32>
func.func @vanilla_attention(%Q: !blk.tensor<[B, Hq, Sq, 128], bf16>,
                             %K: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
                             %V: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
                             %O: !blk.tensor<[B, Hq, Sq, 128], bf16>,
                             %LSE: !blk.tensor<[B, Hq, Sq], f32>,
                             %slopes: !blk.tensor<[Hq], f32>) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  // CHECK: blk.dim %[[Q]][0] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %B = blk.dim %Q[0] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Hq = blk.dim %Q[1] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Sq = blk.dim %Q[2] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Sk = blk.dim %K[2] : !blk.tensor<[B, Hkv, Sk, 128], bf16>
  %nq = arith.ceildivui %Sq, %c64 : index
  // CHECK: [[S:%.*]] = blk.alloc(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}) : !blk.tensor<[B, Hq, Sq, Sk], f32>
  %S = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], f32>
  %P = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], bf16>

  // CHECK: blk.kernel @qk grid(%{{.*}}, %{{.*}}, %{{.*}}) {
  // CHECK-NEXT: ^bb0(%{{.*}}: index, %{{.*}}: index, %{{.*}}: index):
  blk.kernel @qk grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %hk = arith.divui %h, %c4 : index
    // CHECK: blk.load %[[Q]][{{.*}}] : !blk.tensor<[B, Hq, Sq, 128], bf16> -> !blk.tile<64x128xbf16, smem>
    %q = blk.load %Q[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, 128], bf16> -> !blk.tile<64x128xbf16, smem>
    %k = blk.load %K[%b, %hk, %c0, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<?x128xbf16, smem>
    // CHECK: blk.matmul %{{.*}}, %{{.*}} transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x?xf32, reg>
    %s = blk.matmul %q, %k transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x?xf32, reg>
    // CHECK: blk.store
    blk.store %s, %S[%b, %h, %r0, %c0] : !blk.tile<64x?xf32, reg>, !blk.tensor<[B, Hq, Sq, Sk], f32>
  }

  // CHECK: blk.kernel @softmax
  blk.kernel @softmax grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %s = blk.load %S[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, Sk], f32> -> !blk.tile<64x?xf32, reg>
    %bound = arith.constant true
    // CHECK: blk.tile_class empty %{{.*}} at %{{.*}}
    %empty = blk.tile_class empty %bound at %r0
    // CHECK: blk.tile_class full %{{.*}} at %{{.*}}
    %full = blk.tile_class full %empty at %r0
    // CHECK: blk.iota row
    %qi = blk.iota row %r0 : !blk.tile<64x?xi32, reg>
    // CHECK: blk.iota col
    %ki = blk.iota col %c0 : !blk.tile<64x?xi32, reg>
    // CHECK: blk.map(%{{.*}}, %{{.*}}, %{{.*}}) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xi32, reg>, !blk.tile<64x?xi32, reg>) -> !blk.tile<64x?xf32, reg>
    %s1 = blk.map(%s, %qi, %ki) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xi32, reg>, !blk.tile<64x?xi32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32, %i: i32, %j: i32):
      %scale = arith.constant 0.0883883461 : f32
      %xs = arith.mulf %x, %scale : f32
      %slope = blk.read %slopes[%h] : !blk.tensor<[Hq], f32> -> f32
      %d = arith.subi %j, %i : i32
      %df = arith.sitofp %d : i32 to f32
      %bias = arith.mulf %slope, %df : f32
      %y = arith.addf %xs, %bias : f32
      // CHECK: blk.yield %{{.*}} : f32
      blk.yield %y : f32
    }
    %keep = blk.map(%qi, %ki) : (!blk.tile<64x?xi32, reg>, !blk.tile<64x?xi32, reg>) -> !blk.tile<64x?xi1, reg> {
    ^bb0(%i: i32, %j: i32):
      %c = arith.cmpi sge, %i, %j : i32
      blk.yield %c : i1
    }
    %ninf = arith.constant 0xFF800000 : f32
    // CHECK: blk.fill %{{.*}} : f32 -> !blk.tile<64x?xf32, reg>
    %ninf_t = blk.fill %ninf : f32 -> !blk.tile<64x?xf32, reg>
    // CHECK: blk.select %{{.*}}, %{{.*}}, %{{.*}} : !blk.tile<64x?xi1, reg>, !blk.tile<64x?xf32, reg>
    %s2 = blk.select %keep, %s1, %ninf_t : !blk.tile<64x?xi1, reg>, !blk.tile<64x?xf32, reg>
    // CHECK: blk.reduce max %{{.*}} : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %m = blk.reduce max %s2 : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    // CHECK: blk.broadcast %{{.*}} : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %mb = blk.broadcast %m : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %e = blk.map(%s2, %mb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32, %mx: f32):
      %t = arith.subf %x, %mx : f32
      %y = math.exp %t : f32
      blk.yield %y : f32
    }
    // CHECK: blk.reduce sum
    %l = blk.reduce sum %e : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %lb = blk.broadcast %l : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %p = blk.map(%e, %lb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%x: f32, %sum: f32):
      %y = arith.divf %x, %sum : f32
      %yb = arith.truncf %y : f32 to bf16
      blk.yield %yb : bf16
    }
    blk.store %p, %P[%b, %h, %r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[B, Hq, Sq, Sk], bf16>
    %lse = blk.map(%m, %l) : (!blk.tile<64xf32, reg>, !blk.tile<64xf32, reg>) -> !blk.tile<64xf32, reg> {
    ^bb0(%mx: f32, %sum: f32):
      %lg = math.log %sum : f32
      %y = arith.addf %mx, %lg : f32
      blk.yield %y : f32
    }
    blk.store %lse, %LSE[%b, %h, %r0] : !blk.tile<64xf32, reg>, !blk.tensor<[B, Hq, Sq], f32>
  }

  // CHECK: blk.kernel @pv
  blk.kernel @pv grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %hk = arith.divui %h, %c4 : index
    %p = blk.load %P[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, Sk], bf16> -> !blk.tile<64x?xbf16, smem>
    // CHECK: blk.copy %{{.*}} : !blk.tile<64x?xbf16, smem> -> !blk.tile<64x?xbf16, reg>
    %pr = blk.copy %p : !blk.tile<64x?xbf16, smem> -> !blk.tile<64x?xbf16, reg>
    %v = blk.load %V[%b, %hk, %c0, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<?x128xbf16, smem>
    %zero = arith.constant 0.0 : f32
    %acc = blk.fill %zero : f32 -> !blk.tile<64x128xf32, reg>
    // CHECK: blk.matmul %{{.*}}, %{{.*}} acc(%{{.*}} : !blk.tile<64x128xf32, reg>) : !blk.tile<64x?xbf16, reg>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
    %o = blk.matmul %pr, %v acc(%acc : !blk.tile<64x128xf32, reg>) : !blk.tile<64x?xbf16, reg>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
    %ob = blk.map(%o) : (!blk.tile<64x128xf32, reg>) -> !blk.tile<64x128xbf16, reg> {
    ^bb0(%x: f32):
      %y = arith.truncf %x : f32 to bf16
      blk.yield %y : bf16
    }
    blk.store %ob, %O[%b, %h, %r0, %c0] : !blk.tile<64x128xbf16, reg>, !blk.tensor<[B, Hq, Sq, 128], bf16>
  }
  return
}
