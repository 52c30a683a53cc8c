// The variant language's casts, functions and `let` names (specs/README.md, "Functions", "let"):
// typing, fp64 evaluation, and the errors, each checked against values computed by hand.

#include "tilefuse/spec/Eval.h"
#include "tilefuse/spec/Spec.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <string>

using namespace tilefuse::spec;

namespace {

// Checks `text` as a let definition (any type; sees score) and evaluates it at q_idx = 5,
// kv_idx = 9, score = `score`.
Value ev(const std::string &text, double score = 0.0) {
  Expr e = parseExpr(text);
  checkExpr(e, {ExprContext::Let, {}});
  EvalEnv env;
  env.q_idx = 5;
  env.kv_idx = 9;
  env.score = score;
  env.shape.B = 1;
  env.shape.Hq = env.shape.Hkv = 1;
  env.shape.Sq = env.shape.Sk = 16;
  return evaluate(e, env);
}

ScalarType typeOf(const std::string &text) {
  Expr e = parseExpr(text);
  checkExpr(e, {ExprContext::Let, {}});
  return e.type;
}

SpecError checkError(const std::string &text, ExprContext context = ExprContext::Let) {
  try {
    Expr e = parseExpr(text);
    checkExpr(e, {context, {}});
    if (e.type != ScalarType::Unknown)
      evaluate(e, EvalEnv{});
  } catch (const SpecError &e) {
    return e;
  }
  FAIL("expected a SpecError for " << text);
  return SpecError({}, "");
}

double f(const std::string &text, double score = 0.0) {
  Value v = ev(text, score);
  REQUIRE(v.type == ScalarType::Float);
  return v.f;
}

int64_t i(const std::string &text) {
  Value v = ev(text);
  REQUIRE(v.type == ScalarType::Int);
  return v.i;
}

std::string spec(const std::string &let, const std::string &score, const std::string &mask = "",
                 const std::string &captures = "") {
  std::string s = R"J({"name": "t", "dtype": "bf16", "head_dim": 64, "heads": {"q": 2, "kv": 2},)J";
  if (!let.empty())
    s += "\"let\": " + let + ",";
  if (!score.empty())
    s += "\"score_mod\": \"" + score + "\",";
  if (!mask.empty())
    s += "\"mask_mod\": \"" + mask + "\",";
  if (!captures.empty())
    s += "\"captures\": " + captures + ",";
  return s + R"J("shape": {"B": 1, "Sq": 64, "Sk": 64}})J";
}

SpecError specError(const std::string &json) {
  try {
    parseSpecString(json, "t.json");
  } catch (const SpecError &e) {
    return e;
  }
  FAIL("expected a SpecError for " << json);
  return SpecError({}, "");
}

} // namespace

TEST_CASE("casts: int() truncates toward zero float() converts bools give 0 / 1", "[varlang]") {
  CHECK(i("int(2.7)") == 2);
  CHECK(i("int(-2.7)") == -2);
  CHECK(i("int(q_idx)") == 5);
  CHECK(i("int(kv_idx > q_idx)") == 1);
  CHECK(i("int(kv_idx < q_idx)") == 0);
  CHECK(f("float(q_idx)") == 5.0);
  CHECK(f("float(true)") == 1.0);
  CHECK(typeOf("int(score)") == ScalarType::Int);
  CHECK(typeOf("float(3)") == ScalarType::Float);
  SECTION("int() outside int64 is an error in the reference") {
    SpecError e = checkError("int(1e30)");
    CHECK_THAT(e.what(), Catch::Contains("int() of") && Catch::Contains("outside the range of int64"));
  }
  SECTION("there is no bool() cast") {
    SpecError e = checkError("bool(q_idx)");
    CHECK(e.exprColumn() == 1);
    CHECK_THAT(e.what(), Catch::Contains("no bool() cast: write x != 0"));
  }
  SECTION("casts take one argument") {
    CHECK_THAT(checkError("int(1, 2)").what(), Catch::Contains("int() at column 1 takes 1 argument, got 2"));
  }
}

