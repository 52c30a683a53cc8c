//===- Passes.td - Tilefuse passes -------------------------*- tablegen -*-===//
//
// The fusion rules that turn the unfused block program of an attention variant (or any
// chain of the same shape, e.g. RMSNorm + matmul) into one tiled kernel. Each pass is one
// rule set; `--tilefuse-fuse` (Pipeline.cpp) runs them in order. docs/FUSION.md walks
// through the algebra of each rule.
//
#ifndef TILEFUSE_COMPILER_PASSES_TD
#define TILEFUSE_COMPILER_PASSES_TD

include "mlir/Pass/PassBase.td"

def FuseKernels : Pass<"tilefuse-fuse-kernels", "mlir::func::FuncOp"> {
  let summary = "producer-consumer fusion of kernels through HBM scratch tensors";
  let description = [{
    Rules (compiler/lib/fusion/KernelFusion.cpp):
    - `MergeSameGridKernels`: two adjacent kernels over the same grid become one when
      every tensor the first writes and the second touches is only loaded by the second
      at indices the first stores at (so each instance reads only what it wrote).
    - `ForwardStoreToLoad`: a load of the tile an earlier store of the same instance wrote
      (same tensor, same indices, same shape) is the stored value, in registers.
    - `EraseDeadScratchStore`, `EraseUnusedAlloc`, `FoldDimOfAlloc`: a `blk.alloc` tensor
      nobody loads is dead, and so are the stores into it.
    - `FoldCopyRoundTrip`: copy(copy(x : reg -> smem) : smem -> reg) = x.

    Before:
    ```mlir
    %S = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], f32>
    blk.kernel @qk grid(%B, %Hq, %nq) {
      ...
      %s = blk.matmul %q, %k transpose_b : ... -> !blk.tile<64x?xf32, reg>
      blk.store %s, %S[%b, %h, %r0, %c0] : !blk.tile<64x?xf32, reg>, ...
    }
    blk.kernel @softmax grid(%B, %Hq, %nq) {
      %s = blk.load %S[%b, %h, %r0, %c0] : ... -> !blk.tile<64x?xf32, reg>
      %m = blk.reduce max %s : ...
    }
    ```
    After:
    ```mlir
    blk.kernel @qk_softmax grid(%B, %Hq, %nq) {
      %s = blk.matmul %q, %k transpose_b : ... -> !blk.tile<64x?xf32, reg>
      %m = blk.reduce max %s : ...
    }
    ```
    Same-grid kernels that cannot merge get a warning naming the conflicting tensor.
  }];
  let dependentDialects = ["tilefuse::blk::BlkDialect"];
}

def DeferNormalization : Pass<"tilefuse-defer-normalization", "mlir::func::FuncOp"> {
  let summary = "move a row-wise scaling of a matmul operand after the matmul (FA2 3.1)";
  let description = [{
    Rule `DeferRowScaling` (DeferNormalization.cpp):
    `sum_k (h(r_i) * f(x_ik)) * B_kj = h(r_i) * sum_k f(x_ik) * B_kj`: when the lhs of a
    matmul (with no or a zero accumulator) is a map whose value is a product of a factor
    of the non-row inputs and a factor of row-broadcast inputs `broadcast(r)` (divisions,
    multiplications, `r == 0 ? 0 : ...` gates), the row factor is applied once to the
    matmul result instead of to every element of the operand. Exponentials are never moved
    (exp(-m) outside a sum overflows).

    Before:
    ```mlir
    %lb = blk.broadcast %l : !blk.tile<64xf32, reg> -> !blk.tile<64x?xf32, reg>
    %p = blk.map(%e, %lb) : ... -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%x: f32, %s: f32):
      %z = arith.cmpf oeq, %s, %zero : f32
      %q = arith.divf %x, %s : f32
      %y = arith.select %z, %zero, %q : f32
      %t = arith.truncf %y : f32 to bf16
      blk.yield %t : bf16
    }
    %o = blk.matmul %p, %v : ... -> !blk.tile<64x128xf32, reg>
    ```
    After:
    ```mlir
    %p = blk.map(%e) : ... -> !blk.tile<64x?xbf16, reg> {
    ^bb0(%x: f32):
      %t = arith.truncf %x : f32 to bf16
      blk.yield %t : bf16
    }
    %acc = blk.matmul %p, %v : ... -> !blk.tile<64x128xf32, reg>
    %lb2 = blk.broadcast %l : !blk.tile<64xf32, reg> -> !blk.tile<64x128xf32, reg>
    %o = blk.map(%acc, %lb2) : ... {
    ^bb0(%a: f32, %s: f32):
      %q = arith.divf %a, %s : f32
      %z = arith.cmpf oeq, %s, %zero : f32
      %y = arith.select %z, %zero, %q : f32
      blk.yield %y : f32
    }
    ```
  }];
  let dependentDialects = ["tilefuse::blk::BlkDialect", "mlir::arith::ArithDialect"];
}

