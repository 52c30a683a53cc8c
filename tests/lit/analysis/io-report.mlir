// RUN: tilefuse-opt %s -split-input-file --tilefuse-io-report="dims=B=1,Hq=16,Hkv=16,Sq=4096,Sk=4096" -o /dev/null | FileCheck %s
// RUN: tilefuse-opt %s -split-input-file --tilefuse-io-report="dims=B=1,Hq=16,Hkv=16,Sq=100,Sk=100" -o /dev/null | FileCheck %s --check-prefix=TAIL
// RUN: tilefuse-opt %s -split-input-file --tilefuse-io-report="dims=B=1,Hq=16,Hkv=16,Sq=4096,Sk=4096 format=json" -o /dev/null | FileCheck %s --check-prefix=JSON
// RUN: not tilefuse-opt %s -split-input-file --tilefuse-io-report="dims=B=1,Hq=16,Sq=64" -o /dev/null 2>&1 | FileCheck %s --check-prefix=ERR

// Bytes per memory tier and FLOPs of the unfused attention program (the vanilla_attention of
// ../dialect/roundtrip.mlir, FlashAttention Algorithm 0) at B=1, H=16, S=4096, D=128 bf16.
// Hand derivation: tests/unit/analysis/IOReportTest.cpp.
//   qk:      Q once (16 MiB) + the whole K head per query tile (64 tiles * 16 MiB) to SMEM;
//            S written as f32, 4*B*H*S^2 = 1 GiB.
//   softmax: S read back (1 GiB to registers); P written as bf16 (512 MiB) and LSE (256 KiB).
//   pv:      P (512 MiB) + V per query tile (1 GiB) to SMEM; O written once (16 MiB).
//   matmul FLOPs 4*B*H*S^2*D = 137438953472.

// CHECK-LABEL: IO report for @vanilla_attention at B=1 Hkv=16 Hq=16 Sk=4096 Sq=4096
// CHECK-NEXT: kernel instances HBM->SMEM HBM->REG SMEM->REG REG->SMEM REG->HBM SMEM->HBM table-read matmul-FLOP other-FLOP SFU-FLOP
// CHECK-NEXT: qk 1024 1090519040 0 1090519040 0 1073741824 0 0 68719476736 0 0
// CHECK-NEXT: softmax 1024 0 1073741824 0 0 537133056 0 4096 0 2952921088 268500992
// CHECK-NEXT: pv 1024 1610612736 0 1610612736 0 16777216 0 0 68719476736 0 0
// CHECK-NEXT: total 2701131776 1073741824 2701131776 0 1627652096 0 4096 137438953472 2952921088 268500992
// CHECK-NEXT: HBM read 3774877696 B (3.516 GiB), written 1627652096 B (1.516 GiB)

// At S=100 the second query tile hangs over the end: only in-bounds rows move
// (Q: 16*100*128*2 = 409600 B; K: whole head per query tile, 2 * 409600 B).
// TAIL-LABEL: IO report for @vanilla_attention at B=1 Hkv=16 Hq=16 Sk=100 Sq=100
// TAIL: qk 32 1228800 0 1343488 0 640000 0 0 52428800 0 0

// JSON-LABEL: "function": "vanilla_attention"
// JSON: "name": "qk"
// JSON: "hbm_to_smem": 1090519040
// JSON: "total": {
// JSON: "hbm_read": 3774877696
// JSON: "hbm_write": 1627652096
// JSON: "matmul": 137438953472

