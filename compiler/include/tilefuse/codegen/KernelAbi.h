//===- KernelAbi.h - what a generated kernel takes and how it is launched -*- C++ -*-===//
//
// A generated kernel takes ONE argument, `struct Params`, by value. Its layout is described on the
// host by ParamLayout, so the runtime can fill it without parsing CUDA:
//
//   pointers, one per tensor argument of the fused function, in argument order:
//       Q, K, V (const), O, LSE (when the spec writes it), then captured tables (const)
//   long long <T>_stride[rank - 1]  per tensor of rank >= 2: strides in ELEMENTS of every dim but the
//                                   last (the last dim is contiguous, stride 1)
//   long long <C>_extent[rank]      per capture: its extents (table reads outside them give 0)
//   long long B, Hq, Hkv, Sq, Sk    problem sizes (packed layout: Sq, Sk = max_seqlen_q, max_seqlen_k)
//   const int *cu_seqlens_q, *cu_seqlens_k
//                                   packed layout only (KernelSignature::packed): int32 [B + 1] offsets of
//                                   the sequences in the token dim of Q / O / LSE and of K / V
//   int *kv_num_blocks, *kv_indices, *full_kv_num_blocks, *full_kv_indices
//                                   a kernel with a run-time block mask (BlockMaskAbi): its lists, or
//                                   null (then the kernel visits every K/V tile, with the mask)
//
// Every field is 8 bytes and 8-byte aligned, so offsets are 8 * index and the host and device
// layouts agree by construction (the generated source static_asserts the size). sm90 kernels put
// their TMA tensor maps first (`TmaDescriptor <T>_tma;`, 128 bytes each, 64-byte aligned), before the
// 8-byte fields, and take Params as a `const __grid_constant__` argument (the copies read the maps in
// place); Params' size is then rounded up to 64 bytes.
//
// Requirements the runtime must meet (packParams checks the first three): tensors the kernel loads with
// cp.async (Q, K, V) have 16-byte aligned bases and every stride a multiple of 16 bytes, and a run-time
// last dim of theirs (a chain's D) is a multiple of 16 bytes; every tensor's last dim is contiguous and
// its extents match the sizes; 16-bit outputs (O) are written as 4-byte pairs (a 4-byte aligned base,
// even strides); the GQA group size Hq / Hkv is a constant of the fused program (query head h reads K/V
// head h / G), so Hkv must be Hq / G for the G the program was lowered with (a chain has no heads).
//
// Packed layout (FlashAttention's varlen API; specs/README.md "Packed sequences"): the fused program is
// the batched one, but the kernel reads sequence b's rows from cu_seqlens: its length is
// Sq_b = cu_seqlens_q[b + 1] - cu_seqlens_q[b] (Sk_b likewise), the Sq / Sk of its score_mod, mask_mod,
// tail masks and K/V loop; Q tiles with q_tile * BLOCK_M >= Sq_b exit at once. The host binds
// Q / O as [total_q, H, D], K / V as [total_k, Hkv, D] and LSE as [Hq, total_q]; packParams stores their
// strides in the batched fields (the B stride is 0, unused: row cu_seqlens[b] + i is sequence b's row i).
// sm90 kernels (wgmma + TMA) load Q, K, V through tensor maps of the whole packed tensor, [1, H, total, D]
// (TensorMapEncoder), at token coordinate cu_seqlens[b] + row; rows of a tile past Sq_b / Sk_b then hold
// the next sequence's tokens (zeros past total): K/V columns past Sk_b are masked by the tail mask, Q rows
// past Sq_b are never stored (O: a warpgroup's 64 rows by TMA when all are in the sequence, else by
// 16-byte stores bounded by it). On the persistent grid each block reads its tile's sequence per tile.
//
// Grid: CUDA x, y, z = ceil(Sq / BLOCK_M), Hq, B for the FlashAttention-2 programs (Q tiles on
// blockIdx.x so the tiles of one head run close in time and share K/V in L2). In general the fused
// program's grid dims, innermost first; GridRule evaluates them for a problem size.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Spec.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace tilefuse::codegen {

/// What a tensor argument of the fused function is. Attention programs name Q, K, V, O, LSE and captures;
/// a program that is not attention (a normalization + matmul chain, examples/chains) has operands only:
/// tensors it loads, reads or stores, whose run-time dims are the program's own sizes (T, D, F, ...).
enum class TensorRole { Q, K, V, O, LSE, Capture, Operand };
std::string_view spelling(TensorRole r); ///< "Q", "K", "V", "O", "LSE", "capture", "operand"

