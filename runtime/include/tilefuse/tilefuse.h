//===- tilefuse.h - the Tilefuse runtime library (C++ API) -----------*- C++ -*-===//
//
// What an application links (CMake: find_package(tilefuse) + tilefuse::tilefuse) to run a fused
// attention variant on its own device buffers:
//
//   tilefuse::Engine engine(/*device=*/0);
//   tilefuse::KernelHandle k = engine.getKernel("specs/causal.json", shape);   // JIT once
//   tilefuse::AttentionArgs a;  a.B = ...;  a.q = TensorRef::bhsd(q, Hq, Sq, D);  ...
//   engine.launch(k, a, stream);                                              // per call
//
// getKernel lowers the spec to a block program, fuses it (FlashAttention-2, Dao 2023, Alg. 1),
// generates CUDA for a Schedule (tile sizes, warps, pipeline depth), compiles it with NVRTC to a
// CUBIN for the device's exact architecture (sm_80, sm_90, ...), loads it into the device's primary
// context and memoizes it. launch only packs the kernel's parameters on the stack and calls
// cuLaunchKernel on the caller's stream.
//
// Allocations the library makes (host and device), all inside getKernel, none inside launch:
//   * per distinct kernel (spec content hash, D, Dv, GQA group, schedule): one CUmodule (the
//     CUBIN's code and constants in device memory), the generated source, PTX and the parameter
//     packing plan (host), and one node of the kernel table;
//   * per distinct (spec hash, shape bucket, policy) asked for: one node of the decision table
//     (a pointer to a kernel) and its key;
//   * while compiling: MLIR contexts, NVRTC programs and their outputs, freed on return;
//   * once, on the first TuneOnMiss / FailOnMiss request without EngineOptions::schedules: the
//     tuner's cache source (a path; entries are read per lookup, tuning allocates device buffers
//     for its timing runs and frees them).
//   * per run-time block mask (BlockMask, kernels whose mask reads captured tensors): its lists in
//     device memory, 8 (1 + ceil(Sk / BLOCK_N)) bytes per Q tile and batch (and head when the mask
//     reads it), made by buildBlockMask or by the first launch for given captures and sizes.
// Besides block masks the Engine never allocates device memory for data (no workspace: O and LSE are
// the caller's) and frees every module when it is destroyed. launch allocates nothing, on the host or
// the device, except that first launch of a kernel with a run-time block mask without one, and the first
// launch on a stream of a kernel with a dynamic tile scheduler ("q_tile_order": "dynamic"): an 8-byte
// counter per stream, zeroed with a cuCtxSynchronize, which the kernel resets after each launch.
// CUDA graphs: launch such a kernel once on a stream before capturing on that stream (the first launch's
// synchronization is not allowed during capture); replays on one stream then share its counter as launches
// do, but replays that overlap (two streams at once) must not share one. The tuner picks the scheduler for
// packed and masked specs where it is fastest; `tilefuse tune --no-dynamic-tiles` leaves it out.
//
// Thread safety: every Engine member may be called from any thread at once. getKernel takes the
// table mutex only to find or insert a slot; different kernels compile concurrently, a kernel being
// compiled by one thread is waited for (not compiled twice) by the others. launch takes no lock.
// KernelHandles stay valid until their Engine is destroyed.
//
// Errors are exceptions: NoGpuError (no driver / no device), CudaError (a driver call failed),
// CompileError (NVRTC rejected the generated source: log + dumped source), spec::SpecError (bad spec
// file or shape), UnsupportedError (the generator cannot build this spec/shape/schedule),
// CacheMissError (Policy::FailOnMiss and no cached schedule), LaunchError (bad launch arguments:
// names the tensor and dim). tilefuse_c.h wraps all of this for C, without exceptions.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/runtime/Errors.h"
#include "tilefuse/spec/Shape.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

// The CUDA driver's stream type, declared exactly as cuda.h does (so cuda.h is not needed here);
// a CUDA runtime cudaStream_t is the same type and may be passed as is.
typedef struct CUstream_st *CUstream;

