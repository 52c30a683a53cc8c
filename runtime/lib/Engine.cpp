//===- Engine.cpp - kernels memoized per spec, shape bucket and schedule ------===//
//
// getKernel in four steps:
//   1. the decision table: (spec hash, shape bucket, policy) -> kernel, when asked before;
//   2. the schedule: Heuristic -> defaultSchedule; TuneOnMiss / FailOnMiss -> ScheduleSource;
//   3. the kernel table: (spec hash, D, Dv, group, schedule) -> slot; the first thread to take a
//      slot's mutex builds (generate -> NVRTC -> load), the others wait for it;
//   4. record the decision.
// The table mutex is never held while compiling, so different kernels build concurrently.
//
#include "EngineBuild.h"
#include "Launch.h"

#include "tilefuse/runtime/Driver.h"
#include "tilefuse/spec/Spec.h"

#include <atomic>
#include <chrono>
#include <mutex>
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

int64_t bucketOf(int64_t n) {
  int64_t b = 64;
  while (b < n)
    b *= 2;
  return b;
}

double msSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

} // namespace

ShapeBucket ShapeBucket::of(const spec::Shape &s) {
  return {s.D, s.Dv, s.Hkv > 0 ? s.Hq / s.Hkv : 1, bucketOf(s.Sq), bucketOf(s.Sk)};
}

std::string ShapeBucket::toString() const {
  return "D=" + std::to_string(D) + " Dv=" + std::to_string(Dv) + " G=" + std::to_string(group) +
         " Sq<=" + std::to_string(sqBucket) + " Sk<=" + std::to_string(skBucket);
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

  mutable std::mutex mutex; // guards the two tables (not the slots' contents)
  std::unordered_map<std::string, std::shared_ptr<Slot>> kernels;
  std::unordered_map<std::string, const detail::Kernel *> decisions;

  codegen::Schedule chooseSchedule(const spec::Spec &spec, const spec::Shape &shape, const std::string &hash,
                                   Policy policy) const;
  std::unique_ptr<detail::Kernel> build(const spec::Spec &spec, const spec::Shape &shape, const std::string &hash,
                                        const codegen::Schedule &schedule, Policy policy) const;
};

ScheduleSource *Engine::Impl::scheduleSource() const {
  if (options.schedules)
    return options.schedules.get();
  std::call_once(defaultSourceOnce, [this] { defaultSource = detail::defaultScheduleSource(); });
  return defaultSource.get();
}

codegen::Schedule Engine::Impl::chooseSchedule(const spec::Spec &spec, const spec::Shape &shape,
                                               const std::string &hash, Policy policy) const {
  if (policy == Policy::Heuristic)
    return detail::heuristicSchedule(spec, shape, device.arch);
  ScheduleQuery q{&spec, hash, shape, ShapeBucket::of(shape), device.ordinal, device.name, device.arch};
  const std::string what = "spec '" + spec.name + "' (" + hash + ") " + q.bucket.toString() + " on " + device.name +
                           " (" + device.arch + ")";
  ScheduleSource *source = scheduleSource();
  if (!source)
    throw CacheMissError(std::string("Policy::") + (policy == Policy::TuneOnMiss ? "TuneOnMiss" : "FailOnMiss") +
                         " for " + what + ": no ScheduleSource attached and this build has no tuner cache");
  std::optional<std::string> json = source->lookup(q);
  if (!json) {
    if (policy == Policy::FailOnMiss)
      throw CacheMissError("no cached schedule for " + what + " (Policy::FailOnMiss)");
    json = source->tune(q);
  }
  try {
    codegen::Schedule s = codegen::scheduleFromJson(*json);
    s.validate();
    return s;
  } catch (const codegen::ScheduleError &e) {
    throw UnsupportedError("the schedule source returned a bad schedule for " + what + ": " + *json + ": " + e.what());
  }
}

