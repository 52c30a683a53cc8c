// The shipped specs (specs/*.json): every one parses, resolves, and says what its file says;
// shape overrides; the content hash.

#include "tilefuse/spec/Spec.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <set>
#include <string>

using namespace tilefuse::spec;

namespace {

std::string specPath(const std::string &name) {
  return std::string(TILEFUSE_SPECS_DIR) + "/" + name + ".json";
}

const std::set<std::string> kShipped = {"mha",     "causal",        "gqa",           "sliding_window",
                                        "alibi",   "softcap",       "document_mask", "relative_bias",
                                        "t5_bias", "softcap_decay", "sigmoid_attention",
                                        "attention_sink", "block_diagonal", "stick_breaking"};

} // namespace

TEST_CASE("every shipped spec parses and resolves its default shape", "[spec][files]") {
  std::set<std::string> found;
  for (const auto &entry : std::filesystem::directory_iterator(TILEFUSE_SPECS_DIR)) {
    if (entry.path().extension() != ".json")
      continue;
    INFO(entry.path().string());
    Spec spec = parseSpecFile(entry.path().string());
    CHECK(spec.name == entry.path().stem().string());
    CHECK(spec.headDim == 128);
    CHECK(spec.dtype == DType::BF16);
    CHECK(!spec.description.empty());
    Shape shape = resolveShape(spec);
    CHECK(shape.Hq % shape.Hkv == 0);
    CHECK(shape.Dv == shape.D);
    CHECK(softmaxScale(spec, shape) == Approx(1.0 / std::sqrt(128.0)));
    found.insert(spec.name);
  }
  CHECK(found == kShipped);
}

