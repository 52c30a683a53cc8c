//===- Launch.h - packing a generated kernel's Params without allocating -*- C++ -*-===//
//
// Internal to the runtime library. A PackPlan is made once per kernel from its
// codegen::ParamLayout (KernelAbi.h) and the spec's capture shapes; packInto then writes the bytes of
// the kernel's single `Params` argument for one call into a caller's (stack) buffer. It performs the
// checks codegen::packParams performs, with the same byte layout (a test compares the two), but
// allocates nothing on success: extents are derived from the sizes, capture extents evaluated from
// the spec's size expressions, and every binding lives in fixed-size arrays.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/tilefuse.h"

#include "tilefuse/codegen/KernelAbi.h"
#include "tilefuse/runtime/Resources.h"
#include "tilefuse/spec/Spec.h"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace tilefuse::detail {

/// Params are passed by value through cuLaunchKernel: at most this many bytes (CUDA's classic limit).
constexpr std::size_t kMaxParamBytes = 4096;
/// Dims a bound tensor may have (Q, K, V, O: 4; LSE: 3; captures: at most this).
constexpr int kMaxRank = 4;
/// Tensor arguments a kernel may take (Q, K, V, O, LSE + captures).
constexpr int kMaxTensors = 16;

/// Problem sizes by index, so a plan can refer to them without strings.
enum class SizeId : uint8_t { B, Hq, Hkv, Sq, Sk };

/// Where the extent of one dim of a bound tensor comes from.
struct DimSource {
  enum Kind : uint8_t { Size, Static, CaptureExpr } kind = Static;
  SizeId size = SizeId::B;
  int64_t value = 0;   ///< Static
  int exprIndex = -1;  ///< CaptureExpr: index into PackTensor::captureShape
  std::string name;    ///< as in the layout ("Sq", "128", "bias_d1"), for messages
};

struct PackTensor {
  codegen::TensorRole role = codegen::TensorRole::Capture;
  std::string name;
  int rank = 0;
  int elementBytes = 0;
  bool f16 = false;                     ///< fp16 elements (else bf16 / not 16-bit): the TMA data type
  bool needs16ByteRows = false;
  bool pairedStores = false;            ///< a written 16-bit tensor: stored in 4-byte pairs (O)
  int captureSlot = -1;                 ///< index into Spec::captures (and AttentionArgs::captures)
  std::vector<DimSource> dims;
  std::vector<spec::Expr> captureShape; ///< the spec's size expressions of a capture
};

struct PackField {
  codegen::ParamSource source = codegen::ParamSource::Size;
  int tensor = -1, dim = -1;
  SizeId size = SizeId::B;
  std::size_t offset = 0;
  int boxRows = 0, boxCols = 0; ///< TensorMap: the TMA box
};

struct PackPlan {
  std::vector<PackTensor> tensors; ///< in ParamLayout::tensors order
  std::vector<PackField> fields;
  std::size_t bytes = 0;
  int64_t group = 1; ///< GQA group size compiled into the kernel
  int64_t headDim = 1, valueDim = 1; ///< D, Dv compiled into the kernel (for the size limits)
  int captureCount = 0;
  bool writesLse = false;
  bool packed = false;    ///< ParamLayout::packed: AttentionArgs::cuSeqlensQ / cuSeqlensK bound (SeqStarts fields)
  int64_t tileCounterOffset = -1; ///< ParamLayout::tileCounterOffset: where launch writes the stream's TileCounters
  std::string kernelName; ///< for messages
};

/// Builds the plan. Throws UnsupportedError when the layout does not fit kMaxParamBytes / kMaxRank /
/// kMaxTensors, names a dim it cannot bind, or a capture the spec lacks.
PackPlan makePackPlan(const codegen::ParamLayout &layout, const spec::Spec &spec, int64_t group,
                      const std::string &kernelName);

/// One tensor of one call: address, extents and strides (elements), in fixed storage.
struct Binding {
  uint64_t address = 0;
  int rank = 0;
  std::array<int64_t, kMaxRank> shape{};
  std::array<int64_t, kMaxRank> strides{};
};

/// The bindings of one call, derived from `args` (no allocation).
struct Bindings {
  std::array<Binding, kMaxTensors> tensors{};
  int count = 0;
};

/// The call's arguments as bind / packInto / the grid read them: for a packed plan, checks the packed
/// fields (cuSeqlensQ / K non-null and 4-byte aligned, totalQ / K in [0, 2^31), max_seqlen >= 1 and Sq / Sk
/// 0 or equal to it, LSE head stride >= totalQ) and returns a copy with Sq, Sk = maxSeqlenQ, maxSeqlenK
/// (Sq, Sk when those are 0); for a batched plan, refuses any packed field. Throws LaunchError.
AttentionArgs resolveArgs(const PackPlan &plan, const AttentionArgs &args);

/// Validates `args` (resolved: resolveArgs) against the plan and fills `out` (ParamLayout::tensors order). Throws
/// LaunchError naming the tensor and dim.
void bind(const PackPlan &plan, const AttentionArgs &args, Bindings &out);

/// Writes Params for `bindings` and `args`' sizes into out[0, plan.bytes), all but the TMA tensor maps
/// (encodeTensorMaps). Needs
/// out.size() >= plan.bytes.
void packInto(const PackPlan &plan, const AttentionArgs &args, const Bindings &bindings, std::span<std::byte> out);

