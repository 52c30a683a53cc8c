//===- EngineCache.cpp - the default ScheduleSource: the tuner's on-disk cache --===//
//
// Policy::TuneOnMiss / FailOnMiss with no EngineOptions::schedules use
// tuner::CacheScheduleSource over tuner::Cache::openDefault() ($TILEFUSE_CACHE_DIR, else
// $XDG_CACHE_HOME/tilefuse, else ~/.cache/tilefuse).
//
#include "CacheScheduleSource.h"
#include "EngineBuild.h"

namespace tilefuse::detail {

std::shared_ptr<ScheduleSource> defaultScheduleSource() {
  try {
    return std::make_shared<tuner::CacheScheduleSource>(tuner::Cache::openDefault());
  } catch (const tuner::CacheError &e) {
    throw CacheMissError(std::string("cannot open the tuner's cache: ") + e.what());
  }
}

} // namespace tilefuse::detail
