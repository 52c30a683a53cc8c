//===- SpecFuzzer.cpp - fuzz target: the spec reader ----------------------===//
//
// Input: a spec file's text (specs/README.md). Promises checked (tilefuse/spec/Spec.h):
//   - parseSpecString throws only SpecError, with a message;
//   - a spec it accepts prints as canonical JSON (the cache key's spec hash) that, read back as a
//     spec, gives the same canonical JSON and content hash: the printed expressions (toString, lets
//     inlined) mean what the spec said, in its scope;
//   - resolveShape throws only SpecError; a shape it returns is within the limits of Shape.h
//     (checkShapeLimits does not throw), every capture's shape evaluates, and the softmax scale is
//     finite and positive.
//
//===----------------------------------------------------------------------------------------===//
#include "FuzzTarget.h"

#include "tilefuse/spec/Spec.h"
#include "tilefuse/spec/SpecError.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <iterator>

using namespace tilefuse;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  constexpr std::string_view target = "spec";
  spec::Spec s;
  if (!fuzz::refusesCleanly<spec::SpecError>(target, "parseSpecString",
                                             [&] { s = spec::parseSpecString(fuzz::asText(data, size), "fuzz.json"); }))
    return 0;

  // The canonical JSON is a spec without the fields that do not change the kernel (lets inlined; the
  // default shape, left out, is added back): read back as one, it must give the same canonical JSON.
  std::string canonical, respelled;
  spec::Spec again;
  fuzz::refusesCleanly<>(target, "canonical JSON read back", [&] {
    canonical = spec::canonicalJson(s);
    nlohmann::json j = nlohmann::json::parse(canonical);
    j.erase("format");
    for (auto it = j.begin(); it != j.end();)
      it = it->is_null() ? j.erase(it) : std::next(it);
    j["name"] = "canonical";
    j["shape"] = {{"B", s.batch}, {"Sq", s.seqQ}, {"Sk", s.seqK}};
    respelled = j.dump();
    again = spec::parseSpecString(respelled, "canonical.json");
  });
  fuzz::require(spec::canonicalJson(again) == canonical, target,
                "canonical JSON changed on reading it back as a spec:\n" + canonical + "\n" + respelled + "\n" +
                    spec::canonicalJson(again));
  fuzz::require(spec::contentHash(again) == spec::contentHash(s), target, "content hash changed on reading back");

  spec::Shape shape;
  if (!fuzz::refusesCleanly<spec::SpecError>(target, "resolveShape", [&] { shape = spec::resolveShape(s); }))
    return 0;
  fuzz::refusesCleanly<>(target, "the resolved shape", [&] {
    spec::checkShapeLimits(shape);
    for (size_t slot = 0; slot < s.captures.size(); ++slot)
      for (int64_t d : spec::captureShape(s, slot, shape))
        fuzz::require(d > 0, target, "capture '" + s.captures[slot].name + "' has a dimension <= 0");
    const double scale = spec::softmaxScale(s, shape);
    fuzz::require(std::isfinite(scale) && scale > 0, target, "softmax scale not finite and positive");
  });
  return 0;
}
