// The expression language: parse -> print -> parse round trips, precedence, typing, and the
// column of every syntax and type error.

#include "tilefuse/spec/Expr.h"
#include "tilefuse/spec/SpecError.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace tilefuse::spec;

namespace {

ExprScope scope(ExprContext context) {
  ExprScope s;
  s.context = context;
  s.captures = {{"slopes", 1, ScalarType::Float},
                {"doc_ids", 2, ScalarType::Int},
                {"bias", 2, ScalarType::Float}};
  return s;
}

// The SpecError that parsing and checking `text` raises.
SpecError exprError(std::string_view text, ExprContext context = ExprContext::ScoreMod) {
  try {
    parseCheckedExpr(text, scope(context));
  } catch (const SpecError &e) {
    return e;
  }
  FAIL("expected a SpecError for: " << text);
  throw std::logic_error("unreachable");
}

} // namespace

TEST_CASE("parse -> print -> parse gives the same tree", "[expr][roundtrip]") {
  const char *texts[] = {
      "score",
      "q_idx + (Sk - Sq) >= kv_idx",
      "q_idx + (Sk - Sq) >= kv_idx && q_idx + (Sk - Sq) - kv_idx < 4096",
      "score + slopes[h] * (kv_idx - (q_idx + Sk - Sq))",
      "50.0 * tanh(score / 50.0)",
      "doc_ids[b, q_idx + Sk - Sq] == doc_ids[b, kv_idx]",
      "score + bias[h, kv_idx - q_idx + Sq - 1]",
      "a - (b - c)",
      "(a - b) - c",
      "a / (b * c) // d % 3",
      "-(x + 1) * -y",
      "!(a < b) || c && !d",
      "c ? a : d ? e : f",
      "(c ? a : b) ? x : y",
      "c ? (d ? e : f) : g",
      "where(q_idx >= kv_idx, score, -inf)",
      "min(max(score, -1e30), 1.5e-3) + abs(-q_idx) + exp(log(sqrt(2.0)))",
      "1 == 2 != (3 == 3)",
      "--x",
      ".5 + 1. + 2e3 + 7E-2",
      "true != false",
  };
  for (const char *text : texts) {
    INFO(text);
    Expr first = parseExpr(text);
    std::string printed = toString(first);
    INFO(printed);
    Expr second = parseExpr(printed);
    CHECK(structurallyEqual(first, second));
    CHECK(toString(second) == printed); // Printing is a fixed point.
  }
}

TEST_CASE("printing uses the fewest parentheses", "[expr][print]") {
  CHECK(toString(parseExpr("(a - b) - c")) == "a - b - c");
  CHECK(toString(parseExpr("a - (b - c)")) == "a - (b - c)");
  CHECK(toString(parseExpr("((1 + 2)) * 3")) == "(1 + 2) * 3");
  CHECK(toString(parseExpr("1 + (2 * 3)")) == "1 + 2 * 3");
  CHECK(toString(parseExpr("-(x + 1)")) == "-(x + 1)");
  CHECK(toString(parseExpr("c ? a : (d ? e : f)")) == "c ? a : d ? e : f");
  CHECK(toString(parseExpr("(c ? a : b) ? x : y")) == "(c ? a : b) ? x : y");
  CHECK(toString(parseExpr("where(c, a, b)")) == "c ? a : b");
  CHECK(toString(parseExpr("a||b&&c")) == "a || b && c");
  CHECK(toString(parseExpr("(a || b) && c")) == "(a || b) && c");
  CHECK(toString(parseExpr("50 * tanh(score/50.)")) == "50 * tanh(score / 50.0)");
  CHECK(toString(parseExpr("1e-3 + inf")) == "0.001 + inf");
  CHECK(toString(parseExpr("slopes[ h ]*x[1,2]")) == "slopes[h] * x[1, 2]");
}

