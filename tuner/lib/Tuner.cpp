//===- Tuner.cpp - the tuning loop -----------------------------------------===//
//
// 1. device, key, what the cache holds now (a stale / corrupt entry is reported, then rebuilt)
// 2. search space (pruned with reasons), the default schedule first in timing order
// 3. generate every candidate's CUDA (serial: MLIR), compile all on the NVRTC pool
// 4. per candidate, in order, as compiles finish: resources -> gate at the small shape -> time
//    (objective energy / edp: NVML's counter around each candidate's timed runs, >= 1 s)
// 5. winner = best by the objective that passed (rankCandidates); checked again on sampled rows
//    of the tuned shape
// 6. store (atomic, locked) with the default schedule's time
//
#include "tilefuse/tuner/Tuner.h"

#include "Compile.h"
#include "TuneSupport.h"

#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/runtime/Energy.h"
#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/tuner/KernelBuild.h"
#include "tilefuse/tuner/Version.h"

#include <fmt/core.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <ctime>
#include <memory>
#include <random>

namespace tilefuse::tuner {

using Clock = std::chrono::steady_clock;

std::string_view spelling(CandidateStatus s) {
  switch (s) {
  case CandidateStatus::Timed: return "timed";
  case CandidateStatus::Compiled: return "compiled";
  case CandidateStatus::Pruned: return "pruned";
  case CandidateStatus::CompileFailed: return "compile-failed";
  case CandidateStatus::WrongResult: return "wrong-result";
  case CandidateStatus::LaunchFailed: return "launch-failed";
  }
  return "?";
}

DeviceIdentity currentDevice(int ordinal) {
  std::string why;
  if (!runtime::gpuAvailable(&why))
    throw NeedsGpuError("this needs a CUDA GPU, and none is usable here: " + why);
  runtime::DeviceInfo info = runtime::deviceInfo(ordinal);
  return {info.name, info.ccMajor, info.ccMinor, info.smCount, runtime::driverVersion()};
}

DeviceLimits currentLimits(int ordinal) {
  std::string why;
  if (!runtime::gpuAvailable(&why))
    throw NeedsGpuError("this needs a CUDA GPU, and none is usable here: " + why);
  runtime::DeviceInfo info = runtime::deviceInfo(ordinal);
  DeviceLimits l;
  try {
    l = DeviceLimits::forArch(info.arch());
  } catch (const codegen::ScheduleError &e) {
    throw NeedsGpuError(info.name + " (" + info.arch() + ") is not supported: " + e.what());
  }
  l.smCount = info.smCount;
  l.maxSmemPerBlock = static_cast<std::size_t>(info.maxSharedPerBlockOptin);
  l.smemPerSm = static_cast<std::size_t>(
      runtime::deviceAttribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, ordinal));
  l.registersPerSm = runtime::deviceAttribute(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR, ordinal);
  l.maxThreadsPerSm = runtime::deviceAttribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, ordinal);
  l.maxBlocksPerSm = runtime::deviceAttribute(CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR, ordinal);
  return l;
}

CurrentVersions currentVersions() {
  CurrentVersions v;
  if (runtime::gpuAvailable())
    v.driverVersion = runtime::driverVersion();
  v.nvrtcVersion = runtime::nvrtcVersion();
  v.tilefuseVersion = tilefuseVersion();
  return v;
}

std::vector<int> rankCandidates(const std::vector<CandidateResult> &candidates, Objective objective) {
  auto measured = [&](const CandidateResult &c) {
    return objective == Objective::Time ||
           (c.energy && c.energy->error.empty() && c.energy->calls > 0 && c.energy->joulesPerCall > 0);
  };
  auto score = [&](const CandidateResult &c) {
    return objectiveScore(objective, c.medianMs, c.energy ? c.energy->joulesPerCall : 0.0);
  };
  std::vector<int> order;
  for (int i = 0; i < static_cast<int>(candidates.size()); ++i)
    if (candidates[i].status == CandidateStatus::Timed && measured(candidates[i]))
      order.push_back(i);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const double sa = score(candidates[a]), sb = score(candidates[b]);
    if (sa != sb)
      return sa < sb;
    return candidates[a].medianMs < candidates[b].medianMs;
  });
  return order;
}