def Tile : Pass<"tilefuse-tile", "mlir::func::FuncOp"> {
  let summary = "split whole-row (`?`) tiles into loops over BLOCK_N chunks";
  let description = [{
    Rules (Tile.cpp), one per kind of op that consumes a `?` tile and produces a static
    one; the `?` chain feeding it is recomputed per chunk inside the loop (TileSlice.cpp),
    and duplicate chains across loops are left to loop fusion and CSE:
    - `TileRowReduction`: `reduce_j x_j = reduce_c reduce_{j in c} x_j` (reduction across a
      tiled loop, carrying the running value; the identity fills padded columns).
    - `TileContraction`: `sum_k A_ik B_kj = sum_c sum_{k in c} A_ik B_kj` (a loop carrying the
      accumulator; padded lhs columns are zeroed).
    - `TileStore`: a `?` store becomes one store per chunk.
    Tails: blk.load pads a chunk past the run-time extent with 0, so a reduction or
    contraction masks the chunk's padded columns to the reduction's identity (-inf for
    max, 0 for sum and for contraction operands) with `select(col < extent, x, identity)`,
    unless the padding already is the identity. Index tiles along the tiled dim that feed
    table reads are clamped to the extent so padded positions never read out of bounds.

    Before:
    ```mlir
    %k = blk.load %K[%b, %hk, %c0, %c0] : ... -> !blk.tile<?x128xbf16, smem>
    %s = blk.matmul %q, %k transpose_b : ... -> !blk.tile<64x?xf32, reg>
    %m = blk.reduce max %s : !blk.tile<64x?xf32, reg> -> !blk.tile<64xf32, reg>
    ```
    After (block-n=64):
    ```mlir
    %Sk = blk.dim %K[2] : ...
    %m = scf.for %j = %c0 to %Sk step %c64 iter_args(%acc = %ninf) -> (!blk.tile<64xf32, reg>) {
      %kj = blk.load %K[%b, %hk, %j, %c0] : ... -> !blk.tile<64x128xbf16, smem>
      %sj = blk.matmul %q, %kj transpose_b : ... -> !blk.tile<64x64xf32, reg>
      %col = blk.iota col %j : !blk.tile<64x64xi64, reg>
      %in = blk.map(%col) ... { j < Sk }
      %x = blk.select %in, %sj, %ninf_t : ...
      %r = blk.reduce max %x : ...
      %next = blk.map(%acc, %r) ... { arith.maximumf }
      scf.yield %next : !blk.tile<64xf32, reg>
    }
    ```
    Ops with a `?` tile that no rule can tile get a warning; the kernel stays untiled.
  }];
  let options = [
    Option<"blockN", "block-n", "int64_t", /*default=*/"64",
           "BLOCK_N: columns (keys) per chunk of a tiled `?` dim">,
    Option<"blockM", "block-m", "int64_t", /*default=*/"0",
           "BLOCK_M: rows per program instance; 0 keeps the row tile the lowering's grid "
           "chose, any other value must equal it (the grid is the lowering's decision)">
  ];
  let dependentDialects = ["tilefuse::blk::BlkDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect"];
}

