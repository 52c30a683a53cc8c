//===- SpecHash.cpp - Canonical form and content hash of a spec -------------------------------===//

#include "tilefuse/spec/Spec.h"
#include "tilefuse/spec/Json.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace tilefuse::spec {

// Bump when the meaning of a canonical field changes, so that old cache entries stop matching.
static constexpr int kCanonicalFormat = 1;

std::string canonicalJson(const Spec &spec) {
  using json = nlohmann::json; // std::map objects: keys come out sorted.
  json j;
  j["format"] = kCanonicalFormat;
  j["dtype"] = std::string(spelling(spec.dtype));
  j["head_dim"] = spec.headDim;
  j["value_dim"] = spec.valueDim ? json(*spec.valueDim) : json(nullptr);
  j["heads"] = {{"q", spec.headsQ}, {"kv", spec.headsKv}};
  j["scale"] = spec.scale ? json(*spec.scale) : json(nullptr);
  j["lse"] = spec.lse;
  j["score_mod"] = spec.scoreMod ? json(toString(*spec.scoreMod)) : json(nullptr);
  j["mask_mod"] = spec.maskMod ? json(toString(*spec.maskMod)) : json(nullptr);
  json captures = json::object();
  for (const Capture &c : spec.captures) {
    json dims = json::array();
    for (const Expr &d : c.shape)
      dims.push_back(toString(d));
    captures[c.name] = {{"shape", dims}, {"dtype", std::string(spelling(c.dtype))}};
  }
  j["captures"] = captures;
  if (spec.math != MathMode::Approx) // absent for the default: older hashes (and cache keys) stay valid
    j["math"] = std::string(spelling(spec.math));
  if (spec.layout != Layout::Batched) // likewise: batched specs keep their hashes
    j["layout"] = std::string(spelling(spec.layout));
  if (spec.normalizer != Normalizer::Softmax) // likewise: softmax specs keep their hashes
    j["normalizer"] = std::string(spelling(spec.normalizer));
  if (spec.sink)
    j["sink"] = toString(*spec.sink);
  return tilefuse::spec::dumpJson(j);
}

uint64_t contentHash(const Spec &spec) {
  // FNV-1a, 64-bit (Fowler, Noll, Vo).
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : canonicalJson(spec)) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string contentHashHex(const Spec &spec) { return fmt::format("{:016x}", contentHash(spec)); }

} // namespace tilefuse::spec