std::vector<int> steadyFinalists(const std::vector<CandidateResult> &candidates, const std::vector<int> &ranked,
                                 int maxFinalists, double margin) {
  std::vector<int> out;
  if (maxFinalists < 2 || ranked.empty())
    return out;
  const double limit = candidates[ranked.front()].medianMs * (1 + margin);
  for (int i : ranked) {
    if (static_cast<int>(out.size()) == maxFinalists || candidates[i].medianMs > limit)
      break;
    out.push_back(i);
  }
  if (out.size() < 2)
    out.clear();
  return out;
}

std::vector<int> orderBySteadyTime(const std::vector<CandidateResult> &candidates, const std::vector<int> &ranked) {
  std::vector<int> out = ranked;
  std::stable_partition(out.begin(), out.end(), [&](int i) { return candidates[i].steadyMs > 0; });
  const auto firstUntimed =
      std::find_if(out.begin(), out.end(), [&](int i) { return !(candidates[i].steadyMs > 0); });
  std::stable_sort(out.begin(), firstUntimed,
                   [&](int a, int b) { return candidates[a].steadyMs < candidates[b].steadyMs; });
  return out;
}

spec::Shape gateShape(const spec::Shape &shape) {
  spec::Shape s = shape;
  const int64_t group = s.groupSize();
  s.B = 1;
  s.Hkv = std::min<int64_t>(s.Hkv, 2);
  s.Hq = s.Hkv * group;
  s.Sq = 113;
  s.Sk = 203;
  return s;
}

namespace detail {

uint64_t freshSeed(uint64_t seed) { return seed ? seed : (uint64_t(std::random_device{}()) << 32) | std::random_device{}() | 1; }

std::string utcNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

codegen::Schedule defaultFor(const spec::Spec &spec, const spec::Shape &shape, const std::string &arch) {
  try {
    // Packed specs too: the sm90 backend generates them where it is the default.
    return codegen::defaultSchedule(static_cast<int>(shape.D), spec.dtype,
                                    codegen::defaultTarget(arch, static_cast<int>(shape.D), static_cast<int>(shape.Dv)),
                                    codegen::ScheduleHints::of(spec, shape));
  } catch (const codegen::ScheduleError &e) {
    throw KernelBuildError(driver::BuildStage::Schedule,
                           describe(spec, shape) + ": not supported by code generation: " + e.what());
  }
}

std::pair<double, std::string> usefulFlops(KernelBuilder &builder, const codegen::Schedule &def,
                                           const spec::Shape &shape) {
  try {
    double f = builder.tileFlops(def.blockM, def.blockN, shape);
    if (f > 0)
      return {f, "tiles"};
  } catch (const std::exception &) { // no program or no analysis: count dense FLOPs
  }
  return {denseFlops(shape), "dense"};
}

Accuracy runAndCheck(const spec::Spec &spec, const HostInputs &inputs, DeviceProblem &problem,
                     const LoadedKernel &kernel, const std::vector<RowIndex> &rows) {
  problem.poisonOutputs(0);
  std::vector<std::vector<std::byte>> params = kernel.bind(problem);
  kernel.launch(problem, params[0], nullptr);
  runtime::contextSynchronize();
  std::vector<uint16_t> O;
  std::vector<float> LSE;
  problem.readRows(rows, 0, O, LSE);
  return checkRows(spec, inputs, rows, O, LSE);
}

std::string accuracyText(const Accuracy &a) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "max|O-ref| = %.3g > bound %.3g (2 x naive %.3g + 1e-5)%s%s; worst %s",
                a.maxErr, a.bound, a.naiveErr, a.finite ? "" : ", NaN/inf in output",
                a.lseInfMatch ? "" : ", -inf LSE rows differ", a.detail.c_str());
  return buf;
}