namespace tilefuse {

namespace spec {
struct Spec;
} // namespace spec
namespace codegen {
struct LaunchDescription; // tilefuse/codegen/KernelAbi.h
} // namespace codegen

/// Where getKernel takes the kernel's Schedule from.
enum class Policy {
  Heuristic,  ///< codegen::defaultSchedule(D, dtype, arch): no tuning, no cache.
  TuneOnMiss, ///< The ScheduleSource's cached schedule (default: the tuner's on-disk cache); on a
              ///< miss it tunes on this GPU and records the winner (seconds to a minute, once).
  FailOnMiss, ///< The ScheduleSource's cached schedule; on a miss throws CacheMissError.
};
const char *spelling(Policy p); ///< "heuristic", "tune-on-miss", "fail-on-miss"

/// The arguments of a call are wrong (null or misaligned pointer, a stride that is not a multiple
/// of 16 bytes, sizes that disagree with the kernel). what() names the tensor and the dim.
class LaunchError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// The generator cannot build a kernel for this spec / shape / schedule (an op it cannot
/// translate, a program that did not fully fuse, shared memory beyond the device's limit).
class UnsupportedError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Policy::FailOnMiss found no cached schedule for the query (what() names spec, shape, device).
class CacheMissError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Shapes that share a tuned kernel, bucketed as the tuner's cache key is (spec/Shape.h:
/// spec::bucketShape): B to a power of two, Sq and Sk by spec::bucketSeqLen (197 -> 256,
/// 8000 -> 8192), Hq, Hkv, D, Dv exact. Getting a kernel is decided once per bucket and policy.
/// B, Hq, Sq, Sk stay run-time sizes of the kernel (D, Dv and the GQA group are compiled in).
struct ShapeBucket {
  int64_t B = 0, Hq = 0, Hkv = 0, Sq = 0, Sk = 0, D = 0, Dv = 0; ///< bucketed sizes
  static ShapeBucket of(const spec::Shape &shape);
  std::string toString() const; ///< "B<=4 Hq=16 Hkv=16 Sq<=2048 Sk<=2048 D=128 Dv=128"
  bool operator==(const ShapeBucket &) const = default;
};

/// A host copy of one captured tensor (spec "captures"), given to getKernel under Policy::TuneOnMiss /
/// FailOnMiss so that the schedule is tuned on, and looked up for, the caller's data: for a mask_mod
/// that reads captures (document ids) the tuner's cache key holds the mask density class of these
/// values (tuner/Captures.h: the fraction of unmasked scores rounded to a power of two, 1 .. 1/128), and
/// TuneOnMiss times the candidates on them. Dense row-major elements of the capture's dtype (i32:
/// int32_t, i64: int64_t, f32: float, f16 / bf16: their 16-bit patterns), extents those of the spec's
/// shape expressions at getKernel's shape (document_mask's doc_ids: [B, Sk]); `bytes` = elements x
/// element size. Read during getKernel only (not kept).
struct HostCaptureRef {
  const void *data = nullptr;
  std::size_t bytes = 0;
};

/// What a ScheduleSource is asked for.
struct ScheduleQuery {
  const spec::Spec *spec = nullptr; ///< never null
  std::string specHash;             ///< spec::contentHashHex(*spec)
  spec::Shape shape;                ///< the shape getKernel was given
  ShapeBucket bucket;
  int device = 0;          ///< CUDA ordinal
  std::string deviceName;  ///< e.g. "NVIDIA H100 80GB HBM3"
  std::string arch;        ///< e.g. "sm_90"
  /// getKernel's host captures, one per spec capture in spec order, or empty (then the source uses
  /// synthetic ones). Valid during the call only.
  std::span<const HostCaptureRef> captures;
};

/// A compiled kernel as a ScheduleSource hands it over (ScheduleSource::lookupKernel).
struct CachedKernel {
  std::string scheduleJson;  ///< codegen::Schedule::toJson() of the schedule the CUBIN was built with
  std::vector<char> cubin;   ///< ELF for ScheduleQuery::arch; never empty
  /// Kernel name, block size, dynamic shared memory, grid rule and Params layout of the CUBIN (never
  /// null; built by code that includes tilefuse/codegen/KernelAbi.h).
  std::shared_ptr<const codegen::LaunchDescription> launch;
  std::string origin; ///< where it came from, for KernelInfo::origin (e.g. the cache entry's path)
};

/// Where Policy::TuneOnMiss and Policy::FailOnMiss get schedules: EngineOptions::schedules, by
/// default the tuner's on-disk cache (tuner::CacheScheduleSource, inside the library:
/// runtime/lib/CacheScheduleSource.h). Schedules travel as the JSON of codegen::Schedule::toJson()
/// ({"block_m":128,"block_n":64,...}), so this header needs no compiler headers. Implementations
/// must be thread-safe (getKernel calls them from any thread).
class ScheduleSource {
public:
  virtual ~ScheduleSource() = default;
  /// The cached schedule for the query, or nullopt on a miss. Must not tune.
  virtual std::optional<std::string> lookup(const ScheduleQuery &query) = 0;
  /// Tunes the query on its device, records the winner and returns it (called on a miss under
  /// Policy::TuneOnMiss).
  virtual std::string tune(const ScheduleQuery &query) = 0;

