// The spec fields `normalizer` and `sink` (specs/README.md, "Normalizers"): what they read, their
// errors (naming the field, the value and what is allowed), and the content hash.

#include "tilefuse/spec/Eval.h"
#include "tilefuse/spec/Spec.h"

#include <catch2/catch.hpp>

#include <string>

using namespace tilefuse::spec;

namespace {

// A bf16 spec with `extra` fields spliced in (each ending with a comma).
std::string specWith(const std::string &extra) {
  return R"({"name": "n", "dtype": "bf16", "head_dim": 64, "heads": {"q": 4, "kv": 2}, )" + extra +
         R"( "shape": {"B": 1, "Sq": 64, "Sk": 64}})";
}

std::string errorOf(const std::string &json) {
  try {
    parseSpecString(json, "n.json");
  } catch (const SpecError &e) {
    return e.what();
  }
  FAIL("expected a SpecError for " << json);
  return "";
}

} // namespace

TEST_CASE("normalizer: softmax by default, none when asked", "[spec][normalizer]") {
  CHECK(parseSpecString(specWith(""), "n.json").normalizer == Normalizer::Softmax);
  CHECK(parseSpecString(specWith(R"("normalizer": "softmax",)"), "n.json").normalizer ==
        Normalizer::Softmax);
  Spec none = parseSpecString(specWith(R"("normalizer": "none", "score_mod": "sigmoid(score)",)"),
                              "n.json");
  CHECK(none.normalizer == Normalizer::None);
  CHECK(spelling(Normalizer::None) == "none");
  CHECK(spelling(Normalizer::Softmax) == "softmax");
}

TEST_CASE("normalizer errors name the field, the value and what is allowed", "[spec][normalizer]") {
  std::string bad = errorOf(specWith(R"("normalizer": "sigmod",)"));
  CHECK_THAT(bad, Catch::Contains("field 'normalizer'"));
  CHECK_THAT(bad, Catch::Contains("unsupported normalizer \"sigmod\""));
  CHECK_THAT(bad, Catch::Contains("\"softmax\""));
  CHECK_THAT(bad, Catch::Contains("\"none\""));
  CHECK_THAT(errorOf(specWith(R"("normalizer": "sofmax",)")), Catch::Contains("did you mean 'softmax'"));
  CHECK_THAT(errorOf(specWith(R"("normalizer": 1,)")), Catch::Contains("expected a string"));

  // LSE is the log of the softmax's row sum: none has no row sum.
  std::string lse = errorOf(specWith(R"("normalizer": "none", "lse": true,)"));
  CHECK_THAT(lse, Catch::Contains("field 'lse'"));
  CHECK_THAT(lse, Catch::Contains("\"normalizer\": \"none\""));
  CHECK_THAT(lse, Catch::Contains("LSE is not defined"));
  CHECK_NOTHROW(parseSpecString(specWith(R"("normalizer": "none", "lse": false,)"), "n.json"));

  std::string sink = errorOf(specWith(R"("normalizer": "none", "sink": "0.0",)"));
  CHECK_THAT(sink, Catch::Contains("field 'sink'"));
  CHECK_THAT(sink, Catch::Contains("no denominator"));
}

TEST_CASE("sink: a float expression over b, h, the sizes and captures", "[spec][sink]") {
  Spec s = parseSpecString(
      specWith(R"("sink": "sinks[h] + 0.5 * float(b)", "lse": true,
                  "captures": {"sinks": {"shape": ["Hq"], "dtype": "f32"}},)"),
      "n.json");
  REQUIRE(s.sink);
  EvalEnv env;
  env.shape = resolveShape(s);
  env.captures.push_back({{4}, {0.25, -1.5, 2.0, 3.0}});
  env.b = 2, env.h = 1;
  CHECK(evaluate(*s.sink, env).asFloat() == -1.5 + 1.0);
  // A capture read only by the sink counts as used.
  CHECK(s.captures.size() == 1);
  // let names work in a sink when they do not read per-element names.
  Spec withLet = parseSpecString(specWith(R"("let": {"off": "float(Hq) * 0.25"}, "sink": "off",)"),
                                 "n.json");
  env.captures.clear();
  CHECK(evaluate(*withLet.sink, env).asFloat() == 1.0);
}

TEST_CASE("sink errors", "[spec][sink]") {
  std::string q = errorOf(specWith(R"("sink": "float(q_idx)",)"));
  CHECK_THAT(q, Catch::Contains("field 'sink'"));
  CHECK_THAT(q, Catch::Contains("'q_idx' at column 7 cannot be used in sink"));
  CHECK_THAT(errorOf(specWith(R"("sink": "score",)")), Catch::Contains("'score' at column 1 cannot be used in sink"));
  CHECK_THAT(errorOf(specWith(R"("sink": "float(kv_idx)",)")), Catch::Contains("cannot be used in sink"));
  // Through a let name that reads q_idx.
  CHECK_THAT(errorOf(specWith(R"("let": {"pos": "float(q_idx)"}, "sink": "pos",)")),
             Catch::Contains("cannot be used in sink"));
  std::string type = errorOf(specWith(R"("sink": "1",)"));
  CHECK_THAT(type, Catch::Contains("expected a float expression for sink, got int"));
  CHECK_THAT(type, Catch::Contains("write 1.0 rather than 1"));
  CHECK_THAT(errorOf(specWith(R"("sink": "h > 0",)")), Catch::Contains("expected a float expression for sink"));
  CHECK_THAT(errorOf(specWith(R"("sink": 0.5,)")), Catch::Contains("expected an expression string"));
  CHECK_THAT(errorOf(specWith(R"("sink": "sink[h]",)")), Catch::Contains("unknown name 'sink'"));
  // A capture nobody reads is still an error, and the message lists the sink.
  CHECK_THAT(errorOf(specWith(R"("captures": {"sinks": {"shape": ["Hq"], "dtype": "f32"}},)")),
             Catch::Contains("is not read by score_mod, mask_mod or sink"));
}

TEST_CASE("normalizer and sink are part of the content hash; the defaults are not", "[spec][hash]") {
  Spec plain = parseSpecString(specWith(""), "a.json");
  Spec softmax = parseSpecString(specWith(R"("normalizer": "softmax",)"), "b.json");
  Spec none = parseSpecString(specWith(R"("normalizer": "none",)"), "c.json");
  Spec sink = parseSpecString(specWith(R"("sink": "0.0",)"), "d.json");
  Spec sink2 = parseSpecString(specWith(R"("sink": "1.0",)"), "e.json");
  CHECK(contentHash(plain) == contentHash(softmax));
  CHECK(canonicalJson(plain).find("normalizer") == std::string::npos);
  CHECK(canonicalJson(plain).find("sink") == std::string::npos);
  CHECK(contentHash(plain) != contentHash(none));
  CHECK(contentHash(plain) != contentHash(sink));
  CHECK(contentHash(sink) != contentHash(sink2));
  CHECK_THAT(canonicalJson(none), Catch::Contains(R"("normalizer":"none")"));
  CHECK_THAT(canonicalJson(sink), Catch::Contains(R"("sink":"0.0")"));
}
