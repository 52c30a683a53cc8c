//===- ExprSyntax.cpp - Tokens and precedence of score_mod / mask_mod expressions --------===//

#include "ExprSyntax.h"

#include "tilefuse/spec/SpecError.h"

#include <fmt/format.h>

namespace tilefuse::spec::detail {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

[[noreturn]] void lexError(int column, std::string message) {
  SourceLocation where;
  where.exprColumn = column;
  throw SpecError(where, std::move(message));
}

// Length of the number at the start of `s`: digits [. digits] [e [+-] digits], or . digits ...
// Sets isFloat when it has a '.' or an exponent.
size_t scanNumber(std::string_view s, bool &isFloat, int column) {
  size_t i = 0;
  isFloat = false;
  while (i < s.size() && isDigit(s[i]))
    ++i;
  if (i < s.size() && s[i] == '.') {
    isFloat = true;
    ++i;
    while (i < s.size() && isDigit(s[i]))
      ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    size_t j = i + 1;
    if (j < s.size() && (s[j] == '+' || s[j] == '-'))
      ++j;
    if (j >= s.size() || !isDigit(s[j]))
      lexError(column + static_cast<int>(j),
               fmt::format("expected the digits of an exponent at column {}", column + j));
    while (j < s.size() && isDigit(s[j]))
      ++j;
    isFloat = true;
    i = j;
  }
  if (i < s.size() && isIdentChar(s[i]))
    lexError(column + static_cast<int>(i),
             fmt::format("unexpected '{}' at column {} right after the number '{}'; expected an "
                         "operator or a space",
                         s[i], column + i, s.substr(0, i)));
  return i;
}

} // namespace

std::vector<Token> lexExpr(std::string_view text) {
  static constexpr struct {
    std::string_view text;
    Tok kind;
  } kPunct[] = {
      // Two-character tokens first.
      {"//", Tok::SlashSlash}, {"<=", Tok::Le},     {">=", Tok::Ge},    {"==", Tok::EqEq},
      {"!=", Tok::NotEq},      {"&&", Tok::AndAnd}, {"||", Tok::OrOr},  {"+", Tok::Plus},
      {"-", Tok::Minus},       {"*", Tok::Star},    {"/", Tok::Slash},  {"%", Tok::Percent},
      {"<", Tok::Lt},          {">", Tok::Gt},      {"!", Tok::Bang},   {"?", Tok::Question},
      {":", Tok::Colon},       {"(", Tok::LParen},  {")", Tok::RParen}, {"[", Tok::LBracket},
      {"]", Tok::RBracket},    {",", Tok::Comma},
  };
  std::vector<Token> tokens;
  size_t i = 0;
  while (true) {
    while (i < text.size() && isSpace(text[i]))
      ++i;
    int column = static_cast<int>(i) + 1;
    if (i >= text.size()) {
      tokens.push_back({Tok::End, column, {}});
      return tokens;
    }
    std::string_view rest = text.substr(i);
    char c = rest[0];
    if (isDigit(c) || (c == '.' && rest.size() > 1 && isDigit(rest[1]))) {
      bool isFloat = false;
      size_t n = scanNumber(rest, isFloat, column);
      tokens.push_back({isFloat ? Tok::Float : Tok::Int, column, rest.substr(0, n)});
      i += n;
      continue;
    }
    if (isIdentStart(c)) {
      size_t n = 1;
      while (n < rest.size() && isIdentChar(rest[n]))
        ++n;
      tokens.push_back({Tok::Ident, column, rest.substr(0, n)});
      i += n;
      continue;
    }
    bool matched = false;
    for (const auto &p : kPunct) {
      if (rest.starts_with(p.text)) {
        tokens.push_back({p.kind, column, rest.substr(0, p.text.size())});
        i += p.text.size();
        matched = true;
        break;
      }
    }
    if (matched)
      continue;
    std::string hint;
    if (c == '=')
      hint = "; did you mean '=='?";
    else if (c == '&')
      hint = "; did you mean '&&'?";
    else if (c == '|')
      hint = "; did you mean '||'?";
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      lexError(column, fmt::format("unexpected byte 0x{:02x} at column {}; expressions are ASCII",
                                   static_cast<unsigned char>(c), column));
    lexError(column, fmt::format("unexpected character '{}' at column {}{}", c, column, hint));
  }
}

std::string describeToken(const Token &t) {
  switch (t.kind) {
  case Tok::End:
    return "end of expression";
  case Tok::Int:
  case Tok::Float:
    return fmt::format("number {}", t.text);
  case Tok::Ident:
    return fmt::format("name '{}'", t.text);
  default:
    return fmt::format("'{}'", t.text);
  }
}

int precedence(BinaryOp op) {
  switch (op) {
  case BinaryOp::Or:
    return 2;
  case BinaryOp::And:
    return 3;
  case BinaryOp::Eq:
  case BinaryOp::Ne:
    return 4;
  case BinaryOp::Lt:
  case BinaryOp::Le:
  case BinaryOp::Gt:
  case BinaryOp::Ge:
    return 5;
  case BinaryOp::Add:
  case BinaryOp::Sub:
    return 6;
  case BinaryOp::Mul:
  case BinaryOp::Div:
  case BinaryOp::FloorDiv:
  case BinaryOp::Mod:
    return 7;
  }
  return 0;
}

bool binaryOpAt(Tok t, int level, BinaryOp &op) {
  static constexpr struct {
    Tok tok;
    BinaryOp op;
  } kTable[] = {
      {Tok::OrOr, BinaryOp::Or},
      {Tok::AndAnd, BinaryOp::And},
      {Tok::EqEq, BinaryOp::Eq},
      {Tok::NotEq, BinaryOp::Ne},
      {Tok::Lt, BinaryOp::Lt},
      {Tok::Le, BinaryOp::Le},
      {Tok::Gt, BinaryOp::Gt},
      {Tok::Ge, BinaryOp::Ge},
      {Tok::Plus, BinaryOp::Add},
      {Tok::Minus, BinaryOp::Sub},
      {Tok::Star, BinaryOp::Mul},
      {Tok::Slash, BinaryOp::Div},
      {Tok::SlashSlash, BinaryOp::FloorDiv},
      {Tok::Percent, BinaryOp::Mod},
  };
  for (const auto &entry : kTable) {
    if (entry.tok == t && precedence(entry.op) == level) {
      op = entry.op;
      return true;
    }
  }
  return false;
}

int precedence(const Expr &e) {
  switch (e.kind) {
  case ExprKind::Select:
    return kSelectPrecedence;
  case ExprKind::Binary:
    return precedence(e.binaryOp);
  case ExprKind::Unary:
    return kUnaryPrecedence;
  default:
    return kAtomPrecedence;
  }
}

} // namespace tilefuse::spec::detail