  /// A kernel already built for the query: the cached schedule with its CUBIN (for query.arch) and
  /// launch description, so that getKernel loads it (about a millisecond) instead of lowering,
  /// fusing, generating and compiling it (0.1-1 s). nullopt: no such kernel; getKernel then calls
  /// lookup(). The default returns nullopt; the tuner's cache returns its entries' CUBINs.
  virtual std::optional<CachedKernel> lookupKernel(const ScheduleQuery &query);
};

struct EngineOptions {
  /// Consulted by Policy::TuneOnMiss / FailOnMiss. Null: the tuner's on-disk cache
  /// (tuner::CacheScheduleSource over Cache::openDefault(): $TILEFUSE_CACHE_DIR, else
  /// $XDG_CACHE_HOME/tilefuse, else ~/.cache/tilefuse), opened on first need.
  std::shared_ptr<ScheduleSource> schedules;
  /// The device library's include root (holding tilefuse/device.cuh). Empty: env
  /// TILEFUSE_DEVICE_INCLUDE, else <prefix>/share/tilefuse/device next to the installed library,
  /// else the source tree the library was built from.
  std::string deviceIncludeDir;
  /// Extra NVRTC flags for every kernel (e.g. "-lineinfo").
  std::vector<std::string> nvrtcFlags;
  /// The code generator's backend for Policy::Heuristic: "auto" (on an sm_90 GPU the sm90 backend,
  /// warp-specialized wgmma + TMA, where its default schedule applies, i.e. D = Dv from 64 to 256; the sm80
  /// backend, mma.sync + cp.async, otherwise), "sm80" or "sm90" (UnsupportedError off sm_90).
  std::string backend = "auto";
};

/// One Q, K, V or O operand: the device address of element [0, 0, 0, 0] and the strides, in
/// ELEMENTS, of its batch, head and sequence dims. The head dim (D or Dv) is contiguous (stride 1).
/// Requirements (checked by launch): 16-byte aligned address, every stride a multiple of 8 elements
/// (16 bytes of bf16/fp16), strides >= 0.
struct TensorRef {
  const void *data = nullptr;
  int64_t batchStride = 0, headStride = 0, rowStride = 0;

