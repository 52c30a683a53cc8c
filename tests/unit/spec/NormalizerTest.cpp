// The spec fields `normalizer` and `sink` (specs/README.md, "Normalizers"): what they read, their
// errors (naming the field, the value and what is allowed), and the content hash.

#include "tilefuse/spec/Eval.h"
#include "tilefuse/spec/Spec.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace tilefuse::spec;

namespace {

// A bf16 spec with `extra` fields spliced in (each ending with a comma).
std::string specWith(const std::string &extra) {
  return R"j({"name": "n", "dtype": "bf16", "head_dim": 64, "heads": {"q": 4, "kv": 2}, )j" + extra +
         R"j( "shape": {"B": 1, "Sq": 64, "Sk": 64}})j";
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

TEST_CASE("normalizer is softmax by default and none when asked", "[spec][normalizer]") {
  CHECK(parseSpecString(specWith(""), "n.json").normalizer == Normalizer::Softmax);
  CHECK(parseSpecString(specWith(R"j("normalizer": "softmax",)j"), "n.json").normalizer ==
        Normalizer::Softmax);
  Spec none = parseSpecString(specWith(R"j("normalizer": "none", "score_mod": "sigmoid(score)",)j"),
                              "n.json");
  CHECK(none.normalizer == Normalizer::None);
  CHECK(spelling(Normalizer::None) == "none");
  CHECK(spelling(Normalizer::Softmax) == "softmax");
}

TEST_CASE("normalizer errors name the field and the value and what is allowed", "[spec][normalizer]") {
  std::string bad = errorOf(specWith(R"j("normalizer": "sigmod",)j"));
  CHECK_THAT(bad, Catch::Contains("field 'normalizer'"));
  CHECK_THAT(bad, Catch::Contains("unsupported normalizer \"sigmod\""));
  CHECK_THAT(bad, Catch::Contains("\"softmax\""));
  CHECK_THAT(bad, Catch::Contains("\"none\""));
  CHECK_THAT(errorOf(specWith(R"j("normalizer": "sofmax",)j")), Catch::Contains("did you mean 'softmax'"));
  CHECK_THAT(errorOf(specWith(R"j("normalizer": 1,)j")), Catch::Contains("expected a string"));

  // LSE is the log of the softmax's row sum: none has no row sum.
  std::string lse = errorOf(specWith(R"j("normalizer": "none", "lse": true,)j"));
  CHECK_THAT(lse, Catch::Contains("field 'lse'"));
  CHECK_THAT(lse, Catch::Contains("\"normalizer\": \"none\""));
  CHECK_THAT(lse, Catch::Contains("LSE is not defined"));
  CHECK_NOTHROW(parseSpecString(specWith(R"j("normalizer": "none", "lse": false,)j"), "n.json"));

  std::string sink = errorOf(specWith(R"j("normalizer": "none", "sink": "0.0",)j"));
  CHECK_THAT(sink, Catch::Contains("field 'sink'"));
  CHECK_THAT(sink, Catch::Contains("no denominator"));
}

TEST_CASE("normalizer stick_breaking is read and refuses lse and sink", "[spec][normalizer]") {
  // Tan et al. 2024, Sec. 2: weights beta_j prod_{k > j} (1 - beta_k), no row sum.
  Spec sb = parseSpecString(specWith(R"j("normalizer": "stick_breaking", "mask_mod": "kv_idx < q_idx",)j"),
                            "n.json");
  CHECK(sb.normalizer == Normalizer::StickBreaking);
  CHECK(spelling(Normalizer::StickBreaking) == "stick_breaking");
  CHECK_FALSE(sb.lse);
  CHECK_NOTHROW(parseSpecString(specWith(R"j("normalizer": "stick_breaking", "lse": false,)j"), "n.json"));
  CHECK_NOTHROW(parseSpecString(
      specWith(R"j("normalizer": "stick_breaking", "score_mod": "score - 1.0", "mask_mod": "kv_idx <= q_idx",)j"),
      "n.json"));

  std::string bad = errorOf(specWith(R"j("normalizer": "stick-breaking",)j"));
  CHECK_THAT(bad, Catch::Contains("field 'normalizer'"));
  CHECK_THAT(bad, Catch::Contains("unsupported normalizer \"stick-breaking\""));
  CHECK_THAT(bad, Catch::Contains("\"stick_breaking\""));
  CHECK_THAT(bad, Catch::Contains("did you mean 'stick_breaking'"));
  CHECK_THAT(errorOf(specWith(R"j("normalizer": "sigmod",)j")), Catch::Contains("\"stick_breaking\" (O = sum_kv beta_kv"));

  std::string lse = errorOf(specWith(R"j("normalizer": "stick_breaking", "lse": true,)j"));
  CHECK_THAT(lse, Catch::Contains("field 'lse'"));
  CHECK_THAT(lse, Catch::Contains("\"normalizer\": \"stick_breaking\""));
  CHECK_THAT(lse, Catch::Contains("LSE is not defined"));
  CHECK_THAT(lse, Catch::Contains("use \"normalizer\": \"softmax\""));

  std::string sink = errorOf(specWith(R"j("normalizer": "stick_breaking", "sink": "0.0",)j"));
  CHECK_THAT(sink, Catch::Contains("field 'sink'"));
  CHECK_THAT(sink, Catch::Contains("\"normalizer\": \"stick_breaking\""));
  CHECK_THAT(sink, Catch::Contains("no denominator"));
}

TEST_CASE("sink is a float expression over b and h and the sizes and captures", "[spec][sink]") {
  Spec s = parseSpecString(
      specWith(R"j("sink": "sinks[h] + 0.5 * float(b)", "lse": true,
                  "captures": {"sinks": {"shape": ["Hq"], "dtype": "f32"}},)j"),
      "n.json");
  REQUIRE(s.sink);
  EvalEnv env;
  env.shape = resolveShape(s);
  const std::vector<double> sinks = {0.25, -1.5, 2.0, 3.0};
  env.captures.push_back({{4}, sinks});
  env.b = 2, env.h = 1;
  CHECK(evaluate(*s.sink, env).asFloat() == -1.5 + 1.0);
  // A capture read only by the sink counts as used.
  CHECK(s.captures.size() == 1);
  // let names work in a sink when they do not read per-element names.
  Spec withLet = parseSpecString(specWith(R"j("let": {"off": "float(Hq) * 0.25"}, "sink": "off",)j"),
                                 "n.json");
  env.captures.clear();
  CHECK(evaluate(*withLet.sink, env).asFloat() == 1.0);
}

TEST_CASE("sink errors", "[spec][sink]") {
  std::string q = errorOf(specWith(R"j("sink": "float(q_idx)",)j"));
  CHECK_THAT(q, Catch::Contains("field 'sink'"));
  CHECK_THAT(q, Catch::Contains("'q_idx' at column 7 cannot be used in sink"));
  CHECK_THAT(errorOf(specWith(R"j("sink": "score",)j")), Catch::Contains("'score' at column 1 cannot be used in sink"));
  CHECK_THAT(errorOf(specWith(R"j("sink": "float(kv_idx)",)j")), Catch::Contains("cannot be used in sink"));
  // Through a let name that reads q_idx.
  CHECK_THAT(errorOf(specWith(R"j("let": {"pos": "float(q_idx)"}, "sink": "pos",)j")),
             Catch::Contains("cannot be used in sink"));
  std::string type = errorOf(specWith(R"j("sink": "1",)j"));
  CHECK_THAT(type, Catch::Contains("expected a float expression for sink, got int"));
  CHECK_THAT(type, Catch::Contains("write 1.0 rather than 1"));
  CHECK_THAT(errorOf(specWith(R"j("sink": "h > 0",)j")), Catch::Contains("expected a float expression for sink"));
  CHECK_THAT(errorOf(specWith(R"j("sink": 0.5,)j")), Catch::Contains("expected an expression string"));
  CHECK_THAT(errorOf(specWith(R"j("sink": "sink[h]",)j")), Catch::Contains("unknown name 'sink'"));
  // A capture nobody reads is still an error, and the message lists the sink.
  CHECK_THAT(errorOf(specWith(R"j("captures": {"sinks": {"shape": ["Hq"], "dtype": "f32"}},)j")),
             Catch::Contains("is not read by score_mod, mask_mod or sink"));
}

TEST_CASE("normalizer and sink are part of the content hash but the defaults are not", "[spec][hash]") {
  Spec plain = parseSpecString(specWith(""), "a.json");
  Spec softmax = parseSpecString(specWith(R"j("normalizer": "softmax",)j"), "b.json");
  Spec none = parseSpecString(specWith(R"j("normalizer": "none",)j"), "c.json");
  Spec sink = parseSpecString(specWith(R"j("sink": "0.0",)j"), "d.json");
  Spec sink2 = parseSpecString(specWith(R"j("sink": "1.0",)j"), "e.json");
  CHECK(contentHash(plain) == contentHash(softmax));
  CHECK(canonicalJson(plain).find("normalizer") == std::string::npos);
  CHECK(canonicalJson(plain).find("sink") == std::string::npos);
  CHECK(contentHash(plain) != contentHash(none));
  CHECK(contentHash(plain) != contentHash(sink));
  CHECK(contentHash(sink) != contentHash(sink2));
  CHECK_THAT(canonicalJson(none), Catch::Contains(R"j("normalizer":"none")j"));
  Spec stick = parseSpecString(specWith(R"j("normalizer": "stick_breaking",)j"), "f.json");
  CHECK(contentHash(stick) != contentHash(plain));
  CHECK(contentHash(stick) != contentHash(none));
  CHECK_THAT(canonicalJson(stick), Catch::Contains(R"j("normalizer":"stick_breaking")j"));
  CHECK_THAT(canonicalJson(sink), Catch::Contains(R"j("sink":"0.0")j"));
}
