//===- Expr.h - The expression language of score_mod / mask_mod ----*- C++ -*-===//
//
// A variant's score_mod and mask_mod, and a captured tensor's dimension sizes, are small pure
// expressions (grammar and typing rules: specs/README.md). They are the FlexAttention hooks
// score_mod(score, b, h, q_idx, kv_idx) and mask_mod(b, h, q_idx, kv_idx) (He et al.,
// "FlexAttention", 2024, section 3) and FlashInfer's LogitsTransform / LogitsMask, as data.
//
// The tree is a plain value type: one Expr struct for every node, told apart by ExprKind, so that a
// lowering (MLIR) or an emitter (CUDA) walks it with one switch:
//
//   switch (e.kind) {
//   case ExprKind::Binary: emit(e.lhs()); emit(e.rhs()); ... e.binaryOp ...
//   ...
//   }
//
// parseExpr gives an untyped tree; checkExpr resolves names and fills in every node's type.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tilefuse::spec {

/// Value types of the language. Int is int64, Float is fp32 in kernels and fp64 in evaluate().
enum class ScalarType : uint8_t { Unknown, Int, Float, Bool };

enum class ExprKind : uint8_t {
  IntLiteral,   ///< 42                       intValue
  FloatLiteral, ///< 0.5, 1e-3, inf           floatValue
  BoolLiteral,  ///< true, false              boolValue
  Variable,     ///< score, q_idx, Sk, ...    name, variable
  TensorRead,   ///< slopes[h]                name, captureSlot, operands = indices
  Unary,        ///< -x, !c                   unaryOp, operands = {x}
  Binary,       ///< a + b, a < b, a && b     binaryOp, operands = {a, b}
  Select,       ///< c ? a : b, where(c,a,b)  operands = {c, a, b}
  Call,         ///< tanh(x), max(a, b)       callee, operands = arguments
};

enum class UnaryOp : uint8_t { Neg, Not };

enum class BinaryOp : uint8_t {
  Add, Sub, Mul,
  Div,      ///< "/": true division, always Float.
  FloorDiv, ///< "//": floor(a / b); Int for two Ints.
  Mod,      ///< "%": a - b * floor(a / b) (sign of b, as in Python); Int for two Ints.
  Lt, Le, Gt, Ge, Eq, Ne,
  And, Or,
};

/// Functions of the language (typing: specs/README.md, "Functions"). Int and Float are the casts
/// int(x) (truncation toward zero; a bool gives 0 / 1) and float(x).
enum class Builtin : uint8_t {
  Tanh, Exp, Log, Abs, Min, Max, Sqrt,
  Int, Float,          ///< int(x), float(x): casts of a number or a bool.
  Floor, Ceil, Round,  ///< Float -> Float, Int -> Int (identity); round: half away from zero.
  Sigmoid, Softplus,   ///< 1 / (1 + exp(-x)); log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
  Log2, Exp2, Log1p, Expm1,
  Pow,                 ///< pow(a, b): Float; a negative base with a non-integer exponent is NaN (C pow).
  Sign,                ///< -1, 0, 1 of the argument's type; sign(NaN) = 0.
};
inline constexpr Builtin kLastBuiltin = Builtin::Sign;

/// Number of arguments `f` takes (2 for min, max, pow; 1 otherwise).
size_t arity(Builtin f);

/// Names an expression may read. Which ones are visible depends on the ExprContext.
enum class Variable : uint8_t {
  Score,    ///< score: Float, the scaled logit scale * (q . k); score_mod only.
  BatchIdx, ///< b: Int in [0, B).
  HeadIdx,  ///< h: Int in [0, Hq), the query head.
  QIdx,     ///< q_idx: Int in [0, Sq).
  KvIdx,    ///< kv_idx: Int in [0, Sk).
  B, Hq, Hkv, Sq, Sk, ///< Problem sizes (Shape.h), Int.
};

/// One node of an expression tree (see ExprKind for which members each kind uses).
struct Expr {
  ExprKind kind = ExprKind::IntLiteral;
  ScalarType type = ScalarType::Unknown; ///< Set by checkExpr.
  int column = 0; ///< 1-based column in the source text of the node's token: the literal, the
                  ///< name, the operator, the '?' of a Select. 0 when built in code.
  /// The field whose text `column` counts in when it is not the expression's own: "let.NAME" on
  /// the nodes the spec reader inlined from that `let` definition; empty otherwise.
  std::string origin;
  /// On the root of an inlined `let` body, which takes the origin and column of the name it
  /// replaces (so that an error about its value points at the use): its own place in the
  /// definition ("let.NAME" and the column there). Empty / 0 on every other node.
  std::string definedIn;
  int definedAt = 0;