  /// Dense [B, H, S, Dh]: strides {H*S*Dh, S*Dh, Dh} (the layout of Lowering.h).
  static TensorRef bhsd(const void *data, int64_t H, int64_t S, int64_t Dh) {
    return {data, H * S * Dh, S * Dh, Dh};
  }
  /// Dense [B, S, H, Dh]: strides {S*H*Dh, Dh, H*Dh} (flash_attn's and SDPA's q.transpose(1, 2)).
  static TensorRef bshd(const void *data, int64_t H, int64_t S, int64_t Dh) {
    return {data, S * H * Dh, Dh, H * Dh};
  }
  /// Packed [total, H, Dh] (AttentionArgs::cuSeqlensQ): strides {0, Dh, H*Dh} (flash_attn_varlen_func's).
  static TensorRef packed(const void *data, int64_t H, int64_t Dh) { return {data, 0, Dh, H * Dh}; }
};

/// LSE [B, Hq, Sq], fp32, natural log: strides of batch and head in elements (Sq is contiguous).
struct LseRef {
  float *data = nullptr;
  int64_t batchStride = 0, headStride = 0;
  static LseRef dense(float *data, int64_t Hq, int64_t Sq) { return {data, Hq * Sq, Sq}; }
  /// Packed LSE [Hq, totalQ] (AttentionArgs::cuSeqlensQ): head stride totalQ.
  static LseRef packed(float *data, int64_t totalQ) { return {data, 0, totalQ}; }
};

/// One captured tensor (spec "captures"): its device address and, optionally, the strides in
/// elements of every dim but the last. Null strides: dense row-major, the specs' convention. The
/// extents come from the spec's shape expressions at the call's sizes (e.g. [Hq, Sq + Sk - 1]).
struct CaptureRef {
  const void *data = nullptr;
  const int64_t *strides = nullptr; ///< rank - 1 entries, or null
};

/// One attention call. Q [B, Hq, Sq, D], K [B, Hkv, Sk, D], V [B, Hkv, Sk, Dv], O [B, Hq, Sq, Dv],
/// all of the spec's dtype; LSE [B, Hq, Sq] fp32. Hq / Hkv must equal the kernel's GQA group size and
/// every size must be > 0. Causal masks in the shipped specs are aligned bottom-right when Sq != Sk.
struct AttentionArgs {
  int64_t B = 0, Hq = 0, Hkv = 0, Sq = 0, Sk = 0;
  TensorRef q, k, v;
  TensorRef o; ///< written (o.data is cast to non-const)
  LseRef lse;  ///< written when the spec has "lse": true (then required), ignored otherwise
  std::span<const CaptureRef> captures; ///< one per spec capture, in spec order (sorted by name)
  /// Packed variable-length sequences (a spec with "layout": "packed"; FlashAttention's varlen API,
  /// flash_attn_varlen_func). Null / 0 for a batched spec (else LaunchError). For a packed spec:
  ///   B           the number of sequences;
  ///   cuSeqlensQ  device int32 [B + 1], cu_seqlens_q: sequence b is rows cu_seqlens_q[b] ..
  ///               cu_seqlens_q[b + 1] - 1 of Q, O and LSE; 0 = cu_seqlens_q[0] <= ... <= cu_seqlens_q[B] = totalQ;
  ///   cuSeqlensK  device int32 [B + 1], cu_seqlens_k, the same for K and V (= cuSeqlensQ for self-attention);
  ///   totalQ/K    cu_seqlens_q[B], cu_seqlens_k[B] (0 .. 2^31 - 1): the token extents of the tensors;
  ///   maxSeqlenQ/K >= every sequence's length (max_seqlen_q / max_seqlen_k): the call's Sq / Sk, which
  ///               size the grid (x = ceil(maxSeqlenQ / BLOCK_M) Q tiles per sequence, y = Hq, z = B; or one
  ///               block per Q tile of all sequences, from totalQ, when most of those would exit: KernelAbi.h
  ///               GridRule::packedTiles) and the captures' size expressions; Sq / Sk must then be 0 or equal
  ///               to them (0 here: Sq / Sk are used).
  ///   q, o        [totalQ, Hq, D] / [totalQ, Hq, Dv]: TensorRef::packed (rowStride steps one token,
  ///               headStride one head; batchStride is ignored); k, v [totalK, Hkv, D] / [totalK, Hkv, Dv];
  ///   lse         fp32 [Hq, totalQ] (FlashAttention's varlen LSE): LseRef::packed; headStride >= totalQ,
  ///               batchStride ignored.
  /// Inside score_mod / mask_mod, b is the sequence, q_idx / kv_idx positions in it, Sq / Sk its lengths.
  /// launch cannot read the offsets (device memory) and trusts them: check host copies with
  /// spec::checkCuSeqlens / spec::makePackedSeqs (tilefuse/spec/Packed.h). Rows of O and LSE outside
  /// [0, totalQ) are never written. Errors (LaunchError, naming the field): a null or misaligned offsets
  /// pointer, totals outside [0, 2^31), maxSeqlen < 1, Sq / Sk disagreeing with maxSeqlenQ / K, an LSE head
  /// stride below totalQ, packed fields on a batched kernel.
  const int32_t *cuSeqlensQ = nullptr, *cuSeqlensK = nullptr;
  int64_t totalQ = 0, totalK = 0;
  int64_t maxSeqlenQ = 0, maxSeqlenK = 0;
};

/// What getKernel built (for logs, debugging and replaying a tuner decision).
struct KernelInfo {
  std::string specName, specHash; ///< spec name, spec::contentHashHex
  std::string kernelName;         ///< extern "C" name in the CUBIN
  std::string arch;               ///< NVRTC target, e.g. "sm_90"
  std::string scheduleJson;       ///< codegen::Schedule::toJson()
  std::string policy;             ///< spelling(Policy) of the first request that built it
  std::string grid;               ///< "x = ceil(Sq / 128), y = Hq, z = B"
  int64_t D = 0, Dv = 0, group = 1;
  int threadsPerBlock = 0;
  std::size_t dynamicSmemBytes = 0; ///< bytes per block
  std::size_t paramBytes = 0;       ///< sizeof(Params)
  int registers = 0;                ///< per thread (cuFuncGetAttribute)
  int localBytes = 0;               ///< per thread local memory (spills), bytes
  std::size_t cubinBytes = 0;
  double generateMs = 0, compileMs = 0, loadMs = 0; ///< lower+fuse+codegen, NVRTC, module load
  /// "compiled" when getKernel generated and compiled it, else where the CUBIN came from
  /// (CachedKernel::origin, e.g. "cache: <entry path>"); then generateMs = compileMs = 0 and
  /// source / ptx are empty.
  std::string origin;
  /// The kernel iterates a run-time block mask's lists (BlockMask) when a launch passes them.
  bool blockMask = false;
  std::string source; ///< the CUDA C++ compiled (empty for a cached CUBIN)
  std::string ptx;    ///< NVRTC's PTX of the same compilation (empty for a cached CUBIN)
};

namespace detail {
struct Kernel;
struct BlockMaskData;
} // namespace detail

/// A run-time block mask, FlexAttention's BlockMask, for a kernel whose tile classes the compiler cannot
/// decide (KernelInfo::blockMask: its mask_mod reads a captured tensor, e.g. document ids, or has no
/// interval rule). Per Q tile it lists the K/V tiles with some masked scores (kv_num_blocks, kv_indices:
/// run with the mask) and those with none (full_kv_num_blocks, full_kv_indices: run without it); the
/// kernel never loads the others. The lists are int32 in device memory, laid out as
/// codegen::BlockMaskAbi says (tilefuse/codegen/KernelAbi.h), and are computed on the device by the
/// kernel's classification kernel, which evaluates the same mask_mod at every score of every tile pair.
/// A mask is valid for the kernel, the sizes (B, Hq, Sq, Sk) and the captured tensors' contents it was
/// built from, and reusable across calls and layers. A cheap value (shared ownership); the device memory
/// is freed with the last copy (no launch using it may be in flight then).
class BlockMask {
public:
  BlockMask() = default;
  explicit operator bool() const noexcept { return data_ != nullptr; }
  /// Device bytes of the four lists.
  std::size_t bytes() const noexcept;

