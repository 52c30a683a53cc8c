//===- ScheduleFuzzer.cpp - fuzz target: a schedule's JSON ----------------===//
//
// Input: a schedule as JSON (`tilefuse emit --schedule`, the tuner cache). Promises checked
// (tilefuse/codegen/Schedule.h):
//   - scheduleFromJson and validate throw only ScheduleError, with a message;
//   - toJson reads back to an equal Schedule, whether or not it validates;
//   - a valid schedule prints (toString), and names a target with a thread count of at most 1024.
//
//===----------------------------------------------------------------------------------------===//
#include "FuzzTarget.h"

#include "tilefuse/codegen/Schedule.h"

using namespace tilefuse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  constexpr std::string_view target = "schedule";
  codegen::Schedule s;
  if (!fuzz::refusesCleanly<codegen::ScheduleError>(
          target, "scheduleFromJson", [&] { s = codegen::scheduleFromJson(fuzz::asText(data, size)); }))
    return 0;
  const std::string json = s.toJson();
  codegen::Schedule again;
  fuzz::refusesCleanly<>(target, "toJson read back", [&] { again = codegen::scheduleFromJson(json); });
  fuzz::require(again == s, target, "toJson does not read back to the same schedule: " + json);
  if (!fuzz::refusesCleanly<codegen::ScheduleError>(target, "validate", [&] { s.validate(); }))
    return 0;
  fuzz::refusesCleanly<>(target, "a valid schedule", [&] {
    fuzz::require(!s.toString().empty(), target, "empty toString");
    const std::string_view arch = s.target();
    fuzz::require(arch == "sm80" || arch == "sm90", target, "unknown target");
    const int threads = s.threadsPerBlock();
    fuzz::require(threads > 0 && threads <= 1024, target, "threads per block " + std::to_string(threads));
  });
  return 0;
}
