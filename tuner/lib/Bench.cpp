//===- Bench.cpp - time and check one kernel --------------------------------===//
//
// 1. the schedule: --schedule, else the cache entry of this GPU (its CUBIN is used as is), else the
//    default; 2. small-shape check (every row); 3. timing on rotated inputs at the real shape;
// 4. check of sampled rows at the real shape. With options.energy, NVML's energy counter is read around
//    step 3's runs (repeated until they last kEnergyMinSeconds; detail::timeWithEnergy, which tune()
//    shares for its energy and edp objectives).
//
#include "tilefuse/tuner/Tuner.h"

#include "Compile.h"
#include "TuneSupport.h"

#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/runtime/Energy.h"
#include "tilefuse/tuner/KernelBuild.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

namespace tilefuse::tuner {

namespace detail {

/// TuneSupport.h. Fully masked tiles: about half for causal, as the batched bench counts; empty sequences count 0.
std::pair<double, std::string> packedFlops(KernelBuilder &builder, const codegen::Schedule &def,
                                           const spec::Shape &shape, const spec::PackedSeqs &seqs) {
  std::map<std::pair<int64_t, int64_t>, double> perPair; // (Sq_b, Sk_b) -> FLOPs
  double total = 0;
  bool tiles = false;
  for (int64_t b = 0; b < seqs.batch(); ++b) {
    const int64_t sq = seqs.lenQ(b), sk = seqs.lenK(b);
    if (sq == 0 || sk == 0)
      continue;
    auto [it, fresh] = perPair.try_emplace({sq, sk}, 0.0);
    if (fresh) {
      spec::Shape one = shape;
      one.B = 1, one.Sq = sq, one.Sk = sk;
      const double dense = 2.0 * double(one.Hq) * double(sq) * double(sk) * double(one.D + one.Dv);
      double f = dense;
      try {
        const double t = builder.tileFlops(def.blockM, def.blockN, one);
        if (t > 0 && t < dense)
          f = t, tiles = true;
      } catch (const std::exception &) { // no analysis: the dense count
      }
      it->second = f;
    }
    total += it->second;
  }
  return {total, tiles ? "packed: per sequence min(dense, tiles)" : "packed: per sequence dense"};
}


void warmUpFor(const LoadedKernel &kernel, const DeviceProblem &problem, double ms) {
  // Sized from the last round so that a slow kernel does not overshoot by much; bounded even for a kernel
  // that reports 0 ms.
  double spent = 0;
  int n = 1;
  for (int round = 0; spent < ms && round < 100000; ++round) {
    double sum = 0;
    for (float x : timeKernel(kernel, problem, 0, n, n, 1e30).ms)
      sum += x;
    spent += sum;
    n = static_cast<int>(std::clamp((ms - spent) / std::max(1e-3, sum / n), 1.0, 20.0));
  }
}

Timing timeWithEnergy(const LoadedKernel &kernel, const DeviceProblem &problem, int warmup, int minReps,
                      int maxReps, double budgetMs, const runtime::EnergyCounter &counter,
                      EnergyMeasurement &energy) {
  using Clock = std::chrono::steady_clock;
  unsigned long long before = 0;
  try {
    runtime::contextSynchronize();
    before = counter.millijoules();
  } catch (const std::exception &e) { // unavailable, or e.g. NVML_ERROR_NOT_SUPPORTED on this GPU
    energy.error = e.what();
    return timeKernel(kernel, problem, warmup, minReps, maxReps, budgetMs);
  }
  const Clock::time_point start = Clock::now();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
  Timing t = timeKernel(kernel, problem, warmup, minReps, maxReps, budgetMs); // synchronizes
  long long calls = std::max(0, warmup) + 1 + static_cast<long long>(t.ms.size()); // + the sizing run
  const int floorReps = std::max(1, minReps);
  for (double s = elapsed(); s < kEnergyMinSeconds; s = elapsed()) {
    const double fill = (kEnergyMinSeconds - s) * 1e3 / std::max(1e-3, t.median);
    const int reps = static_cast<int>(std::clamp(std::ceil(fill), double(floorReps), 20000.0));
    calls += 1 + static_cast<long long>(timeKernel(kernel, problem, 0, reps, reps, 1e30).ms.size());
    energy.extended = true;
  }
  unsigned long long after = 0;
  try {
    after = counter.millijoules();
  } catch (const std::exception &e) {
    energy.error = e.what();
    return t;
  }
  energy.seconds = elapsed();
  energy.calls = calls;
  const double joules = double(after - before) * 1e-3; // mJ -> J
  energy.joulesPerCall = joules / double(calls);
  energy.watts = joules / energy.seconds;
  return t;
}

} // namespace detail

BenchResult bench(const spec::Spec &spec, const spec::Shape &shape, const BenchOptions &options,
                  Cache &cache) {
  using namespace detail;
  const bool packed = spec.layout == spec::Layout::Packed;
  checkPacked("bench", spec, shape, options.packed);
  if (!(options.warmupMs >= 0) || options.warmupMs > 600000)
    throw std::invalid_argument("bench: warmup_ms = " + std::to_string(options.warmupMs) +
                                " is not allowed; allowed: 0 to 600000 ms of untimed launches");
  BenchResult result;
  result.packed = options.packed;
  result.spec = spec;
  result.shape = shape;
  result.device = currentDevice(options.device);
  runtime::retainPrimaryContext(options.device);
  const std::string arch = result.device.arch();

  // 1. The kernel.
  const std::optional<HostCaptures> synthetic =
      options.captures ? std::nullopt : std::optional(syntheticCaptures(spec, shape, kSyntheticCaptureSeed));
  const HostCaptures &captures = options.captures ? *options.captures : *synthetic;
  ScheduleChoice choice = chooseSchedule(spec, shape, arch, cache, &result.device, options.schedule, &captures);
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
      packed ? packedFlops(builder, defaultFor(spec, shape, arch), shape, *options.packed)
             : usefulFlops(builder, defaultFor(spec, shape, arch), shape);
  LoadedKernel kernel(cubin, launch);

  // 2. Every row at the small shape (packed: a fixed small batch with lengths around BLOCK_M = 64 and an
  //    empty sequence; K / V lengths those of the real batch's kind: equal, or shifted when they differ).
  const uint64_t seed = freshSeed(options.seed);
  if (packed) {
    const spec::PackedSeqs smallSeqs = smallPackedSeqs(*options.packed);
    const spec::Shape small = packedShape(shape, smallSeqs);
    HostInputs smallInputs = makeInputs(spec, small, seed, &smallSeqs);
    DeviceProblem smallProblem(spec, smallInputs, 1);
    result.small = runAndCheck(spec, smallInputs, smallProblem, kernel,
                               samplePackedRows(smallSeqs, small.Hq, INT64_MAX, seed));
  } else {
    const spec::Shape small = gateShape(shape);
    HostInputs smallInputs = makeInputs(spec, small, seed);
    DeviceProblem smallProblem(spec, smallInputs, 1);
    result.small = runAndCheck(spec, smallInputs, smallProblem, kernel, sampleRows(small, INT64_MAX, seed));
  }

  // 3. Timing on rotated copies of the real shape's inputs.
  HostInputs inputs = makeInputs(spec, shape, seed + 1, packed ? &*options.packed : nullptr, &captures);
  const std::size_t perSet = bytesPerSet(spec, shape, packed ? &*options.packed : nullptr);
  const runtime::DeviceInfo info = runtime::deviceInfo(options.device);
  DeviceProblem problem(spec, inputs,
                        rotationSets(perSet, static_cast<std::size_t>(info.l2CacheBytes), options.l2Multiple,
                                     std::size_t(8) << 30));
  warmUpFor(kernel, problem, options.warmupMs);
  Timing t;
  if (options.energy) {
    EnergyMeasurement &energy = result.energy.emplace();
    runtime::EnergyCounter counter(options.device);
    if (counter.available())
      t = timeWithEnergy(kernel, problem, options.warmup, options.reps, options.reps, 1e30, counter, energy);
    else
      energy.error = counter.error();
  }
  if (t.ms.empty()) // no energy asked for, or NVML missing: the plain timed runs
    t = timeKernel(kernel, problem, options.warmup, options.reps, options.reps, 1e30);
  result.blockMaskBuildMs = kernel.blockMaskBuildMs();
  result.medianMs = t.median, result.minMs = t.min, result.maxMs = t.max;
  result.reps = static_cast<int>(t.ms.size());
  result.tflops = result.usefulFlops / (result.medianMs * 1e-3) / 1e12;

  // 4. Sampled rows of the real shape.
  result.sampled = runAndCheck(spec, inputs, problem, kernel,
                               packed ? samplePackedRows(*options.packed, shape.Hq, options.sampleRows, seed)
                                      : sampleRows(shape, options.sampleRows, seed));
  return result;
}

} // namespace tilefuse::tuner
