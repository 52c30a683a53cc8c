//===- ExprEval.cpp - fp64 / int64 evaluation of checked expressions --------------------------===//

#include "tilefuse/spec/Eval.h"

#include "tilefuse/spec/SpecError.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tilefuse::spec {
namespace {

/// An error at node `at`: its column, and as field its origin when it was inlined from a `let`
/// (empty: the expression's own field, which the caller knows).
[[noreturn]] void evalError(const Expr &at, std::string message) {
  SourceLocation where;
  where.field = at.origin;
  where.exprColumn = at.column;
  throw SpecError(where, std::move(message));
}

int64_t checkedArith(BinaryOp op, int64_t a, int64_t b, const Expr &at) {
  const int column = at.column;
  int64_t r = 0;
  bool overflow = false;
  switch (op) {
  case BinaryOp::Add:
    overflow = __builtin_add_overflow(a, b, &r);
    break;
  case BinaryOp::Sub:
    overflow = __builtin_sub_overflow(a, b, &r);
    break;
  case BinaryOp::Mul:
    overflow = __builtin_mul_overflow(a, b, &r);
    break;
  case BinaryOp::FloorDiv:
  case BinaryOp::Mod: {
    if (b == 0)
      evalError(at, fmt::format("integer {} by zero at column {}", spelling(op), column));
    if (a == std::numeric_limits<int64_t>::min() && b == -1) {
      overflow = op == BinaryOp::FloorDiv;
      r = 0;
      break;
    }
    // C++ truncates toward zero; step down when the signs differ and there is a remainder.
    int64_t q = a / b, m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) {
      q -= 1;
      m += b;
    }
    r = op == BinaryOp::FloorDiv ? q : m;
    break;
  }
  default:
    evalError(at, "not an integer arithmetic operator");
  }
  if (overflow)
    evalError(at,
              fmt::format("int64 overflow in {} {} {} at column {}", a, spelling(op), b, column));
  return r;
}

double floatArith(BinaryOp op, double a, double b) {
  switch (op) {
  case BinaryOp::Add:
    return a + b;
  case BinaryOp::Sub:
    return a - b;
  case BinaryOp::Mul:
    return a * b;
  case BinaryOp::Div:
    return a / b;
  case BinaryOp::FloorDiv:
    return std::floor(a / b);
  case BinaryOp::Mod:
    return a - b * std::floor(a / b);
  default:
    return 0.0;
  }
}

template <typename T> bool compare(BinaryOp op, T a, T b) {
  switch (op) {
  case BinaryOp::Lt:
    return a < b;
  case BinaryOp::Le:
    return a <= b;
  case BinaryOp::Gt:
    return a > b;
  case BinaryOp::Ge:
    return a >= b;
  case BinaryOp::Eq:
    return a == b;
  case BinaryOp::Ne:
    return a != b;
  default:
    return false;
  }
}

// Converts a value read from fp64 storage to the node's type.
Value fromStorage(double v, ScalarType t, const Expr &e) {
  if (t != ScalarType::Int)
    return Value::ofFloat(v);
  if (!(std::fabs(v) <= 9007199254740992.0) || v != std::trunc(v)) // 2^53: exact in double
    evalError(e, fmt::format("integer tensor '{}' at column {} holds {}, not an integer",
                                    e.name, e.column, v));
  return Value::ofInt(static_cast<int64_t>(v));
}

class Evaluator {
public:
  explicit Evaluator(const EvalEnv &env) : env_(env) {}

