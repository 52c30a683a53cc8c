//===- ExprCheck.cpp - Name resolution and typing of expressions ------------------------------===//
//
// Typing rules (specs/README.md, "Types"):
//   + - * // %    int,int -> int; int/float mixed or float,float -> float
//   /             numbers -> float
//   < <= > >=     numbers -> bool;   == !=  numbers -> bool, or bool,bool -> bool
//   && || !       bool -> bool;      -x     number -> same type
//   c ? a : b     c bool; a, b the same type, or numbers mixed -> float
//   a bool operand of + - * / // % is read as the int 0 / 1 (the checker wraps it in int(...))
//   tanh exp log sqrt sigmoid softplus log2 exp2 log1p expm1 (1 number) -> float
//   abs sign floor ceil round (1 number) -> same type (floor, ceil, round of an int: the int)
//   min max (2 numbers) as '+';  pow (2 numbers) -> float
//   int(x) (number or bool) -> int, truncating toward zero;  float(x) (number or bool) -> float
//   t[i, ...]     one int index per dimension -> int (i32/i64 data) or float (f32/f16/bf16 data)
//
//===----------------------------------------------------------------------------------------===//

#include "tilefuse/spec/Expr.h"

#include "Suggest.h"

#include "tilefuse/spec/SpecError.h"

#include <fmt/format.h>

namespace tilefuse::spec {
namespace {

bool isNumber(ScalarType t) { return t == ScalarType::Int || t == ScalarType::Float; }

ScalarType promote(ScalarType a, ScalarType b) {
  return a == ScalarType::Int && b == ScalarType::Int ? ScalarType::Int : ScalarType::Float;
}

std::string_view contextName(ExprContext c) {
  switch (c) {
  case ExprContext::ScoreMod:
    return "score_mod";
  case ExprContext::MaskMod:
    return "mask_mod";
  case ExprContext::CaptureDim:
    return "a capture dimension";
  case ExprContext::Let:
    return "a let definition";
  case ExprContext::Sink:
    return "sink";
  }
  return "";
}

ScalarType expectedType(ExprContext c) {
  switch (c) {
  case ExprContext::ScoreMod:
  case ExprContext::Sink:
    return ScalarType::Float;
  case ExprContext::MaskMod:
    return ScalarType::Bool;
  case ExprContext::CaptureDim:
    return ScalarType::Int;
  case ExprContext::Let:
    return ScalarType::Unknown; // any
  }
  return ScalarType::Unknown;
}

bool visibleIn(Variable v, ExprContext c) {
  switch (c) {
  case ExprContext::ScoreMod:
  case ExprContext::Let:
    return true;
  case ExprContext::MaskMod:
    return v != Variable::Score;
  case ExprContext::CaptureDim:
    return v >= Variable::B;
  case ExprContext::Sink: // one value per (b, h): a row's denominator term, not per element
    return v == Variable::BatchIdx || v == Variable::HeadIdx || v >= Variable::B;
  }
  return false;
}

ScalarType variableType(Variable v) {
  return v == Variable::Score ? ScalarType::Float : ScalarType::Int;
}

// The token a node's column points at, for messages.
std::string rootToken(const Expr &e) {
  switch (e.kind) {
  case ExprKind::Unary:
    return std::string(spelling(e.unaryOp));
  case ExprKind::Binary:
    return std::string(spelling(e.binaryOp));
  case ExprKind::Select:
    return "?:";
  case ExprKind::Call:
    return std::string(spelling(e.callee));
  case ExprKind::Variable:
  case ExprKind::TensorRead:
    return e.name;
  default:
    return toString(e);
  }
}

[[noreturn]] void typeError(const Expr &e, std::string message) {
  SourceLocation where;
  where.exprColumn = e.column;
  throw SpecError(where, std::move(message));
}

class Checker {
public:
  explicit Checker(const ExprScope &scope) : scope_(scope) {}

  ScalarType check(Expr &e) {
    // The parser bounds a tree's height (200), a spec's `let` names bound what they inline; this
    // bounds the checker's own recursion whatever tree it is handed.
    if (++depth_ > kMaxCheckDepth) {
      --depth_;
      typeError(e, fmt::format("expression nested more than {} levels deep at column {}",
                               kMaxCheckDepth, e.column));
    }
    e.type = infer(e);
    --depth_;
    return e.type;
  }

private:
  // Every name visible here, for "expected one of" and "did you mean".
  std::vector<std::string> visibleNames() const {
    std::vector<std::string> names;
    for (int v = 0; v <= static_cast<int>(Variable::Sk); ++v)
      if (visibleIn(static_cast<Variable>(v), scope_.context))
        names.emplace_back(spelling(static_cast<Variable>(v)));
    if (scope_.context != ExprContext::CaptureDim)
      for (const CaptureSignature &c : scope_.captures)
        names.push_back(c.name);
    for (const std::string &n : scope_.letNames)
      names.push_back(n);
    return names;
  }

  const CaptureSignature *findCapture(std::string_view name, int &slot) const {
    for (size_t i = 0; i < scope_.captures.size(); ++i) {
      if (scope_.captures[i].name == name) {
        slot = static_cast<int>(i);
        return &scope_.captures[i];
      }
    }
    return nullptr;
  }

