//===- CacheScheduleSource.cpp - the tuner's cache behind the engine's tuned policies ---===//
#include "CacheScheduleSource.h"

#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/spec/Packed.h"

namespace tilefuse::tuner {

CacheScheduleSource::CacheScheduleSource(Cache cache, TuneOptions options)
    : cache_(std::move(cache)), options_(std::move(options)) {}

namespace {

/// The query's host captures checked against its spec and shape; nullopt when it has none.
std::optional<HostCaptures> hostCaptures(const ScheduleQuery &query) {
  if (query.captures.empty())
    return std::nullopt;
  std::vector<std::span<const unsigned char>> data;
  for (std::size_t i = 0; i < query.captures.size(); ++i) {
    const HostCaptureRef &c = query.captures[i];
    if (!c.data && c.bytes != 0)
      throw CaptureError("host capture " + std::to_string(i) +
                         (i < query.spec->captures.size() ? " ('" + query.spec->captures[i].name + "')" : "") +
                         ": data is null but bytes = " + std::to_string(c.bytes));
    data.emplace_back(static_cast<const unsigned char *>(c.data), c.bytes);
  }
  return capturesFromBytes(*query.spec, query.shape, data);
}

} // namespace

CacheKey CacheScheduleSource::keyFor(const ScheduleQuery &query, const DeviceIdentity &device) const {
  const std::optional<HostCaptures> captures = hostCaptures(query);
  return makeKey(device, runtime::nvrtcVersion(), *query.spec, query.shape, options_.objective,
                 captures ? &*captures : nullptr);
}

LookupResult CacheScheduleSource::find(const ScheduleQuery &query) {
  LookupResult r = cache_.lookup(keyFor(query, currentDevice(query.device)));
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
  options.captures = hostCaptures(query);
  if (query.spec->layout == spec::Layout::Packed) {
    // getKernel knows the batch's shape, not its sequences (cu_seqlens come with each launch): tune on B
    // sequences of the max lengths, the batch whose kernel the cache key (B, Sq, Sk) names.
    const std::vector<int64_t> q(static_cast<size_t>(query.shape.B), query.shape.Sq),
        k(static_cast<size_t>(query.shape.B), query.shape.Sk);
    options.packed = spec::makePackedSeqs(spec::cuFromLengths("max lengths", q), spec::cuFromLengths("max lengths", k));
  }
  TuneResult r = tilefuse::tuner::tune(*query.spec, query.shape, options, cache_);
  return r.best()->schedule.toJson();
}

std::vector<std::string> CacheScheduleSource::problems() const {
  std::lock_guard<std::mutex> guard(problemsMutex_);
  return problems_;
}

} // namespace tilefuse::tuner
