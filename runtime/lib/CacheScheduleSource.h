//===- CacheScheduleSource.h - the tuner's cache behind the engine's tuned policies -*- C++ -*-===//
//
// The runtime library (tilefuse/tilefuse.h) asks a ScheduleSource for schedules under
// Policy::TuneOnMiss and Policy::FailOnMiss. CacheScheduleSource answers from the tuner's on-disk
// cache (tuner/Cache.h) and tunes with tuner::tune() (tuner/Tuner.h), which also writes the cache:
//
//   auto source = std::make_shared<tilefuse::tuner::CacheScheduleSource>(
//       tilefuse::tuner::Cache::openDefault());
//   tilefuse::EngineOptions options;
//   options.schedules = source;
//   tilefuse::Engine engine(0, options);
//   engine.getKernel("specs/causal.json", shape, tilefuse::Policy::TuneOnMiss);
//
// The objective is TuneOptions::objective: Objective::Time unless the options say otherwise, both for
// lookups (the cache key holds the objective) and for tuning on a miss. For the most energy-efficient
// kernels (tuning then needs NVML, and throws EnergyUnavailableError without it):
//
//   tilefuse::tuner::TuneOptions tuning;
//   tuning.objective = tilefuse::tuner::Objective::Energy;
//   options.schedules = std::make_shared<tilefuse::tuner::CacheScheduleSource>(
//       tilefuse::tuner::Cache::openDefault(), tuning);
//
// A query with host captures (Engine::getKernel's HostCaptureRef) is looked up under their mask
// density class and tuned on them; without, under the synthetic captures' class (tuner/Captures.h).
//
// A hit hands the runtime the entry's CUBIN (lookupKernel), so a fresh process loads a tuned
// kernel without lowering, fusing or compiling it. A stale or corrupt entry is a miss (lookup and
// lookupKernel return nullopt; TuneOnMiss then rebuilds it, FailOnMiss throws) and is recorded once
// in problems(). Thread-safe: lookups run concurrently, tunings one at a time
// (they time kernels on the GPU and must not overlap).
//
// Layering: this adapter is part of libtilefuse (the engine, the top layer), which uses the tuner;
// the tuner never includes the engine's headers (it uses only tilefuse_runtime's CUDA and NVRTC
// wrappers). Internal to the library (the tuner headers it includes are not installed); exported
// for in-tree tests and tools like the rest of namespace tilefuse.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/tilefuse.h"
#include "tilefuse/tuner/Cache.h"
#include "tilefuse/tuner/Tuner.h"

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace tilefuse::tuner {

class CacheScheduleSource : public tilefuse::ScheduleSource {
public:
  /// `options` are tune()'s on a miss; options.objective (default Time) also selects the cache entries
  /// looked up.
  explicit CacheScheduleSource(Cache cache, TuneOptions options = {});

  /// The cached schedule's JSON (Schedule::toJson) for the query's spec, shape bucket, device and
  /// this source's objective.
  std::optional<std::string> lookup(const ScheduleQuery &query) override;
  /// The cached entry's CUBIN and launch description with its schedule (a hit loads without MLIR or
  /// NVRTC); nullopt on a miss, a stale or a corrupt entry (recorded in problems()).
  std::optional<CachedKernel> lookupKernel(const ScheduleQuery &query) override;
  /// tune() on the query's device with this source's options; returns the winner's JSON.
  /// Throws what tune() throws.
  std::string tune(const ScheduleQuery &query) override;

  /// The cache key of `query` on `device` for this source's objective: makeKey with the query's host
  /// captures (ScheduleQuery::captures, capturesFromBytes) when it has them, so a spec whose mask reads
  /// captures is looked up and tuned for their mask density class. Needs no GPU. Throws CaptureError
  /// (std::invalid_argument) naming the capture for captures that do not fit the spec and shape.
  CacheKey keyFor(const ScheduleQuery &query, const DeviceIdentity &device) const;

  /// "path: stale (driver ...)" for every unusable entry lookup met, oldest first.
  std::vector<std::string> problems() const;
  const Cache &cache() const { return cache_; }

private:
  LookupResult find(const ScheduleQuery &query);

  Cache cache_;
  TuneOptions options_;
  std::mutex tuneMutex_;
  mutable std::mutex problemsMutex_;
  std::vector<std::string> problems_;
};

} // namespace tilefuse::tuner