TEST_CASE("a bool operand of arithmetic is the int 0 / 1", "[varlang]") {
  CHECK(i("(kv_idx > q_idx) * 16") == 16);
  CHECK(i("(kv_idx < q_idx) * 16 + 3") == 3);
  CHECK(f("score + (q_idx > 0)", 0.5) == 1.5);
  CHECK(f("(q_idx > 0) / 4") == 0.25);
  CHECK(typeOf("(kv_idx > q_idx) * 16") == ScalarType::Int);
  SECTION("the checker writes the conversion out") {
    Expr e = parseExpr("(kv_idx > q_idx) * 16");
    checkExpr(e, {ExprContext::Let, {}});
    REQUIRE(e.lhs().kind == ExprKind::Call);
    CHECK(e.lhs().callee == Builtin::Int);
    CHECK(toString(e) == "int(kv_idx > q_idx) * 16");
  }
  SECTION("only in arithmetic: comparisons, negation and functions still refuse bools") {
    CHECK_THAT(checkError("(kv_idx > q_idx) < 1").what(), Catch::Contains("expects int or float operands"));
    CHECK_THAT(checkError("-(kv_idx > q_idx)").what(), Catch::Contains("expects an int or float operand"));
    SpecError e = checkError("tanh(q_idx > 0)");
    CHECK(e.exprColumn() == 12); // the argument's column: its operator's
    CHECK_THAT(e.what(), Catch::Contains("argument 1 of tanh() at column 1 is bool") &&
                             Catch::Contains("int(c) or float(c)"));
  }
  SECTION("a bool result is still not a score") {
    CHECK_THAT(checkError("q_idx > 0", ExprContext::ScoreMod).what(), Catch::Contains("expected a float"));
  }
}

TEST_CASE("floor ceil round: half away from zero - of an int the int", "[varlang]") {
  CHECK(f("floor(-2.5)") == -3.0);
  CHECK(f("ceil(-2.5)") == -2.0);
  CHECK(f("round(2.5)") == 3.0);
  CHECK(f("round(-2.5)") == -3.0);
  CHECK(f("round(0.5)") == 1.0);
  CHECK(f("round(1.4)") == 1.0);
  CHECK(i("floor(q_idx)") == 5);
  CHECK(i("round(-7)") == -7);
  CHECK(typeOf("ceil(q_idx / 2)") == ScalarType::Float);
  CHECK(i("int(ceil(q_idx / 2))") == 3);
}

TEST_CASE("transcendental functions", "[varlang]") {
  CHECK(f("sigmoid(0.0)") == 0.5);
  CHECK(f("sigmoid(-1000.0)") == 0.0);
  CHECK(f("sigmoid(1000.0)") == 1.0);
  CHECK(f("sigmoid(score)", 2.0) == Approx(1.0 / (1.0 + std::exp(-2.0))).epsilon(1e-15));
  CHECK(f("softplus(0.0)") == Approx(std::log(2.0)).epsilon(1e-15));
  CHECK(f("softplus(100.0)") == 100.0); // no overflow: max(x, 0) + log1p(exp(-|x|))
  CHECK(f("softplus(-100.0)") == Approx(std::exp(-100.0)).epsilon(1e-12));
  CHECK(f("log2(8)") == 3.0);
  CHECK(f("exp2(q_idx)") == 32.0);
  CHECK(f("log1p(score)", 1e-10) == Approx(1e-10).epsilon(1e-9));
  CHECK(f("expm1(score)", 1e-10) == Approx(1e-10).epsilon(1e-9));
  CHECK(typeOf("log2(q_idx)") == ScalarType::Float);
  CHECK_THAT(checkError("log1p()").what(), Catch::Contains("log1p() at column 1 takes 1 argument, got 0"));
}

TEST_CASE("pow: float - a negative base with a non-integer exponent is NaN as C pow", "[varlang]") {
  CHECK(f("pow(2, 10)") == 1024.0);
  CHECK(typeOf("pow(2, 10)") == ScalarType::Float);
  CHECK(f("pow(-2.0, 3)") == -8.0);
  CHECK(std::isnan(f("pow(-8.0, 1.0 / 3.0)")));
  CHECK(f("pow(0.0, 0.0)") == 1.0);
  CHECK(f("pow(score, 0.5)", 16.0) == 4.0);
  CHECK_THAT(checkError("pow(2)").what(), Catch::Contains("pow() at column 1 takes 2 arguments, got 1"));
  CHECK_THAT(checkError("pow(2, true)").what(), Catch::Contains("argument 2 of pow()"));
}

TEST_CASE("sign: -1 0 1 of the argument type", "[varlang]") {
  CHECK(i("sign(q_idx - kv_idx)") == -1);
  CHECK(i("sign(0)") == 0);
  CHECK(f("sign(2.5)") == 1.0);
  CHECK(f("sign(-0.0)") == 0.0);
  CHECK(f("sign(score)", -3.0) == -1.0);
  CHECK(f("sign(score / score)", 0.0) == 0.0); // NaN -> 0
}

TEST_CASE("new functions print and parse back", "[varlang]") {
  for (const char *text : {"int(score * 2.0) + 1", "float(q_idx) / 3.0", "floor(score) + ceil(score)",
                           "round(-score)", "sigmoid(score) * softplus(score)", "log2(exp2(score))",
                           "pow(score, 2.0) - sign(score)", "log1p(expm1(score))"}) {
    Expr e = parseExpr(text);
    CHECK(structurallyEqual(parseExpr(toString(e)), e));
  }
}

