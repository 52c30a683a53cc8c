//===- Expr.cpp - Expression trees: construction, spelling, printing --------------------------===//

#include "tilefuse/spec/Expr.h"

#include "ExprSyntax.h"

#include <array>
#include <bit>
#include <charconv>
#include <cmath>

namespace tilefuse::spec {

using detail::precedence;

Expr Expr::intLiteral(int64_t v) {
  Expr e;
  e.kind = ExprKind::IntLiteral;
  e.intValue = v;
  return e;
}

Expr Expr::floatLiteral(double v) {
  Expr e;
  e.kind = ExprKind::FloatLiteral;
  e.floatValue = v;
  return e;
}

Expr Expr::boolLiteral(bool v) {
  Expr e;
  e.kind = ExprKind::BoolLiteral;
  e.boolValue = v;
  return e;
}

Expr Expr::variableRef(std::string name) {
  Expr e;
  e.kind = ExprKind::Variable;
  e.name = std::move(name);
  return e;
}

Expr Expr::tensorRead(std::string name, std::vector<Expr> indices) {
  Expr e;
  e.kind = ExprKind::TensorRead;
  e.name = std::move(name);
  e.operands = std::move(indices);
  return e;
}

Expr Expr::unary(UnaryOp op, Expr x) {
  Expr e;
  e.kind = ExprKind::Unary;
  e.unaryOp = op;
  e.operands.push_back(std::move(x));
  return e;
}

Expr Expr::binary(BinaryOp op, Expr a, Expr b) {
  Expr e;
  e.kind = ExprKind::Binary;
  e.binaryOp = op;
  e.operands.push_back(std::move(a));
  e.operands.push_back(std::move(b));
  return e;
}

Expr Expr::select(Expr cond, Expr a, Expr b) {
  Expr e;
  e.kind = ExprKind::Select;
  e.operands.push_back(std::move(cond));
  e.operands.push_back(std::move(a));
  e.operands.push_back(std::move(b));
  return e;
}

Expr Expr::call(Builtin f, std::vector<Expr> args) {
  Expr e;
  e.kind = ExprKind::Call;
  e.callee = f;
  e.operands = std::move(args);
  return e;
}

std::string_view spelling(ScalarType t) {
  switch (t) {
  case ScalarType::Int:
    return "int";
  case ScalarType::Float:
    return "float";
  case ScalarType::Bool:
    return "bool";
  case ScalarType::Unknown:
    break;
  }
  return "unknown";
}

std::string_view spelling(UnaryOp op) { return op == UnaryOp::Neg ? "-" : "!"; }

std::string_view spelling(BinaryOp op) {
  static constexpr std::array<std::string_view, 14> kSpelling = {
      "+", "-", "*", "/", "//", "%", "<", "<=", ">", ">=", "==", "!=", "&&", "||"};
  return kSpelling[static_cast<size_t>(op)];
}

std::string_view spelling(Builtin f) {
  static constexpr std::array<std::string_view, 20> kSpelling = {
      "tanh",    "exp",      "log",  "abs",  "min",   "max",   "sqrt",
      "int",     "float",    "floor", "ceil", "round", "sigmoid", "softplus",
      "log2",    "exp2",     "log1p", "expm1", "pow",  "sign"};
  static_assert(kSpelling.size() == static_cast<size_t>(kLastBuiltin) + 1);
  return kSpelling[static_cast<size_t>(f)];
}

size_t arity(Builtin f) {
  return f == Builtin::Min || f == Builtin::Max || f == Builtin::Pow ? 2 : 1;
}

std::string_view spelling(Variable v) {
  static constexpr std::array<std::string_view, 10> kSpelling = {
      "score", "b", "h", "q_idx", "kv_idx", "B", "Hq", "Hkv", "Sq", "Sk"};
  return kSpelling[static_cast<size_t>(v)];
}

bool structurallyEqual(const Expr &a, const Expr &b) {
  if (a.kind != b.kind || a.operands.size() != b.operands.size())
    return false;
  switch (a.kind) {
  case ExprKind::IntLiteral:
    if (a.intValue != b.intValue)
      return false;
    break;
  case ExprKind::FloatLiteral:
    if (std::bit_cast<uint64_t>(a.floatValue) != std::bit_cast<uint64_t>(b.floatValue))
      return false;
    break;
  case ExprKind::BoolLiteral:
    if (a.boolValue != b.boolValue)
      return false;
    break;
  case ExprKind::Variable:
  case ExprKind::TensorRead:
    if (a.name != b.name)
      return false;
    break;
  case ExprKind::Unary:
    if (a.unaryOp != b.unaryOp)
      return false;
    break;
  case ExprKind::Binary:
    if (a.binaryOp != b.binaryOp)
      return false;
    break;
  case ExprKind::Call:
    if (a.callee != b.callee)
      return false;
    break;
  case ExprKind::Select:
    break;
  }
  for (size_t i = 0; i < a.operands.size(); ++i)
    if (!structurallyEqual(a.operands[i], b.operands[i]))
      return false;
  return true;
}

namespace {

// Shortest text that reads back as the same double and still lexes as a Float ("50" -> "50.0").
std::string printFloat(double v) {
  if (std::isinf(v))
    return v > 0 ? "inf" : "-inf";
  if (std::isnan(v))
    return "nan"; // Not produced by the parser; printed for debugging only.
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  std::string text(buffer, end);
  if (text.find_first_of(".e") == std::string::npos)
    text += ".0";
  return text;
}

void print(const Expr &e, std::string &out);

// Prints `e` as an operand that needs at least binding power `minPrecedence`.
void printOperand(const Expr &e, int minPrecedence, std::string &out) {
  bool parens = precedence(e) < minPrecedence;
  if (parens)
    out += '(';
  print(e, out);
  if (parens)
    out += ')';
}

void printList(const std::vector<Expr> &items, std::string &out) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0)
      out += ", ";
    print(items[i], out);
  }
}

void print(const Expr &e, std::string &out) {
  switch (e.kind) {
  case ExprKind::IntLiteral:
    out += std::to_string(e.intValue);
    return;
  case ExprKind::FloatLiteral:
    out += printFloat(e.floatValue);
    return;
  case ExprKind::BoolLiteral:
    out += e.boolValue ? "true" : "false";
    return;
  case ExprKind::Variable:
    out += e.name;
    return;
  case ExprKind::TensorRead:
    out += e.name;
    out += '[';
    printList(e.operands, out);
    out += ']';
    return;
  case ExprKind::Unary:
    out += spelling(e.unaryOp);
    printOperand(e.operands.at(0), detail::kUnaryPrecedence, out);
    return;
  case ExprKind::Binary: {
    // Left-associative: the left operand may share this precedence, the right one may not.
    int p = precedence(e.binaryOp);
    printOperand(e.operands.at(0), p, out);
    out += ' ';
    out += spelling(e.binaryOp);
    out += ' ';
    printOperand(e.operands.at(1), p + 1, out);
    return;
  }
  case ExprKind::Select:
    // Right-associative: c ? a : (d ? x : y) needs no parentheses, (c ? a : b) ? x : y does.
    printOperand(e.operands.at(0), detail::kSelectPrecedence + 1, out);
    out += " ? ";
    print(e.operands.at(1), out);
    out += " : ";
    print(e.operands.at(2), out);
    return;
  case ExprKind::Call:
    out += spelling(e.callee);
    out += '(';
    printList(e.operands, out);
    out += ')';
    return;
  }
}

} // namespace

std::string toString(const Expr &e) {
  std::string out;
  print(e, out);
  return out;
}

} // namespace tilefuse::spec
