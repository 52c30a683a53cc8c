// fp64 evaluation: every shipped score_mod / mask_mod at a few points against values computed by
// hand, and the integer semantics every backend must match.

#include "tilefuse/spec/Eval.h"
#include "tilefuse/spec/Spec.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

using namespace tilefuse::spec;

namespace {

Spec shipped(const std::string &name) {
  return parseSpecFile(std::string(TILEFUSE_SPECS_DIR) + "/" + name + ".json");
}

// One point of the score matrix for `spec` at `shape`, with the captures bound in slot order.
struct Point {
  const Spec &spec;
  Shape shape;
  std::vector<TensorView> captures = {};

  EvalEnv env(int64_t b, int64_t h, int64_t q, int64_t kv, double score = 0.0) const {
    EvalEnv e;
    e.b = b;
    e.h = h;
    e.q_idx = q;
    e.kv_idx = kv;
    e.score = score;
    e.shape = shape;
    e.captures = captures;
    return e;
  }
  bool mask(int64_t b, int64_t h, int64_t q, int64_t kv) const {
    return evaluate(*spec.maskMod, env(b, h, q, kv)).asBool();
  }
  double score(double s, int64_t b, int64_t h, int64_t q, int64_t kv) const {
    return evaluate(*spec.scoreMod, env(b, h, q, kv, s)).asFloat();
  }
};

ShapeOverrides sizes(int64_t B, int64_t H, int64_t Sq, int64_t Sk) {
  ShapeOverrides o;
  o.B = B;
  o.Hq = H;
  o.Hkv = H;
  o.Sq = Sq;
  o.Sk = Sk;
  return o;
}

// Evaluates a stand-alone expression of any type at q_idx = 5, kv_idx = 9. checkExpr wants a
// bool at a mask_mod's root, so the expression is checked as the operand of "e == e".
Value eval(const char *text) {
  Expr e = parseExpr(text);
  Expr wrapped = Expr::binary(BinaryOp::Eq, e, e);
  checkExpr(wrapped, {ExprContext::MaskMod, {}});
  EvalEnv env;
  env.q_idx = 5;
  env.kv_idx = 9;
  return evaluate(wrapped.lhs(), env);
}

} // namespace

TEST_CASE("causal and gqa: bottom-right aligned when Sq != Sk", "[eval][shipped]") {
  for (const char *name : {"causal", "gqa"}) {
    INFO(name);
    Spec spec = shipped(name);
    Point square{spec, resolveShape(spec, sizes(1, 8, 4, 4))};
    CHECK(square.mask(0, 0, 2, 2));
    CHECK(square.mask(0, 0, 2, 0));
    CHECK_FALSE(square.mask(0, 0, 2, 3));
    // Sq = 4, Sk = 6: query i sees keys 0 .. i + 2.
    Point rect{spec, resolveShape(spec, sizes(1, 8, 4, 6))};
    CHECK(rect.mask(0, 0, 0, 2));
    CHECK_FALSE(rect.mask(0, 0, 0, 3));
    CHECK(rect.mask(0, 0, 3, 5));
  }
}

TEST_CASE("sliding_window: causal and at most 4096 keys back", "[eval][shipped]") {
  Spec spec = shipped("sliding_window");
  Point p{spec, resolveShape(spec)}; // Sq = Sk = 8192
  CHECK(p.mask(0, 0, 5000, 5000));
  CHECK(p.mask(0, 0, 5000, 905));       // 5000 - 905 = 4095 < 4096
  CHECK_FALSE(p.mask(0, 0, 5000, 904)); // 4096
  CHECK_FALSE(p.mask(0, 0, 5000, 5001));
  Point decode{spec, resolveShape(spec, sizes(1, 8, 1, 10000))}; // the one query is at 9999
  CHECK(decode.mask(0, 0, 0, 9999));
  CHECK(decode.mask(0, 0, 0, 5904));
  CHECK_FALSE(decode.mask(0, 0, 0, 5903));
}

TEST_CASE("alibi: the head's slope times the key distance from the aligned query",
          "[eval][shipped]") {
  Spec spec = shipped("alibi");
  const double slopes[] = {0.5, 0.25};
  Point p{spec, resolveShape(spec, sizes(1, 2, 4, 6)), {{{2}, slopes}}};
  CHECK(captureShape(spec, 0, p.shape) == std::vector<int64_t>{2});
  // h = 1, q = 1 sits at key position 3; kv = 2: 1.5 + 0.25 * (2 - 3) = 1.25
  CHECK(p.score(1.5, 0, 1, 1, 2) == 1.25);
  // h = 0, q = 3 sits at 5; kv = 5: no bias on the diagonal
  CHECK(p.score(-2.0, 0, 0, 3, 5) == -2.0);
  // h = 0, q = 0 at 2, kv = 0: 0.5 * (0 - 2) = -1
  CHECK(p.score(0.0, 0, 0, 0, 0) == -1.0);
  CHECK(p.mask(0, 0, 1, 3));
  CHECK_FALSE(p.mask(0, 0, 1, 4));
}

