//===- MaskGenFuzzer.cpp - fuzz target: generated well-typed masks through the chain ---===//
//
// Input: bytes that choose a mask_mod from a small grammar of the index expressions attention masks
// are made of (q_idx, kv_idx, b, h, Sq, Sk, small constants; + - * // % with constant divisors, abs,
// min, max, where, unary minus, int() of a bool or a float; comparisons of ints and of floats (casts,
// scalings, sums, floor ceil round abs min max, float() of a bool); && || !;
// reads of doc_ids [B, Sk] at an index clamped into range), and a score_mod that adds a bias read from
// bias [Hq, Sq]. Every input is a mask that type-checks, so every input reaches the tile
// classification's interval rules (docs/FUSION.md) and the fp64 check of ChainCheck.h, where `mask`'s
// byte-mutated expressions mostly stop at the parser. A wrong interval bound shows as a fused program
// that disagrees with the unfused one. No CUDA is generated (chain and mask do that), which makes it
// 2.5 times faster. Expression trees are at most kMaxDepth deep. With
// TILEFUSE_FUZZ_PRINT set, each input's spec is printed to stderr (`tilefuse run` reproduces it).
//
//===----------------------------------------------------------------------------------------===//
#include "ChainCheck.h"

#include <nlohmann/json.hpp>

namespace {

/// Reads choices from the input; past its end every choice is 0 (the first alternative: a leaf).
class Choices {
public:
  Choices(const uint8_t *data, size_t size) : data_(data), size_(size) {}
  unsigned pick(unsigned n) { return pos_ < size_ ? data_[pos_++] % n : 0; }
  int constant(int lo, int hi) { return lo + static_cast<int>(pick(static_cast<unsigned>(hi - lo + 1))); }

private:
  const uint8_t *data_;
  size_t size_, pos_ = 0;
};

constexpr int kMaxDepth = 5;

std::string boolExpr(Choices &c, int depth);
std::string floatExpr(Choices &c, int depth);

std::string intExpr(Choices &c, int depth) {
  static const char *const leaves[] = {"q_idx", "kv_idx", "q_idx", "kv_idx", "b", "h", "Sq", "Sk"};
  const unsigned kinds = depth >= kMaxDepth ? 2 : 15;
  switch (c.pick(kinds)) {
  case 0: return leaves[c.pick(8)];
  case 1: // half of the constants small: thresholds near a divisor (x % 17 < 16) and small offsets
    return std::to_string(c.pick(2) ? c.constant(-3, 20) : c.constant(-70, 70));
  case 2: return "(" + intExpr(c, depth + 1) + " + " + intExpr(c, depth + 1) + ")";
  case 3: return "(" + intExpr(c, depth + 1) + " - " + intExpr(c, depth + 1) + ")";
  case 4: return "(" + intExpr(c, depth + 1) + " * " + std::to_string(c.constant(-9, 9)) + ")";
  case 5: {
    int d = c.constant(-17, 17);
    return "(" + intExpr(c, depth + 1) + " // " + std::to_string(d == 0 ? 16 : d) + ")";
  }
  case 6: {
    int d = c.constant(-17, 17);
    return "(" + intExpr(c, depth + 1) + " % " + std::to_string(d == 0 ? 16 : d) + ")";
  }
  case 7: return "abs(" + intExpr(c, depth + 1) + ")";
  case 8: return "min(" + intExpr(c, depth + 1) + ", " + intExpr(c, depth + 1) + ")";
  case 9: return "max(" + intExpr(c, depth + 1) + ", " + intExpr(c, depth + 1) + ")";
  case 10: return "(-" + intExpr(c, depth + 1) + ")";
  case 11:
    return "where(" + boolExpr(c, depth + 1) + ", " + intExpr(c, depth + 1) + ", " + intExpr(c, depth + 1) + ")";
  case 12: return "(int(" + boolExpr(c, depth + 1) + ") * " + std::to_string(c.constant(-40, 40)) + ")";
  case 13: return "int(" + floatExpr(c, depth + 1) + ")";
  default: return "doc_ids[b, min(max(" + intExpr(c, depth + 1) + ", 0), Sk - 1)]";
  }
}

std::string floatExpr(Choices &c, int depth) {
  static const char *const scales[] = {"0.5", "1.5", "0.25", "2.0", "-0.75", "0.125"};
  static const char *const rounding[] = {"floor(", "ceil(", "round(", "abs("};
  switch (c.pick(depth >= kMaxDepth ? 1 : 7)) {
  case 0: return "float(" + intExpr(c, depth + 1) + ")";
  case 1: return "(" + floatExpr(c, depth + 1) + " * " + scales[c.pick(6)] + ")";
  case 2: return "(" + floatExpr(c, depth + 1) + " + " + floatExpr(c, depth + 1) + ")";
  case 3: return std::string(rounding[c.pick(4)]) + floatExpr(c, depth + 1) + ")";
  case 4: return "(-" + floatExpr(c, depth + 1) + ")";
  case 5:
    return std::string(c.pick(2) ? "min(" : "max(") + floatExpr(c, depth + 1) + ", " + floatExpr(c, depth + 1) + ")";
  default: return "float(" + boolExpr(c, depth + 1) + ")";
  }
}

std::string boolExpr(Choices &c, int depth) {
  static const char *const rel[] = {" < ", " <= ", " > ", " >= ", " == ", " != "};
  switch (c.pick(depth >= kMaxDepth ? 1 : 6)) {
  case 0: return "(" + intExpr(c, depth + 1) + rel[c.pick(6)] + intExpr(c, depth + 1) + ")";
  case 1: return "(" + floatExpr(c, depth + 1) + rel[c.pick(4)] + floatExpr(c, depth + 1) + ")";
  case 2: return "(" + boolExpr(c, depth + 1) + " && " + boolExpr(c, depth + 1) + ")";
  case 3: return "(" + boolExpr(c, depth + 1) + " || " + boolExpr(c, depth + 1) + ")";
  case 4: return "!" + boolExpr(c, depth + 1);
  default: return "(" + intExpr(c, depth + 1) + rel[c.pick(4)] + intExpr(c, depth + 1) + ")";
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Choices c(data, size);
  const std::string maskMod = boolExpr(c, 0);
  const bool bias = c.pick(2) == 1;
  nlohmann::json spec = {{"name", "fuzz_mask_gen"}, {"dtype", "bf16"}, {"head_dim", 16},
                         {"heads", {{"q", 2}, {"kv", 1}}}, {"shape", {{"B", 1}, {"Sq", 37}, {"Sk", 53}}},
                         {"mask_mod", maskMod}};
  if (maskMod.find("doc_ids") != std::string::npos)
    spec["captures"]["doc_ids"] = {{"shape", {"B", "Sk"}}, {"dtype", "i32"}};
  if (bias) {
    spec["score_mod"] = "score + bias[h, q_idx]";
    spec["captures"]["bias"] = {{"shape", {"Hq", "Sq"}}, {"dtype", "f32"}};
  }
  const std::string text = spec.dump();
  if (std::getenv("TILEFUSE_FUZZ_PRINT")) // the spec an input stands for, to reproduce it with `tilefuse run`
    std::fprintf(stderr, "%s\n", text.c_str());
  tilefuse::fuzz::chain::checkChain("mask_gen", text, /*generate=*/false);
  return 0;
}
