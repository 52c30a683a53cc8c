//===- Schedule.h - how a fused attention kernel is mapped to the GPU ---*- C++ -*-===//
//
// A Schedule is the tuner's decision for one fused kernel: tile sizes, warps, the depth of the
// K/V copy pipeline, the matrix instruction family and where the loop-invariant Q operand lives.
// It is plain data: printable (toString), JSON round-trippable (toJson / scheduleFromJson) so a
// tuner decision can be replayed, and checked by validate().
//
// BLOCK_M and BLOCK_N are also the tile sizes of the fused block program (the fusion pass is run
// with them); generateKernel checks that the two agree.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Spec.h"

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tilefuse::codegen {

/// The warp-level matrix instruction the kernel is built from.
enum class MmaFamily {
  MmaSyncM16N8K16, ///< mma.sync.aligned.m16n8k16 (sm_80 and newer), operands via ldmatrix.
  Wgmma,           ///< wgmma.mma_async (sm_90a): the sm90 backend, a warp-specialized kernel (TMA producer
                   ///< warpgroup, mbarrier ring, consumer warpgroups; FlashAttention-3, Shah et al. 2024).
};

/// Where the loop-invariant lhs of S = Q K^T lives while the K/V loop runs, when the fused program
/// stages Q in shared memory (a program that loads Q straight into registers keeps it there).
/// sm90 (wgmma): Smem reads Q from shared memory in every S = Q K^T (wgmma SS); Registers loads each warp's
/// 16 rows once per Q tile (ldmatrix of the TMA-written tile) and issues S = Q K^T with A from registers
/// (wgmma RS), which saves the shared-memory reads of Q per K/V tile and costs K / 4 registers per thread.
enum class QPlacement {
  Registers, ///< ldmatrix once before the loop (FlashAttention-2: Q stays in registers).
  Smem,      ///< ldmatrix a 16-column slice per k-step of every S = Q K^T (fewer registers).
};

/// The order in which the Q tiles of one (batch, head) are handed to the hardware block scheduler.
/// With a causal or otherwise triangular mask, Q tile i visits about i + 1 K/V tiles, so the last
/// tiles are the longest; launching them first (longest-processing-time-first list scheduling) keeps
/// one long tile from running alone at the end of the grid. FlashAttention-2's kernels launch
/// causal query blocks in reverse order for the same reason.
enum class QTileOrder {
  Descending, ///< blockIdx.x = 0 runs the last Q tile (q_tile = gridDim.x - 1 - blockIdx.x).
  Ascending,  ///< blockIdx.x = 0 runs Q tile 0.
  /// Persistent grids only (wgmma, cluster 1): a block takes Q tiles in pairs of one (batch, head), the
  /// last but i-th and the i-th (q_tile n - 1 - i, then i), the middle one of an odd count alone. Under a
  /// causal mask the two visit n + 1 K/V tiles together, so every pair is the same work and the static
  /// round-robin of pairs over the blocks is balanced. Dealt one by one (descending), block b of 132 gets
  /// the Q tiles i = b mod 4, b mod 4 + 4, ... of the 32 of a causal S 4096 head: 15 K/V tiles per Q tile
  /// on average for b mod 4 = 3 and 18 for b mod 4 = 0, so the grid waits for the slow quarter. (The same
  /// split of causal work as the chunks i and 2N - 1 - i of Llama 3's context parallelism, Dubey et al. 2024.)
  /// JSON "paired".
  Paired,
  /// Non-persistent grids only (either backend; not clusters, not packed sequences): longest processing
  /// time first across the heads of an L2 section. The hardware dispatches blocks in the order of their
  /// linear index (x fastest), each to the first SM that frees up, which is greedy list scheduling; its
  /// makespan is near the optimum when the list is sorted by decreasing work (Graham 1969). Blocks are
  /// taken in sections of G (batch, head) pairs whose K and V fit 32 MiB of L2 (G = 32 MiB / (Sk (D + Dv)
  /// bytes) x Hq / Hkv, at least 1), and within a section block n runs the (n / G)-th heaviest Q tile of
  /// pair n % G: every head's last Q tile, then every head's last but one, ... (FlashAttention-3's LPT
  /// tile scheduler orders a section of heads the same way). The default ("descending") runs one head's
  /// Q tiles after another: under a causal mask the blocks of a head's light first tiles start while the
  /// next head's heavy ones wait, and a greedy dispatch of that list ends 5-7% after the optimum at
  /// causal S 4096 and Llama-3-8B, 1% in sections (132 SMs, python/bench/tile_order_model.py). Measured on
  /// an H100 it gained less: 1-2% at causal S 4096 over the default order, 10% on window 4096 at S 16384
  /// over the persistent grid, and it lost to paired tiles on Llama-3-8B. The model counts no L2, and
  /// interleaving heads costs L2 reuse (docs/results/v0.22). JSON "lpt".
  Lpt,
  /// Persistent grids only (wgmma, cluster 1): the tiles in the default order (the Q tiles of a head
  /// consecutive, descending), dealt back and forth: round k of gridDim.x consecutive tiles goes to blocks
  /// 0, 1, ... when k is even and to gridDim.x - 1, gridDim.x - 2, ... when odd (a snake draft). Dealt one
  /// way only, block b takes the same places of every round; under a sliding window of 1024 (nine K/V tiles
  /// per Q tile but for a head's first eight) that left the slowest block 7% over the mean in a model of
  /// 132 SMs (python/bench/tile_order_model.py), 3% dealt back and forth. Measured on an H100: sliding window
  /// 1024 2-4% faster than dealt one way, ALiBi + causal 4-5% faster than paired (docs/results/v0.22).
  /// JSON "snake".
  Snake,
  /// Persistent grids only (wgmma, cluster 1): a dynamic tile scheduler. The tiles keep the default order (a
  /// head's Q tiles consecutive, the last first), and each block takes its next tile from a counter in global
  /// memory (atomicAdd) as it frees up: the greedy list scheduling of the hardware's dispatch of a plain grid,
  /// with the persistent grid's overlap of one tile's epilogue with the next tile's loads (FlashAttention-3's
  /// dynamic persistent tile scheduler, Shah et al. 2024, Sec. 3.1). Thread 32 of the producer warpgroup claims
  /// the tiles, one ahead, and hands each to the TMA producer thread and the consumer warps through one
  /// shared-memory slot with a full and an empty mbarrier (device/tile_scheduler.cuh); with packed sequences it
  /// claims past the Q tiles beyond a sequence's end itself, so the receivers never see them. A static deal of
  /// unequal tiles waits for its slowest block: packed sequences of 128-4096 tokens ran 5-10% slower on the
  /// static persistent grid than on the plain grid (docs/results/v0.14). The counter is two int32
  /// (ParamSource::TileCounter): the next tile and the blocks done; the last block to finish resets both to 0,
  /// so launches in one stream's order share one counter. On the H200 it ran the packed batch of 64k tokens
  /// (lengths 128-4096) 6% faster than the plain grid non-causal and 2% causal, and causal S 4096 and ALiBi 7%
  /// slower than the paired and snake orders, whose deal is already even (docs/results/v0.25). JSON "dynamic".
  Dynamic,
};

/// How the consumer warpgroups of a wgmma kernel share the tensor cores with their softmax
/// (FlashAttention-3, Shah et al. 2024, Sec. 3.1-3.2).
enum class WarpgroupOverlap {
  None,     ///< each warpgroup issues a product and waits for it; the hardware interleaves warpgroups as it may.
  Pingpong, ///< the consumer warpgroups take turns at the tensor cores (named barriers, FA3 Sec. 3.1): one
            ///< issues P_j V_j and S_{j+1} = Q K_{j+1}^T back to back while the others run their softmax;
            ///< P V is waited for only with the next S. Needs 2 or 3 consumer warpgroups (block_m >= 128).
  Intra,    ///< intra-warpgroup overlap (FA3 Sec. 3.2): each warpgroup issues S_{j+1} = Q K_{j+1}^T, then
            ///< P_j V_j (P_j kept in registers across the iteration), waits for the S only and runs the
            ///< softmax of S_{j+1} while P_j V_j is in flight; O is rescaled once that product has landed.
  PingpongIntra, ///< both: the issue of S_{j+1} and P_j V_j is one turn at the tensor cores (FA3's kernel).
                 ///< Needs block_m >= 128.
};

/// Whether the order deals the tiles of a persistent grid to its blocks (paired, snake, dynamic): those need
/// persistent = true and cluster = 1.
inline bool dealsPersistentTiles(QTileOrder o) {
  return o == QTileOrder::Paired || o == QTileOrder::Snake || o == QTileOrder::Dynamic;
}

/// Whether the consumer warpgroups take turns (pingpong, pingpong_intra) / overlap their own softmax
/// with P V (intra, pingpong_intra).
inline bool takesTurns(WarpgroupOverlap o) {
  return o == WarpgroupOverlap::Pingpong || o == WarpgroupOverlap::PingpongIntra;
}
inline bool overlapsWithinWarpgroup(WarpgroupOverlap o) {
  return o == WarpgroupOverlap::Intra || o == WarpgroupOverlap::PingpongIntra;
}

/// Thrown by validate() and scheduleFromJson(): what() names the field, the value and the allowed values.
class ScheduleError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

struct Schedule {
  int blockM = 64;  ///< BLOCK_M: query rows per thread block (one Q tile).
  int blockN = 64;  ///< BLOCK_N: key/value rows per K/V tile (one loop iteration).
  int warps = 4;    ///< Warps per block that own query rows; each owns BLOCK_M / warps consecutive rows
                    ///< (wgmma: the consumer warps, BLOCK_M / 16; the producer warpgroup comes on top).
  int kvStages = 2; ///< Shared-memory slots per loaded K/V tile (a cp.async ring). Each load is waited for
                    ///< just before its first use and that wait refills the slot the previous load has
                    ///< finished with: with 1 stage V_j lands during S = Q K_j^T and K_{j+1} during
                    ///< P V_j (FlashAttention-2's schedule); with s stages tiles arrive s - 1 iterations ahead.
  MmaFamily mma = MmaFamily::MmaSyncM16N8K16;
  QPlacement q = QPlacement::Registers;
  int minBlocksPerSm = 1; ///< __launch_bounds__ occupancy hint: ptxas keeps registers low enough for this
                          ///< many blocks per SM (1: up to 255 registers per thread, no forced spills).
  QTileOrder qTileOrder = QTileOrder::Descending; ///< grid order of the Q tiles (see QTileOrder).
  /// wgmma only: a persistent grid (FlashAttention-3, Shah et al. 2024, Sec. 3.1 / its persistent
  /// tile scheduler): min(tiles, SMs) blocks each loop over the (q_tile, head, batch) tiles, q_tile
  /// slowest (descending order: the heaviest causal tiles first); the producer loads the next tile's Q
  /// and K/V while the consumers finish the current one. JSON key "persistent", written only when true.
  bool persistent = false;
  /// wgmma only: see WarpgroupOverlap. JSON key "overlap", written only when not "none".
  WarpgroupOverlap overlap = WarpgroupOverlap::None;
  /// Of every four 8-column groups of the scores, how many take the softmax's exponential on the FMA
  /// pipe (a cubic for 2^f plus an exponent-bit add: tfcg::exp2_fma) instead of MUFU.EX2, whose 16
  /// results per clock per SM bound the softmax when D is small (FlashAttention-4's software
  /// exponential). wgmma only: 0, 1 or 2; JSON key "exp2_fma", written only when not 0. Measured slower
  /// than 0 on the H200 at D 64 and 128 (docs/results/v0.6): the FMA pipe has no slack there either.
  int exp2FmaQuarters = 0;
  /// wgmma only: a mask's or the K/V tail's comparisons of positions in masked tiles are evaluated per
  /// element in 64 bits (q_idx, kv_idx as long long; the sm80 backend's form) instead of one 32-bit
  /// compare of the element's column offset with a per-row value (codegen/ElementCode.cpp). The 32-bit
  /// form has fewer instructions, but ptxas lays out some kernels worse with it (ALiBi + causal B4 H16
  /// S4096 D128: 0.519 ms in 64 bits, 0.543 in 32 on the H200, docs/results/v0.13 call 3), so the
  /// tuner times both. JSON key "compares64", written only when true.
  bool compares64 = false;
  /// wgmma only: the lazy running max (codegen's Prepare rule, FlashAttention-4's conditional rescaling):
  /// the online softmax's reference moves only when a row's max grows by more than 8 ln 2, and the
  /// rescale O *= alpha runs under a warp vote, skipped when alpha is 1 on every row of the warp. It
  /// saves 64 FMULs per thread and K/V tile at D128 on most tiles and costs a vote and a branch; on an
  /// H100 it was 1.2-1.7% faster at 128x128 with Q in registers (non-causal S1k, S4k, causal S4k) and 1-2%
  /// slower with ALiBi (whose max grows on most tiles), sliding window 1024 and causal S16k at 128x176
  /// (docs/results/v0.20, call 2), so the tuner times both. JSON key "lazy_rescale", written only when true.
  bool lazyRescale = false;
  /// wgmma only: thread blocks per cluster along the Q tiles, 1 or 2. With 2, the two blocks of a cluster
  /// run neighbouring Q tiles of one (batch, head) and each K/V tile is read from L2 once for both: each
  /// block's producer issues half of the tile's TMA boxes with .multicast::cluster into the same slot of
  /// both blocks, and a slot is refilled only when the consumers of both blocks have handed it back
  /// (CUTLASS's TMA multicast; FlashAttention-3 uses clusters of 2 for non-causal head dims >= 128). It
  /// halves the L2-to-SM traffic of K and V (B16 H16 S1024 D128 at 128 x 128: 4.3 GB per call). Needs a
  /// K/V loop whose range and loads do not depend on the Q tile (no causal mask, window, packed sequences
  /// or run-time block mask): the emitter refuses others, naming the op. JSON key "cluster", written only
  /// when not 1.
  int cluster = 1;

  /// Query rows per warp: BLOCK_M / warps (a multiple of 16, the mma.sync M).
  int rowsPerWarp() const { return blockM / warps; }
  /// 32 * warps, plus the producer warpgroup's 128 threads with mma = wgmma.
  int threadsPerBlock() const;
  /// The code generator's backend for this schedule: "sm80" (mma.sync, cp.async) or "sm90" (wgmma, TMA).
  std::string_view target() const;

  /// Throws ScheduleError naming the first bad field, its value and the allowed values.
  /// mma = wgmma (sm90): block_m in {64, 128, 192}, warps = block_m / 16, block_n a multiple of 16 in
  /// [32, 256], kv_stages in {2, 3, 4}, min_blocks_per_sm = 1, and
  /// with overlap = pingpong, block_m >= 128; cluster in {1, 2}; q_tile_order paired, snake or dynamic only when persistent
  /// with cluster 1, lpt only when not persistent with cluster 1. Otherwise (sm80): persistent = false,
  /// overlap = none, exp2_fma = 0, compares64 = false, lazy_rescale = false, cluster = 1 (the sm80 backend always compares in 64 bits), q_tile_order not paired, snake nor dynamic, and
  /// block_m in {16, 32, 64, 128, 256}; block_n in {16, 32, 64, 128, 256}; warps in {1, 2, 4, 8, 16}
  /// with block_m / warps a multiple of 16; kv_stages in {1, 2, 3, 4}; mma = mma_sync_m16n8k16;
  /// min_blocks_per_sm in {1, 2, 3, 4}.
  void validate() const;

  /// One line, e.g. "BLOCK_M=64 BLOCK_N=64 warps=4 kv_stages=2 mma=mma_sync_m16n8k16 q=registers
  /// min_blocks_per_sm=1 q_tile_order=descending".
  std::string toString() const;
  /// {"block_m":64,"block_n":64,"kv_stages":2,"min_blocks_per_sm":1,"mma":"mma_sync_m16n8k16",
  /// "q":"registers","q_tile_order":"descending","warps":4} (keys sorted, no whitespace: usable in
  /// cache keys).
  std::string toJson() const;

  /// Whether the kernel takes a dynamic tile scheduler's counter (ParamSource::TileCounter): the persistent
  /// grid with q_tile_order = dynamic.
  bool dynamicTiles() const { return persistent && qTileOrder == QTileOrder::Dynamic; }

  bool operator==(const Schedule &) const = default;
};

/// Parses toJson()'s format; missing keys keep their defaults. Throws ScheduleError on malformed
/// JSON, an unknown key or a value of the wrong type or spelling (it does not call validate()).
Schedule scheduleFromJson(std::string_view json);

std::string_view spelling(MmaFamily f); ///< "mma_sync_m16n8k16", "wgmma"
std::string_view spelling(QPlacement q); ///< "registers", "smem"
std::string_view spelling(QTileOrder o); ///< "descending", "ascending", "paired", "lpt", "snake", "dynamic"
std::string_view spelling(WarpgroupOverlap o); ///< "none", "pingpong", "intra", "pingpong_intra"

/// Compute capability of an NVRTC target "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a", ... as 80, 86,
/// ...; throws ScheduleError for anything else or an arch older than sm_80 (no mma.sync bf16).
int computeCapability(std::string_view arch);

/// Head dims the code generator accepts (both backends): a multiple of 16 from 16 to 256 (the mma k-step
/// and n-tile is 16 columns; the O accumulator of 256 columns is the most the registers hold).
bool isSupportedHeadDim(int dim);

/// Throws ScheduleError naming `field` ("head_dim" or "value_dim"), its value and the allowed values
/// (multiples of 16 from 16 to 256) when !isSupportedHeadDim(value).
void checkHeadDim(const char *field, int value);

/// True when the sm90 backend is the default for these head dims (on an sm_90 GPU): headDim = valueDim,
/// a multiple of 16 from 64 to 256. Its shared tiles are whole 64-column sw128 panels (sm90SmemCols), so
/// below 64 columns most of every TMA box would be padding; there the sm80 backend stays the default.
bool sm90DefaultFor(int headDim, int valueDim);

/// Columns of the shared tile the sm90 backend keeps for a tile of `cols` columns: `cols` rounded up to a
/// multiple of 64 (whole 128-byte swizzle panels, one TMA box of 64 columns each; the TMA writes zeros
/// past the tensor's last column and no wgmma reads them).
int sm90SmemCols(int cols);

/// The target whose default schedule a GPU of `deviceArch` starts from: "sm_90a" (the sm90 backend) on an
/// sm_90 GPU when sm90DefaultFor(headDim, valueDim), else `deviceArch` (the sm80 backend). One rule for
/// the Engine's heuristic and the tuner's baseline.
std::string defaultTarget(std::string_view deviceArch, int headDim, int valueDim);

/// The NVRTC target to compile a kernel of schedule `s` for a device of arch `deviceArch`: the device's
/// arch for mma.sync, "sm_90a" for wgmma (throws ScheduleError when the device is not sm_90).
std::string compileArch(const Schedule &s, std::string_view deviceArch);

/// Dynamic shared memory one block may opt into on `arch`, bytes (sm_80: 166912, sm_86 / sm_89:
/// 101376, sm_90: 232448; others: the sm_86 value).
std::size_t maxDynamicSmemBytes(std::string_view arch);

/// Shared memory the generated kernel allocates for a schedule: Q (BLOCK_M x headDim) once, K and V
/// (BLOCK_N x headDim each) per stage, 16-bit elements; with wgmma the tiles are sm90SmemCols(headDim)
/// wide, plus 1024 bytes of alignment slack for the 128B-swizzled tiles and 1024 of mbarriers. Bytes.
std::size_t smemBytes(const Schedule &s, int headDim);

/// What the heuristic default (defaultSchedule) reads of a spec and shape beyond HEAD_DIM, dtype and arch.
/// Whether the spec's mask_mod reads a captured tensor (batched layout): its tiles are then classified at
/// run time by a block mask, and the tuner keys such specs by their mask density (tuner/Captures.h).
bool maskReadsCapture(const spec::Spec &spec);

struct ScheduleHints {
  bool maskFree = false; ///< No mask_mod and the batched layout: every Q tile reads every K/V tile.
  bool plain = false;    ///< maskFree, softmax, and no score_mod, captures or sink: plain attention.
  bool maskReadsCapture = false; ///< The mask_mod reads a captured tensor: a run-time block mask skips tiles.
  /// A mask_mod reading no capture that leaves every Q tile few K/V tiles (a mean of at most 16) and
  /// about as many as the others (at most 1.5 x the mean), sampled at `shape`: short sliding windows,
  /// block diagonals; not causal, not a window of 4096 at S 16384.
  bool balancedMask = false;
  int64_t sk = 0;        ///< Sk, tokens; 0 when unknown.
  /// The normalizer carries a running row sum across the K/V loop (stick_breaking: blk.scan), which keeps
  /// two more f32 [BLOCK_M, BLOCK_N] tiles live in the consumers' registers.
  bool scans = false;
  /// The hints of `spec` at `shape`.
  static ScheduleHints of(const spec::Spec &spec, const spec::Shape &shape);
};

/// The untuned starting point for one (HEAD_DIM, dtype, arch), chosen to fit the arch's shared memory
/// with room for two blocks per SM where that matters. arch "sm_90a" with headDim a multiple of 16 from
/// 64 to 256 gives the sm90 backend: wgmma, BLOCK_M 128 (2 consumer warpgroups, overlap = pingpong),
/// BLOCK_N 128 (64 above headDim 128), 2 stages. Otherwise:
///   headDim <= 64:               BLOCK_M 128, BLOCK_N 64, 8 warps, 2 stages       (48 KB at D = 64)
///   headDim 80..128, sm_80/90:   BLOCK_M 128, BLOCK_N 64, 8 warps, 2 stages       (96 KB at D = 128)
///   headDim 80..128, other:      BLOCK_M 64,  BLOCK_N 64, 4 warps, 1 stage, 2 blocks/SM hinted (48 KB)
///   headDim > 128:               BLOCK_M 64,  BLOCK_N 32, 4 warps, 1 stage, Q in SMEM
/// Always mma.sync m16n8k16 (dtype does not change the choice today; it is part of the signature
/// for the tuner). Every warp owns 16 query rows, so the O accumulator per thread is Dv / 2 floats
/// whichever branch is taken. Throws ScheduleError (checkHeadDim) for headDim not a multiple of 16 from
/// 16 to 256, or for an arch computeCapability rejects.
///
/// `hints` (ScheduleHints::of a spec and shape) refine the sm90 choice, by measurements on the H200
/// (docs/results/v0.7):
///   - no mask_mod, batched: the persistent grid (B16 H16 S1024 D128: 0.270 -> 0.250 ms);
///   - a mask that reads a captured tensor: the persistent grid too (its run-time block mask leaves few
///     K/V tiles per Q tile; document mask, 8 documents: 0.178 -> 0.157 ms);
///   - a balanced mask with short K/V loops (sliding window 1024, block diagonal): the persistent grid
///     too (v0.9 call 4: 0.303 -> 0.285 ms and 0.123 -> 0.099 ms; long windows lost, see balancedMask);
///   - other masks (causal): the hardware's block scheduler, which starts the heaviest causal tiles
///     first (causal B4 H16 S4096: 0.505 ms, persistent 0.518);
///   - plain attention (no score_mod, mask_mod, captures or sink): BLOCK_M 192 at headDim 64 (3 consumer
///     warpgroups; B4 H32 S4096: 1.250 -> 1.099 ms), BLOCK_N 192 at headDim 80..128 with Sk >= 8192
///     (B1 H16 S16384: 3.75 -> 3.29-3.48 ms). Specs with score_mods or masks spill at those tile sizes
///     (ptxas), so they keep 128 x 128;
///   - a scan (stick_breaking): BLOCK_N 64 up to headDim 128 and 32 above, the largest at which its
///     consumers do not spill (ptxas, D 128: 176 B at BLOCK_N 128; D 256: 268 B at BLOCK_N 64).
/// On the sm80 backend only the scan hint applies: Q stays in shared memory above headDim 64 (with Q's
/// fragments in registers stick-breaking spills 4 B at D 128 on sm_86 / 89 / 90).
Schedule defaultSchedule(int headDim, spec::DType dtype, std::string_view arch, const ScheduleHints &hints = {});

} // namespace tilefuse::codegen