struct TensorArg {
  TensorRole role = TensorRole::Capture;
  std::string name; ///< C identifier used in Params: "Q", ..., "LSE", or the capture's name.
};

/// The roles of the fused function's arguments, in order (Lowering.h's convention: Q, K, V, O,
/// [LSE], captures sorted by name) and the kernel's name.
struct KernelSignature {
  std::vector<TensorArg> tensors;
  /// extern "C" name of the kernel; empty: "tilefuse_" + the function's name.
  std::string kernelName;
  /// Packed variable-length sequences (spec "layout": "packed"): the kernel takes cu_seqlens_q /
  /// cu_seqlens_k and reads each sequence's rows and lengths from them (see the file comment).
  bool packed = false;

  /// Q, K, V, O, then LSE when `lse`, then one capture per name.
  static KernelSignature standard(bool lse, const std::vector<std::string> &captureNames);
  /// A program that is not attention: one TensorRole::Operand per name, in argument order.
  static KernelSignature operands(const std::vector<std::string> &names);
  /// True when no tensor has an attention role (every one is an Operand).
  bool isChain() const;
  /// standard(spec.lse, names of spec.captures).
  static KernelSignature fromSpec(const spec::Spec &spec);
  std::string toString() const;
};

/// Problem sizes of one launch.
struct ProblemSizes {
  int64_t B = 0, Hq = 0, Hkv = 0, Sq = 0, Sk = 0;
  /// Packed sequences: total_q = cu_seqlens_q[B], the rows of Q (Sq is then max_seqlen_q). 0 when not
  /// known; GridRule::packedTiles then bounds the tiles by B * ceil(Sq / BLOCK_M) alone.
  int64_t totalQ = 0;
  /// The run-time sizes of a program that is not attention, by dim name (T, D, F, ...: the `?` dims of
  /// its tensors, KernelSignature::operands).
  std::vector<std::pair<std::string, int64_t>> named = {};
  /// The value of "B", "Hq", "Hkv", "Sq", "Sk" or a name in `named`; throws std::invalid_argument for
  /// another name.
  int64_t get(std::string_view name) const;
};

/// One CUDA grid dim: ceil(size / divisor), or 1 when size is empty.
struct GridDimRule {
  std::string size; ///< "B", "Hq", "Hkv", "Sq", "Sk", a named size (ProblemSizes::named) or "" (constant 1)
  int64_t divisor = 1;
  int64_t evaluate(const ProblemSizes &p) const;
  std::string toString() const; ///< "ceil(Sq / 64)", "Hq", "1"
};

struct GridRule {
  GridDimRule x, y, z; ///< the program's tiles: (q_tile, head, batch) = (x, y, z)
  /// Schedule::persistent (sm90): the kernel loops over the x * y * z tiles itself and is launched with
  /// min(x * y * z, SMs) blocks along x.
  bool persistent = false;
  /// Packed sequences on a grid of blocks (not persistent). The launch picks one of two grids, and the
  /// kernel tells them apart by gridDim (codegen.cuh packed_block_tile):
  ///  - (ceil(Sq / BLOCK_M), y, B) with Sq = max_seqlen_q: a block per Q tile of the longest sequence for
  ///    every sequence; those past a sequence's end exit at once;
  ///  - (the packed tiles' bound, y, 1): a block per Q tile of the sequences laid end to end, the bound
  ///    min(ceil(Sq / BLOCK_M) * B, (total_q + B * (BLOCK_M - 1)) / BLOCK_M) (each sequence wastes at most
  ///    BLOCK_M - 1 rows of its last tile); blocks past the last tile exit. Each block first scans
  ///    cu_seqlens (one more L2 latency), so it is picked only when over 3 in 4 blocks of the first grid would
  ///    exit (one long sequence among short ones), or when B > 65535 (CUDA's grid z limit).
  /// BLOCK_M = x.divisor; the rule's x and z must be ceil(Sq / BLOCK_M) and B.
  bool packedTiles = false;
  /// Schedule::cluster (sm90): blocks per cluster along x (1 or 2; the kernel is compiled with
  /// __cluster_dims__). The grid's x is a multiple of it: ceil(x / cluster) * cluster blocks (a block past
  /// the last Q tile runs the last one again beside its cluster's other block and writes the same values);
  /// persistent, cluster * min(ceil(x / cluster) * y * z, smCount / cluster), where the caller passes as
  /// smCount the blocks that can run at once in clusters (maxActiveClusters * cluster). Never with packedTiles.
  int cluster = 1;
  /// The tile extents (x, y, z) of the program.
  std::array<int64_t, 3> tiles(const ProblemSizes &p) const;
  /// The launch grid: tiles(p) (x rounded up to a multiple of cluster); (min(x * y * z, smCount), 1, 1)
  /// when persistent (for cluster > 1, see cluster); when packedTiles, one of
  /// the two grids above. smCount is the device's multiprocessor count; a persistent rule throws
  /// std::invalid_argument when it is < 1, or when x * y * z > 2^31 - 1 (the kernel's tile loop is 32-bit);
  /// a packedTiles rule when its x exceeds 2^31 - 1 (CUDA's limit).
  std::array<int64_t, 3> evaluate(const ProblemSizes &p, int64_t smCount = 0) const;
  /// "x = ceil(Sq / 64), y = Hq, z = B"; persistent: "persistent: min(ceil(Sq / 64) * Hq * B, SMs)";
  /// packedTiles: "x = ceil(Sq / 64), y = Hq, z = B, or x = the sequences' Q tiles <= min(...), y = Hq, z = 1
  /// when most of those blocks would exit".
  std::string toString() const;
};

