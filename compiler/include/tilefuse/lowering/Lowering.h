//===- Lowering.h - spec -> unfused block program --------------------*- C++ -*-===//
//
// Lowers an attention-variant spec to the naive, unfused block program: the "standard attention
// implementation" of the FlashAttention paper (Dao et al. 2022, Algorithm 0), in three kernels:
//
//   @qk       S = Q K^T                         (S written to HBM, fp32)
//   @softmax  P = softmax(mask(score_mod(scale * S)))   (P written to HBM in the input dtype;
//             LSE written when the spec asks)
//   @pv       O = P V                           (O written to HBM)
//
// The softmax is the safe form, so a fully masked row gives O = 0 and LSE = -inf (the
// FlashInfer / FlexAttention convention):
//   m_safe = (m == -inf ? 0 : m);  e = exp(s - m_safe);  l = sum(e);
//   p = (l == 0 ? 0 : e / l);  lse = m_safe + log(l)
//
// A sink (spec field "sink", one value per (b, h), read once per kernel instance) adds its term to
// the row sum after the reduction, and LSE is taken against top = max(m, sink) (no fp32 overflow):
//   l = sum(e) + exp(sink - m_safe);  lse = top + log(sum(e) exp(m_safe - top) + exp(sink - top))
// With "normalizer": "none" the middle kernel is @weights instead of @softmax, with no max, no sum
// and no LSE (a spec asking for LSE is refused when it is read):
//   @weights  P = mask ? score_mod(scale * S) : 0      (P written to HBM in the input dtype)
// With "normalizer": "stick_breaking" (Tan et al. 2024, Sec. 2) the middle kernel is also @weights,
// the stick-breaking weights in log space (no max, no sum, no LSE), s = score_mod(scale * S):
//   z = mask ? softplus(s) : 0;  r = scan sum z reverse (inclusive);  P = mask ? exp(s - r) : 0
// (tests/lit/fusion/Inputs/stick_breaking.mlir writes the same weights by hand with the exclusive scan,
// exp(s - z - r)).
//
// Each kernel's grid is (B, Hq, ceil(Sq / BLOCK_M)); a program instance owns BLOCK_M query rows
// and whole key rows (tiles with a `?` dim), which is what the tiling rule of the fusion pass
// later splits into BLOCK_N chunks.
//
// The function's arguments, in order (layouts (batch, head, seq, dim), last dim contiguous):
//   Q   !blk.tensor<[B, Hq, Sq, D], dtype>
//   K   !blk.tensor<[B, Hkv, Sk, D], dtype>
//   V   !blk.tensor<[B, Hkv, Sk, Dv], dtype>
//   O   !blk.tensor<[B, Hq, Sq, Dv], dtype>
//   LSE !blk.tensor<[B, Hq, Sq], f32>         (only when spec.lse)
//   one tensor per capture, in Spec::captures order (sorted by name)
//
//===----------------------------------------------------------------------------------------===//
#ifndef TILEFUSE_LOWERING_LOWERING_H
#define TILEFUSE_LOWERING_LOWERING_H

#include "tilefuse/spec/Spec.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"

#include <cstdint>
#include <map>
#include <string>

namespace tilefuse::lowering {

struct LoweringOptions {
  /// Query rows per program instance (BLOCK_M) of the unfused kernels; > 0.
  int64_t blockM = 64;
};

/// Appends `func.func @<spec.name>` holding the unfused program to `module` and returns it.
/// The head dims D and Dv and the GQA group size Hq / Hkv are taken from the spec's default shape
/// (with any overrides the caller applied to `shape`) and are static in the IR; B, Hq, Hkv, Sq, Sk
/// stay symbolic. The caller's context must have the blk, func, arith, math and scf dialects
/// loaded (loadDialects does it). Throws spec::SpecError when blockM <= 0.
mlir::func::FuncOp lowerToUnfused(mlir::ModuleOp module, const spec::Spec &spec,
                                  const spec::Shape &shape, const LoweringOptions &options = {});

/// The extent of every symbolic dim of the lowered function's arguments at `shape`: B, Hq, Hkv,
/// Sq, Sk and the captures' dims (named as in the function signature, e.g. "bias_d1").
/// Throws spec::SpecError when a capture dim is not positive.
std::map<std::string, int64_t> dimBindings(const spec::Spec &spec, const spec::Shape &shape);

/// Loads every dialect a block program uses into `context`.
void loadDialects(mlir::MLIRContext &context);

} // namespace tilefuse::lowering

#endif // TILEFUSE_LOWERING_LOWERING_H
