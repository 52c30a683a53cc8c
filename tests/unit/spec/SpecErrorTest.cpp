// One test per kind of bad spec: each checks that the error names the file, the field and the
// line:column in the JSON text (and, for expressions, the column inside the expression).

#include "tilefuse/spec/Spec.h"

#include <catch2/catch.hpp>

#include <string>

using namespace tilefuse::spec;

namespace {

SpecError specError(std::string_view json, std::string_view file = "bad.json") {
  try {
    parseSpecString(json, file);
  } catch (const SpecError &e) {
    return e;
  }
  FAIL("expected a SpecError");
  throw std::logic_error("unreachable");
}

// The error is at FILE:LINE:COL, about FIELD, and what() says so in the diagnostic format.
void checkAt(const SpecError &e, const std::string &field, int line, int column,
             const std::string &file = "bad.json") {
  INFO(e.what());
  CHECK(e.file() == file);
  CHECK(e.field() == field);
  CHECK(e.line() == line);
  CHECK(e.column() == column);
  std::string prefix = file + ":" + std::to_string(line) + ":" + std::to_string(column) +
                       ": error: field '" + field + "': ";
  CHECK_THAT(e.what(), Catch::StartsWith(prefix));
}

} // namespace

TEST_CASE("malformed JSON: line:col of the bad token and the field before it", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x",
  "dtype": "bf16"
  "head_dim": 128
})json");
  checkAt(e, "dtype", 4, 3); // the "head_dim" that should have been preceded by ','
  CHECK_THAT(e.what(), Catch::Contains("malformed JSON: syntax error"));
  CHECK_THAT(e.what(), Catch::Contains("expected '}'"));
}

TEST_CASE("malformed JSON: empty input and truncated text", "[spec][errors]") {
  SpecError empty = specError("");
  CHECK(empty.what() == std::string("bad.json:1:1: error: malformed JSON: syntax error while "
                                    "parsing value - unexpected end of input; expected '[', '{', "
                                    "or a literal"));
  SpecError truncated = specError("{\n  \"heads\": {\"q\": 8, \"kv\": ");
  checkAt(truncated, "heads.kv", 2, 27);
}

TEST_CASE("unknown field with a suggestion", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8, "group": 1},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "heads.group", 3, 30); // the key
  CHECK_THAT(e.what(), Catch::Contains("unknown field 'group'; expected one of: q, kv"));

  SpecError typo = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128, "mask_md": "true",
  "heads": {"q": 8, "kv": 8},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(typo, "mask_md", 2, 50);
  CHECK_THAT(typo.what(), Catch::Contains("did you mean 'mask_mod'?"));
}

TEST_CASE("missing required field: at the enclosing object", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "shape": {"B": 1, "Sk": 16}
})json");
  checkAt(e, "shape.Sq", 4, 12); // the '{' of "shape"
  CHECK_THAT(e.what(), Catch::Contains("missing required field 'Sq' in 'shape'"));

  SpecError top = specError(R"json({
  "name": "x", "dtype": "bf16",
  "heads": {"q": 8, "kv": 8},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(top, "head_dim", 1, 1);
  CHECK_THAT(top.what(),
             Catch::Contains("missing required field 'head_dim': D, the head dimension"));
}

TEST_CASE("wrong type: names the field and what was found", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": "128",
  "heads": {"q": 8, "kv": 8},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "head_dim", 2, 45);
  CHECK_THAT(e.what(), Catch::Contains("expected a positive integer, got string \"128\""));

  SpecError lse = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128, "lse": 1,
  "heads": {"q": 8, "kv": 8},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(lse, "lse", 2, 57);
  CHECK_THAT(lse.what(), Catch::Contains("expected true or false, got number 1"));

  SpecError dim = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "score_mod": "score + t[h]",
  "captures": {"t": {"shape": [8.5], "dtype": "f32"}},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(dim, "captures.t.shape[0]", 5, 32);
  CHECK_THAT(dim.what(), Catch::Contains("expected a positive integer or a size expression"));
}

TEST_CASE("unknown name in an expression: column in the expression and in the file",
          "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "score_mod": "score + slope[h] * (kv_idx - q_idx)",
  "captures": {"slopes": {"shape": ["Hq"], "dtype": "f32"}},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "score_mod", 4, 25); // the 's' of "slope": 16 (first character) + 9 - 1
  CHECK(e.exprColumn() == 9);
  CHECK_THAT(e.what(),
             Catch::Contains("unknown name 'slope' at column 9 (did you mean 'slopes'?)"));
}

TEST_CASE("score_mod of type bool", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "score_mod": "q_idx >= kv_idx",
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "score_mod", 4, 23);
  CHECK(e.exprColumn() == 7);
  CHECK_THAT(e.what(), Catch::Contains("expected a float expression for score_mod, got bool from "
                                       "'>=' at column 7"));
}

TEST_CASE("mask_mod of type float", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "mask_mod": "tanh(q_idx - kv_idx)",
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "mask_mod", 4, 16);
  CHECK(e.exprColumn() == 1);
  CHECK_THAT(e.what(), Catch::Contains("expected a bool expression for mask_mod, got float"));
}

TEST_CASE("score in mask_mod", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "mask_mod": "score > 0.0",
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "mask_mod", 4, 16);
  CHECK_THAT(e.what(), Catch::Contains("'score' at column 1 is only allowed in score_mod"));
}