  static bool findVariable(std::string_view name, Variable &v) {
    for (int i = 0; i <= static_cast<int>(Variable::Sk); ++i) {
      if (spelling(static_cast<Variable>(i)) == name) {
        v = static_cast<Variable>(i);
        return true;
      }
    }
    return false;
  }

  [[noreturn]] void unknownName(const Expr &e) const {
    std::vector<std::string> names = visibleNames();
    typeError(e,
              fmt::format("unknown name '{}' at column {}{}; expected one of {}", e.name, e.column,
                          detail::didYouMean(e.name, names), detail::joinNames(names)));
  }

  ScalarType infer(Expr &e) {
    switch (e.kind) {
    case ExprKind::IntLiteral:
      return ScalarType::Int;
    case ExprKind::FloatLiteral:
      return ScalarType::Float;
    case ExprKind::BoolLiteral:
      return ScalarType::Bool;
    case ExprKind::Variable:
      return inferVariable(e);
    case ExprKind::TensorRead:
      return inferTensorRead(e);
    case ExprKind::Unary:
      return inferUnary(e);
    case ExprKind::Binary:
      return inferBinary(e);
    case ExprKind::Select:
      return inferSelect(e);
    case ExprKind::Call:
      return inferCall(e);
    }
    typeError(e, "malformed expression node");
  }

  ScalarType inferVariable(Expr &e) {
    int slot = -1;
    if (scope_.context != ExprContext::CaptureDim) {
      if (const CaptureSignature *c = findCapture(e.name, slot))
        typeError(e, fmt::format("captured tensor '{}' at column {} must be indexed with {} "
                                 "{}, as in {}[...]",
                                 e.name, e.column, c->rank, c->rank == 1 ? "index" : "indices",
                                 e.name));
    }
    Variable v;
    if (!findVariable(e.name, v))
      unknownName(e);
    if (!visibleIn(v, scope_.context)) {
      if (scope_.context == ExprContext::Sink)
        typeError(e, fmt::format("'{}' at column {} cannot be used in sink; a sink is one logit "
                                 "per row's denominator, a function of b, h, the sizes and "
                                 "captured tensors (such as sinks[h])",
                                 e.name, e.column));
      if (v == Variable::Score)
        typeError(e, fmt::format("'score' at column {} is only allowed in score_mod; mask_mod "
                                 "sees b, h, q_idx, kv_idx, the sizes and captured tensors",
                                 e.column));
      typeError(e, fmt::format("'{}' at column {} cannot be used in {}; expected an integer or "
                               "B, Hq, Hkv, Sq, Sk",
                               e.name, e.column, contextName(scope_.context)));
    }
    e.variable = v;
    return variableType(v);
  }

  ScalarType inferTensorRead(Expr &e) {
    int slot = -1;
    const CaptureSignature *c =
        scope_.context == ExprContext::CaptureDim ? nullptr : findCapture(e.name, slot);
    if (c == nullptr) {
      Variable v;
      if (findVariable(e.name, v) || scope_.context == ExprContext::CaptureDim)
        typeError(e, fmt::format("'{}' at column {} is not a captured tensor and cannot be "
                                 "indexed",
                                 e.name, e.column));
      unknownName(e);
    }
    if (e.operands.size() != c->rank)
      typeError(e, fmt::format("captured tensor '{}' at column {} has {} dimension{} but is "
                               "indexed with {}; expected {} index{}",
                               e.name, e.column, c->rank, c->rank == 1 ? "" : "s",
                               e.operands.size(), c->rank, c->rank == 1 ? "" : "es"));
    for (size_t i = 0; i < e.operands.size(); ++i) {
      ScalarType t = check(e.operands[i]);
      if (t != ScalarType::Int)
        typeError(e.operands[i], fmt::format("index {} of '{}' at column {} is {}; expected int", i,
                                             e.name, e.operands[i].column, spelling(t)));
    }
    e.captureSlot = slot;
    return c->elementType;
  }

  ScalarType inferUnary(Expr &e) {
    ScalarType t = check(e.operands.at(0));
    if (e.unaryOp == UnaryOp::Neg && !isNumber(t))
      typeError(e, fmt::format("'-' at column {} expects an int or float operand, got {}", e.column,
                               spelling(t)));
    if (e.unaryOp == UnaryOp::Not && t != ScalarType::Bool)
      typeError(
          e, fmt::format("'!' at column {} expects a bool operand, got {}", e.column, spelling(t)));
    return t;
  }

  // A bool operand of arithmetic is the int 0 / 1: wrap it in an explicit int() so that every
  // later layer sees only numbers there.
  static ScalarType boolToInt(Expr &operand) {
    if (operand.type != ScalarType::Bool)
      return operand.type;
    int column = operand.column;
    Expr cast = Expr::call(Builtin::Int, {std::move(operand)});
    cast.column = column;
    cast.type = ScalarType::Int;
    operand = std::move(cast);
    return ScalarType::Int;
  }

