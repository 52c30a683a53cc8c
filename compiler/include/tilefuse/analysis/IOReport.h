//===- IOReport.h - bytes per memory tier and FLOPs of a block program -*- C++ -*-===//
//
// A static count of what a blk block program moves between memory tiers and computes, for
// concrete problem sizes: the numbers behind the IO-complexity argument of FlashAttention (Dao et
// al. 2022, section 3.2, Theorem 2) read off the IR instead of derived by hand. Nothing is
// executed: every op's per-execution cost is multiplied by how often it runs, with the index
// arithmetic (offsets, trip counts, grid sizes) folded from the dims.
//
// What is counted (bytes = elements x element size, bf16 = 2, f32 = 4; FLOPs as below):
//
//   HBM->SMEM / HBM->REG   blk.load into smem / reg: only the elements inside the tensor (a tail
//                          tile that hangs over the end moves only its in-bounds part).
//   SMEM->REG              blk.copy smem -> reg, and every blk.matmul operand that lives in smem
//                          (the whole tile, M x K or K x N elements: the MMA reads it from SMEM).
//   REG->SMEM              blk.copy reg -> smem.
//   REG->HBM / SMEM->HBM   blk.store of a reg / smem tile: in-bounds elements only.
//   table reads            blk.read of captured tensors (ALiBi slopes, bias tables): one element
//                          per execution, so per element of the map for an index that depends on
//                          the element and once per map execution for one that does not.
//   matmul FLOPs           2 * M * N * K per blk.matmul (the accumulate is not counted).
//   elementwise FLOPs      per blk.map: 1 per arith / math op of its region per element (uniform
//                          ops, those not depending on the element, count once per execution);
//                          constants and casts (extf, truncf, sitofp, index_cast, ...) are free.
//   SFU FLOPs              the part of the elementwise FLOPs that are exp, log, tanh, sqrt, ...
//   reduce FLOPs           M * N per blk.reduce; select FLOPs: 1 per element of blk.select.
//
// `?` tile dims take their run-time extent (tensor extent minus offset for loads; the extent of
// the tiles they are combined with for fill / iota / broadcast results), as in the interpreter.
//
// Assumptions (the report cannot check them without data): leading (slice) indices of loads and
// stores are inside the tensor; offsets, trip counts and grid sizes depend only on the dims and
// program ids, not on tensor contents (else AnalysisError). An scf.if whose condition depends on
// tensor contents (a tile classification that reads a captured table, e.g. document ids) is
// counted as the branch with more operations, so the report is an upper bound there; the same
// for a blk.tile_class (a class a run-time block mask decides): the tiles a block mask skips,
// or runs without the mask, are counted as loaded and masked.
//
// Cost of the analysis itself: one walk of each kernel body per combination of the program ids
// that reach an offset, bound or condition (e.g. the query-tile id, not batch or head). A loop is
// walked once per run of iterations that cost the same (compiler/lib/analysis/LoopPlan.h: the
// full, partial and empty K/V tiles of a Q tile under the tile classification, a tail tile), and
// a run seen before is not walked again, so an attention report costs a few steps per Q tile,
// not one per (Q tile, K/V tile) pair. A loop the plan cannot summarize (an induction variable
// that reaches a cost other than through affine compares and tile offsets) is walked per
// iteration.
//
//===----------------------------------------------------------------------------------------===//
#ifndef TILEFUSE_ANALYSIS_IOREPORT_H
#define TILEFUSE_ANALYSIS_IOREPORT_H

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mlir {
class Operation;
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace tilefuse::analysis {

/// Extent of every symbolic dim, by name: "B", "Hq", "Hkv", "Sq", "Sk", and those of captured
/// tensors ("R" of a `!blk.tensor<[R], f32>` table).
using Dims = std::map<std::string, int64_t>;

/// what() is "'blk.load' at file.mlir:12:7: <problem>" for errors at an op, else the problem.
class AnalysisError : public std::runtime_error {
public:
  explicit AnalysisError(const std::string &message);
  AnalysisError(mlir::Operation *op, const std::string &message);
  /// The op the error is at (null when it is about the dims or arguments).
  mlir::Operation *op() const noexcept { return op_; }
  /// The problem alone, without the op and location.
  const std::string &message() const noexcept { return message_; }

private:
  mlir::Operation *op_ = nullptr;
  std::string message_;
};

/// Bytes moved between tiers (see the file comment for what each counts).
struct TierBytes {
  int64_t hbmToSmem = 0;
  int64_t hbmToReg = 0;
  int64_t smemToReg = 0;
  int64_t regToSmem = 0;
  int64_t regToHbm = 0;
  int64_t smemToHbm = 0;
  int64_t tableRead = 0; ///< blk.read of captured tensors (HBM, usually cache-resident).

  int64_t hbmRead() const { return hbmToSmem + hbmToReg + tableRead; }
  int64_t hbmWrite() const { return regToHbm + smemToHbm; }
  TierBytes &operator+=(const TierBytes &o);
  bool operator==(const TierBytes &) const = default;
};

/// Floating-point (and integer) operations (see the file comment).
struct Flops {
  int64_t matmul = 0;
  int64_t elementwise = 0; ///< blk.map regions, SFU ops included.
  int64_t sfu = 0;         ///< Of which exp / log / tanh / sqrt / ...
  int64_t reduce = 0;
  int64_t select = 0;

  int64_t nonMatmul() const { return elementwise + reduce + select; }
  int64_t total() const { return matmul + nonMatmul(); }
  Flops &operator+=(const Flops &o);
  bool operator==(const Flops &) const = default;
};

/// One blk.kernel (or, named "(function body)", the tile ops outside kernels).
struct KernelIO {
  std::string name;          ///< The kernel's symbol, e.g. "qk".
  std::vector<int64_t> grid; ///< Grid extents at these dims.
  int64_t instances = 0;     ///< Product of the grid extents.
  TierBytes bytes;           ///< Summed over all instances.
  Flops flops;               ///< Summed over all instances.
};

struct IOReport {
  std::string function; ///< Symbol of the analysed func.func.
  Dims dims;
  std::vector<KernelIO> kernels; ///< In program order.
  TierBytes bytes;               ///< Sum over kernels.
  Flops flops;                   ///< Sum over kernels.
  /// Why the counts are an upper bound, when they are: the data-dependent branches counted as their
  /// heavier side (see the file comment), each reason once. Empty: the counts are exact.
  std::vector<std::string> upperBound;
};

/// The most steps (kernel-body walks, loop iterations walked and runs of equal iterations) one
/// report runs, a few seconds; past it analyzeIO throws AnalysisError instead of running for hours
/// (a loop the report cannot summarize, at a large trip count).
inline constexpr int64_t kMaxAbstractSteps = int64_t{1} << 21;

/// Counts bytes and FLOPs of `fn` at `dims`. Every symbolic dim of the function's tensor
/// arguments must be in `dims` (extra entries are ignored).
/// Throws AnalysisError for a missing dim, an offset / bound / condition / grid size that cannot
/// be folded from the dims, a `?` extent that no operand determines, an unsupported op, or a run
/// longer than kMaxAbstractSteps.
IOReport analyzeIO(mlir::func::FuncOp fn, const Dims &dims);

/// Parses "B=1,Hq=16,Hkv=16,Sq=4096,Sk=4096" (spaces allowed around names and values).
/// Throws AnalysisError for a malformed entry, a negative or non-integer extent, a repeated name.
Dims parseDims(std::string_view text);

/// A fixed-width text table: one row per kernel plus a total row (bytes and FLOPs as exact
/// integers), then a summary line (HBM GiB read / written, arithmetic intensity in FLOP/byte), then,
/// for an upper bound, a line saying so and why.
std::string formatTable(const IOReport &report);

/// The report as JSON text: {"function", "dims", "kernels": [{"name", "grid", "instances",
/// "bytes": {...}, "flops": {...}}], "total": {"bytes", "flops"}}; byte fields hbm_to_smem,
/// hbm_to_reg, smem_to_reg, reg_to_smem, reg_to_hbm, smem_to_hbm, table_read, hbm_read,
/// hbm_write; FLOP fields matmul, elementwise, sfu, reduce, select, non_matmul, total; and
/// "upper_bound": [reasons] (empty when the counts are exact).
std::string toJson(const IOReport &report, int indent = 2);

} // namespace tilefuse::analysis

#endif // TILEFUSE_ANALYSIS_IOREPORT_H