def OnlineNormalization : Pass<"tilefuse-online-normalization", "mlir::func::FuncOp"> {
  let summary = "merge a loop that needs a final running max into the loop computing it";
  let description = [{
    Rule `RescaleRunningMax` (OnlineNormalization.cpp; Milakov & Gimelshein 2018,
    FlashAttention 3.1): a loop accumulating (by sum, or as a matmul accumulator) terms
    `T_j * exp(x_j - c(M))`, where `M` is the final value of a running max carried by an
    earlier loop over the same range, is merged into that loop and uses the running max:
    `sum_j exp(x_j - c(m')) T_j = exp(c(m) - c(m')) * sum_j exp(x_j - c(m)) T_j`
    so each iteration rescales the carried value by `alpha = exp(c(m_old) - c(m_new))`
    (scalar scaling distributes over sum and over matmul). `c` is any row function with
    c(-inf) finite (e.g. the safe `m == -inf ? 0 : m`). Guards: alpha = 1 when the max did
    not change, and 0 while the max is still -inf (nothing was accumulated yet; this avoids
    inf * 0). The exponent's argument must be the running max's operand (so every
    exponent is <= 0 and nothing overflows).

    Before:
    ```mlir
    %m = scf.for %j = %c0 to %n step %c64 iter_args(%mi = %ninf) -> (...) {
      ... %r = blk.reduce max %x ...
      %mn = blk.map(%mi, %r) ... { arith.maximumf }
      scf.yield %mn
    }
    %l = scf.for %j = %c0 to %n step %c64 iter_args(%li = %zero) -> (...) {
      %mb = blk.broadcast %m ...
      %e = blk.map(%x, %mb) ... { exp(x - c(m)) }
      %r = blk.reduce sum %e ...
      %ln = blk.map(%li, %r) ... { arith.addf }
      scf.yield %ln
    }
    ```
    After:
    ```mlir
    %ml:2 = scf.for %j = %c0 to %n step %c64 iter_args(%mi = %ninf, %li = %zero) -> (...) {
      ... %mn = blk.map(%mi, %r) ... { arith.maximumf }
      %alpha = blk.map(%mi, %mn) ... { exp(c(m_old) - c(m_new)), guarded }
      %ls = blk.map(%li, %alpha) ... { arith.mulf }
      %mb = blk.broadcast %mn ...
      %e = blk.map(%x, %mb) ... { exp(x - c(m)) }
      %r = blk.reduce sum %e ...
      %ln = blk.map(%ls, %r) ... { arith.addf }
      scf.yield %mn, %ln
    }
    ```
    A loop that needs another loop's final value when the rule does not apply (e.g. a
    running sum, or a score_mod that divides by the row mean) gets a warning that names
    the reason; the two loops stay apart (two passes over K, still correct).
  }];
  let options = [
    Option<"report", "report", "bool", /*default=*/"true",
           "warn about loops that stay separate passes over the same range">
  ];
  let dependentDialects = ["tilefuse::blk::BlkDialect", "mlir::arith::ArithDialect",
                           "mlir::math::MathDialect", "mlir::scf::SCFDialect"];
}

