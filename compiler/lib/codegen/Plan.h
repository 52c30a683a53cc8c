//===- Plan.h - phase 2: shared memory, registers, the copy pipeline -*- C++ -*-===//
//
// Decides, before any code is written:
//   - shared memory: one swizzled st<T, rows, cols> per distinct loaded tile; tiles loaded inside a
//     K/V loop get `kv_stages` copies (an array indexed by the pipeline stage); buffers of different
//     loops share addresses (the loops run one after the other). Offsets in bytes, 128-aligned.
//   - the pipeline of each loop: which of its loads are prefetched (indices and enclosing scf.if
//     conditions recomputable for a future iteration), deduplicated across scf.if branches (the same
//     tile loaded in the "full" and "partial" branches is one buffer and one copy).
//   - registers: a storage (a C variable: rt<T, WARP_ROWS, N> or rv<WARP_ROWS>) for every kept tile
//     value. A value reuses an operand's storage when that operand is dead afterwards (updates in
//     place: s_acc through score_mod, mask and exp; o_acc through rescale and P V), loop-carried
//     values live in one variable per iter_arg (m_i, l_i, o_acc), and a value that is yielded goes
//     straight into the variable it is yielded to when that is free.
//   - fusions read off the IR: `reduce` whose only user combines it with a running value
//     (max(m, rowmax s), l + rowsum p) becomes one warp::row_max / row_sum with that accumulator.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "Resolve.h"

#include "llvm/ADT/DenseSet.h"

#include <optional>
#include <string>
#include <vector>