/// Field kinds of Params.
enum class ParamSource {
  TensorPointer, ///< base address of tensor `tensor`
  TensorStride,  ///< stride (elements) of dim `dim` of tensor `tensor`
  TensorExtent,  ///< extent of dim `dim` of tensor `tensor` (captures)
  Size,          ///< problem size `size` (B, Hq, Hkv, Sq, Sk; a chain's named sizes)
  TensorMap,     ///< TMA tensor map (CUtensorMap, 128 bytes, 64-byte aligned) of tensor `tensor` (sm90 kernels):
                 ///< box [boxRows x boxCols] over its last two dims (1 in the others), 128B swizzle, zero fill
                 ///< out of bounds. packParams writes zeros; the runtime encodes it (cuTensorMapEncodeTiled).
  BlockMask,     ///< device pointer (int32) of block-mask list `dim` (BlockMaskAbi::List); packParams writes null
  SeqStarts,     ///< packed layout: device pointer (int32 [B + 1]) of cu_seqlens_q (`dim` 0) or cu_seqlens_k (1)
  TileCounter,   ///< q_tile_order = dynamic (sm90): device pointer of two int32, the next tile and the blocks done,
                 ///< 0 and 0 before the launch; the kernel's last block resets them, so launches in one stream's
                 ///< order may share them (never two launches in flight at once). packParams writes null: the
                 ///< launcher writes its counter's address (ParamLayout::tileCounterOffset)
};

struct ParamField {
  std::string name; ///< C name, e.g. "Q", "Q_stride[1]", "bias_extent[0]", "Sq"
  ParamSource source = ParamSource::Size;
  int tensor = -1;  ///< index into ParamLayout::tensors
  int dim = -1;
  std::string size;
  std::size_t offset = 0; ///< bytes from the start of Params
  int boxRows = 0, boxCols = 0; ///< TensorMap: the TMA box (elements); boxCols * element bytes = 128
};

/// How one tensor argument is passed.
struct TensorAbi {
  TensorArg arg;
  int rank = 0;
  int elementBytes = 0;
  std::string elementType;           ///< "bf16", "f16", "f32", "i32", "i64"
  std::vector<std::string> dimNames; ///< symbolic names ("B", "Sq") or static extents ("128")
  bool written = false;              ///< O, LSE
  bool needs16ByteRows = false;      ///< moved in 16-byte chunks: loaded (cp.async / TMA) or O of a staged store (sm90)
};