TEST_CASE("precedence and associativity", "[expr][parse]") {
  Expr e = parseExpr("1 + 2 * 3");
  REQUIRE(e.kind == ExprKind::Binary);
  CHECK(e.binaryOp == BinaryOp::Add);
  CHECK(e.rhs().binaryOp == BinaryOp::Mul);

  Expr sub = parseExpr("a - b - c");
  CHECK(sub.lhs().kind == ExprKind::Binary); // (a - b) - c
  CHECK(sub.rhs().name == "c");

  Expr logic = parseExpr("a || b && c");
  CHECK(logic.binaryOp == BinaryOp::Or);
  CHECK(logic.rhs().binaryOp == BinaryOp::And);

  Expr sel = parseExpr("a ? b : c ? d : e");
  REQUIRE(sel.kind == ExprKind::Select);
  CHECK(sel.operands[2].kind == ExprKind::Select);

  Expr neg = parseExpr("-x * y");
  CHECK(neg.binaryOp == BinaryOp::Mul);
  CHECK(neg.lhs().kind == ExprKind::Unary);

  Expr lit = parseExpr("inf");
  CHECK(lit.kind == ExprKind::FloatLiteral);
  CHECK(std::isinf(lit.floatValue));

  Expr idx = parseExpr("doc_ids[b, kv_idx]");
  CHECK(idx.kind == ExprKind::TensorRead);
  CHECK(idx.operands.size() == 2);
  CHECK(idx.column == 1);
  CHECK(idx.operands[1].column == 12);
}

TEST_CASE("type checking assigns int or float or bool", "[expr][types]") {
  // checkExpr demands the context's type at the root; "e == e" is bool for any well-typed e, so
  // check that in mask_mod and read the type of the left operand.
  auto typeOf = [](const char *text) {
    Expr e = parseExpr(text);
    Expr wrapped = Expr::binary(BinaryOp::Eq, e, e);
    checkExpr(wrapped, scope(ExprContext::MaskMod));
    return wrapped.lhs().type;
  };
  CHECK(typeOf("q_idx // 2") == ScalarType::Int);
  CHECK(typeOf("q_idx % 3") == ScalarType::Int);
  CHECK(typeOf("q_idx / 2") == ScalarType::Float);
  CHECK(typeOf("q_idx * 2.0") == ScalarType::Float);
  CHECK(typeOf("min(q_idx, 3)") == ScalarType::Int);
  CHECK(typeOf("max(q_idx, 0.5)") == ScalarType::Float);
  CHECK(typeOf("abs(-kv_idx)") == ScalarType::Int);
  CHECK(typeOf("tanh(1)") == ScalarType::Float);
  CHECK(typeOf("doc_ids[b, q_idx]") == ScalarType::Int);
  CHECK(typeOf("slopes[h]") == ScalarType::Float);
  CHECK(typeOf("q_idx < kv_idx ? 1 : 2") == ScalarType::Int);
  CHECK(typeOf("q_idx < kv_idx ? 1 : 2.0") == ScalarType::Float);
  CHECK(typeOf("true && !false") == ScalarType::Bool);

  Expr e = parseCheckedExpr("score + slopes[h] * (kv_idx - q_idx)", scope(ExprContext::ScoreMod));
  CHECK(e.type == ScalarType::Float);
  const Expr &read = e.rhs().lhs();
  CHECK(read.kind == ExprKind::TensorRead);
  CHECK(read.captureSlot == 0);
  CHECK(e.lhs().variable == Variable::Score);
  CHECK(e.rhs().rhs().lhs().variable == Variable::KvIdx);

  Expr dim = parseCheckedExpr("Sq + Sk - 1", {ExprContext::CaptureDim, {}});
  CHECK(dim.type == ScalarType::Int);
}

