//===- MaskFuzzer.cpp - fuzz target: a mask_mod (and score_mod) through the chain ---===//
//
// Input: a mask_mod on the first line, optionally a score_mod on the second. They go into a fixed spec
// (bf16, 2 query heads sharing 1 K/V head, Sq 37, Sk 53) with the captured tensors the text names among
// bias [Hq, Sq] (f32), doc_ids [B, Sk] (i32) and slopes [Hq] (f32), and ChainCheck.h runs the spec
// through lowering, fusion (the tile classification's interval rules and run-time block masks above
// all), the fp64 check of the fused program against the unfused one, and code generation. Unlike
// `chain`, every input reaches the expression checker, and most reach the fusion rules.
//
//===----------------------------------------------------------------------------------------===//
#include "ChainCheck.h"

#include <nlohmann/json.hpp>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view text = tilefuse::fuzz::asText(data, size);
  const size_t newline = text.find('\n');
  const std::string maskMod(text.substr(0, newline));
  const std::string scoreMod(newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1));
  nlohmann::json spec = {{"name", "fuzz_mask"}, {"dtype", "bf16"}, {"head_dim", 16},
                         {"heads", {{"q", 2}, {"kv", 1}}}, {"shape", {{"B", 1}, {"Sq", 37}, {"Sk", 53}}}};
  // JSON strings must be UTF-8: other bytes are the spec reader's to refuse, and the `spec` target's.
  spec["mask_mod"] = maskMod;
  if (!scoreMod.empty())
    spec["score_mod"] = scoreMod;
  const std::pair<const char *, nlohmann::json> captures[] = {
      {"bias", {{"shape", {"Hq", "Sq"}}, {"dtype", "f32"}}},
      {"doc_ids", {{"shape", {"B", "Sk"}}, {"dtype", "i32"}}},
      {"slopes", {{"shape", {"Hq"}}, {"dtype", "f32"}}},
  };
  for (const auto &[name, capture] : captures)
    if (text.find(name) != std::string_view::npos)
      spec["captures"][name] = capture;
  std::string json;
  try {
    json = spec.dump();
  } catch (const nlohmann::json::type_error &) { // invalid UTF-8
    return 0;
  }
  tilefuse::fuzz::chain::checkChain("mask", json);
  return 0;
}