std::unique_ptr<detail::Kernel> Engine::Impl::build(const spec::Spec &spec, const spec::Shape &shape,
                                                    const std::string &hash, const codegen::Schedule &schedule,
                                                    Policy policy) const {
  // 1. Source: lower -> fuse -> generate.
  detail::GeneratedSource g = detail::generateSource(spec, shape, schedule);
  if (g.dynamicSmemBytes > static_cast<std::size_t>(device.maxSharedPerBlockOptin))
    throw UnsupportedError("kernel " + g.kernelName + " for spec '" + spec.name + "' needs " +
                           std::to_string(g.dynamicSmemBytes) + " bytes of shared memory per block; " + device.name +
                           " allows " + std::to_string(device.maxSharedPerBlockOptin) + " (schedule " +
                           schedule.toString() + ")");
  auto k = std::make_unique<detail::Kernel>();
  k->plan = detail::makePackPlan(g.params, spec, shape.groupSize(), g.kernelName);

  // 2. NVRTC: CUBIN for the device's exact sm_XY, PTX kept.
  runtime::CompileResult c = runtime::compileCuda(g.source, compile);

  // 3. Load into the engine's context; opt into > 48 KB of dynamic shared memory.
  const auto loadStart = std::chrono::steady_clock::now();
  runtime::setCurrentContext(context);
  k->module = runtime::Module(c.cubin);
  k->function = k->module.function(g.kernelName.c_str());
  if (g.dynamicSmemBytes > 48 * 1024)
    runtime::funcSetAttribute(k->function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                              static_cast<int>(g.dynamicSmemBytes));
  k->context = context;
  k->grid = g.grid;
  k->threads = static_cast<unsigned>(g.threadsPerBlock);
  k->smemBytes = static_cast<unsigned>(g.dynamicSmemBytes);

  KernelInfo &i = k->info;
  i.specName = spec.name;
  i.specHash = hash;
  i.kernelName = g.kernelName;
  i.arch = compile.arch;
  i.scheduleJson = schedule.toJson();
  i.policy = spelling(policy);
  i.grid = g.grid.toString();
  i.D = shape.D, i.Dv = shape.Dv, i.group = shape.groupSize();
  i.threadsPerBlock = g.threadsPerBlock;
  i.dynamicSmemBytes = g.dynamicSmemBytes;
  i.paramBytes = g.params.bytes;
  i.registers = runtime::funcGetAttribute(k->function, CU_FUNC_ATTRIBUTE_NUM_REGS);
  i.localBytes = runtime::funcGetAttribute(k->function, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES);
  i.cubinBytes = c.cubin.size();
  i.generateMs = g.generateMs;
  i.compileMs = c.compileMs;
  i.loadMs = msSince(loadStart);
  i.source = std::move(g.source);
  i.ptx = std::move(c.ptx);
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

KernelHandle Engine::getKernel(const std::string &specPath, const spec::Shape &shape, Policy policy) {
  return getKernel(spec::parseSpecFile(specPath), shape, policy);
}

KernelHandle Engine::getKernel(const spec::Spec &spec, const spec::Shape &shape, Policy policy) {
  detail::checkShape(shape);
  const std::string hash = spec::contentHashHex(spec);
  const std::string decisionKey = hash + "/" + ShapeBucket::of(shape).toString() + "/" + spelling(policy);
  // 1. Asked before?
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (auto it = impl_->decisions.find(decisionKey); it != impl_->decisions.end())
      return KernelHandle(it->second);
  }
  // 2. The schedule (may tune; no lock held).
  const codegen::Schedule schedule = impl_->chooseSchedule(spec, shape, hash, policy);
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
      slot->kernel = impl_->build(spec, shape, hash, schedule, policy); // a failure leaves it empty: retried
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

void Engine::launch(KernelHandle kernel, const AttentionArgs &args, CUstream stream) const {
  if (!kernel)
    throw LaunchError("launch: empty KernelHandle");
  detail::launch(*kernel.get(), args, stream);
}

} // namespace tilefuse