TEST_CASE("syntax errors give the column", "[expr][errors]") {
  SECTION("unbalanced parenthesis") {
    SpecError e = exprError("score * (1.0 + slopes[h]");
    CHECK(e.exprColumn() == 25);
    CHECK_THAT(e.what(), Catch::Contains("expected ')' at column 25"));
    CHECK_THAT(e.what(), Catch::Contains("'(' at column 9"));
  }
  SECTION("extra closing parenthesis") {
    SpecError e = exprError("score + 1.0)");
    CHECK(e.exprColumn() == 12);
    CHECK_THAT(e.what(), Catch::Contains("unbalanced ')' at column 12"));
  }
  SECTION("'=' for '=='") {
    SpecError e = exprError("q_idx = kv_idx", ExprContext::MaskMod);
    CHECK(e.exprColumn() == 7);
    CHECK_THAT(e.what(), Catch::Contains("did you mean '=='?"));
  }
  SECTION("missing operand") {
    SpecError e = exprError("score * ");
    CHECK(e.exprColumn() == 9);
    CHECK_THAT(e.what(), Catch::Contains("expected an operand"));
  }
  SECTION("empty expression") { CHECK(exprError("   ").exprColumn() == 4); }
  SECTION("unknown function") {
    SpecError e = exprError("score + sigmod(score)");
    CHECK(e.exprColumn() == 9);
    CHECK_THAT(e.what(), Catch::Contains("unknown function 'sigmod'") &&
                             Catch::Contains("did you mean 'sigmoid'"));
  }
  SECTION("where() needs three arguments") {
    SpecError e = exprError("where(q_idx > 0, score)");
    CHECK(e.exprColumn() == 1);
    CHECK_THAT(e.what(), Catch::Contains("takes 3 arguments"));
  }
  SECTION("number running into a name") { CHECK(exprError("2x").exprColumn() == 2); }
  SECTION("integer too large for int64") {
    CHECK_THAT(exprError("score + 99999999999999999999").what(),
               Catch::Contains("does not fit in int64"));
  }
  SECTION("nesting limit") {
    std::string deep(300, '(');
    deep += "score";
    deep += std::string(300, ')');
    CHECK_THAT(exprError(deep).what(), Catch::Contains("nested more than"));
  }
}

TEST_CASE("type errors give the column", "[expr][errors]") {
  SECTION("unknown name, with a suggestion") {
    SpecError e = exprError("score + slope[h]");
    CHECK(e.exprColumn() == 9);
    CHECK_THAT(e.what(), Catch::Contains("unknown name 'slope' at column 9"));
    CHECK_THAT(e.what(), Catch::Contains("did you mean 'slopes'?"));
  }
  SECTION("score outside score_mod") {
    SpecError e = exprError("kv_idx <= q_idx && score > 0.0", ExprContext::MaskMod);
    CHECK(e.exprColumn() == 20);
    CHECK_THAT(e.what(), Catch::Contains("only allowed in score_mod"));
  }
  SECTION("wrong arity") {
    SpecError e = exprError("score + max(score)");
    CHECK(e.exprColumn() == 9);
    CHECK_THAT(e.what(), Catch::Contains("max() at column 9 takes 2 arguments, got 1"));
  }
  SECTION("indexing a non-tensor") {
    SpecError e = exprError("score + h[0]");
    CHECK(e.exprColumn() == 9);
    CHECK_THAT(e.what(), Catch::Contains("'h' at column 9 is not a captured tensor"));
  }
  SECTION("wrong index count") {
    SpecError e = exprError("score + bias[h]");
    CHECK(e.exprColumn() == 9);
    CHECK_THAT(e.what(), Catch::Contains("has 2 dimensions but is indexed with 1"));
  }
  SECTION("a captured tensor without indices") {
    CHECK_THAT(exprError("score + slopes").what(), Catch::Contains("must be indexed"));
  }
  SECTION("float index") {
    SpecError e = exprError("score + slopes[h / 2]");
    CHECK(e.exprColumn() == 18); // a binary node's column is its operator's
    CHECK_THAT(e.what(), Catch::Contains("expected int"));
  }
  SECTION("bool arithmetic: a bool reads as 0 / 1, but && of numbers is still refused") {
    SpecError e = exprError("score + ((q_idx < kv_idx) && 1)");
    CHECK(e.exprColumn() == 27);
    CHECK_THAT(e.what(), Catch::Contains("'&&' at column 27 expects bool operands"));
  }
  SECTION("score_mod of type bool") {
    SpecError e = exprError("score > 0.0");
    CHECK(e.exprColumn() == 7);
    CHECK_THAT(e.what(), Catch::Contains("expected a float expression for score_mod, got bool"));
  }
  SECTION("score_mod of type int") {
    CHECK_THAT(exprError("1").what(), Catch::Contains("write 1.0 rather than 1"));
  }
  SECTION("mask_mod of type float") {
    SpecError e = exprError("kv_idx * 1.0", ExprContext::MaskMod);
    CHECK(e.exprColumn() == 8);
    CHECK_THAT(e.what(), Catch::Contains("expected a bool expression for mask_mod, got float"));
  }
  SECTION("an index in a capture dimension") {
    SpecError e = exprError("Sq + q_idx", ExprContext::CaptureDim);
    CHECK(e.exprColumn() == 6);
    CHECK_THAT(e.what(), Catch::Contains("cannot be used in a capture dimension"));
  }
}
