//===- CacheScheduleSource.cpp - the tuner's cache behind the engine's tuned policies ---===//
#include "CacheScheduleSource.h"

#include "tilefuse/runtime/Nvrtc.h"

namespace tilefuse::tuner {

CacheScheduleSource::CacheScheduleSource(Cache cache, TuneOptions options)
    : cache_(std::move(cache)), options_(std::move(options)) {}

LookupResult CacheScheduleSource::find(const ScheduleQuery &query) {
  CacheKey key = makeKey(currentDevice(query.device), runtime::nvrtcVersion(), *query.spec, query.shape,
                         options_.objective);
  LookupResult r = cache_.lookup(key);
  if (!r.hit() && r.status != LookupStatus::Miss) {
    std::lock_guard<std::mutex> guard(problemsMutex_);
    std::string problem = r.path.string() + ": " + std::string(spelling(r.status)) + " (" + r.problem + ")";
    if (problems_.empty() || problems_.back() != problem) // lookupKernel then lookup meet it twice
      problems_.push_back(std::move(problem));
  }
  return r;
}

std::optional<std::string> CacheScheduleSource::lookup(const ScheduleQuery &query) {
  LookupResult r = find(query);
  if (r.hit())
    return r.entry->schedule.toJson();
  return std::nullopt;
}

std::optional<CachedKernel> CacheScheduleSource::lookupKernel(const ScheduleQuery &query) {
  LookupResult r = find(query);
  if (!r.hit())
    return std::nullopt;
  CacheEntry &e = *r.entry;
  if (e.key.device.arch() != query.arch) // the key holds the GPU, so only a hand-edited entry differs
    return std::nullopt;
  CachedKernel k;
  k.scheduleJson = e.schedule.toJson();
  k.cubin = std::move(e.cubin);
  k.launch = std::make_shared<const codegen::LaunchDescription>(std::move(e.launch));
  k.origin = "cache: " + r.path.string();
  return k;
}

std::string CacheScheduleSource::tune(const ScheduleQuery &query) {
  std::lock_guard<std::mutex> guard(tuneMutex_);
  TuneOptions options = options_;
  options.device = query.device;
  TuneResult r = tilefuse::tuner::tune(*query.spec, query.shape, options, cache_);
  return r.best()->schedule.toJson();
}

std::vector<std::string> CacheScheduleSource::problems() const {
  std::lock_guard<std::mutex> guard(problemsMutex_);
  return problems_;
}

} // namespace tilefuse::tuner
