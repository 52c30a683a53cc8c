//===- ScheduleSource.cpp - the cache behind the runtime's tuned policies ---===//
#include "tilefuse/tuner/ScheduleSource.h"

#include "tilefuse/runtime/Nvrtc.h"

namespace tilefuse::tuner {

CacheScheduleSource::CacheScheduleSource(Cache cache, TuneOptions options)
    : cache_(std::move(cache)), options_(std::move(options)) {}

std::optional<std::string> CacheScheduleSource::lookup(const ScheduleQuery &query) {
  CacheKey key = makeKey(currentDevice(query.device), runtime::nvrtcVersion(), *query.spec, query.shape);
  LookupResult r = cache_.lookup(key);
  if (r.hit())
    return r.entry->schedule.toJson();
  if (r.status != LookupStatus::Miss) {
    std::lock_guard<std::mutex> guard(problemsMutex_);
    problems_.push_back(r.path.string() + ": " + std::string(spelling(r.status)) + " (" + r.problem + ")");
  }
  return std::nullopt;
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