TEST_CASE("let: named sub-expressions are inlined and checked", "[varlang]") {
  Spec withLet = parseSpecString(
      spec(R"J({"d": "q_idx - kv_idx", "near": "abs(d) < 4", "cap": "20.0", "soft": "cap * tanh(score / cap)"})J",
           "soft - 0.5 * float(d)", "near || d == 0"),
      "t.json");
  Spec inlined = parseSpecString(
      spec("", "20.0 * tanh(score / 20.0) - 0.5 * float(q_idx - kv_idx)",
           "abs(q_idx - kv_idx) < 4 || q_idx - kv_idx == 0"),
      "t.json");
  CHECK(toString(*withLet.scoreMod) == toString(*inlined.scoreMod));
  CHECK(toString(*withLet.maskMod) == toString(*inlined.maskMod));
  SECTION("the content hash is that of the expressions written out") {
    CHECK(contentHash(withLet) == contentHash(inlined));
    Spec other = parseSpecString(
        spec(R"J({"d": "q_idx - kv_idx", "near": "abs(d) < 5", "cap": "20.0", "soft": "cap * tanh(score / cap)"})J",
             "soft - 0.5 * float(d)", "near || d == 0"),
        "t.json");
    CHECK(contentHash(other) != contentHash(withLet));
  }
  SECTION("a let may read captured tensors") {
    Spec s = parseSpecString(spec(R"J({"bucket": "min(abs(q_idx - kv_idx), 7)", "hb": "bias[h, bucket]"})J",
                                  "score + hb", "",
                                  R"J({"bias": {"shape": ["Hq", 8], "dtype": "f32"}})J"),
                             "t.json");
    CHECK(toString(*s.scoreMod) == "score + bias[h, min(abs(q_idx - kv_idx), 7)]");
  }
}

