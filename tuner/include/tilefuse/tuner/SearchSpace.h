//===- SearchSpace.h - the schedules the tuner tries, and why others are not -*- C++ -*-===//
//
// The space is every Schedule that validates (codegen/Schedule.h): BLOCK_M and BLOCK_N in
// {16, 32, 64, 128, 256}, warps in {1, 2, 4, 8, 16} with BLOCK_M / warps a multiple of 16, K/V
// stages 1..4, Q in registers or in SMEM, min_blocks_per_sm (__launch_bounds__ hint) 1 or 2;
// mma.sync m16n8k16 (wgmma is not generated yet): 1200 schedules. Rules, applied in this order,
// prune it; each pruned schedule keeps the rule and a sentence:
//
//   tile-size  BLOCK_M or BLOCK_N = 16: a single mma.sync M (N) tile per step cannot amortise the
//              per-iteration softmax work; not searched.
//   problem    BLOCK_M >= 2 * Sq or BLOCK_N >= 2 * Sk (more than half of every tile is padding),
//              unless it is the smallest tile size searched.
//   smem       shared memory (Q once, K and V per stage, 16-bit) above what one block may opt into
//              (DeviceLimits::maxSmemPerBlock).
//   registers  estimateRegisters() > kRegisterEstimateLimit (331 = 1.3 x 255: the estimate is
//              coarse, so schedules near 255 are compiled and ptxas decides; e.g. 32 rows per warp
//              at D = 128 with Q in SMEM is estimated 328 and compiles to 255 with no spills), or
//              with min_blocks_per_sm > 1 more than 1.25 x the cap it sets
//              (65536 / (min_blocks_per_sm x threads)): the kernel would spill.
//   occupancy  fewer than 4 warps resident per SM (by registers, SMEM, threads): too few to hide
//              memory latency, or 0 blocks (cannot launch).
//   hint       min_blocks_per_sm = 2 where it changes nothing (2 blocks fit without it, or SMEM
//              allows only 1).
//   budget     valid but not among the maxCandidates + compileExtra kept: the best of each tile
//              shape (up to half of them), then the best by the analytic model (score()); the
//              tuner also prunes, by this rule, compiled candidates left when
//              maxCandidates have been timed.
//
// After compilation the tuner applies the same smem / registers / occupancy rules with the
// kernel's real numbers (ptxas registers and spills, the generator's dynamic SMEM), plus
//   spills     ptxas reports spill stores or loads.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/spec/Shape.h"
#include "tilefuse/spec/Spec.h"

#include <cstddef>
#include <string>
#include <vector>

namespace tilefuse::tuner {

/// What a GPU allows one kernel; from runtime::deviceInfo on a GPU, else forArch().
struct DeviceLimits {
  std::string arch = "sm_90";          ///< NVRTC target
  int smCount = 132;
  std::size_t maxSmemPerBlock = 232448; ///< dynamic SMEM one block may opt into, bytes
  std::size_t smemPerSm = 233472;       ///< SMEM of one SM, bytes
  int registersPerSm = 65536;
  int maxThreadsPerSm = 2048;
  int maxBlocksPerSm = 32;

