//===- BlkAttrs.td - blk enums and attributes --------------*- tablegen -*-===//
#ifndef BLK_ATTRS_TD
#define BLK_ATTRS_TD

include "mlir/IR/EnumAttr.td"

// Where a tile lives. HBM is device global memory; SMEM is the shared memory of
// one thread block; REG is the register file of the threads of one program.
def Blk_MemorySpace : I32EnumAttr<"MemorySpace", "memory tier of a tile", [
    I32EnumAttrCase<"hbm", 0>,
    I32EnumAttrCase<"smem", 1>,
    I32EnumAttrCase<"reg", 2>]> {
  let cppNamespace = "::tilefuse::blk";
  let genSpecializedAttr = 0;
}

// The combining function of a row reduction.
def Blk_ReduceKind : I32EnumAttr<"ReduceKind", "row reduction kind", [
    I32EnumAttrCase<"max", 0>,
    I32EnumAttrCase<"sum", 1>]> {
  let cppNamespace = "::tilefuse::blk";
}

// Which class of K/V tile a blk.tile_class bound speaks of: every score of the tile masked
// out (empty) or none (full).
def Blk_MaskTileClass : I32EnumAttr<"MaskTileClass", "class of a tile under a mask", [
    I32EnumAttrCase<"empty", 0>,
    I32EnumAttrCase<"full", 1>]> {
  let cppNamespace = "::tilefuse::blk";
}

// Which index an iota tile counts along: rows (dim 0) or columns (dim 1).
def Blk_IotaDim : I32EnumAttr<"IotaDim", "index tile direction", [
    I32EnumAttrCase<"row", 0>,
    I32EnumAttrCase<"col", 1>]> {
  let cppNamespace = "::tilefuse::blk";
}

#endif // BLK_ATTRS_TD