TEST_CASE("let: errors", "[varlang]") {
  SECTION("a cycle is named") {
    SpecError e = specError(spec(R"J({"x": "y + 1", "y": "z * 2", "z": "x", "w": "1"})J", "score + x"));
    CHECK(e.field() == "let.x");
    CHECK_THAT(e.what(), Catch::Contains("let names form a cycle: x -> y -> z -> x"));
  }
  SECTION("a name using itself") {
    SpecError e = specError(spec(R"J({"x": "x + 1"})J", "score + x"));
    CHECK_THAT(e.what(), Catch::Contains("cycle: x -> x"));
  }
  SECTION("an unknown name suggests a let name") {
    SpecError e = specError(spec(R"J({"bucket": "q_idx // 8"})J", "score + float(buckte)"));
    CHECK(e.field() == "score_mod");
    CHECK_THAT(e.what(), Catch::Contains("unknown name 'buckte'") && Catch::Contains("did you mean 'bucket'"));
  }
  SECTION("an unknown name inside a let is located in that let") {
    SpecError e = specError(spec(R"J({"bucket": "q_idx // 8 + kv_idz"})J", "score + float(bucket)"));
    CHECK(e.field() == "let.bucket");
    CHECK(e.exprColumn() == 14);
    CHECK_THAT(e.what(), Catch::Contains("did you mean 'kv_idx'"));
  }
  SECTION("a let may not shadow a variable, a function or a capture") {
    CHECK_THAT(specError(spec(R"J({"q_idx": "1"})J", "score")).what(),
               Catch::Contains("let name 'q_idx' would shadow the built-in variable 'q_idx'"));
    CHECK_THAT(specError(spec(R"J({"sigmoid": "1"})J", "score")).what(),
               Catch::Contains("would shadow the built-in function 'sigmoid'"));
    CHECK_THAT(specError(spec(R"J({"bias": "1"})J", "score + bias[h, 0]", "",
                              R"J({"bias": {"shape": ["Hq", 8], "dtype": "f32"}})J"))
                   .what(),
               Catch::Contains("would shadow the captured tensor 'bias'"));
    CHECK_THAT(specError(spec(R"J({"2x": "1"})J", "score")).what(), Catch::Contains("is not an identifier"));
  }
  SECTION("strict JSON: an object of strings") {
    CHECK_THAT(specError(spec(R"J(["a"])J", "score")).what(), Catch::Contains("expected an object of named expressions"));
    SpecError e = specError(spec(R"J({"a": 1})J", "score"));
    CHECK(e.field() == "let.a");
    CHECK_THAT(e.what(), Catch::Contains("expected an expression string, got number 1"));
    CHECK_THAT(specError(spec(R"J({"a": "1", "a": "2"})J", "score")).what(), Catch::Contains("appears twice"));
  }
  SECTION("a let reading score cannot be used in mask_mod") {
    SpecError e = specError(spec(R"J({"big": "score > 0.0"})J", "", "big && q_idx >= kv_idx"));
    CHECK(e.field() == "mask_mod");
    CHECK(e.exprColumn() == 1);
    CHECK_THAT(e.what(), Catch::Contains("'big' at column 1 is a let name that reads 'score'"));
  }
  SECTION("a type error about a let points at the use") {
    SpecError e = specError(spec(R"J({"near": "q_idx - kv_idx < 4"})J", "tanh(near)"));
    CHECK(e.field() == "score_mod");
    CHECK(e.exprColumn() == 6);
    CHECK_THAT(e.what(), Catch::Contains("argument 1 of tanh() at column 1 is bool"));
  }
  SECTION("a let is a value, not a tensor") {
    CHECK_THAT(specError(spec(R"J({"t": "1.0"})J", "score + t[0]")).what(),
               Catch::Contains("'t' at column 9 is a let name, a value, and cannot be indexed"));
  }
  SECTION("a syntax error in a let is located in that let") {
    SpecError e = specError(spec(R"J({"a": "q_idx +"})J", "score"));
    CHECK(e.field() == "let.a");
    CHECK_THAT(e.what(), Catch::Contains("expected an operand"));
  }
  SECTION("bounded: a long chain of lets") {
    // a000 uses a001 uses ... a070: resolving a000 (first in key order) walks the whole chain.
    auto name = [](int k) { return fmt::format("a{:03}", k); };
    std::string lets = "{\"" + name(70) + "\": \"q_idx\"";
    for (int k = 0; k < 70; ++k)
      lets += ", \"" + name(k) + "\": \"" + name(k + 1) + "\"";
    lets += "}";
    SpecError e = specError(spec(lets, "score + float(a000)"));
    CHECK_THAT(e.what(), Catch::Contains("let names nest more than 64 deep (a000 uses a001 ...)"));
  }
  SECTION("bounded: names doubling their size") {
    std::string lets = "{\"l0\": \"q_idx\"";
    for (int k = 1; k <= 20; ++k)
      lets += ", \"l" + std::to_string(k) + "\": \"l" + std::to_string(k - 1) + " + l" +
              std::to_string(k - 1) + "\"";
    lets += "}";
    CHECK_THAT(specError(spec(lets, "score + float(l20)")).what(),
               Catch::Contains("nodes once its let names are written out"));
  }
  SECTION("bounded: nesting height once written out") {
    // Each definition is a chain 150 deep (within the parser's 200); written out, n2 is 450 deep.
    auto chain = [](const std::string &base) {
      std::string d = base;
      for (int j = 0; j < 150; ++j)
        d += " + 1";
      return d;
    };
    std::string lets = "{\"a\": \"" + chain("q_idx") + "\", \"n1\": \"" + chain("a") +
                       "\", \"n2\": \"" + chain("n1") + "\"}";
    SpecError e = specError(spec(lets, "score + float(n2)"));
    CHECK(e.field() == "let.n2");
    CHECK_THAT(e.what(), Catch::Contains("let 'n2' is nested 451 levels deep once its let names are "
                                         "written out; expected at most 400"));
  }
}

TEST_CASE("shipped t5_bias: HF T5 bidirectional buckets", "[varlang]") {
  Spec s = parseSpecFile(std::string(TILEFUSE_SPECS_DIR) + "/t5_bias.json");
  ShapeOverrides o;
  o.Sq = 400;
  o.Sk = 400;
  Shape shape = resolveShape(s, o);
  std::vector<double> table(static_cast<size_t>(shape.Hq) * 32);
  for (size_t k = 0; k < table.size(); ++k)
    table[k] = static_cast<double>(k); // bias[h, bucket] = 32 h + bucket
  EvalEnv env;
  env.shape = shape;
  env.captures = {TensorView{{shape.Hq, 32}, table}};
  env.h = 1;
  auto bucket = [&](int64_t rel) {
    env.q_idx = 200;
    env.kv_idx = 200 + rel;
    return evaluate(*s.scoreMod, env).asFloat() - 32.0;
  };
  // _relative_position_bucket(kv - q, bidirectional=True, num_buckets=32, max_distance=128).
  CHECK(bucket(0) == 0);
  CHECK(bucket(-1) == 1);
  CHECK(bucket(-7) == 7);
  CHECK(bucket(-8) == 8);
  CHECK(bucket(-31) == 11);
  CHECK(bucket(-32) == 12);
  CHECK(bucket(-127) == 15);
  CHECK(bucket(-128) == 15);
  CHECK(bucket(-199) == 15);
  CHECK(bucket(1) == 17);
  CHECK(bucket(9) == 24);
  CHECK(bucket(64) == 30);
  CHECK(bucket(199) == 31);
}
