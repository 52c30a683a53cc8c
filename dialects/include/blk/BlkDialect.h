//===- BlkDialect.h - the blk block-program dialect -----------------------===//
//
// Types, attributes and ops of the `blk` dialect: tiles moving between HBM,
// shared memory (SMEM) and registers. See BlkDialect.td for the semantics.
//
#ifndef TILEFUSE_BLK_BLKDIALECT_H
#define TILEFUSE_BLK_BLKDIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "blk/BlkEnums.h.inc"
#include "blk/BlkDialect.h.inc"

#define GET_TYPEDEF_CLASSES
#include "blk/BlkTypes.h.inc"

#define GET_OP_CLASSES
#include "blk/BlkOps.h.inc"

namespace tilefuse::blk {

/// Discardable unit attribute on a math-dialect op inside a blk.map region, `math.tanh %x
/// {blk.exact_math} : f32`: the CUDA generator computes it with the math library (tanhf, expf) and not
/// with the hardware approximation it uses otherwise for f32 (tanh.approx.f32, ex2.approx). The
/// lowering sets it on the math ops of score_mod and mask_mod for a spec with "math": "exact".
inline constexpr llvm::StringLiteral kExactMathAttrName = "blk.exact_math";

/// A BoolAttr on an i1 mask (a blk.map) of a K/V loop whose tile classes a run-time block mask may
/// decide (blk.tile_class): the tile classification sets it, true when an all-false mask lets a tile
/// be skipped; the code generator's block-classification kernel evaluates the tagged masks.
inline constexpr llvm::StringLiteral kRuntimeMaskAttrName = "blk.runtime_mask";

} // namespace tilefuse::blk

#endif // TILEFUSE_BLK_BLKDIALECT_H