  Value eval(const Expr &e) const {
    if (e.type == ScalarType::Unknown)
      evalError(e, "expression has not been type-checked (call checkExpr first)");
    switch (e.kind) {
    case ExprKind::IntLiteral:
      return Value::ofInt(e.intValue);
    case ExprKind::FloatLiteral:
      // One precision on both sides: the lowering holds literals as f32 constants (ExprToArith).
      return Value::ofFloat(static_cast<float>(e.floatValue));
    case ExprKind::BoolLiteral:
      return Value::ofBool(e.boolValue);
    case ExprKind::Variable:
      return variable(e.variable);
    case ExprKind::TensorRead:
      return tensorRead(e);
    case ExprKind::Unary: {
      Value x = eval(e.operands.at(0));
      if (e.unaryOp == UnaryOp::Not)
        return Value::ofBool(!x.asBool());
      if (x.type == ScalarType::Int)
        return Value::ofInt(checkedArith(BinaryOp::Sub, 0, x.i, e));
      return Value::ofFloat(-x.f);
    }
    case ExprKind::Binary:
      return binary(e);
    case ExprKind::Select: {
      bool c = eval(e.operands.at(0)).asBool();
      Value v = eval(e.operands.at(c ? 1 : 2));
      return e.type == ScalarType::Float ? Value::ofFloat(v.asFloat()) : v;
    }
    case ExprKind::Call:
      return call(e);
    }
    evalError(e, "malformed expression node");
  }

private:
  Value variable(Variable v) const {
    switch (v) {
    case Variable::Score:
      return Value::ofFloat(env_.score);
    case Variable::BatchIdx:
      return Value::ofInt(env_.b);
    case Variable::HeadIdx:
      return Value::ofInt(env_.h);
    case Variable::QIdx:
      return Value::ofInt(env_.q_idx);
    case Variable::KvIdx:
      return Value::ofInt(env_.kv_idx);
    case Variable::B:
      return Value::ofInt(env_.shape.B);
    case Variable::Hq:
      return Value::ofInt(env_.shape.Hq);
    case Variable::Hkv:
      return Value::ofInt(env_.shape.Hkv);
    case Variable::Sq:
      return Value::ofInt(env_.shape.Sq);
    case Variable::Sk:
      return Value::ofInt(env_.shape.Sk);
    }
    return Value::ofInt(0);
  }

  Value tensorRead(const Expr &e) const {
    if (e.captureSlot < 0 || static_cast<size_t>(e.captureSlot) >= env_.captures.size())
      evalError(e, fmt::format("no data bound for captured tensor '{}' (slot {}) at column "
                                      "{}",
                                      e.name, e.captureSlot, e.column));
    const TensorView &t = env_.captures[e.captureSlot];
    if (t.shape.size() != e.operands.size())
      evalError(e, fmt::format("data bound for '{}' has {} dimensions; the expression at "
                                      "column {} uses {}",
                                      e.name, t.shape.size(), e.column, e.operands.size()));
    size_t offset = 0;
    for (size_t d = 0; d < e.operands.size(); ++d) {
      int64_t i = eval(e.operands[d]).asInt();
      if (i < 0 || i >= t.shape[d])
        evalError(e.operands[d],
                  fmt::format("index {} of '{}' at column {} is {}, outside [0, {})", d, e.name,
                              e.operands[d].column, i, t.shape[d]));
      offset = offset * static_cast<size_t>(t.shape[d]) + static_cast<size_t>(i);
    }
    if (offset >= t.data.size())
      evalError(e, fmt::format("data bound for '{}' holds {} elements, fewer than its "
                                      "shape says",
                                      e.name, t.data.size()));
    return fromStorage(t.data[offset], e.type, e);
  }

  Value binary(const Expr &e) const {
    BinaryOp op = e.binaryOp;
    if (op == BinaryOp::And) // Short-circuit, like the generated code.
      return Value::ofBool(eval(e.lhs()).asBool() && eval(e.rhs()).asBool());
    if (op == BinaryOp::Or)
      return Value::ofBool(eval(e.lhs()).asBool() || eval(e.rhs()).asBool());
    Value a = eval(e.lhs());
    Value b = eval(e.rhs());
    switch (op) {
    case BinaryOp::Lt:
    case BinaryOp::Le:
    case BinaryOp::Gt:
    case BinaryOp::Ge:
    case BinaryOp::Eq:
    case BinaryOp::Ne:
      if (a.type == ScalarType::Bool)
        return Value::ofBool(compare(op, a.b, b.asBool()));
      if (a.type == ScalarType::Int && b.type == ScalarType::Int)
        return Value::ofBool(compare(op, a.i, b.i));
      return Value::ofBool(compare(op, a.asFloat(), b.asFloat()));
    default:
      if (e.type == ScalarType::Int)
        return Value::ofInt(checkedArith(op, a.asInt(), b.asInt(), e));
      return Value::ofFloat(floatArith(op, a.asFloat(), b.asFloat()));
    }
  }