TEST_CASE("shipped specs say what their variant needs", "[spec][files]") {
  SECTION("mha: no mods, head_dim 64 by override") {
    Spec spec = parseSpecFile(specPath("mha"));
    CHECK_FALSE(spec.scoreMod.has_value());
    CHECK_FALSE(spec.maskMod.has_value());
    CHECK_FALSE(spec.lse);
    ShapeOverrides o;
    o.D = 64;
    o.Sq = 100;
    Shape shape = resolveShape(spec, o);
    CHECK(shape.D == 64);
    CHECK(shape.Dv == 64);
    CHECK(shape.Sq == 100);
    CHECK(shape.Sk == 2048);
    CHECK(softmaxScale(spec, shape) == 0.125);
  }
  SECTION("causal: mask_mod only, LSE written") {
    Spec spec = parseSpecFile(specPath("causal"));
    CHECK(spec.lse);
    REQUIRE(spec.maskMod.has_value());
    CHECK(toString(*spec.maskMod) == "q_idx + (Sk - Sq) >= kv_idx");
    CHECK_FALSE(spec.scoreMod.has_value());
  }
  SECTION("gqa: 32 query heads over 8 K/V heads, causal") {
    Spec spec = parseSpecFile(specPath("gqa"));
    Shape shape = resolveShape(spec);
    CHECK(shape.Hq == 32);
    CHECK(shape.Hkv == 8);
    CHECK(shape.groupSize() == 4);
    CHECK(spec.maskMod.has_value());
    CHECK(spec.lse);
  }
  SECTION("alibi: slopes f32[Hq]") {
    Spec spec = parseSpecFile(specPath("alibi"));
    REQUIRE(spec.captures.size() == 1);
    CHECK(spec.captures[0].name == "slopes");
    CHECK(spec.captures[0].dtype == ElementType::F32);
    CHECK(captureShape(spec, 0, resolveShape(spec)) == std::vector<int64_t>{16});
    REQUIRE(findCapture(spec, "slopes") != nullptr);
    CHECK(findCapture(spec, "bias") == nullptr);
  }
  SECTION("document_mask: doc_ids i32[B, Sk]") {
    Spec spec = parseSpecFile(specPath("document_mask"));
    REQUIRE(spec.captures.size() == 1);
    CHECK(spec.captures[0].dtype == ElementType::I32);
    ShapeOverrides o;
    o.B = 3;
    o.Sk = 77;
    CHECK(captureShape(spec, 0, resolveShape(spec, o)) == std::vector<int64_t>{3, 77});
  }
  SECTION("sigmoid_attention: normalizer none, no LSE, causal") {
    Spec spec = parseSpecFile(specPath("sigmoid_attention"));
    CHECK(spec.normalizer == Normalizer::None);
    CHECK_FALSE(spec.lse);
    CHECK_FALSE(spec.sink.has_value());
    REQUIRE(spec.scoreMod.has_value());
    CHECK(toString(*spec.scoreMod) == "sigmoid(score - log(float(Sk)))");
    CHECK(spec.maskMod.has_value());
  }
  SECTION("stick_breaking: normalizer stick_breaking, no LSE, strictly causal") {
    Spec spec = parseSpecFile(specPath("stick_breaking"));
    CHECK(spec.normalizer == Normalizer::StickBreaking);
    CHECK_FALSE(spec.lse);
    CHECK_FALSE(spec.sink.has_value());
    CHECK_FALSE(spec.scoreMod.has_value());
    REQUIRE(spec.maskMod.has_value());
    CHECK(toString(*spec.maskMod) == "kv_idx < q_idx + (Sk - Sq)");
  }
  SECTION("attention_sink: sinks f32[Hq] read by the sink, LSE written") {
    Spec spec = parseSpecFile(specPath("attention_sink"));
    CHECK(spec.normalizer == Normalizer::Softmax);
    CHECK(spec.lse);
    REQUIRE(spec.sink.has_value());
    CHECK(toString(*spec.sink) == "sinks[h]");
    REQUIRE(spec.captures.size() == 1);
    CHECK(captureShape(spec, 0, resolveShape(spec)) == std::vector<int64_t>{64});
  }
  SECTION("block_diagonal: a mask_mod of index arithmetic only, no captures, B4 S4096") {
    Spec spec = parseSpecFile(specPath("block_diagonal"));
    CHECK(spec.captures.empty());
    CHECK_FALSE(spec.scoreMod.has_value());
    CHECK(spec.maskMod.has_value());
    Shape shape = resolveShape(spec);
    CHECK(shape.B == 4);
    CHECK(shape.Sq == 4096);
    CHECK(shape.Sk == 4096);
  }
  SECTION("relative_bias: bias f32[Hq, Sq + Sk - 1]") {
    Spec spec = parseSpecFile(specPath("relative_bias"));
    REQUIRE(spec.captures.size() == 1);
    CHECK(toString(spec.captures[0].shape[1]) == "Sq + Sk - 1");
    ShapeOverrides o;
    o.Sq = 5;
    o.Sk = 9;
    CHECK(captureShape(spec, 0, resolveShape(spec, o)) == std::vector<int64_t>{16, 13});
  }
}

TEST_CASE("shape overrides are checked", "[spec][shape]") {
  Spec spec = parseSpecFile(specPath("gqa"));
  ShapeOverrides o;
  SECTION("Hkv that does not divide Hq") {
    o.Hkv = 5;
    try {
      resolveShape(spec, o);
      FAIL("expected a SpecError");
    } catch (const SpecError &e) {
      CHECK(e.field() == "heads.kv");
      CHECK_THAT(e.what(), Catch::Contains("Hq = 32 is not a multiple of Hkv = 5"));
      CHECK_THAT(e.what(), Catch::Contains("1, 2, 4, 8, 16, 32"));
    }
  }
  SECTION("a size that is not positive") {
    o.B = 0;
    try {
      resolveShape(spec, o);
      FAIL("expected a SpecError");
    } catch (const SpecError &e) {
      CHECK(e.field() == "shape.B");
      CHECK_THAT(e.what(), Catch::Contains("B = 0 (a shape override)"));
    }
  }
}

