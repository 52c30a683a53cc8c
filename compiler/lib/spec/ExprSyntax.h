//===- ExprSyntax.h - Tokens and precedence of the expression language (private) -*- C++ -*-===//
//
// Shared by the lexer, the parser and the printer so that parse(print(e)) == e.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Expr.h"

#include <string_view>
#include <vector>

namespace tilefuse::spec::detail {

enum class Tok : uint8_t {
  End, Int, Float, Ident,
  Plus, Minus, Star, Slash, SlashSlash, Percent,
  Lt, Le, Gt, Ge, EqEq, NotEq, AndAnd, OrOr, Bang,
  Question, Colon, LParen, RParen, LBracket, RBracket, Comma,
};

struct Token {
  Tok kind = Tok::End;
  int column = 0;        ///< 1-based byte column of the first character.
  std::string_view text; ///< The characters of the token (empty for End).
};

/// Splits `text` into tokens ending with one Tok::End. Throws SpecError (exprColumn) on a character
/// that starts no token, or on a number running into letters ("12ab").
std::vector<Token> lexExpr(std::string_view text);

/// For messages: "'+'", "name 'foo'", "number 12", "end of expression".
std::string describeToken(const Token &t);

// Binding power, loosest first. The printer parenthesises by these numbers.
inline constexpr int kSelectPrecedence = 1;
inline constexpr int kUnaryPrecedence = 8;
inline constexpr int kAtomPrecedence = 9;

/// 2 (||) .. 7 (* / // %); every binary operator is left-associative.
int precedence(BinaryOp op);

/// The binary operator a token stands for at `level` (2..7), or false.
bool binaryOpAt(Tok t, int level, BinaryOp &op);

/// Precedence of the node at the root of `e`.
int precedence(const Expr &e);

} // namespace tilefuse::spec::detail