std::size_t bytesPerSet(const spec::Spec &spec, const spec::Shape &s, const spec::PackedSeqs *packed) {
  // Packed: the tokens of every sequence laid end to end (total_q, total_k rows), no batch of max lengths.
  const int64_t rowsQ = packed ? packed->totalQ() : s.B * s.Sq, rowsK = packed ? packed->totalK() : s.B * s.Sk;
  const std::size_t q = static_cast<std::size_t>(rowsQ * s.Hq * s.D);
  const std::size_t kv = static_cast<std::size_t>(rowsK * s.Hkv * (s.D + s.Dv));
  const std::size_t o = static_cast<std::size_t>(rowsQ * s.Hq * s.Dv);
  return (q + kv + o) * 2 + (spec.lse ? static_cast<std::size_t>(rowsQ * s.Hq) * 4 : 0);
}

void checkPacked(const char *command, const spec::Spec &spec, const spec::Shape &shape,
                 const std::optional<spec::PackedSeqs> &packed) {
  const bool layoutPacked = spec.layout == spec::Layout::Packed;
  if (layoutPacked && !packed)
    throw std::invalid_argument(std::string(command) + ": spec '" + spec.name +
                                "' is packed (\"layout\": \"packed\"): give the sequences (--cu-seqlens, "
                                "--seqlens-file or --seqlens-random)");
  if (!layoutPacked && packed)
    throw std::invalid_argument(std::string(command) + ": packed sequences given, but spec '" + spec.name +
                                "' is batched (no \"layout\": \"packed\")");
  // (max(.., 1): a batch of empty sequences still has a shape; the CLI sets them so.)
  const int64_t maxQ = packed ? std::max<int64_t>(packed->maxLenQ(), 1) : 0, maxK = packed ? std::max<int64_t>(packed->maxLenK(), 1) : 0;
  if (packed && (shape.B != packed->batch() || shape.Sq != maxQ || shape.Sk != maxK))
    throw std::invalid_argument(std::string(command) + ": the shape (B=" + std::to_string(shape.B) + ", Sq=" +
                                std::to_string(shape.Sq) + ", Sk=" + std::to_string(shape.Sk) +
                                ") must be the packed batch's (B=" + std::to_string(packed->batch()) +
                                " sequences, max lengths Sq=" + std::to_string(maxQ) + ", Sk=" +
                                std::to_string(maxK) + ")");
}

spec::PackedSeqs smallPackedSeqs(const spec::PackedSeqs &real) {
  const std::vector<int64_t> lensQ = {1, 63, 64, 65, 0, 130};
  std::vector<int64_t> lensK = lensQ;
  if (real.cuK != real.cuQ)
    lensK = {17, 1, 200, 64, 5, 129};
  return spec::makePackedSeqs(spec::cuFromLengths("small lengths", lensQ), spec::cuFromLengths("small lengths", lensK));
}

spec::Shape packedShape(spec::Shape shape, const spec::PackedSeqs &seqs) {
  shape.B = seqs.batch(), shape.Sq = std::max<int64_t>(seqs.maxLenQ(), 1), shape.Sk = std::max<int64_t>(seqs.maxLenK(), 1);
  return shape;
}

/// Errors after which the context is unusable (a fault inside a kernel), as opposed to a launch the
/// driver refused (too many resources, an invalid value), after which tuning can go on.
bool poisonsContext(int code) {
  switch (code) {
  case CUDA_ERROR_ILLEGAL_ADDRESS:
  case CUDA_ERROR_LAUNCH_TIMEOUT:
  case CUDA_ERROR_ASSERT:
  case CUDA_ERROR_HARDWARE_STACK_ERROR:
  case CUDA_ERROR_ILLEGAL_INSTRUCTION:
  case CUDA_ERROR_MISALIGNED_ADDRESS:
  case CUDA_ERROR_INVALID_ADDRESS_SPACE:
  case CUDA_ERROR_INVALID_PC:
  case CUDA_ERROR_LAUNCH_FAILED:
    return true;
  default:
    return false;
  }
}

/// Memory for rotated input copies: at most 8 GiB.
constexpr std::size_t kRotationBytes = std::size_t(8) << 30;