// ERR: error: tilefuse-io-report: @vanilla_attention: dim 'Hkv' of argument #1 has no extent (dims given: B, Hq, Sq)
func.func @vanilla_attention(%Q: !blk.tensor<[B, Hq, Sq, 128], bf16>,
                             %K: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
                             %V: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
                             %O: !blk.tensor<[B, Hq, Sq, 128], bf16>,
                             %LSE: !blk.tensor<[B, Hq, Sq], f32>,
                             %slopes: !blk.tensor<[Hq], f32>) {
  %c0 = arith.constant 0 : index
  %c4 = arith.constant 4 : index
  %c64 = arith.constant 64 : index
  %B = blk.dim %Q[0] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Hq = blk.dim %Q[1] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Sq = blk.dim %Q[2] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  %Sk = blk.dim %K[2] : !blk.tensor<[B, Hkv, Sk, 128], bf16>
  %nq = arith.ceildivui %Sq, %c64 : index
  %S = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], f32>
  %P = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], bf16>

  blk.kernel @qk grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %hk = arith.divui %h, %c4 : index
    %q = blk.load %Q[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, 128], bf16> -> !blk.tile<64x128xbf16, smem>
    %k = blk.load %K[%b, %hk, %c0, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<?x128xbf16, smem>
    %s = blk.matmul %q, %k transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<?x128xbf16, smem> -> !blk.tile<64x?xf32, reg>
    blk.store %s, %S[%b, %h, %r0, %c0] : !blk.tile<64x?xf32, reg>, !blk.tensor<[B, Hq, Sq, Sk], f32>
  }

  blk.kernel @softmax grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %s = blk.load %S[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, Sk], f32> -> !blk.tile<64x?xf32, reg>
    %qi = blk.iota row %r0 : !blk.tile<64x?xi32, reg>
    %ki = blk.iota col %c0 : !blk.tile<64x?xi32, reg>
    %s1 = blk.map(%s, %qi, %ki) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xi32, reg>, !blk.tile<64x?xi32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32, %i: i32, %j: i32):
      %scale = arith.constant 0.0883883461 : f32
      %xs = arith.mulf %x, %scale : f32
      %slope = blk.read %slopes[%h] : !blk.tensor<[Hq], f32> -> f32
      %d = arith.subi %j, %i : i32
      %df = arith.sitofp %d : i32 to f32
      %bias = arith.mulf %slope, %df : f32
      %y = arith.addf %xs, %bias : f32
      blk.yield %y : f32
    }
    %keep = blk.map(%qi, %ki) : (!blk.tile<64x?xi32, reg>, !blk.tile<64x?xi32, reg>) -> !blk.tile<64x?xi1, reg> {
    ^bb0(%i: i32, %j: i32):
      %c = arith.cmpi sge, %i, %j : i32
      blk.yield %c : i1
    }
    %ninf = arith.constant 0xFF800000 : f32
    %ninf_t = blk.fill %ninf : f32 -> !blk.tile<64x?xf32, reg>
    %s2 = blk.select %keep, %s1, %ninf_t : !blk.tile<64x?xi1, reg>, !blk.tile<64x?xf32, reg>
    %m = blk.reduce max %s2 : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    %mb = blk.broadcast %m : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %e = blk.map(%s2, %mb) : (!blk.tile<64x?xf32, reg>, !blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xf32, reg> {
    ^bb0(%x: f32, %mx: f32):
      %t = arith.subf %x, %mx : f32
      %y = math.exp %t : f32
      blk.yield %y : f32
    }
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

  blk.kernel @pv grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %hk = arith.divui %h, %c4 : index
    %p = blk.load %P[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, Sk], bf16> -> !blk.tile<64x?xbf16, smem>
    %pr = blk.copy %p : !blk.tile<64x?xbf16, smem> -> !blk.tile<64x?xbf16, reg>
    %v = blk.load %V[%b, %hk, %c0, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<?x128xbf16, smem>
    %zero = arith.constant 0.0 : f32
    %acc = blk.fill %zero : f32 -> !blk.tile<64x128xf32, reg>
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

// -----

// A fused program: one kernel, an scf.for over 64-row K/V tiles carrying the O accumulator.
// Per instance O moves once; each iteration moves a 64x64 P tile to registers (8 KiB) and a
// 64x128 V tile to SMEM (16 KiB), which the matmul reads from SMEM.

// CHECK-LABEL: IO report for @fused_pv
// CHECK-NEXT: kernel
// CHECK-NEXT: fused 1024 1073741824 536870912 1073741824 0 16777216 0 0 68719476736 0 0
// TAIL-LABEL: IO report for @fused_pv
// TAIL: fused 32 819200 320000 1048576 0 409600 0 0 67108864 0 0
func.func @fused_pv(%P: !blk.tensor<[B, Hq, Sq, Sk], bf16>,
                    %V: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
                    %O: !blk.tensor<[B, Hq, Sq, 128], bf16>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c64 = arith.constant 64 : index
  %zero = arith.constant 0.0 : f32
  %B = blk.dim %P[0] : !blk.tensor<[B, Hq, Sq, Sk], bf16>
  %Hq = blk.dim %P[1] : !blk.tensor<[B, Hq, Sq, Sk], bf16>
  %Sq = blk.dim %P[2] : !blk.tensor<[B, Hq, Sq, Sk], bf16>
  %Sk = blk.dim %P[3] : !blk.tensor<[B, Hq, Sq, Sk], bf16>
  %nq = arith.ceildivui %Sq, %c64 : index
  %nk = arith.ceildivui %Sk, %c64 : index
  blk.kernel @fused grid(%B, %Hq, %nq) {
  ^bb0(%b: index, %h: index, %qt: index):
    %r0 = arith.muli %qt, %c64 : index
    %acc0 = blk.fill %zero : f32 -> !blk.tile<64x?xf32, reg>
    %acc = scf.for %kt = %c0 to %nk step %c1 iter_args(%a = %acc0) -> (!blk.tile<64x?xf32, reg>) {
      %k0 = arith.muli %kt, %c64 : index
      %p = blk.load %P[%b, %h, %r0, %k0] : !blk.tensor<[B, Hq, Sq, Sk], bf16> -> !blk.tile<64x64xbf16, reg>
      %v = blk.load %V[%b, %h, %k0, %c0] : !blk.tensor<[B, Hkv, Sk, 128], bf16> -> !blk.tile<64x128xbf16, smem>
      %o = blk.matmul %p, %v acc(%a : !blk.tile<64x?xf32, reg>) : !blk.tile<64x64xbf16, reg>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x?xf32, reg>
      scf.yield %o : !blk.tile<64x?xf32, reg>
    }
    %ob = blk.map(%acc) : (!blk.tile<64x?xf32, reg>) -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%x: f32):
      %y = arith.truncf %x : f32 to bf16
      blk.yield %y : bf16
    }
    blk.store %ob, %O[%b, %h, %r0, %c0] : !blk.tile<64x?xbf16, reg>, !blk.tensor<[B, Hq, Sq, 128], bf16>
  }
  return
}
