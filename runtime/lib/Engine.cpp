//===- Engine.cpp - kernels memoized per spec, shape bucket and schedule ------===//
//
// getKernel in four steps:
//   1. the decision table: (spec hash, shape bucket, policy) -> kernel, when asked before;
//   2. the choice: Heuristic -> defaultSchedule; TuneOnMiss / FailOnMiss -> the ScheduleSource's
//      compiled kernel (lookupKernel: the tuner cache's CUBIN), else its schedule (lookup), else
//      tune (TuneOnMiss, which also records a CUBIN) or CacheMissError (FailOnMiss);
//   3. the kernel table: (spec hash, D, Dv, group, schedule) -> slot; the first thread to take a
//      slot's mutex builds it (loads the cached CUBIN, or generates -> NVRTC -> loads), the others
//      wait for it;
//   4. record the decision.
// The table mutex is never held while compiling, so different kernels build concurrently.
//
#include "EngineBuild.h"
#include "Launch.h"

#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/spec/Spec.h"

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string_view>
#include <unordered_map>

#ifndef TILEFUSE_VERSION
#error "TILEFUSE_VERSION must be defined by runtime/CMakeLists.txt"
#endif

namespace tilefuse {

const char *version() { return TILEFUSE_VERSION; }

const char *spelling(Policy p) {
  switch (p) {
  case Policy::Heuristic: return "heuristic";
  case Policy::TuneOnMiss: return "tune-on-miss";
  case Policy::FailOnMiss: return "fail-on-miss";
  }
  return "?";
}

namespace {

double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

ShapeBucket ShapeBucket::of(const spec::Shape &s) {
  const spec::Shape b = spec::bucketShape(s);
  return {b.B, b.Hq, b.Hkv, b.Sq, b.Sk, b.D, b.Dv};
}

std::string ShapeBucket::toString() const {
  return "B<=" + std::to_string(B) + " Hq=" + std::to_string(Hq) + " Hkv=" + std::to_string(Hkv) + " Sq<=" +
         std::to_string(Sq) + " Sk<=" + std::to_string(Sk) + " D=" + std::to_string(D) + " Dv=" + std::to_string(Dv);
}

const KernelInfo &KernelHandle::info() const {
  if (!kernel_)
    throw std::logic_error("KernelHandle::info() on an empty handle");
  return kernel_->info;
}

struct Engine::Impl {
  /// One kernel table entry; `kernel` is set once, under `mutex`, by the thread that built it.
  struct Slot {
    std::mutex mutex;
    std::unique_ptr<detail::Kernel> kernel;
    std::atomic<bool> built{false}; ///< kernel is set (read without the slot's mutex)
  };

  DeviceDescription device;
  CUcontext context = nullptr;
  EngineOptions options;
  runtime::CompileOptions compile;

  mutable std::once_flag defaultSourceOnce; // the tuner's cache, opened on first need
  mutable std::shared_ptr<ScheduleSource> defaultSource;
  ScheduleSource *scheduleSource() const;

  /// Block masks launch() built on first use, by kernel, sizes and capture addresses / strides.
  mutable std::mutex maskMutex;
  mutable std::map<std::string, BlockMask> masks;
  /// The kept mask for these captures and sizes (built on first use). By value: a shared reference to
  /// its lists, so a clearBlockMasks() on another thread cannot free them under this launch.
  BlockMask maskFor(const detail::Kernel &k, const AttentionArgs &args, CUstream stream) const;

  mutable std::mutex mutex; // guards the two tables (not the slots' contents)
  std::unordered_map<std::string, std::shared_ptr<Slot>> kernels;
  std::unordered_map<std::string, const detail::Kernel *> decisions;

