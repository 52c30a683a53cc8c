//===- Prepare.h - phase 0: a copy of the program, shaped for registers -*- C++ -*-===//
//
// Rewrites a copy of the fused program before resolve. The rewrites keep every value the program
// computes; they change which values the kernel has to keep alive, and so the registers it needs.
//
//   element           an op of a map region that reads no element argument (a pure op, or a
//   invariants        blk.read of a captured table, e.g. ALiBi's slopes[h]) moves in front of the
//                     map, then out of the scf.if / scf.for around it while it reads nothing they
//                     define: computed once per kernel (or tile), not once per element. A division
//                     by a run-time value is not pure (not speculatable) and stays.
//   select of a map   select(m, f(x), fill(f(c))) -> f(select(m, x, fill(c)))
//                     when select(m, x, fill(c)) is already computed: the mask is applied once.
//                     In FlashAttention-2's partial tile, P = bf16(select(valid, exp(S - m), 0))
//                     becomes bf16 of the masked exp tile that the row sum reads too, so the
//                     `kv_idx < Sk` predicates are not held live from the exp to the P V product.
//   sum before scan   a row sum of a scan's input (and the map adding it to a running value) moves in
//                     front of the scan, so the scan can write over its input (stick-breaking's carry).
//   loops onto       an scf.for in the kernel body with no results, whose body holds a tile loop and
//   the grid         whose iterations each store their own `step`-wide chunk of tensors the kernel never
//                    reads nor stores elsewhere (the nested tiling of a matmul with a run-time output width: RMSNorm + matmul's
//                    loop over F chunks), becomes an outer grid dim ceil(ub / step): iteration i runs in
//                    program instance i, and what the kernel computes before the loop is computed by
//                    every instance. On a GPU the chunks then run in parallel instead of one after the
//                    other in one block (T / 64 blocks would leave most SMs idle).
//   staged register  a bf16/f16 blk.load into registers inside a tile loop becomes a load into shared
//   loads            memory and a blk.copy (ldmatrix): the loop's cp.async pipeline prefetches it.
//   tail guard        the tail guard g (kv_idx < Sk) of a tile past Sk, applied once: exp(v - b') reads
//   before exp        select(g, v, -inf), the row max's input, so the selects of exp's result against 0
//                     (the row sum's input, P) go; select(g, select(m, x, -inf), -inf) is one select of a
//                     map computing m && g (not for a run-time block mask's tagged maps). Per element of a
//                     partial tile: one select where there were three, and (ElementCode) one compare per
//                     direction of the column bounds. sm90 only (on sm80 ptxas then spilled Gemma-2's D256
//                     kernel). Measured on the H200: sliding window 1024 + causal 4% faster, causal S4k 1.4%.
//   positive scale    y = c * x (c a constant > 0) read only by selects against fill(-inf), row maxima
//   through max/exp   and as the a of exp(a - b): select(m, c*x, -inf) = c * select(m, x, -inf),
//                     max_j(c*x_j) = c * max_j x_j (monotone: the same element wins, bit for bit), and
//                     exp(c*x - b) reads x. The softmax scale then costs one FMUL per row (on the row
//                     max) and nothing per score: exp(c*x - m) is one FFMA with coefficient c*log2(e).
//                     Applied for the sm90 backend (FlashAttention-3's form); not for sm80, where at
//                     the tuned d128 schedule NVRTC's ptxas then spills (docs/experiments/README.md).
//   lazy running     m' = max(m, y) -> m'' = m' > m + 8 ln 2 ? m' : m when every reader of the running max
//   max              reads it as a reference (exp(a - b), equality tests, the LSE's m + log l): O / l and
//                    the LSE do not depend on the reference, and exp(x - m'') <= 256. Where the max does not
//                    move, alpha = 1 and O *= alpha is tagged kLazyRescaleAttrName, emitted under a warp vote
//                    (FlashAttention-4's conditional rescaling). sm90 only, with Schedule::lazyRescale.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"

namespace tilefuse::codegen {

/// Tags an accumulator's rescale x * broadcast(alpha) whose alpha is exactly 1 on most K/V tiles (the
/// lazy running max, sm90): the writer emits it under a warp vote and skips it where alpha is 1 on every
/// row of the warp (x * 1 = x exactly, so the skip is exact for any alpha).
inline constexpr llvm::StringLiteral kLazyRescaleAttrName = "blk.lazy_rescale";

/// The "loops onto the grid" rewrite alone, in place (prepare applies it first).
void loopsOntoGrid(mlir::func::FuncOp func);

/// A copy of `fused` (not attached to any module) with the rewrites above applied; `sm90` adds the sm90
/// backend's (the positive scale through max / exp, and the tail guard before exp), and with it
/// `lazyRescale` the lazy running max (Schedule::lazyRescale).
mlir::OwningOpRef<mlir::func::FuncOp> prepare(mlir::func::FuncOp fused, bool sm90 = false, bool lazyRescale = false);

} // namespace tilefuse::codegen
