//===- CacheEntryFuzzer.cpp - fuzz target: a tuner cache entry file ------===//
//
// Input: an entry file's text (format "tilefuse-cache-entry", what `tilefuse cache import` and a
// cache lookup read from disk, possibly written by another tool or damaged). Promises checked
// (tilefuse/tuner/Cache.h):
//   - entryFromJson throws only CacheError (CacheFormatVersionError among them), with a message;
//   - an entry it accepts has a valid key (validateKey) and a non-empty CUBIN, and entryToJson
//     reads back to the same text.
//
//===----------------------------------------------------------------------------------------===//
#include "FuzzTarget.h"

#include "tilefuse/tuner/Cache.h"

using namespace tilefuse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  constexpr std::string_view target = "cache_entry";
  tuner::CacheEntry entry;
  if (!fuzz::refusesCleanly<tuner::CacheError>(
          target, "entryFromJson", [&] { entry = tuner::entryFromJson(std::string(fuzz::asText(data, size))); }))
    return 0;
  fuzz::require(!entry.cubin.empty(), target, "accepted an entry without a CUBIN");
  fuzz::refusesCleanly<>(target, "an accepted entry", [&] {
    tuner::validateKey(entry.key);
    const std::string text = tuner::entryToJson(entry);
    const std::string again = tuner::entryToJson(tuner::entryFromJson(text));
    fuzz::require(again == text, target, "entryToJson does not read back to the same text");
  });
  return 0;
}
