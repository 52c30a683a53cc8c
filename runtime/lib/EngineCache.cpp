//===- EngineCache.cpp - the default ScheduleSource: the tuner's on-disk cache --===//
//
// Policy::TuneOnMiss / FailOnMiss with no EngineOptions::schedules use
// tuner::CacheScheduleSource over tuner::Cache::openDefault() ($TILEFUSE_CACHE_DIR, else
// $XDG_CACHE_HOME/tilefuse, else ~/.cache/tilefuse), when the build has the tuner
// (TILEFUSE_HAVE_TUNER_CACHE, set by runtime/CMakeLists.txt).
//
#include "EngineBuild.h"

#if TILEFUSE_HAVE_TUNER_CACHE
#include "tilefuse/tuner/ScheduleSource.h"
#endif

namespace tilefuse::detail {

std::shared_ptr<ScheduleSource> defaultScheduleSource() {
#if TILEFUSE_HAVE_TUNER_CACHE
  try {
    return std::make_shared<tuner::CacheScheduleSource>(tuner::Cache::openDefault());
  } catch (const tuner::CacheError &e) {
    throw CacheMissError(std::string("cannot open the tuner's cache: ") + e.what());
  }
#else
  return nullptr;
#endif
}

} // namespace tilefuse::detail