  /// The schedule to build, and the source's CUBIN of it when it has one.
  struct Choice {
    codegen::Schedule schedule;
    std::optional<CachedKernel> cached;
  };
  Choice choose(const spec::Spec &spec, const spec::Shape &shape, const std::string &hash, Policy policy,
                std::span<const HostCaptureRef> captures) const;
  std::unique_ptr<detail::Kernel> build(const spec::Spec &spec, const spec::Shape &shape, const std::string &hash,
                                        const codegen::Schedule &schedule, Policy policy) const;
  /// Loads a source's CUBIN; nullptr (and `why`) when it cannot be used, so getKernel compiles.
  std::unique_ptr<detail::Kernel> loadCached(const spec::Spec &spec, const spec::Shape &shape,
                                             const std::string &hash, const codegen::Schedule &schedule,
                                             const CachedKernel &cached, Policy policy, std::string &why) const;
  /// Throws UnsupportedError when the kernel needs more shared memory than the device has.
  void checkSharedMemory(const codegen::LaunchDescription &launch, const spec::Spec &spec,
                         const codegen::Schedule &schedule) const;
  /// Loads `cubin` into the engine's context and fills the launch fields and KernelInfo of `k`.
  void load(detail::Kernel &k, const std::vector<char> &cubin, const codegen::LaunchDescription &launch,
            const spec::Spec &spec, const spec::Shape &shape, const std::string &hash,
            const codegen::Schedule &schedule, Policy policy) const;
};

std::optional<CachedKernel> ScheduleSource::lookupKernel(const ScheduleQuery &) { return std::nullopt; }

ScheduleSource *Engine::Impl::scheduleSource() const {
  if (options.schedules)
    return options.schedules.get();
  std::call_once(defaultSourceOnce, [this] { defaultSource = detail::defaultScheduleSource(); });
  return defaultSource.get();
}

Engine::Impl::Choice Engine::Impl::choose(const spec::Spec &spec, const spec::Shape &shape, const std::string &hash,
                                           Policy policy, std::span<const HostCaptureRef> captures) const {
  if (policy == Policy::Heuristic)
    return {detail::heuristicSchedule(spec, shape, device.arch, options.backend), std::nullopt};
  ScheduleQuery q{&spec, hash, shape, ShapeBucket::of(shape), device.ordinal, device.name, device.arch, captures};
  const std::string what = "spec '" + spec.name + "' (" + hash + ") " + q.bucket.toString() + " on " + device.name +
                           " (" + device.arch + ")";
  ScheduleSource *source = scheduleSource();
  if (!source)
    throw CacheMissError(std::string("Policy::") + (policy == Policy::TuneOnMiss ? "TuneOnMiss" : "FailOnMiss") +
                         " for " + what + ": no ScheduleSource attached and this build has no tuner cache");
  auto parse = [&](const std::string &json) {
    try {
      codegen::Schedule s = codegen::scheduleFromJson(json);
      s.validate();
      return s;
    } catch (const codegen::ScheduleError &e) {
      throw UnsupportedError("the schedule source returned a bad schedule for " + what + ": " + json + ": " +
                             e.what());
    }
  };
  auto usable = [](const std::optional<CachedKernel> &c) { return c && c->launch && !c->cubin.empty(); };
  // A compiled kernel first (a cache hit needs neither MLIR nor NVRTC), then a schedule.
  if (std::optional<CachedKernel> cached = source->lookupKernel(q); usable(cached))
    return {parse(cached->scheduleJson), std::move(cached)};
  std::optional<std::string> json = source->lookup(q);
  if (json)
    return {parse(*json), std::nullopt};
  if (policy == Policy::FailOnMiss)
    throw CacheMissError("no cached schedule for " + what + " (Policy::FailOnMiss)");
  Choice c{parse(source->tune(q)), std::nullopt};
  // Tuning recorded the winner's CUBIN: load it rather than compile the same source again.
  if (std::optional<CachedKernel> cached = source->lookupKernel(q);
      usable(cached) && cached->scheduleJson == c.schedule.toJson())
    c.cached = std::move(cached);
  return c;
}

void Engine::Impl::checkSharedMemory(const codegen::LaunchDescription &launch, const spec::Spec &spec,
                                     const codegen::Schedule &schedule) const {
  if (launch.dynamicSmemBytes > static_cast<std::size_t>(device.maxSharedPerBlockOptin))
    throw UnsupportedError("kernel " + launch.kernelName + " for spec '" + spec.name + "' needs " +
                           std::to_string(launch.dynamicSmemBytes) + " bytes of shared memory per block; " +
                           device.name + " allows " + std::to_string(device.maxSharedPerBlockOptin) +
                           " (schedule " + schedule.toString() + ")");
}

void Engine::Impl::load(detail::Kernel &k, const std::vector<char> &cubin, const codegen::LaunchDescription &launch,
                        const spec::Spec &spec, const spec::Shape &shape, const std::string &hash,
                        const codegen::Schedule &schedule, Policy policy) const {
  checkSharedMemory(launch, spec, schedule);
  k.plan = detail::makePackPlan(launch.params, spec, shape.groupSize(), launch.kernelName);
  k.plan.headDim = shape.D, k.plan.valueDim = shape.Dv;

  // Load into the engine's context; opt into > 48 KB of dynamic shared memory.
  const auto loadStart = std::chrono::steady_clock::now();
  runtime::setCurrentContext(context);
  k.module = runtime::Module(cubin);
  k.function = k.module.function(launch.kernelName.c_str());
  if (launch.dynamicSmemBytes > 48 * 1024)
    runtime::funcSetAttribute(k.function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                              static_cast<int>(launch.dynamicSmemBytes));
  if (launch.params.blockMask.present) {
    k.blockMask = launch.params.blockMask;
    k.blockMaskFunction = k.module.function(k.blockMask.kernelName(launch.kernelName).c_str());
  }
  k.context = context;
  k.grid = launch.grid;
  if (launch.grid.persistent) // the grid's size; unused by other grids
    k.smCount = runtime::persistentBlocks(k.function, launch.grid.cluster, static_cast<unsigned>(launch.threadsPerBlock),
                                          static_cast<unsigned>(launch.dynamicSmemBytes));
  k.threads = static_cast<unsigned>(launch.threadsPerBlock);
  k.smemBytes = static_cast<unsigned>(launch.dynamicSmemBytes);

  KernelInfo &i = k.info;
  i.specName = spec.name;
  i.specHash = hash;
  i.kernelName = launch.kernelName;
  i.arch = schedule.mma == codegen::MmaFamily::Wgmma ? std::string("sm_90a") : compile.arch; // the target
  i.scheduleJson = schedule.toJson();
  i.policy = spelling(policy);
  i.grid = launch.grid.toString();
  i.D = shape.D, i.Dv = shape.Dv, i.group = shape.groupSize();
  i.threadsPerBlock = launch.threadsPerBlock;
  i.dynamicSmemBytes = launch.dynamicSmemBytes;
  i.paramBytes = launch.params.bytes;
  i.blockMask = launch.params.blockMask.present;
  i.registers = runtime::funcGetAttribute(k.function, CU_FUNC_ATTRIBUTE_NUM_REGS);
  i.localBytes = runtime::funcGetAttribute(k.function, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES);
  i.cubinBytes = cubin.size();
  i.loadMs = msSince(loadStart);
}

std::unique_ptr<detail::Kernel> Engine::Impl::build(const spec::Spec &spec, const spec::Shape &shape,
                                                    const std::string &hash, const codegen::Schedule &schedule,
                                                    Policy policy) const {
  // 1. Source: lower -> fuse -> generate (driver::buildKernel).
  driver::BuiltKernel g = detail::buildSource(spec, shape, schedule);
  const codegen::LaunchDescription launch = g.launch();
  checkSharedMemory(launch, spec, schedule); // before spending a compile on it

  // 2. NVRTC: CUBIN for the device's exact sm_XY (sm_90a for the sm90 backend), PTX kept.
  runtime::CompileOptions options = compile;
  try {
    options.arch = codegen::compileArch(schedule, compile.arch);
  } catch (const codegen::ScheduleError &e) {
    throw UnsupportedError(spec.name + ": " + e.what());
  }
  runtime::CompileResult c = runtime::compileCuda(g.source, options);

  // 3. Load.
  auto k = std::make_unique<detail::Kernel>();
  load(*k, c.cubin, launch, spec, shape, hash, schedule, policy);
  KernelInfo &i = k->info;
  i.origin = "compiled";
  i.generateMs = g.generateMs;
  i.compileMs = c.compileMs;
  i.source = std::move(g.source);
  i.ptx = std::move(c.ptx);
  return k;
}

std::unique_ptr<detail::Kernel> Engine::Impl::loadCached(const spec::Spec &spec, const spec::Shape &shape,
                                                         const std::string &hash, const codegen::Schedule &schedule,
                                                         const CachedKernel &cached, Policy policy,
                                                         std::string &why) const {
  auto k = std::make_unique<detail::Kernel>();
  try {
    load(*k, cached.cubin, *cached.launch, spec, shape, hash, schedule, policy);
  } catch (const std::exception &e) { // a CUBIN the driver refuses, a layout that disagrees with the spec
    why = e.what();
    return nullptr;
  }
  k->info.origin = cached.origin.empty() ? std::string("cached") : cached.origin;
  return k;
}

Engine::Engine(int device, EngineOptions options) : impl_(std::make_unique<Impl>()) {
  const runtime::DeviceInfo info = runtime::deviceInfo(device); // NoGpuError without a driver
  impl_->device = {info.ordinal, info.name, info.arch(), info.smCount, info.maxSharedPerBlockOptin};
  impl_->context = runtime::retainPrimaryContext(device);
  impl_->options = std::move(options);
  impl_->compile = detail::compileOptions(impl_->device.arch, impl_->options);
}

Engine::~Engine() {
  if (!impl_)
    return;
  try {
    runtime::setCurrentContext(impl_->context); // modules unload from their context
  } catch (...) {
  }
  impl_->decisions.clear();
  impl_->kernels.clear();
}

const DeviceDescription &Engine::device() const noexcept { return impl_->device; }

std::size_t Engine::kernelCount() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto &[key, slot] : impl_->kernels) // never waits for a build in progress
    n += slot->built.load();
  return n;
}

