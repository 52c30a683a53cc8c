//===- BlkOps.td - blk tile-level operations ---------------*- tablegen -*-===//
#ifndef BLK_OPS_TD
#define BLK_OPS_TD

include "blk/BlkDialect.td"
include "blk/BlkAttrs.td"
include "blk/BlkTypes.td"
include "mlir/IR/OpBase.td"
include "mlir/IR/SymbolInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

//===----------------------------------------------------------------------===//
// Programs and HBM
//===----------------------------------------------------------------------===//

def Blk_KernelOp : Blk_Op<"kernel", [SingleBlock, NoTerminator,
                                     RecursiveMemoryEffects]> {
  let summary = "one GPU kernel: a grid of program instances";
  let description = [{
    The body runs once per program instance of a grid of up to 3 dims; the entry
    block's `index` arguments are the instance's program ids (like CUDA's blockIdx,
    outermost dim first). Instances of one kernel are independent; kernels of one
    function run in order, each seeing the HBM writes of the ones before it. The body
    may use values from above (tensors, dims, scalars).

    ```mlir
    blk.kernel @scores grid(%B, %Hq, %nq) {
    ^bb0(%b: index, %h: index, %qt: index):
      ...
    }
    ```
  }];
  let arguments = (ins SymbolNameAttr:$sym_name, Variadic<Index>:$grid);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$sym_name `grid` `(` $grid `)` attr-dict-with-keyword $body";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    ::mlir::Block &getBodyBlock() { return getBody().front(); }
  }];
}

def Blk_DimOp : Blk_Op<"dim", [Pure]> {
  let summary = "run-time extent of one dim of an HBM tensor";
  let description = [{
    ```mlir
    %Sq = blk.dim %Q[2] : !blk.tensor<[B, Hq, Sq, 128], bf16>
    ```
  }];
  let arguments = (ins Blk_Tensor:$source, I64Attr:$index);
  let results = (outs Index:$result);
  let assemblyFormat = "$source `[` $index `]` attr-dict `:` qualified(type($source))";
  let hasVerifier = 1;
}

def Blk_AllocOp : Blk_Op<"alloc", [MemoryEffects<[MemAlloc]>]> {
  let summary = "a scratch tensor in HBM";
  let description = [{
    Allocates an HBM tensor, one `index` operand per symbolic dim (in order). Unfused
    programs use it for the intermediates that go through HBM (S and P).

    ```mlir
    %S = blk.alloc(%B, %Hq, %Sq, %Sk) : !blk.tensor<[B, Hq, Sq, Sk], f32>
    ```
  }];
  let arguments = (ins Variadic<Index>:$sizes);
  let results = (outs Blk_Tensor:$result);
  let assemblyFormat = "`(` $sizes `)` attr-dict `:` qualified(type($result))";
  let hasVerifier = 1;
}