/// NVML's counter for an energy or edp objective, read once to prove it works (a GPU may lack it).
/// Throws EnergyUnavailableError naming NVML and TILEFUSE_NVML_LIBRARY.
void openEnergyCounter(std::optional<runtime::EnergyCounter> &counter, Objective objective, int device) {
  auto fail = [&](const std::string &why) {
    throw EnergyUnavailableError(
        "objective '" + std::string(spelling(objective)) + "' needs the GPU's energy counter from NVML, which "
        "cannot be read: " + why + ". NVML is libnvidia-ml.so.1 of the NVIDIA driver; set TILEFUSE_NVML_LIBRARY "
        "to its path if it is installed elsewhere, or tune for time (--objective time)");
  };
  counter.emplace(device);
  if (!counter->available())
    fail(counter->error());
  try {
    (void)counter->millijoules();
  } catch (const std::exception &e) {
    fail(e.what());
  }
}

} // namespace detail

TuneResult tune(const spec::Spec &spec, const spec::Shape &shape, const TuneOptions &options, Cache &cache) {
  using namespace detail;
  const auto start = Clock::now();
  auto outOfRange = [](const char *field, double value, const char *allowed) {
    return std::invalid_argument(fmt::format("tune: {} = {:g} is out of range; allowed: {}", field, value, allowed));
  };
  if (options.finalists < 0)
    throw outOfRange("finalists", options.finalists, "0 or more (0 or 1: no steady-state re-timing)");
  if (options.steadyRounds < 1)
    throw outOfRange("steady_rounds", options.steadyRounds, "1 or more");
  if (!(options.finalistMargin >= 0))
    throw outOfRange("finalist_margin", options.finalistMargin, "a fraction >= 0 of the fastest burst time");
  if (!(options.steadyWarmupMs >= 0))
    throw outOfRange("steady_warmup_ms", options.steadyWarmupMs, "0 or more ms");
  // The steady-state re-timing of the finalists (step 5) gets its time out of the budget, at most a quarter.
  const bool steady = options.objective == Objective::Time && options.finalists >= 2 && options.dryRunArch.empty();
  const double steadySeconds =
      steady ? std::min(options.timeBudgetSeconds / 4,
                        (options.steadyWarmupMs + options.steadyRounds * options.finalists *
                                                      (kSteadyRoundWarmupMs + options.msPerCandidate / 2)) * 1e-3)
             : 0.0;
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(options.timeBudgetSeconds - steadySeconds));
  auto progress = [&](const char *phase, int done, int total, const std::string &message) {
    if (options.progress)
      options.progress({phase, done, total, message});
  };

  // 1. Device, key, the cache's current entry.
  TuneResult result;
  result.spec = spec;
  result.shape = shape;
  checkPacked("tune", spec, shape, options.packed);
  const bool dry = !options.dryRunArch.empty();
  // Energy first: an objective that cannot be measured is an error, never a silent tuning for time.
  std::optional<runtime::EnergyCounter> energyCounter;
  if (options.objective != Objective::Time && !dry)
    openEnergyCounter(energyCounter, options.objective, options.device);
  DeviceLimits limits;
  if (dry) {
    limits = DeviceLimits::forArch(options.dryRunArch);
    const int cc = codegen::computeCapability(options.dryRunArch);
    result.device = {"dry run", cc / 10, cc % 10, limits.smCount, 0};
  } else {
    result.device = currentDevice(options.device);
    limits = currentLimits(options.device);
    runtime::retainPrimaryContext(options.device);
  }
  const std::string arch = dry ? options.dryRunArch : result.device.arch();
  // The captures timed at the tuned shape: the caller's, else the synthetic ones makeKey classifies too.
  const std::optional<HostCaptures> synthetic =
      options.captures ? std::nullopt : std::optional(syntheticCaptures(spec, shape, kSyntheticCaptureSeed));
  const HostCaptures &captures = options.captures ? *options.captures : *synthetic;
  result.key = makeKey(result.device, runtime::nvrtcVersion(), spec, shape, options.objective, &captures);
  LookupResult before = cache.lookup(result.key);
  if (before.status == LookupStatus::Stale || before.status == LookupStatus::Corrupt)
    result.cacheNote = "the cached entry " + before.path.string() + " is " +
                       std::string(spelling(before.status)) + " (" + before.problem +
                       "); it will be rebuilt";

  // 2. Search space; the default schedule is timed first (every table shows its time).
  const codegen::Schedule def = defaultFor(spec, shape, arch);
  SearchSpace space = buildSearchSpace(shape, def, limits,
                                       {options.maxCandidates, options.compileExtra,
                                        /*compareWidths=*/spec.maskMod.has_value(),
                                        /*clusters=*/options.clusters && !spec.maskMod &&
                                            spec.layout == spec::Layout::Batched,
                                        /*tileOrders=*/spec.maskMod && spec.layout == spec::Layout::Batched,
                                        /*dynamicTiles=*/options.dynamicTiles &&
                                            (spec.maskMod || spec.layout == spec::Layout::Packed)});
  result.enumerated = space.total;
  result.pruned = space.pruned;
  std::stable_partition(space.candidates.begin(), space.candidates.end(),
                        [](const Candidate &c) { return c.isDefault; });

  // 3. Generate (MLIR, serial) and compile (NVRTC, parallel).
  KernelBuilder builder(spec, shape);
  std::tie(result.usefulFlops, result.flopsRule) =
      options.packed ? packedFlops(builder, def, shape, *options.packed) : usefulFlops(builder, def, shape);
  std::vector<KernelSource> sources(space.candidates.size());
  std::vector<std::string> generateErrors(space.candidates.size());
  for (std::size_t i = 0; i < space.candidates.size(); ++i) {
    try {
      sources[i] = builder.generate(space.candidates[i].schedule);
    } catch (const KernelBuildError &e) {
      if (space.candidates[i].isDefault)
        throw; // the spec itself is not supported: say so rather than tune around it
      generateErrors[i] = e.what();
    }
    progress("generate", static_cast<int>(i + 1), static_cast<int>(sources.size()),
             space.candidates[i].schedule.toString());
  }
  std::vector<const KernelSource *> toCompile;
  std::vector<std::size_t> poolIndex(sources.size(), SIZE_MAX);
  for (std::size_t i = 0; i < sources.size(); ++i)
    if (generateErrors[i].empty()) {
      poolIndex[i] = toCompile.size();
      toCompile.push_back(&sources[i]);
    }
  CompilePool pool(toCompile, arch, options.threads);

  // 4. Inputs: the gate's (every row checked) and the tuned shape's (rotated copies).
  const uint64_t seed = freshSeed(options.seed);
  // Packed: the gate checks every row of a small packed batch (smallPackedSeqs), and candidates are timed on
  // the caller's sequences, as bench runs them.
  const spec::PackedSeqs *packed = options.packed ? &*options.packed : nullptr;
  const std::optional<spec::PackedSeqs> smallSeqs = packed ? std::optional(smallPackedSeqs(*packed)) : std::nullopt;
  const spec::Shape small = packed ? packedShape(shape, *smallSeqs) : gateShape(shape);
  HostInputs gateInputs, inputs;
  std::optional<DeviceProblem> gateProblem, problem;
  std::vector<RowIndex> gateRows;
  if (!dry) {
    gateInputs = makeInputs(spec, small, seed, smallSeqs ? &*smallSeqs : nullptr);
    gateProblem.emplace(spec, gateInputs, 1);
    gateRows = packed ? samplePackedRows(*smallSeqs, small.Hq, INT64_MAX, seed) : sampleRows(small, INT64_MAX, seed);
    inputs = makeInputs(spec, shape, seed + 1, packed, &captures);
    const runtime::DeviceInfo info = runtime::deviceInfo(options.device);
    const int sets = rotationSets(bytesPerSet(spec, shape, packed), static_cast<std::size_t>(info.l2CacheBytes),
                                  options.l2Multiple, kRotationBytes);
    problem.emplace(spec, inputs, sets);
  }

  const int total = static_cast<int>(space.candidates.size());
  std::vector<std::vector<char>> cubins(space.candidates.size());
  std::vector<std::size_t> spaceIndex; // of each result.candidates entry
  auto record = [&](CandidateResult r, std::size_t i) {
    result.candidates.push_back(std::move(r));
    spaceIndex.push_back(i);
  };
  // Timed (or, in a dry run, compiled) so far, per backend: maxCandidates caps each of them, so the
  // sm80 backend's many model-ranked candidates, which come first, leave the sm90 ones their turn.
  std::array<int, 2> accepted{0, 0};
  for (std::size_t i = 0; i < space.candidates.size(); ++i) {
    const Candidate &cand = space.candidates[i];
    int &done = accepted[cand.schedule.mma == codegen::MmaFamily::Wgmma];
    if (done >= options.maxCandidates && !cand.isDefault) {
      result.pruned.push_back({cand.schedule, "budget",
                               std::to_string(options.maxCandidates) + " candidates of its backend were already " +
                                   (dry ? "compiled" : "timed") + " (a spare for post-compile prunes)"});
      continue;
    }
    CandidateResult r;
    r.schedule = cand.schedule;
    r.isDefault = cand.isDefault;
    r.smemBytes = cand.smemBytes;
    auto finish = [&](const std::string &message) {
      progress("time", static_cast<int>(i + 1), total, cand.schedule.toString() + ": " + message);
    };
    if (!generateErrors[i].empty()) {
      r.status = CandidateStatus::CompileFailed;
      r.message = generateErrors[i];
      record(r, i);
      finish("generation failed");
      continue;
    }
    if (Clock::now() > deadline && !cand.isDefault) {
      result.pruned.push_back({cand.schedule, "time",
                               "the tuning budget of " + std::to_string(int(options.timeBudgetSeconds)) +
                                   " s ran out before it was timed"});
      finish("out of time");
      continue;
    }
    Compiled compiled = pool.take(poolIndex[i]);
    r.compileMs = compiled.compileMs;
    if (!compiled.ok) {
      r.status = CandidateStatus::CompileFailed;
      r.message = compiled.error;
      record(r, i);
      finish("compile failed");
      continue;
    }
    const KernelSource &src = sources[i];
    r.smemBytes = src.dynamicSmemBytes;
    // Real resources (ptxas, through NVRTC's log; the estimate if the log lacks them) and the
    // post-compile rules, before anything touches the GPU.
    r.registers = compiled.ptxas.registers >= 0 ? compiled.ptxas.registers : cand.registerEstimate;
    r.spillBytes = std::max(0, compiled.ptxas.spillStoreBytes) + std::max(0, compiled.ptxas.spillLoadBytes);
    r.blocksPerSm = occupancy(cand.schedule, r.registers, r.smemBytes, limits).blocksPerSm;
    std::string rule;
    std::string why = pruneAfterCompile(cand.schedule, r.registers, r.spillBytes, r.smemBytes, limits, &rule);
    if (!why.empty() && !cand.isDefault) {
      r.status = CandidateStatus::Pruned;
      r.rule = rule;
      r.message = why;
      record(r, i);
      finish("pruned (" + rule + ")");
      continue;
    }
    if (dry) {
      r.status = CandidateStatus::Compiled;
      r.message = why;
      ++done;
      record(r, i);
      finish("compiled");
      continue;
    }
    try {
      LoadedKernel kernel(compiled.cubin, src.launch());
      r.gate = runAndCheck(spec, gateInputs, *gateProblem, kernel, gateRows);
      if (!r.gate.passed) {
        r.status = CandidateStatus::WrongResult;
        r.message = "small-shape check failed: " + accuracyText(r.gate);
        record(r, i);
        finish("WRONG RESULT");
        continue;
      }
      Timing t;
      if (energyCounter) {
        EnergyMeasurement &energy = r.energy.emplace();
        t = timeWithEnergy(kernel, *problem, options.warmup, options.minReps, options.maxReps,
                           options.msPerCandidate, *energyCounter, energy);
        if (!energy.error.empty()) {
          pool.stop();
          throw EnergyUnavailableError("tuning for " + std::string(spelling(options.objective)) +
                                       " stopped: NVML's energy counter failed while timing candidate " +
                                       cand.schedule.toString() + " (" + energy.error + "); nothing was cached");
        }
      } else {
        t = timeKernel(kernel, *problem, options.warmup, options.minReps, options.maxReps,
                       options.msPerCandidate);
      }
      r.medianMs = t.median, r.minMs = t.min, r.maxMs = t.max;
      r.reps = static_cast<int>(t.ms.size());
      r.tflops = result.usefulFlops / (r.medianMs * 1e-3) / 1e12;
      r.status = CandidateStatus::Timed;
      ++done;
    } catch (const CudaError &e) {
      r.status = CandidateStatus::LaunchFailed;
      r.message = e.what();
      if (poisonsContext(e.code())) {
        // A fault inside the kernel poisons the context: nothing more can run in this process.
        record(r, i);
        pool.stop();
        throw std::runtime_error("tuning stopped: candidate " + cand.schedule.toString() +
                                 " faulted on the GPU (" + e.what() + "); nothing was cached");
      }
    } catch (const codegen::AbiError &e) {
      r.status = CandidateStatus::LaunchFailed;
      r.message = e.what();
    }
    if (r.isDefault && r.status == CandidateStatus::Timed)
      result.defaultMs = r.medianMs;
    char buf[128];
    if (r.energy && r.energy->error.empty())
      std::snprintf(buf, sizeof buf, "%.3f ms, %.1f TFLOP/s, %.4g J, %.0f W", r.medianMs, r.tflops,
                    r.energy->joulesPerCall, r.energy->watts);
    else
      std::snprintf(buf, sizeof buf, "%.3f ms, %.1f TFLOP/s", r.medianMs, r.tflops);
    if (r.status == CandidateStatus::Timed)
      cubins[i] = std::move(compiled.cubin);
    record(r, i);
    finish(r.status == CandidateStatus::Timed ? buf : r.message);
  }
  pool.stop();
  if (dry) {
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return result;
  }

  // 5. The winner: best by the objective (ties: faster) that passed, checked again at the tuned shape
  //    (sampled rows). For time, the finalists are timed again in steady state first and ranked by that.
  std::vector<int> order = rankCandidates(result.candidates, options.objective);
  if (steady)
    if (std::vector<int> fin = steadyFinalists(result.candidates, order, options.finalists, options.finalistMargin);
        !fin.empty()) {
      std::vector<std::unique_ptr<LoadedKernel>> kernels;
      for (int idx : fin)
        kernels.push_back(std::make_unique<LoadedKernel>(cubins[spaceIndex[idx]], sources[spaceIndex[idx]].launch()));
      progress("steady", 0, static_cast<int>(fin.size()), "warm-up");
      warmUpFor(*kernels.front(), *problem, options.steadyWarmupMs);
      std::vector<std::vector<double>> medians(fin.size());
      for (int round = 0; round < options.steadyRounds; ++round)
        for (std::size_t k = 0; k < fin.size(); ++k) {
          warmUpFor(*kernels[k], *problem, kSteadyRoundWarmupMs);
          medians[k].push_back(
              timeKernel(*kernels[k], *problem, 0, options.minReps, options.maxReps, options.msPerCandidate / 2).median);
        }
      result.steadyNote = fmt::format("{} finalists within {:g}% of the fastest burst time, timed again after {:g} ms of "
                                      "launches in {} interleaved rounds (burst -> steady ms):",
                                      fin.size(), options.finalistMargin * 100, options.steadyWarmupMs,
                                      options.steadyRounds);
      for (std::size_t k = 0; k < fin.size(); ++k) {
        CandidateResult &c = result.candidates[fin[k]];
        c.steadyMs = medianOf(medians[k]);
        result.steadyNote += fmt::format(" #{} {:.3f} -> {:.3f};", fin[k] + 1, c.medianMs, c.steadyMs);
      }
      result.steadyNote.pop_back();
      order = orderBySteadyTime(result.candidates, order);
      progress("steady", static_cast<int>(fin.size()), static_cast<int>(fin.size()), result.steadyNote);
    }
  const std::vector<RowIndex> rows = options.packed ? samplePackedRows(*options.packed, shape.Hq, options.sampleRows, seed)
                                                    : sampleRows(shape, options.sampleRows, seed);
  for (int idx : order) {
    CandidateResult &c = result.candidates[idx];
    const std::size_t si = spaceIndex[idx];
    progress("verify", 1, 1, c.schedule.toString());
    LoadedKernel kernel(cubins[si], sources[si].launch());
    Accuracy a = runAndCheck(spec, inputs, *problem, kernel, rows);
    if (!a.passed) {
      c.status = CandidateStatus::WrongResult;
      c.message = "check at the tuned shape failed: " + accuracyText(a);
      continue;
    }
    result.winner = idx;
    result.winnerCheck = a;
    break;
  }
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (result.winner < 0)
    throw std::runtime_error("tuning " + describe(spec, shape) + " found no candidate that compiles, runs and "
                             "passes the accuracy check; nothing was cached");

  // 6. Store.
  const CandidateResult &w = result.candidates[result.winner];
  CacheEntry entry;
  entry.key = result.key;
  entry.schedule = w.schedule;
  entry.launch = sources[spaceIndex[result.winner]].launch();
  entry.cubin = cubins[spaceIndex[result.winner]];
  TuningRecord &t = entry.tuning;
  t.tunedShape = shape;
  t.medianMs = w.medianMs;
  t.tflops = w.tflops;
  t.defaultMs = result.defaultMs;
  t.defaultSchedule = def;
  t.usefulFlops = result.usefulFlops;
  t.flopsRule = result.flopsRule;
  t.tuningSeconds = result.seconds;
  for (const CandidateResult &c : result.candidates) {
    t.candidatesTimed += c.status == CandidateStatus::Timed;
    t.candidatesFailed += c.status == CandidateStatus::CompileFailed || c.status == CandidateStatus::WrongResult ||
                          c.status == CandidateStatus::LaunchFailed;
    t.candidatesPruned += c.status == CandidateStatus::Pruned;
  }
  t.candidatesPruned += static_cast<int>(result.pruned.size());
  t.registers = w.registers;
  t.spillBytes = w.spillBytes;
  t.createdAt = utcNow();
  if (w.energy && w.energy->error.empty()) {
    t.joulesPerCall = w.energy->joulesPerCall;
    t.watts = w.energy->watts;
  }
  if (options.writeCache)
    result.stored = cache.store(entry, options.storeMode);
  return result;
}

