//===- Bench.cpp - time and check one kernel --------------------------------===//
//
// 1. the schedule: --schedule, else the cache entry of this GPU (its CUBIN is used as is), else the
//    default; 2. small-shape check (every row); 3. timing on rotated inputs at the real shape;
// 4. check of sampled rows at the real shape.
//
#include "tilefuse/tuner/Tuner.h"

#include "Compile.h"
#include "TuneSupport.h"

#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/tuner/KernelBuild.h"

namespace tilefuse::tuner {

BenchResult bench(const spec::Spec &spec, const spec::Shape &shape, const BenchOptions &options,
                  Cache &cache) {
  using namespace detail;
  BenchResult result;
  result.spec = spec;
  result.shape = shape;
  result.device = currentDevice(options.device);
  runtime::retainPrimaryContext(options.device);
  const std::string arch = result.device.arch();

  // 1. The kernel.
  ScheduleChoice choice = chooseSchedule(spec, shape, arch, cache, &result.device, options.schedule);
  result.schedule = choice.schedule;
  result.scheduleSource = choice.source;
  result.note = choice.note;
  KernelBuilder builder(spec, shape);
  std::vector<char> cubin;
  LaunchInfo launch;
  if (choice.entry) {
    cubin = choice.entry->cubin;
    launch = choice.entry->launch;
    result.cachedMs = choice.entry->tuning.medianMs;
  } else {
    KernelSource src = builder.generate(choice.schedule);
    Compiled c = compileKernel(src, arch);
    if (!c.ok)
      throw std::runtime_error(describe(spec, shape) + ", schedule " + choice.schedule.toString() +
                               ": NVRTC failed: " + c.error);
    cubin = std::move(c.cubin);
    launch = src.launch();
  }
  std::tie(result.usefulFlops, result.flopsRule) =
      usefulFlops(builder, defaultFor(spec, shape, arch), shape);
  LoadedKernel kernel(cubin, launch);

  // 2. Every row at the small shape.
  const uint64_t seed = freshSeed(options.seed);
  const spec::Shape small = gateShape(shape);
  HostInputs smallInputs = makeInputs(spec, small, seed);
  DeviceProblem smallProblem(spec, smallInputs, 1);
  result.small = runAndCheck(spec, smallInputs, smallProblem, kernel, sampleRows(small, INT64_MAX, seed));

  // 3. Timing on rotated copies of the real shape's inputs.
  HostInputs inputs = makeInputs(spec, shape, seed + 1);
  const std::size_t perSet = bytesPerSet(spec, shape);
  const runtime::DeviceInfo info = runtime::deviceInfo(options.device);
  DeviceProblem problem(spec, inputs,
                        rotationSets(perSet, static_cast<std::size_t>(info.l2CacheBytes), options.l2Multiple,
                                     std::size_t(8) << 30));
  Timing t = timeKernel(kernel, problem, options.warmup, options.reps, options.reps, 1e30);
  result.blockMaskBuildMs = kernel.blockMaskBuildMs();
  result.medianMs = t.median, result.minMs = t.min, result.maxMs = t.max;
  result.reps = static_cast<int>(t.ms.size());
  result.tflops = result.usefulFlops / (result.medianMs * 1e-3) / 1e12;

  // 4. Sampled rows of the real shape.
  result.sampled = runAndCheck(spec, inputs, problem, kernel, sampleRows(shape, options.sampleRows, seed));
  return result;
}

} // namespace tilefuse::tuner
