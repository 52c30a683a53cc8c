// Regression tests of issue 14 ("Hardening") for the spec layer: each input once crashed, hung or
// was silently misread. Every input is built fresh here.

#include "tilefuse/spec/Json.h"
#include "tilefuse/spec/Shape.h"
#include "tilefuse/spec/Spec.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

using namespace tilefuse::spec;

namespace {

std::string specText(const std::string &extra, const std::string &headDim = "128",
                     const std::string &heads = R"({"q": 8, "kv": 8})") {
  return R"({"name": "x", "dtype": "bf16", "head_dim": )" + headDim + R"(, "heads": )" + heads +
         R"(, "shape": {"B": 1, "Sq": 16, "Sk": 16})" + extra + "}";
}

std::string errorOf(const std::string &text) {
  try {
    parseSpecString(text, "bad.json");
  } catch (const SpecError &e) {
    return e.what();
  }
  FAIL("expected a SpecError for " << text.substr(0, 200));
  return "";
}

std::string chain(int terms) {
  std::string s = "score";
  for (int i = 0; i < terms; ++i)
    s += " + 0.0";
  return s;
}

} // namespace

TEST_CASE("a long left-associative chain is an error, not a stack overflow", "[spec][hardening]") {
  // 17,000 '+' terms once overflowed the stack in the checker; a million must not either.
  for (int terms : {17000, 1000000}) {
    std::string e = errorOf(specText(R"(, "score_mod": ")" + chain(terms) + "\""));
    CHECK_THAT(e, Catch::Contains("field 'score_mod'"));
    CHECK_THAT(e, Catch::Contains("nested more than 200 levels"));
  }
  // Chains that fit are accepted, and so is the same sum split by parentheses.
  CHECK_NOTHROW(parseSpecString(specText(R"(, "score_mod": ")" + chain(150) + "\""), "ok.json"));
  CHECK_NOTHROW(parseExpr("(" + chain(150) + ") + (" + chain(150) + ")"));
  CHECK_THROWS_AS(parseExpr(chain(199) + " + (" + chain(3) + ")"), SpecError);
  // Deep unary and call nesting is bounded by the same rule.
  CHECK_THROWS_AS(parseExpr(std::string(5000, '-') + "1"), SpecError);
  std::string calls;
  for (int i = 0; i < 5000; ++i)
    calls += "abs(";
  CHECK_THROWS_AS(parseExpr(calls + "1" + std::string(5000, ')')), SpecError);
}

TEST_CASE("a field nested 10^5 levels deep is an error with its place", "[spec][hardening]") {
  std::string deep = std::string(100000, '[') + "1" + std::string(100000, ']');
  std::string e = errorOf(specText(R"(, "lse": )" + deep));
  CHECK_THAT(e, Catch::StartsWith("bad.json:1:"));
  CHECK_THAT(e, Catch::Contains("nested more than 64 levels"));
  // 60 levels parse, and the wrong-type message prints the value without recursing away.
  std::string ok = std::string(60, '[') + "1" + std::string(60, ']');
  CHECK_THAT(errorOf(specText(R"(, "lse": )" + ok)), Catch::Contains("expected true or false"));
}

TEST_CASE("an escaped duplicate key is an error", "[spec][hardening]") {
  std::string e = errorOf(R"({"name": "x", "dtype": "bf16", "head_dim": 128, "head\u005fdim": 64,
    "heads": {"q": 8, "kv": 8}, "shape": {"B": 1, "Sq": 16, "Sk": 16}})");
  CHECK_THAT(e, Catch::Contains("bad.json:1:49: error: field 'head_dim': appears twice"));
  // Plain duplicates still are, too.
  CHECK_THAT(errorOf(specText(R"(, "lse": true, "lse": false)")), Catch::Contains("appears twice"));
}

TEST_CASE("a number outside double's range names the file and line", "[spec][hardening]") {
  std::string e = errorOf("{\"name\": \"x\",\n \"scale\": 1e999}");
  CHECK_THAT(e, Catch::StartsWith("bad.json:2:11: error: "));
  CHECK_THAT(e, Catch::Contains("number overflow"));
  CHECK_THAT(e, !Catch::Contains("json.exception"));
}