  /// The lists copied to the host (synchronizes the engine's context), for tests and inspection:
  /// rows (batch, head when per head, Q tile) x kvTiles entries per index list.
  struct HostLists {
    int64_t rows = 0, kvTiles = 0;
    bool perHead = false;
    std::vector<int32_t> kvNumBlocks, kvIndices, fullKvNumBlocks, fullKvIndices;
  };
  HostLists download() const;

  const detail::BlockMaskData *get() const noexcept { return data_.get(); }
  explicit BlockMask(std::shared_ptr<const detail::BlockMaskData> data) noexcept : data_(std::move(data)) {}

private:
  std::shared_ptr<const detail::BlockMaskData> data_;
};

/// A compiled, loaded kernel owned by an Engine; a cheap value (one pointer). Default: empty.
class KernelHandle {
public:
  KernelHandle() = default;
  explicit operator bool() const noexcept { return kernel_ != nullptr; }
  /// Throws std::logic_error on an empty handle.
  const KernelInfo &info() const;
  bool operator==(const KernelHandle &) const = default;

  const detail::Kernel *get() const noexcept { return kernel_; }
  explicit KernelHandle(const detail::Kernel *kernel) noexcept : kernel_(kernel) {}

private:
  const detail::Kernel *kernel_ = nullptr;
};

/// The device, as the engine plans for it.
struct DeviceDescription {
  int ordinal = 0;
  std::string name;
  std::string arch; ///< "sm_90"
  int smCount = 0;
  int maxSharedPerBlockOptin = 0; ///< bytes
};

class Engine {
public:
  /// Retains the primary context of CUDA device `device` (the context CUDA runtime applications use,
  /// so their buffers and streams work here). Throws NoGpuError without a driver or device,
  /// CudaError for a bad ordinal.
  explicit Engine(int device = 0, EngineOptions options = {});
  ~Engine(); ///< unloads every module (no launch may be in flight on them)
  Engine(const Engine &) = delete;
  Engine &operator=(const Engine &) = delete;

