//===- Prepare.h - phase 0: a copy of the program, shaped for registers -*- C++ -*-===//
//
// Rewrites a copy of the fused program before resolve. The rewrites keep every value the program
// computes; they change which values the kernel has to keep alive, and so the registers it needs.
//
//   select of a map   select(m, f(x), fill(f(c))) -> f(select(m, x, fill(c)))
//                     when select(m, x, fill(c)) is already computed: the mask is applied once.
//                     In FlashAttention-2's partial tile, P = bf16(select(valid, exp(S - m), 0))
//                     becomes bf16 of the masked exp tile that the row sum reads too, so the
//                     `kv_idx < Sk` predicates are not held live from the exp to the P V product.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace tilefuse::codegen {

/// A copy of `fused` (not attached to any module) with the rewrites above applied.
mlir::OwningOpRef<mlir::func::FuncOp> prepare(mlir::func::FuncOp fused);

} // namespace tilefuse::codegen
