//===- GpuRun.h - device buffers, loading, launching and timing kernels -*- C++ -*-===//
//
// Internal to the tuner: one problem's tensors on the GPU (rotated copies so timed runs read from
// HBM, not L2), a loaded CUBIN, launches and CUDA-event timing. Every function needs the device's
// primary context current on the calling thread (runtime::retainPrimaryContext).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/runtime/Resources.h"
#include "tilefuse/tuner/Cache.h"
#include "tilefuse/tuner/Check.h"

#include <algorithm>
#include <cstddef>
#include <vector>

namespace tilefuse::tuner::detail {

/// Copies of a problem's Q, K, V, O (and LSE) on the device, `sets` times; captures once (read-only,
/// small). Every set holds the same input values, so any set's output checks against the host.
/// Packed inputs (HostInputs::cuQ): Q, O [total_q, H, D], K, V [total_k, Hkv, D], LSE [Hq, total_q], and
/// cu_seqlens_q / _k once as int32 (bound through codegen::PackedBinding).
class DeviceProblem {
public:
  DeviceProblem(const spec::Spec &spec, const HostInputs &inputs, int sets);

  int sets() const { return static_cast<int>(sets_.size()); }
  const spec::Shape &shape() const { return shape_; }
  /// The launch's problem sizes: the shape's, and packed, total_q = cu_seqlens_q[B] (the grid's bound).
  codegen::ProblemSizes sizes() const;
  /// Bytes of Q, K, V, O and LSE of one set.
  std::size_t bytesPerSet() const { return bytesPerSet_; }

  /// The kernel's Params for set `set` (codegen::packParams; throws codegen::AbiError).
  std::vector<std::byte> params(const codegen::ParamLayout &layout, int set) const;
  /// Fills O and LSE of `set` with 0xFF bytes (NaN), so an unwritten element fails the check.
  void poisonOutputs(int set);
  /// O (dtype bits, Dv per row) and LSE (empty without LSE) of `rows` from set `set`.
  void readRows(const std::vector<RowIndex> &rows, int set, std::vector<uint16_t> &O,
                std::vector<float> &LSE) const;

private:
  struct Set {
    runtime::DeviceBuffer Q, K, V, O, LSE;
  };
  spec::Shape shape_;
  bool lse_ = false;
  std::vector<Set> sets_;
  std::vector<runtime::DeviceBuffer> captures_;
  std::vector<int64_t> cuQ_, cuK_;          ///< packed: host offsets (empty: batched)
  runtime::DeviceBuffer cuQDevice_, cuKDevice_; ///< packed: int32 [B + 1] copies
  std::vector<std::vector<int64_t>> captureShapes_;
  std::size_t bytesPerSet_ = 0;
};

/// How many sets make `multiple` x L2 (at least 1, at most 64), within `maxBytes` of memory in all.
int rotationSets(std::size_t bytesPerSet, std::size_t l2Bytes, double multiple, std::size_t maxBytes);

/// A CUBIN loaded into the current context with its launch description.
class LoadedKernel {
public:
  LoadedKernel(const std::vector<char> &cubin, LaunchInfo launch);
  /// Registers per thread and local (spill) bytes per thread the driver reports.
  int registers() const;
  int localBytes() const;
  /// Params of every set of `problem`, in set order (codegen::packParams; throws AbiError). A kernel
  /// with a run-time block mask gets its lists: built here once per bind (its classification kernel, on
  /// the null stream, synchronised) and shared by the sets (they share the captures).
  std::vector<std::vector<std::byte>> bind(const DeviceProblem &problem) const;
  /// Milliseconds the last bind() spent building the block mask (0 without one).
  double blockMaskBuildMs() const { return blockMaskMs_; }
  /// Launches with `params` (one of bind()'s) on `stream`; does not synchronise. Throws CudaError.
  void launch(const DeviceProblem &problem, std::vector<std::byte> &params, CUstream stream) const;

private:
  runtime::Module module_;
  CUfunction function_ = nullptr;
  LaunchInfo info_;
  int smCount_ = 0; ///< persistent grids: the blocks that run at once (runtime::persistentBlocks)
  CUfunction blockMaskFunction_ = nullptr;       ///< the classification kernel, when the kernel has one
  mutable runtime::DeviceBuffer blockMaskLists_; ///< its lists for the last bind()
  mutable double blockMaskMs_ = 0;
  /// The tile counter of a dynamic tile scheduler (q_tile_order dynamic), zeroed once: its launches run in the
  /// legacy stream's order, one at a time, and each one's last block resets it.
  mutable runtime::DeviceBuffer tileCounter_;
};

struct Timing {
  std::vector<float> ms; ///< one per timed run
  double median = 0, min = 0, max = 0;
};

/// The median of `values` (the mean of the two middle ones for an even count); 0 when empty.
template <typename T> double medianOf(std::vector<T> values) {
  if (values.empty())
    return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? double(values[n / 2]) : 0.5 * (double(values[n / 2 - 1]) + double(values[n / 2]));
}

/// `warmup` launches, then one launch between CUDA events per run, rotating sets; as many runs as
/// fit in `budgetMs` (by the first run's time), clamped to [minReps, maxReps]. Synchronises.
Timing timeKernel(const LoadedKernel &kernel, const DeviceProblem &problem, int warmup, int minReps,
                  int maxReps, double budgetMs);

} // namespace tilefuse::tuner::detail