/// The run-time block mask of a kernel (FlexAttention's BlockMask): for each Q tile, the K/V tiles of
/// its loop whose scores are partly masked (run with the mask) and those not masked at all (run
/// without it); the others are never loaded. Lists are int32 in device memory, one row per
/// (batch, head, Q tile) when the mask reads the head, else per (batch, Q tile):
///   row = (b * heads + h) * q_tiles + q_tile,  heads = perHead ? Hq : 1 (h = 0 when not per head),
///   q_tiles = ceil(Sq / blockM),  kv_tiles = ceil(Sk / blockN)
///   kv_num_blocks[row], full_kv_num_blocks[row]           counts (-1 in kv_num_blocks: no lists for
///                                                         this row: the kernel visits every tile)
///   kv_indices[row * kv_tiles + i], full_kv_indices[...]  K/V loop iteration numbers, ascending
/// The attention kernel indexes the lists with 32-bit offsets: rows * kv_tiles must be below 2^31 (the
/// runtime checks it before building a mask).
/// The classification kernel `<kernelName>_block_mask` (same module, same Params, launched with grid
/// (q_tiles, heads, B) x kThreads threads) fills them from the captures.
struct BlockMaskAbi {
  enum List { KvNumBlocks = 0, KvIndices = 1, FullKvNumBlocks = 2, FullKvIndices = 3 };
  bool present = false;
  int blockM = 0, blockN = 0;
  bool perHead = false;
  static constexpr int kThreads = 256;
  /// Row count and int32 elements per index list for one problem size.
  int64_t rows(const ProblemSizes &s) const;
  int64_t kvTiles(const ProblemSizes &s) const;
  /// Bytes of the four lists (two counts per row, two index lists of kvTiles per row).
  int64_t bytes(const ProblemSizes &s) const;
  static std::string_view listName(int list); ///< "kv_num_blocks", ...
  std::string kernelName(const std::string &attention) const { return attention + "_block_mask"; }
};

struct ParamLayout {
  std::vector<TensorAbi> tensors;
  bool packed = false; ///< KernelSignature::packed: bindings are packed ([total, H, D]; LSE [Hq, total_q])
  BlockMaskAbi blockMask;
  std::vector<ParamField> fields; ///< in declaration order, offset = 8 * index
  std::size_t bytes = 0;
  /// The device-side declaration `struct Params { ... };` (also emitted in the kernel source).
  std::string deviceStruct() const;
  /// The offset (bytes) of the TileCounter field in Params, or -1 when the kernel has none: a launcher writes
  /// the address of its zeroed 8-byte counter there (a dynamic tile scheduler, Schedule::qTileOrder).
  int64_t tileCounterOffset() const;
  std::string toString() const; ///< one line per field with its offset
};

/// Everything needed to launch a compiled kernel without regenerating it: codegen's GeneratedKernel
/// minus the source and schedule. The tuner's cache stores one per entry next to the CUBIN, and the
/// runtime loads a cached kernel from it (tilefuse.h: CachedKernel).
struct LaunchDescription {
  std::string kernelName; ///< extern "C" symbol in the CUBIN
  int threadsPerBlock = 0;
  std::size_t dynamicSmemBytes = 0; ///< bytes per block
  GridRule grid;
  ParamLayout params;
};

/// Device address, extents and strides (elements) of one tensor argument.
struct TensorBinding {
  uint64_t address = 0;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
};

class AbiError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// The bytes of Params for one launch (`tensors` in ParamLayout::tensors order). Throws AbiError
/// naming the tensor and dim when a rank differs, a last-dim stride is not 1, a symbolic extent
/// disagrees with `sizes` (or a static one with the program), or an alignment requirement fails.
/// Writes the TMA tensor map of field `f` (ParamSource::TensorMap) for tensor `abi` bound to `t` into
/// out[0, 128): the runtime's cuTensorMapEncodeTiled wrapper (the compiler never calls the driver).
/// `t` is the batched binding [B, H, S, D]; for a packed layout it is the whole packed tensor as
/// [1, H, total, D] (strides: token, head, token, 1), which the sm90 kernel indexes at row cu_seqlens[b] + i.
using TensorMapEncoder = void (*)(std::byte *out, const ParamField &f, const TensorAbi &abi, const TensorBinding &t);

/// The sequence offsets of a packed launch (ParamLayout::packed).
struct PackedBinding {
  uint64_t cuSeqlensQ = 0, cuSeqlensK = 0; ///< device addresses of the int32 [B + 1] offsets
  int64_t totalQ = 0, totalK = 0;          ///< cu_seqlens_q[B], cu_seqlens_k[B]: token extents of the tensors
};

/// `encodeMap`: fills the TensorMap fields (sm90 kernels); null leaves them zero (no driver: tests).
/// A packed layout needs `packed` (else AbiError) and packed bindings: Q, O [total_q, H, D],
/// K, V [total_k, Hkv, D], LSE [Hq, total_q]; `sizes`.Sq / Sk are the max sequence lengths.
std::vector<std::byte> packParams(const ParamLayout &layout, const ProblemSizes &sizes,
                                  const std::vector<TensorBinding> &tensors, TensorMapEncoder encodeMap = nullptr,
                                  const PackedBinding *packed = nullptr);

} // namespace tilefuse::codegen