namespace tilefuse::codegen {

struct SmemBuffer {
  std::string name;   ///< q_smem, k_smem, v_smem, ...
  std::string elemC;  ///< __nv_bfloat16 / __half
  int64_t rows = 0, cols = 0;
  int stages = 1;     ///< > 1: an array indexed by the pipeline stage (K/V loop tiles), or, for a tile
                      ///< loaded once (sm90 persistent), by the block's tile count modulo stages
  bool pipelined = false;
  bool staging = false;      ///< staging buffer of a load into registers
  std::size_t offset = 0;    ///< bytes from the start of dynamic shared memory
  std::size_t bytesPerStage = 0;
  mutable mlir::scf::ForOp loop; ///< the loop it belongs to; null: filled once
  mutable std::vector<tilefuse::blk::LoadOp> loads;
  int loadIndex = -1;        ///< position in its loop's issue order (pipelined buffers)
};

/// A prefetched load of a loop: issued for a future iteration under `conditions` (values of the loop
/// body with the polarity that leads to the load: the conditions shared by all its copies).
struct PipelinedLoad {
  int buffer = -1;
  mutable tilefuse::blk::LoadOp load;
  std::vector<std::pair<mlir::Value, bool>> conditions;
};

/// A loop-invariant bound on a loop's induction variable: a sum of coef * term (values computable
/// without the induction variable, possibly by ops of the loop body) plus offset, or the min / max of
/// such bounds (the threshold of a max / min of floor divisions: a block-diagonal mask).
struct IvBound {
  enum class Kind { Linear, Min, Max } kind = Kind::Linear;
  std::vector<std::pair<mlir::Value, int64_t>> terms; ///< Linear: (value, coefficient)
  int64_t offset = 0;                                 ///< Linear
  std::vector<IvBound> args;                          ///< Min / Max
};

struct LoopPlan {
  mutable mlir::scf::ForOp op;
  int64_t step = 0;
  int stages = 1;
  std::vector<PipelinedLoad> loads; ///< issue order (program order of the first copy)
  /// Loop-range cut. Iterations outside [max(starts), min(ends)) do nothing (an scf.if passes the
  /// carried values through: tiles empty under the mask), so the loop runs from the first iteration at
  /// or after every start to the last one before every end: a causal tile above the diagonal is past
  /// an end, a sliding window's tile left of the window before a start. Empty: no cut on that side.
  std::vector<IvBound> ends, starts;
  /// Split pipeline (FlashAttention-2's K/V schedule, generalised): one cp.async group per load and
  /// iteration; before the first use of load i the block waits for it, and that wait also frees the
  /// slot of load i-1 (its uses are over), which is refilled right there for iteration it + stages
  /// (load n-1 of iteration it + stages - 1 at the wait of load 0). Needs every use of load i-1 to come
  /// before every use of load i on each path, and loads * stages >= 2. Otherwise: one group per
  /// iteration, waited for at its top (stages >= 2), or issue-then-wait (1 stage).
  bool split = false;
};

struct Storage {
  std::string name;
  bool rowVector = false;
  mlir::Type elem; ///< f32, bf16, f16
  int64_t cols = 0;
};

/// Peephole of a blk.map that combines a reduction with a running value.
struct ReduceCombine {
  mutable tilefuse::blk::ReduceOp reduce;
  unsigned reduceArg = 0; ///< the map block argument bound to the reduction
  mlir::Value other;      ///< the yielded combine op's other operand (inside the map region)
  /// max(other, reduction * c), c a constant > 0 (Prepare's scale rule): the row maximum is taken
  /// first, then combined with the running value by the map's region.
  bool scaled = false;
};

/// A run-time block mask (FlexAttention's BlockMask): the K/V loop whose tile classes
/// (blk.tile_class) the classification kernel (EmitBlockMask.cpp) decides per (Q tile, K/V tile)
/// by evaluating the loop's masks at every position of the tile pair.
struct BlockMaskPlan {
  bool present = false;
  mutable mlir::scf::ForOp loop; // (MLIR accessors are not const)
  /// The i1 mask tiles of the loop (the partial tiles' copies), each with whether an all-false
  /// mask lets the tile be skipped (SkipProof, recorded by ClassifyTiles).
  std::vector<std::pair<mlir::Value, bool>> masks;
  /// A mask reads the head program id: one list per (batch, head, Q tile), else per (batch, Q tile).
  bool perHead = false;
  /// The blk.tile_class ops of the loop body (in order) and the ops computing only their in-kernel
  /// bounds, which the kernel does not run (the lists decide; without them every tile is visited).
  std::vector<mlir::Operation *> classOps;
  llvm::DenseSet<mlir::Operation *> boundOps;
};

/// sm90: a tile store written through shared memory (FlashAttention-3's epilogue, EmitSm90.cpp): the consumer
/// warps write the f32 register tile as 16-bit elements into a sw128 buffer of its own (stmatrix), and one
/// thread per consumer warpgroup stores that warpgroup's 64 rows by TMA (one box per 64-column panel;
/// rows past the tensor's end are not written). Planned for the kernel body's one top-level store of a
/// [BLOCK_M x cols] f32 register tile into a rank-4 16-bit tensor (O) when its buffer fits in shared
/// memory after every loaded tile. Packed sequences: a warpgroup whose 64 rows are all in the sequence stores
/// them by TMA too; one whose rows cross the sequence's end (a TMA box would write the next sequence's rows)
/// copies them out with coalesced 16-byte stores bounded by the sequence's length.
struct StagedStore {
  mutable tilefuse::blk::StoreOp op;
  std::size_t offset = 0;     ///< bytes from the start of dynamic shared memory (a multiple of 1024)
  std::size_t bytes = 0;      ///< rows * sm90SmemCols(cols) * 2
  int64_t rows = 0, cols = 0; ///< the stored tile
};

struct KernelPlan {
  const ResolvedKernel *r = nullptr;
  Schedule schedule;
  int warpRows = 0;
  std::vector<SmemBuffer> smem;
  std::size_t smemBytes = 0;
  llvm::DenseMap<mlir::Operation *, int> bufferOfLoad;
  std::vector<LoopPlan> loops;
  std::vector<Storage> storages;
  llvm::DenseMap<mlir::Value, int> storageOf;
  llvm::DenseMap<mlir::Operation *, ReduceCombine> combineOfMap;
  llvm::DenseSet<mlir::Operation *> fusedReduces;
  /// Smem tiles loaded once and used as an mma A operand in a loop, kept in registers (Q): tile -> storage.
  llvm::DenseMap<mlir::Value, int> hoisted;
  int registerEstimate = 0; ///< 32-bit registers per thread held by all storages (upper bound)
  BlockMaskPlan blockMask;
  std::optional<StagedStore> staged; ///< sm90: the store written through shared memory by TMA, if any

  const LoopPlan *loopPlan(mlir::scf::ForOp op) const;
  int bufferOf(mlir::Value smemTile) const; ///< -1 when none
  std::string toString() const;
};

/// Plans the kernel. Throws ScheduleError for an invalid schedule, CodegenError when the schedule and
/// the program disagree or the program needs something the plan cannot give.
KernelPlan plan(const ResolvedKernel &r, const Schedule &schedule);

/// The run-time block mask of a planned kernel (BlockMask.cpp): present when a K/V loop has
/// blk.tile_class ops and its masks are tagged by the tile classification and evaluable per position.
BlockMaskPlan planBlockMask(const ResolvedKernel &r, const KernelPlan &p);

/// Element type a kept value is stored in: a 16-bit map read only by stores (its truncf is folded into
/// the store's conversion) is stored in f32.
mlir::Type storageElemType(const ResolvedKernel &r, mlir::Value v);

} // namespace tilefuse::codegen