TEST_CASE("content hash is stable and covers what changes the kernel", "[spec][hash]") {
  const std::string base = R"json({"name": "a", "dtype": "bf16", "head_dim": 128,
    "heads": {"q": 8, "kv": 8}, "mask_mod": "where(q_idx >= kv_idx, true, false)",
    "shape": {"B": 1, "Sq": 64, "Sk": 64}})json";
  Spec a = parseSpecString(base, "a.json");

  // Same meaning, other spelling: order of fields, spaces, where() vs ?:, name, default shape.
  Spec same = parseSpecString(R"json({
    "shape": {"Sk": 128, "Sq": 128, "B": 2}, "heads": {"kv": 8, "q": 8},
    "mask_mod": "(q_idx>=kv_idx) ? true : false", "name": "b", "head_dim": 128, "dtype": "bf16"
  })json",
                              "b.json");
  CHECK(contentHash(a) == contentHash(same));
  CHECK(canonicalJson(a) == canonicalJson(same));

  Spec withLse = parseSpecString(R"json({"name": "a", "dtype": "bf16", "head_dim": 128,
    "heads": {"q": 8, "kv": 8}, "mask_mod": "where(q_idx >= kv_idx, true, false)", "lse": true,
    "shape": {"B": 1, "Sq": 64, "Sk": 64}})json",
                                 "c.json");
  CHECK(contentHash(a) != contentHash(withLse));

  Spec fp16 = parseSpecString(R"json({"name": "a", "dtype": "fp16", "head_dim": 128,
    "heads": {"q": 8, "kv": 8}, "mask_mod": "where(q_idx >= kv_idx, true, false)",
    "shape": {"B": 1, "Sq": 64, "Sk": 64}})json",
                              "d.json");
  CHECK(contentHash(a) != contentHash(fp16));

  // "math": "exact" changes the kernel (tanhf, expf); "approx" is the default, spelled out or not.
  Spec exact = parseSpecString(R"json({"name": "a", "dtype": "bf16", "head_dim": 128, "math": "exact",
    "heads": {"q": 8, "kv": 8}, "mask_mod": "where(q_idx >= kv_idx, true, false)",
    "shape": {"B": 1, "Sq": 64, "Sk": 64}})json",
                               "e.json");
  CHECK(exact.math == MathMode::Exact);
  CHECK(contentHash(a) != contentHash(exact));
  CHECK_THAT(canonicalJson(exact), Catch::Contains(R"("math":"exact")"));
  Spec approx = parseSpecString(R"json({"name": "a", "dtype": "bf16", "head_dim": 128, "math": "approx",
    "heads": {"q": 8, "kv": 8}, "mask_mod": "where(q_idx >= kv_idx, true, false)",
    "shape": {"B": 1, "Sq": 64, "Sk": 64}})json",
                                "f.json");
  CHECK(a.math == MathMode::Approx);
  CHECK(approx.math == MathMode::Approx);
  CHECK(canonicalJson(a) == canonicalJson(approx));

  // Pinned: the canonical form and hash of specs/causal.json must not drift between versions.
  Spec causal = parseSpecFile(specPath("causal"));
  std::string expected =
      R"json({"captures":{},"dtype":"bf16","format":1,"head_dim":128,"heads":{"kv":16,"q":16},)json"
      R"json("lse":true,"mask_mod":"q_idx + (Sk - Sq) >= kv_idx","scale":null,)json"
      R"json("score_mod":null,"value_dim":null})json";
  CHECK(canonicalJson(causal) == expected);
  CHECK(contentHashHex(causal) == "918f62cb14b3c2ff");
}

TEST_CASE("optional fields value_dim and scale and integer capture sizes", "[spec]") {
  Spec spec = parseSpecString(R"json({
  "name": "mla_like", "dtype": "fp16", "head_dim": 192, "value_dim": 128, "scale": 0.05,
  "heads": {"q": 4, "kv": 1}, "lse": false,
  "score_mod": "score * table[3 - h % 4]",
  "captures": {"table": {"shape": [4], "dtype": "bf16"}},
  "shape": {"B": 1, "Sq": 1, "Sk": 4096}
})json",
                              "inline.json");
  Shape shape = resolveShape(spec);
  CHECK(shape.D == 192);
  CHECK(shape.Dv == 128);
  CHECK(shape.groupSize() == 4);
  CHECK(softmaxScale(spec, shape) == 0.05);
  CHECK(spec.dtype == DType::FP16);
  CHECK(captureShape(spec, 0, shape) == std::vector<int64_t>{4});
  CHECK(spec.file == "inline.json");
}