TEST_CASE("sizes above their limits are errors, not truncated or wrapped", "[spec][hardening]") {
  // D = 4294967424 once became 128 for the head-dim check.
  CHECK_THAT(errorOf(specText("", "4294967424")),
             Catch::Contains("D = 4294967424 is not allowed; expected an integer from 1 to 1024"));
  Spec spec = parseSpecString(specText(""), "ok.json");
  ShapeOverrides o;
  o.Hq = 2305843009213693951; // divisorsOf(Hq) once looped this many times
  o.Hkv = 2;
  auto t0 = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH(resolveShape(spec, o), Catch::Contains("Hq = 2305843009213693951 (a shape "
                                                           "override) is not allowed"));
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
  // Every size within its limit, but the score matrix too large.
  ShapeOverrides big;
  big.B = kMaxBatch, big.Hq = kMaxHeads, big.Hkv = kMaxHeads, big.Sq = kMaxSeqLen,
  big.Sk = kMaxSeqLen;
  CHECK_THROWS_WITH(resolveShape(spec, big), Catch::Contains("B*Hq*Sq*Sk*4 = more than 2^63"));
  // The largest allowed IO-report shapes still resolve.
  ShapeOverrides fine;
  fine.Sq = fine.Sk = 1000000, fine.Hq = fine.Hkv = 16;
  CHECK(resolveShape(spec, fine).Sq == 1000000);
}

TEST_CASE("checked products and bucketBatch never overflow", "[spec][hardening]") {
  CHECK(checkedProduct({2, 3, 7}) == 42);
  CHECK_FALSE(checkedProduct({int64_t{1} << 62, 4}).has_value());
  CHECK_FALSE(checkedProduct({-1, 4}).has_value());
  // bucketBatch once looped forever above 2^62 (p *= 2 overflowed).
  CHECK(bucketBatch((int64_t{1} << 62) + 1) == (int64_t{1} << 62) + 1);
  CHECK(bucketBatch(INT64_MAX) == INT64_MAX);
  CHECK(bucketBatch(int64_t{1} << 62) == int64_t{1} << 62);
  CHECK(bucketBatch(3) == 4);
}

TEST_CASE("a scale outside fp32 is an error", "[spec][hardening]") {
  CHECK_THAT(errorOf(specText(R"(, "scale": 1e308)")), Catch::Contains("field 'scale'"));
  CHECK_THAT(errorOf(specText(R"(, "scale": 1e-300)")), Catch::Contains("from 1.17549e-38"));
  CHECK(*parseSpecString(specText(R"(, "scale": 0.125)"), "ok.json").scale == 0.125);
}

TEST_CASE("parseUntrustedJson and dumpJson", "[spec][hardening][json]") {
  CHECK_THROWS_AS(parseUntrustedJson(R"({"a": 1, "\u0061": 2})"), JsonInputError);
  CHECK_THROWS_AS(parseUntrustedJson("[1e999]"), JsonInputError);
  CHECK_THROWS_AS(parseUntrustedJson(std::string(65, '[') + std::string(65, ']')), JsonInputError);
  CHECK_NOTHROW(parseUntrustedJson(std::string(64, '[') + std::string(64, ']')));
  try {
    parseUntrustedJson("{\"a\": }");
    FAIL("no error");
  } catch (const JsonInputError &e) {
    CHECK(e.offset() == 6);
    CHECK_THAT(e.what(), !Catch::Contains("json.exception"));
  }
  // Invalid UTF-8 prints replaced, never throws (it once aborted every --json error path).
  nlohmann::json j = {{"error", std::string("caus\xc3" "al \xff")}};
  CHECK(dumpJson(j) == "{\"error\":\"caus\xef\xbf\xbd" "al \xef\xbf\xbd\"}");
  // A value built deeper than the limit prints as a marker instead of recursing.
  nlohmann::json deep = 1;
  for (int i = 0; i < 100; ++i)
    deep = nlohmann::json::array({std::move(deep)});
  CHECK(dumpJson(deep) == "\"<nested too deep>\"");
}