  ScalarType inferBinary(Expr &e) {
    ScalarType a = check(e.operands.at(0));
    ScalarType b = check(e.operands.at(1));
    switch (e.binaryOp) {
    case BinaryOp::Add:
    case BinaryOp::Sub:
    case BinaryOp::Mul:
    case BinaryOp::Div:
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod:
      a = boolToInt(e.operands[0]);
      b = boolToInt(e.operands[1]);
      break;
    default:
      break;
    }
    std::string_view op = spelling(e.binaryOp);
    auto fail = [&](std::string_view expected) {
      typeError(e, fmt::format("'{}' at column {} expects {}, got {} and {}", op, e.column,
                               expected, spelling(a), spelling(b)));
    };
    switch (e.binaryOp) {
    case BinaryOp::Add:
    case BinaryOp::Sub:
    case BinaryOp::Mul:
    case BinaryOp::FloorDiv:
    case BinaryOp::Mod:
      if (!isNumber(a) || !isNumber(b))
        fail("int or float operands");
      return promote(a, b);
    case BinaryOp::Div:
      if (!isNumber(a) || !isNumber(b))
        fail("int or float operands");
      return ScalarType::Float;
    case BinaryOp::Lt:
    case BinaryOp::Le:
    case BinaryOp::Gt:
    case BinaryOp::Ge:
      if (!isNumber(a) || !isNumber(b))
        fail("int or float operands");
      return ScalarType::Bool;
    case BinaryOp::Eq:
    case BinaryOp::Ne:
      if (!(isNumber(a) && isNumber(b)) && !(a == ScalarType::Bool && b == ScalarType::Bool))
        fail("two numbers or two bools");
      return ScalarType::Bool;
    case BinaryOp::And:
    case BinaryOp::Or:
      if (a != ScalarType::Bool || b != ScalarType::Bool)
        fail("bool operands");
      return ScalarType::Bool;
    }
    typeError(e, "unknown binary operator");
  }

  ScalarType inferSelect(Expr &e) {
    ScalarType c = check(e.operands.at(0));
    if (c != ScalarType::Bool)
      typeError(e.operands[0], fmt::format("the condition of the select at column {} is {}; "
                                           "expected bool",
                                           e.column, spelling(c)));
    ScalarType a = check(e.operands.at(1));
    ScalarType b = check(e.operands.at(2));
    if (a == b)
      return a;
    if (isNumber(a) && isNumber(b))
      return ScalarType::Float;
    typeError(e, fmt::format("the branches of the select at column {} are {} and {}; expected "
                             "the same type, or two numbers",
                             e.column, spelling(a), spelling(b)));
  }

  ScalarType inferCall(Expr &e) {
    size_t n = arity(e.callee);
    if (e.operands.size() != n)
      typeError(e, fmt::format("{}() at column {} takes {} argument{}, got {}", spelling(e.callee),
                               e.column, n, n == 1 ? "" : "s", e.operands.size()));
    bool isCast = e.callee == Builtin::Int || e.callee == Builtin::Float;
    std::vector<ScalarType> args;
    for (Expr &arg : e.operands) {
      ScalarType t = check(arg);
      if (!isNumber(t) && !(isCast && t == ScalarType::Bool))
        typeError(arg, fmt::format("argument {} of {}() at column {} is {}; expected int or "
                                   "float{}",
                                   args.size() + 1, spelling(e.callee), e.column, spelling(t),
                                   t == ScalarType::Bool ? " (int(c) or float(c) turn a bool into "
                                                           "0 / 1)"
                                                         : ""));
      args.push_back(t);
    }
    switch (e.callee) {
    case Builtin::Int:
      return ScalarType::Int;
    case Builtin::Abs:
    case Builtin::Sign:
    case Builtin::Floor:
    case Builtin::Ceil:
    case Builtin::Round:
      return args[0];
    case Builtin::Min:
    case Builtin::Max:
      return promote(args[0], args[1]);
    default:
      return ScalarType::Float;
    }
  }

  static constexpr int kMaxCheckDepth = 512;

  const ExprScope &scope_;
  int depth_ = 0;
};

} // namespace

void checkExpr(Expr &root, const ExprScope &scope) {
  ScalarType t = Checker(scope).check(root);
  ScalarType expected = expectedType(scope.context);
  if (t == expected || scope.context == ExprContext::Let)
    return;
  std::string hint;
  if ((scope.context == ExprContext::ScoreMod || scope.context == ExprContext::Sink) &&
      t == ScalarType::Int)
    hint = " (write 1.0 rather than 1 for a float constant)";
  else if (scope.context == ExprContext::ScoreMod && t == ScalarType::Bool)
    hint = " (a condition belongs in mask_mod)";
  else if (scope.context == ExprContext::MaskMod)
    hint = " (a condition such as q_idx >= kv_idx; score changes belong in score_mod)";
  typeError(root, fmt::format("expected a {} expression for {}, got {} from '{}' at column {}{}",
                              spelling(expected), contextName(scope.context), spelling(t),
                              rootToken(root), root.column, hint));
}

} // namespace tilefuse::spec