KernelHandle Engine::getKernel(const std::string &specPath, const spec::Shape &shape, Policy policy,
                              std::span<const HostCaptureRef> captures) {
  return getKernel(spec::parseSpecFile(specPath), shape, policy, captures);
}

KernelHandle Engine::getKernel(const spec::Spec &spec, const spec::Shape &shape, Policy policy,
                              std::span<const HostCaptureRef> captures) {
  detail::checkShape(shape);
  const std::string hash = spec::contentHashHex(spec);
  std::string decisionKey = hash + "/" + ShapeBucket::of(shape).toString() + "/" + spelling(policy);
  // Host captures choose the cache entry (their mask density class): one decision per contents.
  if (policy != Policy::Heuristic)
    for (const HostCaptureRef &c : captures) {
      decisionKey += '/';
      decisionKey += c.data ? std::to_string(std::hash<std::string_view>{}(
                                  std::string_view(static_cast<const char *>(c.data), c.bytes)))
                            : std::string("null");
      decisionKey += ':';
      decisionKey += std::to_string(c.bytes);
    }
  // 1. Asked before?
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (auto it = impl_->decisions.find(decisionKey); it != impl_->decisions.end())
      return KernelHandle(it->second);
  }
  // 2. The schedule, with the source's CUBIN of it if any (may tune; no lock held).
  Impl::Choice choice = impl_->choose(spec, shape, hash, policy, captures);
  const codegen::Schedule &schedule = choice.schedule;
  // 3. The kernel: find or insert its slot, then build it once.
  std::shared_ptr<Impl::Slot> slot;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    std::shared_ptr<Impl::Slot> &s = impl_->kernels[detail::kernelKey(hash, shape, schedule)];
    if (!s)
      s = std::make_shared<Impl::Slot>();
    slot = s;
  }
  const detail::Kernel *kernel = nullptr;
  {
    std::lock_guard<std::mutex> slotLock(slot->mutex);
    if (!slot->kernel) {
      std::string why;
      if (choice.cached)
        slot->kernel = impl_->loadCached(spec, shape, hash, schedule, *choice.cached, policy, why);
      if (!slot->kernel) { // no CUBIN, or one that cannot be used: compile the schedule
        slot->kernel = impl_->build(spec, shape, hash, schedule, policy); // a failure leaves it empty: retried
        if (!why.empty())
          slot->kernel->info.origin = "compiled (the cached CUBIN could not be used: " + why + ")";
      }
      slot->built = true;
    }
    kernel = slot->kernel.get();
  }
  // 4. Remember the decision.
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->decisions.emplace(decisionKey, kernel);
  }
  return KernelHandle(kernel);
}