TEST_CASE("Hq not a multiple of Hkv", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 32, "kv": 6},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "heads.kv", 3, 28);
  CHECK_THAT(e.what(), Catch::Contains("Hq = 32 is not a multiple of Hkv = 6"));
  CHECK_THAT(e.what(), Catch::Contains("Hkv must be one of 1, 2, 4, 8, 16, 32"));
}

TEST_CASE("math mode: a string, \"approx\" or \"exact\"", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128, "math": "fast",
  "heads": {"q": 8, "kv": 8},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "math", 2, 58);
  CHECK_THAT(e.what(), Catch::Contains("unsupported math mode \"fast\"; expected \"approx\""));
  CHECK_THAT(e.what(), Catch::Contains("or \"exact\" (the CUDA math library: tanhf, expf)"));

  SpecError typo = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128, "math": "exakt",
  "heads": {"q": 8, "kv": 8},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  CHECK_THAT(typo.what(), Catch::Contains("unsupported math mode \"exakt\" (did you mean 'exact'?)"));

  SpecError notString = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128, "math": true,
  "heads": {"q": 8, "kv": 8},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(notString, "math", 2, 58);
  CHECK_THAT(notString.what(), Catch::Contains("expected a string, got boolean true"));
}

TEST_CASE("unsupported dtype", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "fp8", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "dtype", 2, 25);
  CHECK_THAT(e.what(), Catch::Contains("unsupported dtype \"fp8\"; expected \"bf16\" or \"fp16\""));

  SpecError capture = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "mask_mod": "ids[q_idx] == ids[kv_idx]",
  "captures": {"ids": {"shape": ["Sk"], "dtype": "int32"}},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(capture, "captures.ids.dtype", 5, 50);
  CHECK_THAT(capture.what(), Catch::Contains("\"f32\", \"f16\", \"bf16\", \"i32\" or \"i64\""));
}

TEST_CASE("unbalanced parenthesis: the column where ')' was expected", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "score_mod": "score + slopes[h] * (kv_idx - q_idx",
  "captures": {"slopes": {"shape": ["Hq"], "dtype": "f32"}},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "score_mod", 4, 52); // just past the last character of the expression
  CHECK(e.exprColumn() == 36);
  CHECK_THAT(e.what(), Catch::EndsWith("field 'score_mod': expected ')' at column 36 to close the "
                                       "'(' at column 21, found end of expression"));
}

TEST_CASE("JSON escapes before an expression error do not shift the file column",
          "[spec][errors]") {
  // "\t" is two bytes in the file and one in the expression.
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "score_mod": "score\t+ nope",
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  CHECK(e.exprColumn() == 9);
  checkAt(e, "score_mod", 4, 26);
}

TEST_CASE("duplicate field", "[spec][errors]") {
  SpecError e = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8, "q": 16},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(e, "heads.q", 3, 30); // the second "q"
  CHECK_THAT(e.what(), Catch::Contains("appears twice"));
}

TEST_CASE("captures: unused or reserved name or size not positive", "[spec][errors]") {
  SpecError unused = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "captures": {"slopes": {"shape": ["Hq"], "dtype": "f32"}},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(unused, "captures.slopes", 4, 16);
  CHECK_THAT(unused.what(), Catch::Contains("is not read by score_mod, mask_mod or sink"));

  SpecError reserved = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "score_mod": "score",
  "captures": {"exp": {"shape": ["Hq"], "dtype": "f32"}},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(reserved, "captures.exp", 5, 16);
  CHECK_THAT(reserved.what(), Catch::Contains("reserved"));

  SpecError size = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "score_mod": "score + bias[h, kv_idx - q_idx]",
  "captures": {"bias": {"shape": ["Hq", "Sq - Sk"], "dtype": "f32"}},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(size, "captures.bias.shape[1]", 5, 41);
  CHECK_THAT(size.what(), Catch::Contains("size 'Sq - Sk' of 'bias' is 0"));

  SpecError dimName = specError(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "score_mod": "score + t[h]",
  "captures": {"t": {"shape": ["Hq * D"], "dtype": "f32"}},
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json");
  checkAt(dimName, "captures.t.shape[0]", 5, 38);
  CHECK(dimName.exprColumn() == 6);
  CHECK_THAT(dimName.what(), Catch::Contains("unknown name 'D' at column 6"));
}

TEST_CASE("not an object or unreadable file", "[spec][errors]") {
  SpecError array = specError("[1, 2]");
  CHECK(array.what() == std::string("bad.json:1:1: error: expected an object, got an array"));

  try {
    parseSpecFile("/nonexistent/dir/spec.json");
    FAIL("expected a SpecError");
  } catch (const SpecError &e) {
    CHECK(e.file() == "/nonexistent/dir/spec.json");
    CHECK_THAT(e.what(), Catch::StartsWith("/nonexistent/dir/spec.json: error: cannot open"));
  }
}

TEST_CASE("errorAt locates a later stage's complaint in the spec file", "[spec]") {
  Spec spec = parseSpecString(R"json({
  "name": "x", "dtype": "bf16", "head_dim": 128,
  "heads": {"q": 8, "kv": 8},
  "score_mod": "score * 2.0",
  "shape": {"B": 1, "Sq": 16, "Sk": 16}
})json",
                              "late.json");
  SpecError e = spec.errorAt("score_mod", "'*' at column 7 is not supported here", 7);
  checkAt(e, "score_mod", 4, 23, "late.json");
  SpecError whole = spec.errorAt("head_dim", "head_dim 128 needs sm_90");
  checkAt(whole, "head_dim", 2, 45, "late.json");
}
