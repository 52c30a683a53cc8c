//===- BlkDialect.td - the blk block-program dialect -------*- tablegen -*-===//
#ifndef BLK_DIALECT_TD
#define BLK_DIALECT_TD

include "mlir/IR/OpBase.td"

def Blk_Dialect : Dialect {
  let name = "blk";
  let cppNamespace = "::tilefuse::blk";
  let summary = "Block programs: tiles moving between HBM, shared memory and registers.";
  let description = [{
    A block program (in the sense of Blockbuster, arXiv 2505.07829) describes a GPU kernel
    as the movement of tiles between memory tiers and the tile-level arithmetic done on
    them. Where a value lives is part of its type, so the bytes an algorithm moves per
    tier can be read off the IR and changed by rewrites:

    - `!blk.tensor<[B, Hq, Sq, 128], bf16>` is a tensor in HBM whose dims are symbolic
      names (bound at run time) or integers. Strides are run-time values; the last dim
      is contiguous (stride 1).
    - `!blk.tile<64x128xbf16, smem>` is a tile of a given shape and element type living
      in shared memory (`smem`) or registers (`reg`). A `?` dim is a whole-extent dim
      whose size is only known at run time (the unfused programs use such tiles for
      whole rows; tiling rewrites turn them into loops over fixed-size tiles).

    Scalar arithmetic inside `blk.map` regions uses the upstream `arith` and `math`
    dialects; loops over tiles use `scf.for`; programs are `func.func`s. A math op may
    carry the unit attribute `blk.exact_math` (`math.tanh %x {blk.exact_math} : f32`):
    the CUDA generator then calls the math library (tanhf, expf) instead of the f32
    hardware approximation (tanh.approx.f32, ex2.approx); specs with `"math": "exact"`
    lower their score_mod and mask_mod that way.
  }];
  let useDefaultTypePrinterParser = 1;
  let extraClassDeclaration = [{
    void registerTypes();
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::math::MathDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::func::FuncDialect"
  ];
}

class Blk_Op<string mnemonic, list<Trait> traits = []>
    : Op<Blk_Dialect, mnemonic, traits>;

#endif // BLK_DIALECT_TD