BlockMask Engine::Impl::maskFor(const detail::Kernel &k, const AttentionArgs &args, CUstream stream) const {
  // The key: the kernel, the sizes the lists depend on, each capture's address and strides.
  std::string key = std::to_string(reinterpret_cast<uintptr_t>(&k)) + ":" + std::to_string(args.B) + "," +
                    std::to_string(args.Hq) + "," + std::to_string(args.Sq) + "," + std::to_string(args.Sk);
  for (const CaptureRef &c : args.captures) {
    key += ';';
    key += std::to_string(reinterpret_cast<uintptr_t>(c.data));
    if (c.strides) {
      const detail::PackTensor *t = nullptr;
      for (const detail::PackTensor &pt : k.plan.tensors)
        if (pt.captureSlot == static_cast<int>(&c - args.captures.data()))
          t = &pt;
      for (int d = 0; t && d + 1 < t->rank; ++d)
        (key += '/') += std::to_string(c.strides[d]);
    }
  }
  std::lock_guard<std::mutex> lock(maskMutex);
  auto it = masks.find(key);
  if (it == masks.end())
    it = masks.emplace(key, BlockMask(detail::buildBlockMask(k, args, stream))).first;
  return it->second;
}

void Engine::launch(KernelHandle kernel, const AttentionArgs &args, CUstream stream) const {
  if (!kernel)
    throw LaunchError("launch: empty KernelHandle");
  const detail::Kernel &k = *kernel.get();
  if (!k.blockMask.present)
    return detail::launch(k, args, stream);
  const BlockMask mask = impl_->maskFor(k, args, stream);
  detail::launch(k, args, mask.get(), stream);
}