TEST_CASE("softcap: 50 tanh(score / 50)", "[eval][shipped]") {
  Spec spec = shipped("softcap");
  Point p{spec, resolveShape(spec)};
  CHECK(p.score(10.0, 0, 0, 0, 0) == Approx(9.8687660112452).epsilon(1e-13)); // 50 tanh(0.2)
  CHECK(p.score(-10.0, 0, 0, 0, 0) == Approx(-9.8687660112452).epsilon(1e-13));
  CHECK(p.score(0.0, 0, 0, 0, 0) == 0.0);
  double big = p.score(1000.0, 0, 0, 0, 0); // 50 tanh(20) = 50 - 4.2e-16
  CHECK(big <= 50.0);
  CHECK(big > 49.999999999);
}

TEST_CASE("document_mask: same document id", "[eval][shipped]") {
  Spec spec = shipped("document_mask");
  const double docs[] = {0, 0, 1, 1, /* batch 1 */ 7, 8, 8, 8};
  Point square{spec, resolveShape(spec, sizes(2, 1, 4, 4)), {{{2, 4}, docs}}};
  CHECK(square.mask(0, 0, 1, 0));
  CHECK_FALSE(square.mask(0, 0, 2, 1));
  CHECK(square.mask(0, 0, 2, 3));
  CHECK_FALSE(square.mask(1, 0, 0, 1));
  CHECK(square.mask(1, 0, 3, 1));
  // Sq = 2, Sk = 4: query 0 sits at key position 2 (document 1).
  Point rect{spec, resolveShape(spec, sizes(2, 1, 2, 4)), {{{2, 4}, docs}}};
  CHECK(rect.mask(0, 0, 0, 3));
  CHECK_FALSE(rect.mask(0, 0, 0, 1));
}

TEST_CASE("relative_bias: table lookup by kv_idx - q_idx", "[eval][shipped]") {
  Spec spec = shipped("relative_bias");
  Shape shape = resolveShape(spec, sizes(1, 2, 2, 3));
  REQUIRE(captureShape(spec, 0, shape) == std::vector<int64_t>{2, 4});
  const double bias[] = {0, 1, 2, 3, 10, 11, 12, 13}; // bias[h, j] = 10 h + j
  Point p{spec, shape, {{{2, 4}, bias}}};
  CHECK(p.score(0.5, 0, 1, 1, 0) == 10.5); // j = 0 - 1 + 1 = 0
  CHECK(p.score(0.5, 0, 0, 0, 2) == 3.5);  // j = 2 - 0 + 1 = 3
  CHECK(p.score(0.5, 0, 1, 1, 2) == 12.5); // j = 2
}

TEST_CASE("integer and float arithmetic follow the documented rules", "[eval]") {
  CHECK(eval("-7 // 2").asInt() == -4); // floor, not truncation
  CHECK(eval("7 // -2").asInt() == -4);
  CHECK(eval("-7 % 2").asInt() == 1); // sign of the divisor
  CHECK(eval("7 % -2").asInt() == -1);
  CHECK(eval("7 % 2").asInt() == 1);
  CHECK(eval("7.5 // 2").asFloat() == 3.0);
  CHECK(eval("-7.5 % 2").asFloat() == 0.5);
  CHECK(eval("1 / 2").asFloat() == 0.5);
  CHECK(eval("q_idx - kv_idx").asInt() == -4);
  CHECK(eval("abs(q_idx - kv_idx)").asInt() == 4);
  CHECK(eval("min(q_idx, 2.5)").asFloat() == 2.5);
  CHECK(eval("max(q_idx, kv_idx)").asInt() == 9);
  CHECK(eval("q_idx < kv_idx ? 1 : 2.5").asFloat() == 1.0);
  CHECK(std::isinf(eval("-inf").asFloat()));
  CHECK(eval("exp(log(3.0))").asFloat() == Approx(3.0));
  CHECK(eval("sqrt(16)").asFloat() == 4.0);
  CHECK(eval("q_idx == 5 && !(kv_idx != 9) || 1 / 0 > 0").asBool());
}

TEST_CASE("evaluation errors name the column", "[eval][errors]") {
  auto failure = [](const char *text) {
    try {
      eval(text);
    } catch (const SpecError &e) {
      return e;
    }
    FAIL("expected a SpecError for: " << text);
    throw std::logic_error("unreachable");
  };
  SpecError zero = failure("q_idx // (kv_idx - 9)");
  CHECK(zero.exprColumn() == 7);
  CHECK_THAT(zero.what(), Catch::Contains("integer // by zero"));
  CHECK_THAT(failure("9223372036854775807 + q_idx").what(), Catch::Contains("overflow"));

  Spec spec = shipped("alibi");
  const double slopes[] = {0.5};
  Point p{spec, resolveShape(spec, sizes(1, 2, 4, 4)), {{{1}, slopes}}};
  try {
    p.score(0.0, 0, 1, 0, 0);
    FAIL("expected an index error");
  } catch (const SpecError &e) {
    CHECK(e.exprColumn() == 16);
    CHECK_THAT(e.what(), Catch::Contains("index 0 of 'slopes' at column 16 is 1, outside [0, 1)"));
  }

  Expr unchecked = parseExpr("score");
  CHECK_THROWS_WITH(evaluate(unchecked, EvalEnv{}), Catch::Contains("not been type-checked"));
}