def FuseLoops : Pass<"tilefuse-fuse-loops", "mlir::func::FuncOp"> {
  let summary = "merge independent adjacent loops over the same range";
  let description = [{
    Rule `FuseIndependentLoops` (LoopFusion.cpp): `for j {A_j}; for j {B_j}` =
    `for j {A_j; B_j}` when B uses no result of the first loop, the ops between them that
    B needs can move above the first loop, and the loops' HBM accesses do not conflict.
    Rule `ReuseEqualRead`: a load or map equal to an earlier one of the same block with no
    write between is the earlier one (upstream CSE skips maps whose regions read tables), so
    the chunk computations both bodies recompute (loads, Q K^T, score_mods) happen once.

    Before:
    ```mlir
    %a = scf.for %j = %c0 to %n step %c64 iter_args(%x = %x0) -> (...) { ... }
    %b = scf.for %j = %c0 to %n step %c64 iter_args(%y = %y0) -> (...) { ... }
    ```
    After:
    ```mlir
    %ab:2 = scf.for %j = %c0 to %n step %c64 iter_args(%x = %x0, %y = %y0) -> (...) { ... }
    ```
  }];
  let dependentDialects = ["mlir::scf::SCFDialect"];
}

def Place : Pass<"tilefuse-place", "mlir::func::FuncOp"> {
  let summary = "choose SMEM or registers for each loaded tile; check no HBM round trip";
  let description = [{
    Rules (Placement.cpp):
    - `PlaceMatmulOperandLoad`: a tile loaded from HBM and used only as a matmul operand is
      staged in SMEM (K, V); the loop-invariant lhs (Q) goes where `q-in` says.
    - `LoadStraightToRegisters`: `copy(load(x) : smem) : reg` whose load has no other use
      is a load into registers.
    Everything computed (S, P, m, l, the O accumulator) already lives in registers (the op
    verifiers say so). The pass then warns about every HBM round trip left: a tensor of
    the function that is both stored and loaded, or any blk.alloc.

    Before (q-in=reg):
    ```mlir
    %q = blk.load %Q[...] : ... -> !blk.tile<64x128xbf16, smem>
    scf.for ... { %s = blk.matmul %q, %kj transpose_b ... }
    ```
    After:
    ```mlir
    %q = blk.load %Q[...] : ... -> !blk.tile<64x128xbf16, reg>
    ```
  }];
  let options = [
    Option<"qIn", "q-in", "std::string", /*default=*/"\"smem\"",
           "where a loop-invariant matmul lhs loaded from HBM (Q) lives: smem or reg">
  ];
  let dependentDialects = ["tilefuse::blk::BlkDialect"];
}

def ClassifyTiles : Pass<"tilefuse-classify-tiles", "mlir::func::FuncOp"> {
  let summary = "classify (Q tile, K/V tile) pairs as empty / partial / full under the mask";
  let description = [{
    Rule `ClassifyMaskedTiles` (ClassifyTiles.cpp, with MaskInterval.cpp and
    SkipProof.cpp): in a tiled loop, an i1 tile that selects values, is computed by a map of
    index tiles (a mask_mod, or a tail mask) and changes with the induction variable is
    bounded by interval arithmetic over q_idx in
    [r0, r0 + BM - 1] and kv_idx in [c0, c0 + BN - 1] (a table read takes the min / max of
    the table over its index range, found by a loop), giving run-time booleans "all true"
    and "all false". The body becomes:
    ```mlir
    %r = scf.if %empty -> (...) {
      scf.yield %carried...          // only when the body provably is the identity on
    } else {                         // the carried values for an all-false mask
      %f = scf.if %full -> (...) {
        ... body with the masks replaced by true (no select) ...
      } else {
        ... body ...
      }
    }
    ```
    The skip is only emitted when SkipProof shows, by abstract evaluation of the body
    with the mask all false (max(m, -inf) = m, exp(-inf) = 0, x + 0 = x, alpha(m, m) = 1),
    that every carried value comes out unchanged. Rule `SelectOfConstantMask`:
    select(fill(true), x, y) = x cleans the full branch. A mask no interval rule covers gets
    a remark and stays applied in every branch.
  }];
  let dependentDialects = ["tilefuse::blk::BlkDialect", "mlir::scf::SCFDialect",
                           "mlir::arith::ArithDialect"];
}

#endif // TILEFUSE_COMPILER_PASSES_TD