  /// Limits of `arch` without a GPU: codegen::maxDynamicSmemBytes(arch), the SM's SMEM per compute
  /// capability (sm_80 / sm_87: 164 KiB, sm_90 / sm_100: 228 KiB, others 100 KiB), and a typical
  /// SM count (sm_80: 108, sm_90: 132, others: 84). Throws codegen::ScheduleError for a bad arch.
  static DeviceLimits forArch(const std::string &arch);
};

/// An estimate of the 32-bit registers per thread the kernel keeps live in its K/V loop, for
/// R = BLOCK_M / warps rows per warp: O accumulator R*Dv/32, S accumulator R*BLOCK_N/32, P as
/// 16-bit pairs R*BLOCK_N/64, Q fragments R*D/64 when Q stays in registers, m and l R/4, plus
/// 32 + 2R for addresses, indices and operand fragments (fitted to ptxas on the generated kernels:
/// within about 15% at D = 128, e.g. 212 for 201 measured at BLOCK_M=128 BLOCK_N=64 8 warps).
int estimateRegisters(const codegen::Schedule &s, int headDim, int valueDim);
/// Above this estimate (without a min_blocks_per_sm cap) a schedule is pruned before compiling.
inline constexpr int kRegisterEstimateLimit = 255 * 13 / 10;

/// SMEM the kernel allocates: Q (BLOCK_M x D) once, K (BLOCK_N x D) and V (BLOCK_N x Dv) per stage,
/// 2 bytes per element.
std::size_t estimateSmemBytes(const codegen::Schedule &s, int headDim, int valueDim);

struct Occupancy {
  int blocksPerSm = 0;
  int warpsPerSm = 0;
  std::string limiter; ///< "registers", "smem", "threads" or "blocks"
};
/// Resident blocks per SM for `registers` per thread (allocated in units of 8 per thread, 256 per
/// warp) and `smemBytes` per block (plus 1 KiB the driver reserves per block).
Occupancy occupancy(const codegen::Schedule &s, int registers, std::size_t smemBytes,
                    const DeviceLimits &limits);

struct Candidate {
  codegen::Schedule schedule;
  std::size_t smemBytes = 0;
  int registerEstimate = 0;
  Occupancy occupancy;
  double score = 0; ///< the model's rank, higher is better (only orders candidates)
  bool isDefault = false;
};

struct PrunedCandidate {
  codegen::Schedule schedule;
  std::string rule;   ///< "tile-size", "problem", "smem", "registers", "occupancy", "hint", "budget",
                      ///< "spills", "time"
  std::string reason; ///< a sentence with the numbers
};

struct SearchOptions {
  int maxCandidates = 24; ///< timed per backend (sm80, sm90), the default schedule included
  /// Compiled beyond maxCandidates, in model order, to replace candidates that the post-compile
  /// rules (spills, real occupancy) prune: the register estimate cannot be exact.
  int compileExtra = 12;
  /// The default sm90 schedule is also timed with Schedule::compares64 (the 64-bit position compares).
  /// Set for specs with a mask_mod, whose masked tiles compare positions; ptxas builds some of them
  /// faster one way, some the other (docs/results/v0.13).
  bool compareWidths = false;
  /// The default sm90 schedule, and its twin with Q in registers, are also timed with Schedule::cluster
  /// = 2 (K/V tiles multicast to two blocks of neighbouring Q tiles). Set for specs whose K/V loop does
  /// not depend on the Q tile: no mask_mod and batched layout.
  bool clusters = false;
  /// The default sm90 schedule, and its twin with Q in registers, are also timed in other orders of the Q
  /// tiles (Schedule::qTileOrder): on a persistent grid that deals its rounds back and forth (snake); and
  /// where the default grid is not persistent, on a persistent grid of paired Q tiles (paired) and on the
  /// default's grid with the longest Q tiles of a section of heads first (lpt). Set for
  /// batched specs with a mask_mod: causal-like masks give Q tiles unequal work, and both orders even it
  /// out (docs/results/v0.21, call 3: pairs made causal S4k 6.6% faster); packed batches pair over the
  /// longest sequence and ran 24% slower there, and their grid takes each sequence's tiles in order.
  bool tileOrders = false;
  /// The default sm90 schedule, and its twin with Q in registers, are also timed on a persistent grid with the
  /// dynamic tile scheduler (QTileOrder::Dynamic: each block claims its next tile from a counter as it frees
  /// up). Set for specs whose Q tiles do unequal work: packed sequences (a static deal of their tiles ran 5-10%
  /// slower than the plain grid, docs/results/v0.14) and batched specs with a mask_mod.
  bool dynamicTiles = false;
};

struct SearchSpace {
  /// maxCandidates + compileExtra at most, the default schedule always included: first the best
  /// candidate of each tile shape (BLOCK_M, BLOCK_N, warps) by score, up to half of them, then the
  /// rest by score (the tuner times them in this order).
  std::vector<Candidate> candidates;
  std::vector<PrunedCandidate> pruned;
  int total = 0; ///< schedules enumerated
};

/// The analytic model behind the budget rule, for one schedule at `shape` (higher is better):
///   wave efficiency   tiles / (waves * SMs * blocksPerSm), tiles = B * Hq * ceil(Sq / BLOCK_M)
///   latency hiding    min(1, warps per SM / 8)
///   SMEM reuse        R / (R + 16), R = rows per warp (each warp reads all of K and V from SMEM)
///   loop overhead     BLOCK_N / (BLOCK_N + 32) (softmax and barriers once per K/V tile)
///   pipelining        1 with >= 2 K/V stages, else 0.85;  Q in SMEM 0.95, in registers 1
double score(const codegen::Schedule &s, const Occupancy &occ, const spec::Shape &shape,
             const DeviceLimits &limits);

/// The candidates for one problem (see the file comment). `defaultSchedule` is always a candidate
/// unless the smem rule prunes it.
SearchSpace buildSearchSpace(const spec::Shape &shape, const codegen::Schedule &defaultSchedule,
                             const DeviceLimits &limits, const SearchOptions &options = {});

/// The rules a compiled candidate must still pass with its real resources: "" when it does, else a
/// pruned record (rule smem, registers, spills or occupancy).
std::string pruneAfterCompile(const codegen::Schedule &s, int registers, int spillBytes,
                              std::size_t smemBytes, const DeviceLimits &limits, std::string *rule);

} // namespace tilefuse::tuner