/// The tensor a TMA map (ParamSource::TensorMap field `f`) covers: extents and strides (elements),
/// outermost first.
struct TmaMap {
  int rank = 0;
  std::array<int64_t, kMaxRank> shape{}, strides{};
};
/// The map of field `f` for this call: the binding's [B, H, S, D] for a batched plan; for a packed one
/// the whole [total, H, D] tensor as [1, H, total, D] (strides: token, head, token, 1; total =
/// args.totalQ for Q, args.totalK for K / V, at least 1). Throws LaunchError naming the tensor and dim
/// for an extent outside [1, 2^32] or a stride of 2^40 bytes or more (what cuTensorMapEncodeTiled takes).
TmaMap tmaMapOf(const PackPlan &plan, const AttentionArgs &args, const Bindings &bindings, const PackField &f);

/// Encodes the TMA tensor maps of an sm90 kernel (ParamSource::TensorMap fields; packInto leaves them)
/// into out through the driver (cuTensorMapEncodeTiled, host-only), 128-byte swizzle, boxes of the field's
/// [boxRows x boxCols]. Batched tensors are mapped as bound ([B, H, S, D], strides in elements). Packed
/// plans map Q, K, V as the whole [total, H, D] tensor, i.e. [1, H, total, D] with total = args.totalQ /
/// totalK (the kernel adds cu_seqlens[b] to the token coordinate; rows past total read as zeros). Throws
/// LaunchError for an extent outside [1, 2^32] or a stride of 2^40 bytes or more (naming the tensor and
/// dim), runtime::CudaError when the driver refuses the map.
void encodeTensorMaps(const PackPlan &plan, const AttentionArgs &args, const Bindings &bindings,
                      std::span<std::byte> out);

/// resolveArgs + bind + packInto + encodeTensorMaps: what launch does.
inline void pack(const PackPlan &plan, const AttentionArgs &given, std::span<std::byte> out) {
  const AttentionArgs args = resolveArgs(plan, given);
  Bindings b;
  bind(plan, args, b);
  packInto(plan, args, b, out);
  encodeTensorMaps(plan, args, b, out);
}

/// The same binding as codegen::TensorBinding values (allocates; for tests against packParams).
std::vector<codegen::TensorBinding> toTensorBindings(const Bindings &b);
codegen::ProblemSizes problemSizes(const AttentionArgs &args);

/// The counters of a kernel's dynamic tile scheduler (codegen::ParamSource::TileCounter), one per stream it is
/// launched on: the kernel's last block resets its counter to 0, so launches in one stream's order share it,
/// and launches on two streams, which may run at once, never do. A stream's counter is allocated and zeroed
/// on its first launch (zeroedDeviceBuffer: one cuCtxSynchronize), under a mutex; later launches find it
/// without a lock among the first kFast streams (atomics), under the mutex past them.
/// CUDA graphs (tilefuse.h): the first launch's cuCtxSynchronize is not allowed during stream capture, so a
/// stream must have launched the kernel before it is captured; a graph then holds that stream's counter, and
/// replays that overlap (on two streams) would share it.
class TileCounters {
public:
  /// The device address of `stream`'s counter (two int32, 0 and 0 between launches). Needs the kernel's context
  /// current. Throws CudaError when the first launch's allocation fails.
  uint64_t forStream(CUstream stream);

private:
  static constexpr int kFast = 64;
  std::array<std::atomic<CUstream>, kFast> fastStreams_{};
  std::array<uint64_t, kFast> fastCounters_{};
  std::atomic<int> fastCount_{0}; ///< entries of fastStreams_ / fastCounters_ published (release)
  std::mutex mutex_;
  std::vector<std::pair<CUstream, runtime::DeviceBuffer>> perStream_; ///< owns every counter
};

/// A compiled, loaded kernel (what a KernelHandle points at).
struct Kernel {
  KernelInfo info;
  runtime::Module module;
  CUfunction function = nullptr;
  CUcontext context = nullptr;
  codegen::GridRule grid;
  int64_t smCount = 0; ///< blocks that run at once: the SMs, or resident clusters x cluster (runtime::persistentBlocks)
  unsigned threads = 0;
  unsigned smemBytes = 0;
  PackPlan plan;
  codegen::BlockMaskAbi blockMask;          ///< present: the kernel takes block-mask lists
  CUfunction blockMaskFunction = nullptr;   ///< its classification kernel (same module)
  mutable TileCounters tileCounters; ///< used when plan.tileCounterOffset >= 0 (q_tile_order dynamic)
};

/// The device data of a BlockMask (tilefuse.h): the four lists in one buffer, and what they were built for.
struct BlockMaskData {
  const Kernel *kernel = nullptr;
  int64_t B = 0, Hq = 0, Sq = 0, Sk = 0;
  int64_t rows = 0, kvTiles = 0;
  runtime::DeviceBuffer buffer;
  std::array<uint64_t, 4> lists{}; ///< device addresses, codegen::BlockMaskAbi::List order
};

/// Writes the list addresses into the ParamSource::BlockMask fields of packed Params (null: none).
void patchBlockMask(const PackPlan &plan, const std::array<uint64_t, 4> *lists, std::span<std::byte> out);

/// Packs and enqueues one call of `k` on `stream` (what Engine::launch does), with the block-mask lists
/// `mask` (null: none; the kernel then classifies in place). Allocates nothing, but a dynamic tile scheduler's
/// counter on its first launch on a stream (TileCounters). Throws LaunchError for a
/// mask built for another kernel or other sizes.
void launch(const Kernel &k, const AttentionArgs &args, const BlockMaskData *mask, CUstream stream);
inline void launch(const Kernel &k, const AttentionArgs &args, CUstream stream) { launch(k, args, nullptr, stream); }

/// Allocates the lists of `k`'s block mask for `args`' sizes and enqueues its classification kernel on
/// `stream`. Throws LaunchError when `k` has no block mask or `args` are bad.
std::shared_ptr<BlockMaskData> buildBlockMask(const Kernel &k, const AttentionArgs &args, CUstream stream);

} // namespace tilefuse::detail