  int64_t intValue = 0;
  double floatValue = 0.0;
  bool boolValue = false;
  UnaryOp unaryOp = UnaryOp::Neg;
  BinaryOp binaryOp = BinaryOp::Add;
  Builtin callee = Builtin::Tanh;
  std::string name;               ///< Variable / TensorRead: the name as written.
  Variable variable = Variable::Score; ///< Variable: set by checkExpr.
  int captureSlot = -1; ///< TensorRead: index into ExprScope::captures (= Spec::captures).
  std::vector<Expr> operands;

  const Expr &lhs() const { return operands.at(0); }
  const Expr &rhs() const { return operands.at(1); }

  static Expr intLiteral(int64_t v);
  static Expr floatLiteral(double v);
  static Expr boolLiteral(bool v);
  static Expr variableRef(std::string name);
  static Expr tensorRead(std::string name, std::vector<Expr> indices);
  static Expr unary(UnaryOp op, Expr x);
  static Expr binary(BinaryOp op, Expr a, Expr b);
  static Expr select(Expr cond, Expr a, Expr b);
  static Expr call(Builtin f, std::vector<Expr> args);
};

/// Where an expression appears; decides the visible names and the type the whole must have.
enum class ExprContext : uint8_t {
  ScoreMod,   ///< Must be Float. Sees score, b, h, q_idx, kv_idx, the sizes, captured tensors.
  MaskMod,    ///< Must be Bool. As ScoreMod, without score.
  CaptureDim, ///< Must be Int. Sees only the sizes B, Hq, Hkv, Sq, Sk.
  Let,        ///< A spec's `let` definition: any type. Sees what score_mod sees.
  Sink,       ///< A spec's `sink`: must be Float. Sees b, h, the sizes and captured tensors.
};

/// A captured tensor as the type checker sees it.
struct CaptureSignature {
  std::string name;
  size_t rank = 0;
  ScalarType elementType = ScalarType::Float;
};

struct ExprScope {
  ExprContext context = ExprContext::ScoreMod;
  std::vector<CaptureSignature> captures; ///< Order defines Expr::captureSlot.
  /// Names a spec's `let` defines (inlined before checking); only for "did you mean" in messages.
  std::vector<std::string> letNames;
};

/// Parses `text` (grammar: specs/README.md) into an untyped tree; columns are 1-based bytes.
/// Throws SpecError (exprColumn set, no file or field) on a lexical or syntax error, an unknown
/// function, where() without three arguments, an out-of-range literal, or nesting deeper than 200.
Expr parseExpr(std::string_view text);

/// Resolves names (Expr::variable, Expr::captureSlot) and sets Expr::type on every node.
/// Throws SpecError (exprColumn = the offending node's column) for: an unknown name, a name not
/// visible in this context ('score' outside score_mod, indices in a capture dimension), indexing
/// something that is not a captured tensor, a captured tensor used without indices or with the
/// wrong number of them, a non-Int index, an operand of the wrong type, a call with the wrong
/// number of arguments, or a whole expression of the wrong type (score_mod Float, mask_mod Bool,
/// capture dimension Int).
void checkExpr(Expr &root, const ExprScope &scope);

/// parseExpr, then checkExpr.
Expr parseCheckedExpr(std::string_view text, const ExprScope &scope);

/// The expression as source text with the fewest parentheses that keep its structure;
/// parseExpr(toString(e)) is structurallyEqual to e for every e that parseExpr returns.
/// where(c, a, b) prints as c ? a : b.
std::string toString(const Expr &e);

/// Same kinds, operators, values, names and operands; ignores columns, origins, types and
/// resolutions.
/// Float literals compare bit for bit.
bool structurallyEqual(const Expr &a, const Expr &b);

std::string_view spelling(ScalarType t); ///< "int", "float", "bool", "unknown"
std::string_view spelling(UnaryOp op);   ///< "-", "!"
std::string_view spelling(BinaryOp op);  ///< "+", "//", "&&", ...
std::string_view spelling(Builtin f);    ///< "tanh", ...
std::string_view spelling(Variable v);   ///< "score", "q_idx", "Sk", ...

/// Calls f(node) on every node, parents before children, left to right.
template <typename F> void forEachNode(const Expr &e, F &&f) {
  f(e);
  for (const Expr &child : e.operands)
    forEachNode(child, f);
}

} // namespace tilefuse::spec