def Blk_LoadOp : Blk_Op<"load", [MemoryEffects<[MemRead]>]> {
  let summary = "load a tile from HBM into shared memory or registers";
  let description = [{
    One index per tensor dim. The tile covers the tensor's last `rank(tile)` dims,
    starting at the given element offsets; the leading indices pick the slice. A `?`
    tile dim spans from its offset to the end of the tensor dim. Elements outside
    the tensor read as 0 (tails of tiles that do not divide the sequence length).

    ```mlir
    %q = blk.load %Q[%b, %h, %r0, %c0] : !blk.tensor<[B, Hq, Sq, 128], bf16> -> !blk.tile<64x128xbf16, smem>
    ```
  }];
  let arguments = (ins Blk_Tensor:$source, Variadic<Index>:$indices);
  let results = (outs Blk_Tile:$result);
  let assemblyFormat = [{
    $source `[` $indices `]` attr-dict `:` qualified(type($source)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def Blk_StoreOp : Blk_Op<"store", [MemoryEffects<[MemWrite]>]> {
  let summary = "store a tile to HBM";
  let description = [{
    Writes the tile at the given element offsets (same indexing as `blk.load`). Only
    elements inside the tensor are written.

    ```mlir
    blk.store %o, %O[%b, %h, %r0, %c0] : !blk.tile<64x128xbf16, reg>, !blk.tensor<[B, Hq, Sq, 128], bf16>
    ```
  }];
  let arguments = (ins Blk_Tile:$value, Blk_Tensor:$dest, Variadic<Index>:$indices);
  let assemblyFormat = [{
    $value `,` $dest `[` $indices `]` attr-dict `:` qualified(type($value)) `,` qualified(type($dest))
  }];
  let hasVerifier = 1;
}

def Blk_ReadOp : Blk_Op<"read", [MemoryEffects<[MemRead]>]> {
  let summary = "read one element of an HBM tensor (a captured table)";
  let description = [{
    A scalar read, used inside `blk.map` regions to look up captured tensors such as
    per-head ALiBi slopes or a relative-position bias table. An index outside the tensor
    reads 0, like the padding of `blk.load`: a map also runs on the padded rows and columns
    of tail tiles, whose results are never stored, and those must not fault.

    ```mlir
    %s = blk.read %slopes[%h] : !blk.tensor<[Hq], f32> -> f32
    ```
  }];
  let arguments = (ins Blk_Tensor:$source, Variadic<Index>:$indices);
  let results = (outs AnyType:$result);
  let assemblyFormat = [{
    $source `[` $indices `]` attr-dict `:` qualified(type($source)) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Blk_TileClassOp : Blk_Op<"tile_class", [Pure]> {
  let summary = "whether one K/V tile is empty / full under a mask: a bound a block mask may refine";
  let description = [{
    The tile classification (`--tilefuse-classify-tiles`) wraps the bound it computed for
    the K/V tile at `kv` (its first column) in this op when the bound reads tensor contents
    (a mask_mod reading a captured table, e.g. document ids). Its value is `bound`: true
    only when the tile is surely empty (every score masked out) / surely full (none masked).
    A kernel that runs with a run-time block mask (lists of the partial and full K/V tiles
    of each Q tile, computed before the kernel from the same mask_mod) may use the exact
    class instead: both are sound, since an empty tile is skipped only where skipping leaves
    every carried value unchanged and a full tile drops only masks that are all true.

    ```mlir
    %skip = blk.tile_class empty %none_true at %kv0
    %full = blk.tile_class full %all_true at %kv0
    ```
  }];
  let arguments = (ins Blk_MaskTileClass:$kind, I1:$bound, Index:$kv);
  let results = (outs I1:$result);
  let assemblyFormat = "$kind $bound `at` $kv attr-dict";
}

//===----------------------------------------------------------------------===//
// Tiles
//===----------------------------------------------------------------------===//

def Blk_CopyOp : Blk_Op<"copy", [Pure]> {
  let summary = "move a tile between shared memory and registers";
  let description = [{
    ```mlir
    %k_reg = blk.copy %k : !blk.tile<64x128xbf16, smem> -> !blk.tile<64x128xbf16, reg>
    ```
  }];
  let arguments = (ins Blk_Tile:$source);
  let results = (outs Blk_Tile:$result);
  let assemblyFormat = "$source attr-dict `:` qualified(type($source)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Blk_MatmulOp : Blk_Op<"matmul", [Pure]> {
  let summary = "tile matrix product with fp32 accumulation";
  let description = [{
    `C = A * B (+ acc)` with A of shape MxK and B of shape KxN, or NxK when
    `transpose_b` is set (`S = Q K^T`). A and B live in SMEM or registers; the result
    is an fp32 register tile. With `acc`, the product is added to it.

    ```mlir
    %s = blk.matmul %q, %k transpose_b : !blk.tile<64x128xbf16, smem>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x64xf32, reg>
    %o = blk.matmul %p, %v acc(%o0 : !blk.tile<64x128xf32, reg>) : !blk.tile<64x64xbf16, reg>, !blk.tile<64x128xbf16, smem> -> !blk.tile<64x128xf32, reg>
    ```
  }];
  let arguments = (ins Blk_Tile:$lhs, Blk_Tile:$rhs, Optional<Blk_Tile>:$acc,
                       UnitAttr:$transpose_b);
  let results = (outs Blk_Tile:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`acc` `(` $acc^ `:` qualified(type($acc)) `)`)? (`transpose_b` $transpose_b^)?
    attr-dict `:` qualified(type($lhs)) `,` qualified(type($rhs)) `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def Blk_MapOp : Blk_Op<"map", [RecursiveMemoryEffects, SingleBlock]> {
  let summary = "elementwise map over register tiles of one shape";
  let description = [{
    Applies the region to each element position of the input tiles (all of the same
    shape, in registers). The region's arguments are the elements' scalars; it
    yields the result element. The region may use scalars from above (`%b`, `%h`,
    constants) and `blk.read` captured tables. This is where score_mod and mask_mod
    live.

    ```mlir
    %t = blk.map(%s, %kv) : (!blk.tile<64x64xf32, reg>, !blk.tile<64x64xi32, reg>) -> !blk.tile<64x64xf32, reg> {
    ^bb0(%x: f32, %j: i32):
      %c = arith.constant 5.000000e-02 : f32
      %y = arith.mulf %x, %c : f32
      blk.yield %y : f32
    }
    ```
  }];
  let arguments = (ins Variadic<Blk_Tile>:$inputs);
  let results = (outs Blk_Tile:$result);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` attr-dict `:` functional-type($inputs, $result) $body
  }];
  let hasVerifier = 1;
}

def Blk_YieldOp : Blk_Op<"yield", [Pure, Terminator, ReturnLike, HasParent<"MapOp">]> {
  let summary = "the element a blk.map region produces";
  let arguments = (ins AnyType:$value);
  let assemblyFormat = "$value attr-dict `:` type($value)";
}

def Blk_ReduceOp : Blk_Op<"reduce", [Pure]> {
  let summary = "row reduction (max or sum) over the last dim";
  let description = [{
    Reduces each row of a rank-2 register tile to one element: MxN -> M. The max of
    an empty or all -inf row is -inf; the sum of an empty row is 0.

    ```mlir
    %m = blk.reduce max %s : !blk.tile<64x64xf32, reg> -> !blk.tile<64xf32, reg>
    ```
  }];
  let arguments = (ins Blk_ReduceKind:$kind, Blk_Tile:$input);
  let results = (outs Blk_Tile:$result);
  let assemblyFormat = "$kind $input attr-dict `:` qualified(type($input)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Blk_ScanOp : Blk_Op<"scan", [Pure]> {
  let summary = "running sum along each row (prefix or suffix, inclusive or exclusive)";
  let description = [{
    The cumulative sum along the last dim of a rank-2 register tile, per row: MxN -> MxN.
    y_ij = sum over k <= j of x_ik (inclusive), k < j (exclusive); with `reverse`, over k >= j or
    k > j (a suffix sum). The sum of no terms is 0.

    Stick-breaking attention (Tan et al. 2024) needs the reverse exclusive form: the weight of key
    j in row i is beta_ij times the product over j < k < i of (1 - beta_ik), in log space
    log beta_ij - sum over k > j of softplus(s_ik) (softplus(s) = -log(1 - sigmoid(s)), masked to 0
    for k >= i). Tiling carries the scan across a loop over column chunks (docs/FUSION.md, rule 3).

    ```mlir
    %r = blk.scan sum %z reverse exclusive : !blk.tile<64x?xf32, reg> -> !blk.tile<64x?xf32, reg>
    ```
  }];
  let arguments = (ins Blk_ReduceKind:$kind, Blk_Tile:$input, UnitAttr:$reverse, UnitAttr:$exclusive);
  let results = (outs Blk_Tile:$result);
  let assemblyFormat = "$kind $input (`reverse` $reverse^)? (`exclusive` $exclusive^)? attr-dict `:` "
                       "qualified(type($input)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Blk_BroadcastOp : Blk_Op<"broadcast", [Pure]> {
  let summary = "broadcast a row vector along a new last dim";
  let description = [{
    M -> MxN: each row of the result repeats the input's element for that row.

    ```mlir
    %mb = blk.broadcast %m : !blk.tile<64xf32, reg> -> !blk.tile<64x64xf32, reg>
    ```
  }];
  let arguments = (ins Blk_Tile:$input);
  let results = (outs Blk_Tile:$result);
  let assemblyFormat = "$input attr-dict `:` qualified(type($input)) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Blk_FillOp : Blk_Op<"fill", [Pure]> {
  let summary = "a register tile with every element equal to a scalar";
  let description = [{
    ```mlir
    %ninf = arith.constant 0xFF800000 : f32
    %m0 = blk.fill %ninf : f32 -> !blk.tile<64xf32, reg>
    ```
  }];
  let arguments = (ins AnyType:$value);
  let results = (outs Blk_Tile:$result);
  let assemblyFormat = "$value attr-dict `:` type($value) `->` qualified(type($result))";
  let hasVerifier = 1;
}

def Blk_IotaOp : Blk_Op<"iota", [Pure]> {
  let summary = "index tile: row or column index plus an offset";
  let description = [{
    Element (i, j) is `offset + i` (`row`) or `offset + j` (`col`), as the tile's
    integer element type. With the tile's first row / column as offset these are the
    q_idx and kv_idx of each score, for masks and score_mods.

    ```mlir
    %q_idx = blk.iota row %r0 : !blk.tile<64x64xi32, reg>
    ```
  }];
  let arguments = (ins Blk_IotaDim:$dim, Index:$offset);
  let results = (outs Blk_Tile:$result);
  let assemblyFormat = "$dim $offset attr-dict `:` qualified(type($result))";
  let hasVerifier = 1;
}

def Blk_SelectOp : Blk_Op<"select", [Pure,
    AllTypesMatch<["true_value", "false_value", "result"]>]> {
  let summary = "elementwise choice between two tiles by an i1 tile";
  let description = [{
    ```mlir
    %s1 = blk.select %keep, %s, %ninf : !blk.tile<64x64xi1, reg>, !blk.tile<64x64xf32, reg>
    ```
  }];
  let arguments = (ins Blk_Tile:$condition, Blk_Tile:$true_value, Blk_Tile:$false_value);
  let results = (outs Blk_Tile:$result);
  let assemblyFormat = [{
    $condition `,` $true_value `,` $false_value attr-dict `:` qualified(type($condition)) `,` qualified(type($result))
  }];
  let hasVerifier = 1;
}

#endif // BLK_OPS_TD