ScheduleChoice chooseSchedule(const spec::Spec &spec, const spec::Shape &shape, const std::string &arch,
                              const Cache &cache, const DeviceIdentity *device,
                              const std::optional<codegen::Schedule> &given, const HostCaptures *captures) {
  ScheduleChoice c;
  if (given) {
    c.schedule = *given;
    c.source = "--schedule";
    return c;
  }
  std::string nvrtc = runtime::nvrtcVersion();
  if (device && device->arch() == arch) {
    CacheKey key = makeKey(*device, nvrtc, spec, shape, Objective::Time, captures);
    LookupResult r = cache.lookup(key);
    if (r.hit()) {
      c.schedule = r.entry->schedule;
      c.source = "cache";
      c.entry = std::move(r.entry);
      return c;
    }
    c.note = r.status == LookupStatus::Miss
                 ? "no cache entry for this GPU (" + r.path.string() + ")"
                 : "cache entry " + std::string(spelling(r.status)) + ": " + r.problem;
  } else {
    DeviceIdentity any;
    any.ccMajor = codegen::computeCapability(arch) / 10;
    any.ccMinor = codegen::computeCapability(arch) % 10;
    CacheKey key = makeKey(any, nvrtc, spec, shape, Objective::Time, captures);
    std::vector<LookupResult> found = cache.findForArch(key);
    if (!found.empty()) {
      c.schedule = found.front().entry->schedule;
      c.source = "cache:" + found.front().path.parent_path().filename().string();
      c.entry = std::move(found.front().entry);
      return c;
    }
    c.note = "no cache entry for " + arch + " under " + cache.root().string();
  }
  c.schedule = detail::defaultFor(spec, shape, arch);
  c.source = "default";
  return c;
}

} // namespace tilefuse::tuner
