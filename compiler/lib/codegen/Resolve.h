//===- Resolve.h - phase 1: what the fused program is ----------------*- C++ -*-===//
//
// Finds the pieces of a fused block program and classifies every tile value. Accepted programs:
//
//   func.func @f(tensors...)            args: Q, K, V, O, [LSE], captures (KernelSignature)
//     scalar ops on sizes               arith.* / blk.dim (e.g. ceil(Sq / BLOCK_M), Sk as i64)
//     blk.kernel @k grid(g0[, g1[, g2]]) each g = a size (B, Hq, ...) or ceil(size / constant)
//       any sequence of:
//         scalar arith / math ops, blk.dim, blk.read        (block-uniform values)
//         blk.load  -> smem | reg tile (rank 2)              cp.async into a swizzled shared tile
//         blk.copy  smem -> reg                              ldmatrix (or a view when only an mma B)
//         blk.matmul (lhs smem|reg, rhs smem, transpose_b?, acc?)   mma.sync m16n8k16
//         blk.map / blk.select / blk.fill / blk.iota / blk.broadcast   element-wise
//         blk.reduce max|sum                                 warp row reduction
//         blk.store reg tile (rank 1 or 2)                   per-lane stores, rows past the end skipped
//         scf.if (uniform i1; tile or scalar results)        if / else
//         scf.for with a constant step, directly in the kernel body (not nested): a K/V loop,
//           tile or scalar iter_args, loads in it are pipelined when their indices and the
//           conditions of the scf.if's around them are functions of the induction variable
//       map regions: arith / math ops on scalars, blk.read of captured tables, blk.yield
//
//         scf.for over scalars only (anywhere): a plain C loop, e.g. the min / max of table values
//           that tilefuse-classify-tiles computes to classify a tile
//
// Register tiles have BLOCK_M rows (rank 2: BLOCK_M x N, rank 1: BLOCK_M); the block's rows are
// split over its warps. A tile value is kept (a register tile / row vector) when a non-element-wise
// op uses it, or it is used more than once, or it crosses into a loop; otherwise it is inlined into
// each consumer's per-element code (a value read only by one blk.reduce is computed inside the
// reduction).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/codegen/CodeGen.h"

#include "blk/BlkDialect.h"

#include "mlir/IR/Operation.h"
#include "llvm/ADT/DenseMap.h"

#include <algorithm>
#include <string>
#include <vector>

namespace tilefuse::codegen {

/// Throws CodegenError at `op`'s location.
[[noreturn]] void fail(mlir::Operation *op, const std::string &message);
[[noreturn]] void fail(mlir::Location loc, const std::string &opName, const std::string &message);
std::string locationString(mlir::Location loc);

enum class TileClass {
  Smem,      ///< a shared tile filled by blk.load (or a view of one: blk.copy used only as an mma B)
  Fragment,  ///< a register tile in the mma accumulator / A-operand row layout, per warp WARP_ROWS x N
  RowVector, ///< one f32 per row of the row block (rv), e.g. m_i, l_i
  Inline,    ///< element-wise; recomputed inside each consumer's per-element code
};
std::string_view spelling(TileClass c);

struct TileInfo {
  TileClass cls = TileClass::Inline;
  tilefuse::blk::TileType type;
  std::string name;
};

struct TensorInfo {
  unsigned arg = 0;
  TensorArg sig;
  tilefuse::blk::HbmTensorType type;
  std::vector<std::string> extent; ///< C expression of every dim's extent (p.Sq, 128, p.bias_extent[1])
  std::string elemC;               ///< C element type
  bool loaded = false, stored = false, read = false;
};

struct ResolvedKernel {
  // Op handles are mutable: MLIR's accessors are not const.
  mutable mlir::func::FuncOp func;
  mutable tilefuse::blk::KernelOp kernel;
  std::string kernelName;
  std::vector<TensorInfo> tensors; ///< one per function argument
  GridRule grid;
  std::vector<char> programIdAxis; ///< CUDA axis ('x', 'y', 'z') of each program id, outermost first
  mutable std::vector<mlir::scf::ForOp> loops;
  int64_t blockM = 0;
  mlir::Type dtype; ///< element type of Q (bf16 or f16)
  /// KernelSignature::packed: the Sq / Sk extents of Q, K, V, O, LSE are this sequence's lengths, the C
  /// variables kPackedSeqLenQ / kPackedSeqLenK the prologue reads from cu_seqlens (KernelAbi.h).
  bool packed = false;
  /// KernelSignature::isChain: a program that is not attention (operands only, e.g. RMSNorm + matmul).
  bool chain = false;
  /// The run-time sizes, one Params field each, in order: B, Hq, Hkv, Sq, Sk for attention; a chain's
  /// `?` dim names in order of first appearance among its operands (T, D, F).
  std::vector<std::string> sizes;
  bool isSize(std::string_view name) const {
    return std::find(sizes.begin(), sizes.end(), name) != sizes.end();
  }
  llvm::DenseMap<mlir::Value, TileInfo> tiles;
  llvm::DenseMap<mlir::Value, std::string> scalarNames; ///< suggested C names of scalar values

  const TensorInfo &tensorOf(mlir::Value hbm) const;
  const TileInfo &tile(mlir::Value v) const;
  bool isKept(mlir::Value v) const;
  std::string toString() const;
};

ResolvedKernel resolve(mlir::func::FuncOp func, const KernelSignature &signature);

/// Packed layout: the C names of sequence b's lengths and first rows, declared by the prologue.
inline constexpr const char *kPackedSeqLenQ = "seqlen_q", *kPackedSeqLenK = "seqlen_k";
inline constexpr const char *kPackedSeqStartQ = "seq_start_q", *kPackedSeqStartK = "seq_start_k";

/// True for ops whose tile result is computed element by element (map, select, fill, iota, broadcast).
bool isElementwise(mlir::Operation *op);
/// C type of a scalar MLIR type (f32 -> float, index / i64 -> long long, i1 -> bool, ...).
std::string cTypeOf(mlir::Type t, mlir::Operation *where);
/// Identifier-safe version of a name.
std::string identifier(std::string_view name);

} // namespace tilefuse::codegen