  /// The kernel for the spec file at `specPath` (format: specs/README.md) and `shape` (D, Dv and the
  /// GQA group Hq / Hkv are compiled in; B, Hq, Sq, Sk are run-time). Reads and parses the file on
  /// every call (~0.1 ms); keep the handle. Compiles on the first request (0.5-5 s), else returns
  /// the memoized kernel. Throws spec::SpecError, UnsupportedError, CompileError, CacheMissError,
  /// CudaError.
  ///
  /// `captures` (optional, Policy::TuneOnMiss / FailOnMiss; ignored by Heuristic): host copies of the
  /// spec's captured tensors at `shape`, one per capture in spec order (HostCaptureRef). For a mask_mod
  /// that reads captures the schedule is then looked up for (and tuned on) their mask density class,
  /// not that of synthetic ~32-token documents; the decision is memoized per contents. Errors
  /// (std::invalid_argument, tuner::CaptureError, naming the capture): another count of captures than
  /// the spec has, a byte size that is not elements x element size, a null pointer with bytes > 0.
  KernelHandle getKernel(const std::string &specPath, const spec::Shape &shape,
                         Policy policy = Policy::Heuristic, std::span<const HostCaptureRef> captures = {});
  /// As above for a spec in memory (tilefuse/spec/Spec.h: parseSpecFile / parseSpecString); the
  /// spec's dtype, head_dim and expressions are used, its default shape is not.
  KernelHandle getKernel(const spec::Spec &spec, const spec::Shape &shape,
                         Policy policy = Policy::Heuristic, std::span<const HostCaptureRef> captures = {});

  /// Enqueues one attention call on `stream` (null: the legacy default stream) and returns without
  /// waiting. Makes the engine's device context current on the calling thread (as cudaSetDevice
  /// does). Allocates nothing and takes no lock, but on the first launch on `stream` of a kernel with a
  /// dynamic tile scheduler (its counter: see the top of this file). Throws LaunchError for bad arguments
  /// (before anything is enqueued) and CudaError when cuLaunchKernel fails; errors inside the kernel surface
  /// at the next synchronization, as for any CUDA launch.
  ///
  /// A kernel with a run-time block mask (KernelInfo::blockMask) runs with one: on the first launch for
  /// given capture addresses and strides and sizes (B, Hq, Sq, Sk), the engine builds it
  /// (buildBlockMask: allocates its lists, under a lock) and keeps it for later launches with the same
  /// key. That key does not see the captures' contents: after changing a captured tensor in place, pass
  /// a mask built for the new contents (the overload below) or call clearBlockMasks().
  void launch(KernelHandle kernel, const AttentionArgs &args, CUstream stream = nullptr) const;
  /// The same call with the block mask `mask` (built for this kernel and these sizes by buildBlockMask;
  /// an empty mask: the kernel visits every K/V tile with the mask, correct but without skipping).
  /// Allocates nothing; takes no lock (but a dynamic tile scheduler's first launch on a stream, as above).
  /// Throws LaunchError for a mask of another kernel or other sizes.
  void launch(KernelHandle kernel, const AttentionArgs &args, const BlockMask &mask, CUstream stream = nullptr) const;
  /// Builds the block mask of `kernel` for the captures and sizes of `args` (Q, K, V, O are not read):
  /// allocates its lists (BlockMask::bytes(): 8 (1 + ceil(Sk / BLOCK_N)) bytes per row, a row per batch,
  /// Q tile and, when the mask reads the head, head) and enqueues the classification kernel on `stream`.
  /// Throws LaunchError when the kernel has no run-time block mask or `args` are bad, CudaError.
  BlockMask buildBlockMask(KernelHandle kernel, const AttentionArgs &args, CUstream stream = nullptr) const;
  /// Forgets the block masks launch() built and kept. Waits first for all work on the engine's context
  /// (cuCtxSynchronize), so no launch in flight still reads their lists when they are freed. Call it
  /// after writing a captured tensor in place, or before its memory holds other contents (the kept
  /// masks are keyed by address, not contents; the Python package does this itself). Throws CudaError.
  void clearBlockMasks();

  const DeviceDescription &device() const noexcept;
  /// Kernels compiled and loaded so far.
  std::size_t kernelCount() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// "0.2.0"
const char *version();

} // namespace tilefuse