  Value call(const Expr &e) const {
    Value x = eval(e.operands.at(0));
    switch (e.callee) {
    case Builtin::Int:
      if (x.type == ScalarType::Bool)
        return Value::ofInt(x.b ? 1 : 0);
      if (x.type == ScalarType::Int)
        return x;
      // Truncation toward zero, as C and CUDA casts; outside int64 (or NaN) has no int value.
      if (!(std::trunc(x.f) >= -9223372036854775808.0 && std::trunc(x.f) < 9223372036854775808.0))
        evalError(e, fmt::format("int() of {} at column {} is outside the range of int64",
                                        x.f, e.column));
      return Value::ofInt(static_cast<int64_t>(std::trunc(x.f)));
    case Builtin::Float:
      if (x.type == ScalarType::Bool)
        return Value::ofFloat(x.b ? 1.0 : 0.0);
      return Value::ofFloat(x.asFloat());
    case Builtin::Floor:
      return x.type == ScalarType::Int ? x : Value::ofFloat(std::floor(x.f));
    case Builtin::Ceil:
      return x.type == ScalarType::Int ? x : Value::ofFloat(std::ceil(x.f));
    case Builtin::Round: // half away from zero, as C round / CUDA roundf / MLIR math.round
      return x.type == ScalarType::Int ? x : Value::ofFloat(std::round(x.f));
    case Builtin::Sign:
      if (x.type == ScalarType::Int)
        return Value::ofInt((x.i > 0) - (x.i < 0));
      return Value::ofFloat(static_cast<double>((x.f > 0.0) - (x.f < 0.0)));
    case Builtin::Sigmoid:
      return Value::ofFloat(1.0 / (1.0 + std::exp(-x.asFloat())));
    case Builtin::Softplus: {
      double v = x.asFloat();
      return Value::ofFloat(std::fmax(v, 0.0) + std::log1p(std::exp(-std::fabs(v))));
    }
    case Builtin::Log2:
      return Value::ofFloat(std::log2(x.asFloat()));
    case Builtin::Exp2:
      return Value::ofFloat(std::exp2(x.asFloat()));
    case Builtin::Log1p:
      return Value::ofFloat(std::log1p(x.asFloat()));
    case Builtin::Expm1:
      return Value::ofFloat(std::expm1(x.asFloat()));
    case Builtin::Pow: // a negative base with a non-integer exponent gives NaN, as C pow
      return Value::ofFloat(std::pow(x.asFloat(), eval(e.operands.at(1)).asFloat()));
    case Builtin::Tanh:
      return Value::ofFloat(std::tanh(x.asFloat()));
    case Builtin::Exp:
      return Value::ofFloat(std::exp(x.asFloat()));
    case Builtin::Log:
      return Value::ofFloat(std::log(x.asFloat()));
    case Builtin::Sqrt:
      return Value::ofFloat(std::sqrt(x.asFloat()));
    case Builtin::Abs:
      if (x.type == ScalarType::Int)
        return Value::ofInt(x.i < 0 ? checkedArith(BinaryOp::Sub, 0, x.i, e) : x.i);
      return Value::ofFloat(std::fabs(x.f));
    case Builtin::Min:
    case Builtin::Max: {
      Value y = eval(e.operands.at(1));
      bool takeMin = e.callee == Builtin::Min;
      if (e.type == ScalarType::Int)
        return Value::ofInt(takeMin ? std::min(x.i, y.i) : std::max(x.i, y.i));
      return Value::ofFloat(takeMin ? std::fmin(x.asFloat(), y.asFloat())
                                    : std::fmax(x.asFloat(), y.asFloat()));
    }
    }
    evalError(e, "unknown function");
  }

  const EvalEnv &env_;
};

} // namespace

double Value::asFloat() const {
  if (type == ScalarType::Float)
    return f;
  if (type == ScalarType::Int)
    return static_cast<double>(i);
  throw SpecError({}, fmt::format("expected a number, got {}", spelling(type)));
}

int64_t Value::asInt() const {
  if (type != ScalarType::Int)
    throw SpecError({}, fmt::format("expected an int, got {}", spelling(type)));
  return i;
}

bool Value::asBool() const {
  if (type != ScalarType::Bool)
    throw SpecError({}, fmt::format("expected a bool, got {}", spelling(type)));
  return b;
}

Value evaluate(const Expr &e, const EvalEnv &env) { return Evaluator(env).eval(e); }

} // namespace tilefuse::spec
