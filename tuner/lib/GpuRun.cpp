//===- GpuRun.cpp - device buffers, launches, CUDA-event timing ------------===//
#include "GpuRun.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <array>
#include <cmath>

namespace tilefuse::tuner::detail {
namespace {

/// Row-major strides (elements) of a dense tensor.
std::vector<int64_t> denseStrides(const std::vector<int64_t> &shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/// RAII pair of CUDA events.
struct EventPair {
  CUevent start = runtime::eventCreate(), end = runtime::eventCreate();
  EventPair() = default;
  EventPair(const EventPair &) = delete;
  EventPair &operator=(const EventPair &) = delete;
  EventPair(EventPair &&o) noexcept : start(o.start), end(o.end) { o.start = o.end = nullptr; }
  ~EventPair() {
    if (start)
      runtime::eventDestroy(start);
    if (end)
      runtime::eventDestroy(end);
  }
};

} // namespace

DeviceProblem::DeviceProblem(const spec::Spec &spec, const HostInputs &in, int sets)
    : shape_(in.shape), lse_(spec.lse), cuQ_(in.cuQ), cuK_(in.cuK) {
  const spec::Shape &s = in.shape;
  const int64_t rowsQ = cuQ_.empty() ? s.B * s.Sq : cuQ_.back(); // rows of O: B * Sq, or total_q
  const std::size_t qBytes = in.Q.size() * 2, kBytes = in.K.size() * 2, vBytes = in.V.size() * 2;
  const std::size_t oBytes = static_cast<std::size_t>(std::max<int64_t>(rowsQ, 1) * s.Hq * s.Dv) * 2;
  const std::size_t lseBytes = lse_ ? static_cast<std::size_t>(std::max<int64_t>(rowsQ, 1) * s.Hq) * 4 : 0;
  if (!cuQ_.empty()) {
    auto upload = [](const std::vector<int64_t> &cu) {
      std::vector<int32_t> cu32(cu.begin(), cu.end()); // checked < 2^31 by spec::makePackedSeqs
      runtime::DeviceBuffer buf(cu32.size() * 4);
      buf.upload(cu32);
      return buf;
    };
    cuQDevice_ = upload(cuQ_), cuKDevice_ = upload(cuK_);
  }
  bytesPerSet_ = qBytes + kBytes + vBytes + oBytes + lseBytes;
  for (int i = 0; i < std::max(1, sets); ++i) {
    Set set{runtime::DeviceBuffer(qBytes), runtime::DeviceBuffer(kBytes), runtime::DeviceBuffer(vBytes),
            runtime::DeviceBuffer(oBytes), runtime::DeviceBuffer(lseBytes)};
    set.Q.upload(in.Q);
    set.K.upload(in.K);
    set.V.upload(in.V);
    sets_.push_back(std::move(set));
    poisonOutputs(i);
  }
  for (std::size_t c = 0; c < in.captures.bytes.size(); ++c) {
    runtime::DeviceBuffer buf(std::max<std::size_t>(in.captures.bytes[c].size(), 16));
    buf.upload(in.captures.bytes[c]);
    captures_.push_back(std::move(buf));
    captureShapes_.push_back(in.captures.shapes[c]);
  }
}

namespace {
/// codegen::TensorMapEncoder through the driver (sm90 kernels' TMA tensor maps).
void encodeTensorMap(std::byte *out, const codegen::ParamField &f, const codegen::TensorAbi &abi,
                     const codegen::TensorBinding &t) {
  runtime::TensorMapRequest m;
  m.dataType = abi.elementType == "f16" ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  m.rank = abi.rank, m.address = t.address, m.shape = t.shape.data(), m.strides = t.strides.data();
  m.elementBytes = abi.elementBytes, m.boxRows = f.boxRows, m.boxCols = f.boxCols;
  runtime::encodeTensorMap(out, m);
}
} // namespace

std::vector<std::byte> DeviceProblem::params(const codegen::ParamLayout &layout, int index) const {
  const Set &set = sets_.at(static_cast<std::size_t>(index));
  const spec::Shape &s = shape_;
  std::vector<codegen::TensorBinding> bindings;
  std::size_t capture = 0;
  const bool packed = !cuQ_.empty();
  const int64_t totalQ = packed ? cuQ_.back() : 0, totalK = packed ? cuK_.back() : 0;
  // Packed: [total, H, D] and LSE [Hq, total_q]; batched: [B, H, S, D] and LSE [B, Hq, Sq]. Dense.
  using Dims = std::vector<int64_t>;
  auto rows = [&](int64_t total, int64_t S, int64_t H, int64_t D) { return packed ? Dims{total, H, D} : Dims{s.B, H, S, D}; };
  for (const codegen::TensorAbi &t : layout.tensors) {
    codegen::TensorBinding b;
    switch (t.arg.role) {
    case codegen::TensorRole::Q: b = {set.Q.get(), rows(totalQ, s.Sq, s.Hq, s.D), {}}; break;
    case codegen::TensorRole::K: b = {set.K.get(), rows(totalK, s.Sk, s.Hkv, s.D), {}}; break;
    case codegen::TensorRole::V: b = {set.V.get(), rows(totalK, s.Sk, s.Hkv, s.Dv), {}}; break;
    case codegen::TensorRole::O: b = {set.O.get(), rows(totalQ, s.Sq, s.Hq, s.Dv), {}}; break;
    case codegen::TensorRole::LSE: b = {set.LSE.get(), packed ? Dims{s.Hq, totalQ} : Dims{s.B, s.Hq, s.Sq}, {}}; break;
    case codegen::TensorRole::Capture:
      b = {captures_.at(capture).get(), captureShapes_.at(capture), {}};
      ++capture;
      break;
    case codegen::TensorRole::Operand: // chains are benched by runBenchChain (CommandChain.cpp)
      throw std::invalid_argument("a spec's problem cannot bind the operands of a chain kernel");
    }
    b.strides = denseStrides(b.shape);
    bindings.push_back(std::move(b));
  }
  if (packed) {
    const codegen::PackedBinding pk{cuQDevice_.get(), cuKDevice_.get(), totalQ, totalK};
    return codegen::packParams(layout, {s.B, s.Hq, s.Hkv, s.Sq, s.Sk}, bindings, &encodeTensorMap, &pk);
  }
  return codegen::packParams(layout, {s.B, s.Hq, s.Hkv, s.Sq, s.Sk}, bindings, &encodeTensorMap);
}

void DeviceProblem::poisonOutputs(int index) {
  Set &set = sets_.at(static_cast<std::size_t>(index));
  set.O.fill(0xFF);
  if (set.LSE.bytes())
    set.LSE.fill(0xFF);
}

void DeviceProblem::readRows(const std::vector<RowIndex> &rows, int index, std::vector<uint16_t> &O,
                             std::vector<float> &LSE) const {
  const Set &set = sets_.at(static_cast<std::size_t>(index));
  const spec::Shape &s = shape_;
  O.assign(rows.size() * static_cast<std::size_t>(s.Dv), 0);
  LSE.assign(lse_ ? rows.size() : 0, 0.0f);
  // Whole tensors when small, row by row otherwise.
  const bool packed = !cuQ_.empty();
  const int64_t rowsQ = packed ? cuQ_.back() : s.B * s.Sq;
  const bool whole = rows.size() * 8 >= static_cast<std::size_t>(rowsQ * s.Hq);
  std::vector<uint16_t> allO;
  std::vector<float> allLse;
  if (whole) {
    allO = set.O.download<uint16_t>();
    if (lse_)
      allLse = set.LSE.download<float>();
  }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    // Row of O (Dv elements) and element of LSE: [B, Hq, Sq, Dv] / [B, Hq, Sq], or packed
    // [total_q, Hq, Dv] / [Hq, total_q].
    const int64_t token = packed ? cuQ_[rows[r].b] + rows[r].q : 0;
    const int64_t flat = packed ? token * s.Hq + rows[r].h : (rows[r].b * s.Hq + rows[r].h) * s.Sq + rows[r].q;
    const int64_t lseAt = packed ? rows[r].h * rowsQ + token : flat;
    uint16_t *dst = &O[r * s.Dv];
    if (whole)
      std::copy_n(&allO[flat * s.Dv], s.Dv, dst);
    else
      runtime::memcpyDtoH(dst, set.O.get() + flat * s.Dv * 2, s.Dv * 2);
    if (lse_) {
      if (whole)
        LSE[r] = allLse[lseAt];
      else
        runtime::memcpyDtoH(&LSE[r], set.LSE.get() + lseAt * 4, 4);
    }
  }
}

codegen::ProblemSizes DeviceProblem::sizes() const {
  const spec::Shape &s = shape_;
  return {s.B, s.Hq, s.Hkv, s.Sq, s.Sk, cuQ_.empty() ? 0 : cuQ_.back()};
}

int rotationSets(std::size_t bytesPerSet, std::size_t l2Bytes, double multiple, std::size_t maxBytes) {
  if (bytesPerSet == 0)
    return 1;
  const double want = multiple * static_cast<double>(l2Bytes);
  int sets = static_cast<int>(std::ceil(want / static_cast<double>(bytesPerSet)));
  sets = std::clamp(sets, 1, 64);
  while (sets > 1 && static_cast<std::size_t>(sets) * bytesPerSet > maxBytes)
    --sets;
  return sets;
}

LoadedKernel::LoadedKernel(const std::vector<char> &cubin, LaunchInfo launch)
    : module_(cubin), info_(std::move(launch)) {
  function_ = module_.function(info_.kernelName.c_str());
  const int smemLimit = runtime::currentDeviceMaxSharedPerBlockOptin();
  if (info_.dynamicSmemBytes > static_cast<std::size_t>(smemLimit))
    throw std::runtime_error("kernel " + info_.kernelName + " needs " + std::to_string(info_.dynamicSmemBytes) +
                             " bytes of dynamic shared memory per block; this GPU allows " +
                             std::to_string(smemLimit) + ": use a smaller block_n, block_m or kv_stages");
  if (info_.dynamicSmemBytes > 48 * 1024)
    runtime::funcSetAttribute(function_, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                              static_cast<int>(info_.dynamicSmemBytes));
  if (info_.grid.persistent)
    smCount_ = runtime::persistentBlocks(function_, info_.grid.cluster, static_cast<unsigned>(info_.threadsPerBlock),
                                         static_cast<unsigned>(info_.dynamicSmemBytes));
  if (info_.params.blockMask.present)
    blockMaskFunction_ = module_.function(info_.params.blockMask.kernelName(info_.kernelName).c_str());
}

int LoadedKernel::registers() const {
  return runtime::funcGetAttribute(function_, CU_FUNC_ATTRIBUTE_NUM_REGS);
}

int LoadedKernel::localBytes() const {
  return runtime::funcGetAttribute(function_, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES);
}

std::vector<std::vector<std::byte>> LoadedKernel::bind(const DeviceProblem &problem) const {
  std::vector<std::vector<std::byte>> out;
  for (int i = 0; i < problem.sets(); ++i)
    out.push_back(problem.params(info_.params, i));
  if (const int64_t at = info_.params.tileCounterOffset(); at >= 0) {
    if (!tileCounter_.get())
      tileCounter_ = runtime::zeroedDeviceBuffer(8);
    const uint64_t address = tileCounter_.get();
    for (std::vector<std::byte> &p : out)
      std::memcpy(p.data() + at, &address, 8);
  }
  if (!blockMaskFunction_)
    return out;
  // The run-time block mask: lists for these sizes, patched into every set's Params, filled once.
  const codegen::BlockMaskAbi &bm = info_.params.blockMask;
  const spec::Shape &s = problem.shape();
  const codegen::ProblemSizes sizes = problem.sizes();
  if (bm.rows(sizes) * bm.kvTiles(sizes) >= (int64_t{1} << 31))
    throw std::runtime_error("block mask of " + std::to_string(bm.rows(sizes)) + " rows x " +
                             std::to_string(bm.kvTiles(sizes)) + " K/V tiles: over the 2^31 entries the kernel indexes");
  blockMaskLists_ = runtime::DeviceBuffer(static_cast<std::size_t>(bm.bytes(sizes)));
  const uint64_t base = blockMaskLists_.get(), counts = 4 * static_cast<uint64_t>(bm.rows(sizes));
  const uint64_t lists = counts * static_cast<uint64_t>(bm.kvTiles(sizes));
  const uint64_t address[4] = {base, base + counts, base + counts + lists, base + 2 * counts + lists};
  for (std::vector<std::byte> &p : out)
    for (const codegen::ParamField &f : info_.params.fields)
      if (f.source == codegen::ParamSource::BlockMask)
        std::memcpy(p.data() + f.offset, &address[f.dim], 8);
  EventPair e;
  runtime::eventRecord(e.start, nullptr);
  void *args[] = {out.front().data()};
  runtime::launchKernel(blockMaskFunction_,
                        {static_cast<unsigned>((s.Sq + bm.blockM - 1) / bm.blockM),
                         static_cast<unsigned>(bm.perHead ? s.Hq : 1), static_cast<unsigned>(s.B)},
                        {static_cast<unsigned>(codegen::BlockMaskAbi::kThreads), 1, 1}, 0, nullptr, args);
  runtime::eventRecord(e.end, nullptr);
  runtime::eventSynchronize(e.end);
  blockMaskMs_ = runtime::eventElapsedMs(e.start, e.end);
  return out;
}

void LoadedKernel::launch(const DeviceProblem &problem, std::vector<std::byte> &params,
                          CUstream stream) const {
  std::array<int64_t, 3> grid = info_.grid.evaluate(problem.sizes(), smCount_);
  void *args[] = {params.data()};
  runtime::launchKernel(function_,
                        {static_cast<unsigned>(grid[0]), static_cast<unsigned>(grid[1]),
                         static_cast<unsigned>(grid[2])},
                        {static_cast<unsigned>(info_.threadsPerBlock), 1, 1},
                        static_cast<unsigned>(info_.dynamicSmemBytes), stream, args);
}

Timing timeKernel(const LoadedKernel &kernel, const DeviceProblem &problem, int warmup, int minReps,
                  int maxReps, double budgetMs) {
  std::vector<std::vector<std::byte>> params = kernel.bind(problem);
  const int sets = problem.sets();
  int next = 0;
  auto launch = [&](CUstream stream) {
    kernel.launch(problem, params[next], stream);
    next = (next + 1) % sets;
  };
  for (int i = 0; i < warmup; ++i)
    launch(nullptr);
  // One run alone sizes the number of runs.
  EventPair probe;
  runtime::eventRecord(probe.start, nullptr);
  launch(nullptr);
  runtime::eventRecord(probe.end, nullptr);
  runtime::eventSynchronize(probe.end);
  const double first = std::max(1e-3, double(runtime::eventElapsedMs(probe.start, probe.end)));
  const double fit = budgetMs / first; // clamp as a double: budgetMs may be huge (bench: all reps)
  const int lo = std::max(1, minReps), hi = std::max(lo, maxReps);
  const int reps = fit >= hi ? hi : fit <= lo ? lo : static_cast<int>(fit);
  std::vector<EventPair> events(static_cast<std::size_t>(reps));
  for (EventPair &e : events) {
    runtime::eventRecord(e.start, nullptr);
    launch(nullptr);
    runtime::eventRecord(e.end, nullptr);
  }
  runtime::eventSynchronize(events.back().end);
  Timing t;
  for (EventPair &e : events)
    t.ms.push_back(runtime::eventElapsedMs(e.start, e.end));
  t.median = medianOf(t.ms);
  t.min = *std::min_element(t.ms.begin(), t.ms.end());
  t.max = *std::max_element(t.ms.begin(), t.ms.end());
  return t;
}

} // namespace tilefuse::tuner::detail