void Engine::launch(KernelHandle kernel, const AttentionArgs &args, const BlockMask &mask, CUstream stream) const {
  if (!kernel)
    throw LaunchError("launch: empty KernelHandle");
  detail::launch(*kernel.get(), args, mask.get(), stream);
}

BlockMask Engine::buildBlockMask(KernelHandle kernel, const AttentionArgs &args, CUstream stream) const {
  if (!kernel)
    throw LaunchError("buildBlockMask: empty KernelHandle");
  return BlockMask(detail::buildBlockMask(*kernel.get(), args, stream));
}

void Engine::clearBlockMasks() {
  std::lock_guard<std::mutex> lock(impl_->maskMutex);
  if (impl_->masks.empty())
    return;
  runtime::setCurrentContext(impl_->context);
  runtime::contextSynchronize(); // launches in flight may still read the lists freed below
  impl_->masks.clear();
}

std::size_t BlockMask::bytes() const noexcept { return data_ ? data_->buffer.bytes() : 0; }

BlockMask::HostLists BlockMask::download() const {
  HostLists h;
  if (!data_)
    return h;
  runtime::setCurrentContext(data_->kernel->context);
  runtime::contextSynchronize();
  const std::vector<int32_t> all = data_->buffer.download<int32_t>();
  h.rows = data_->rows, h.kvTiles = data_->kvTiles, h.perHead = data_->kernel->blockMask.perHead;
  const auto at = [&](int64_t from, int64_t n) {
    return std::vector<int32_t>(all.begin() + from, all.begin() + from + n);
  };
  h.kvNumBlocks = at(0, h.rows);
  h.kvIndices = at(h.rows, h.rows * h.kvTiles);
  h.fullKvNumBlocks = at(h.rows + h.rows * h.kvTiles, h.rows);
  h.fullKvIndices = at(2 * h.rows + h.rows * h.kvTiles, h.rows * h.kvTiles);
  return h;
}

} // namespace tilefuse
