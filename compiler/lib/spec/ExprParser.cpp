//===- ExprParser.cpp - Recursive-descent parser of score_mod / mask_mod expressions ----------===//
//
//   expr    := or ( '?' expr ':' expr )?
//   or      := and ( '||' and )*              (levels 2..7 by precedence climbing, all left-assoc)
//   and     := eq ( '&&' eq )*
//   eq      := rel ( ('==' | '!=') rel )*
//   rel     := add ( ('<' | '<=' | '>' | '>=') add )*
//   add     := mul ( ('+' | '-') mul )*
//   mul     := unary ( ('*' | '/' | '//' | '%') unary )*
//   unary   := ('-' | '!') unary | primary
//   primary := INT | FLOAT | 'true' | 'false' | 'inf' | '(' expr ')'
//            | NAME '(' args? ')' | NAME '[' expr (',' expr)* ']' | NAME
//
//===----------------------------------------------------------------------------------------===//

#include "tilefuse/spec/Expr.h"

#include "ExprSyntax.h"
#include "Suggest.h"

#include "tilefuse/spec/SpecError.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace tilefuse::spec {
namespace {

using detail::Tok;
using detail::Token;

// Bounds both the parser's recursion and the height of the tree it builds (a left-associative
// chain "a + b + c + ..." is as deep as it is long), so every later walk of the tree (checker,
// evaluator, lowering, emitter, destructor) recurses at most this deep.
constexpr int kMaxDepth = 200;

[[noreturn]] void syntaxError(int column, std::string message) {
  SourceLocation where;
  where.exprColumn = column;
  throw SpecError(where, std::move(message));
}

class Parser {
public:
  explicit Parser(std::string_view text) : tokens_(detail::lexExpr(text)) {}

  Expr parseAll() {
    Expr e = parseExpr();
    const Token &t = peek();
    if (t.kind == Tok::RParen)
      syntaxError(t.column,
                  fmt::format("unbalanced ')' at column {}: no '(' is open there", t.column));
    if (t.kind != Tok::End)
      syntaxError(t.column, fmt::format("expected an operator or the end of the expression at "
                                        "column {}, found {}",
                                        t.column, detail::describeToken(t)));
    return e;
  }

private:
  const Token &peek() const { return tokens_[pos_]; }
  const Token &next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool accept(Tok kind) {
    if (peek().kind != kind)
      return false;
    next();
    return true;
  }
  void expect(Tok kind, std::string_view what, std::string_view context) {
    if (accept(kind))
      return;
    const Token &t = peek();
    syntaxError(t.column, fmt::format("expected {} at column {}{}, found {}", what, t.column,
                                      context, detail::describeToken(t)));
  }

  // Guards the recursion of nested parentheses, unary operators and ternaries.
  struct DepthGuard {
    explicit DepthGuard(Parser &p) : parser(p) {
      if (++parser.depth_ > kMaxDepth)
        syntaxError(parser.peek().column,
                    fmt::format("expression nested more than {} levels deep at column {}",
                                kMaxDepth, parser.peek().column));
    }
    ~DepthGuard() { --parser.depth_; }
    Parser &parser;
  };

  // Every parse function leaves the height of the tree it returns in height_ (a leaf is 1).
  void setHeight(int height, int column) {
    height_ = height;
    if (height > kMaxDepth)
      syntaxError(column,
                  fmt::format("expression nested more than {} levels deep at column {} (each "
                              "operator of a chain such as 'a + b + c' adds a level); expected at "
                              "most {}",
                              kMaxDepth, column, kMaxDepth));
  }

  Expr parseExpr() {
    DepthGuard guard(*this);
    Expr cond = parseBinary(2);
    if (peek().kind != Tok::Question)
      return cond;
    int hc = height_;
    int column = next().column;
    Expr a = parseExpr();
    int ha = height_;
    expect(Tok::Colon, "':'", fmt::format(" (for the '?' at column {})", column));
    Expr b = parseExpr();
    setHeight(1 + std::max({hc, ha, height_}), column);
    Expr e = Expr::select(std::move(cond), std::move(a), std::move(b));
    e.column = column;
    return e;
  }

  Expr parseBinary(int level) {
    if (level > 7)
      return parseUnary();
    Expr lhs = parseBinary(level + 1);
    int height = height_;
    BinaryOp op;
    while (detail::binaryOpAt(peek().kind, level, op)) {
      int column = next().column;
      Expr rhs = parseBinary(level + 1);
      setHeight(1 + std::max(height, height_), column);
      height = height_;
      lhs = Expr::binary(op, std::move(lhs), std::move(rhs));
      lhs.column = column;
    }
    height_ = height;
    return lhs;
  }

  Expr parseUnary() {
    DepthGuard guard(*this);
    const Token &t = peek();
    if (t.kind == Tok::Minus || t.kind == Tok::Bang) {
      int column = next().column;
      Expr e = Expr::unary(t.kind == Tok::Minus ? UnaryOp::Neg : UnaryOp::Not, parseUnary());
      setHeight(height_ + 1, column);
      e.column = column;
      return e;
    }
    return parsePrimary();
  }

  Expr parsePrimary() {
    const Token &t = next();
    switch (t.kind) {
    case Tok::Int:
      height_ = 1;
      return at(Expr::intLiteral(parseInt(t)), t.column);
    case Tok::Float:
      height_ = 1;
      return at(Expr::floatLiteral(parseFloat(t)), t.column);
    case Tok::Ident:
      return parseName(t);
    case Tok::LParen: {
      Expr e = parseExpr();
      expect(Tok::RParen, "')'", fmt::format(" to close the '(' at column {}", t.column));
      return e;
    }
    case Tok::RParen:
      syntaxError(t.column, fmt::format("expected an operand at column {}, found ')'", t.column));
    default:
      syntaxError(t.column, fmt::format("expected an operand (a number, a name, '(', '-' or '!') "
                                        "at column {}, found {}",
                                        t.column, detail::describeToken(t)));
    }
  }

  Expr parseName(const Token &t) {
    std::string_view name = t.text;
    height_ = 1;
    if (name == "true" || name == "false")
      return at(Expr::boolLiteral(name == "true"), t.column);
    if (name == "inf")
      return at(Expr::floatLiteral(std::numeric_limits<double>::infinity()), t.column);
    if (accept(Tok::LParen))
      return parseCall(t);
    if (accept(Tok::LBracket)) {
      std::vector<Expr> indices = parseList(Tok::RBracket, "']'", t);
      if (indices.empty())
        syntaxError(t.column, fmt::format("'{}[]' at column {} has no index; expected at least one",
                                          name, t.column));
      setHeight(listHeight_ + 1, t.column);
      return at(Expr::tensorRead(std::string(name), std::move(indices)), t.column);
    }
    return at(Expr::variableRef(std::string(name)), t.column);
  }

  Expr parseCall(const Token &t) {
    std::vector<Expr> args = parseList(Tok::RParen, "')'", t);
    setHeight(listHeight_ + 1, t.column);
    if (t.text == "where") {
      if (args.size() != 3)
        syntaxError(t.column, fmt::format("where() at column {} takes 3 arguments (condition, "
                                          "value if true, value if false), got {}",
                                          t.column, args.size()));
      Expr e = Expr::select(std::move(args[0]), std::move(args[1]), std::move(args[2]));
      return at(std::move(e), t.column);
    }
    for (int f = 0; f <= static_cast<int>(kLastBuiltin); ++f)
      if (spelling(static_cast<Builtin>(f)) == t.text)
        return at(Expr::call(static_cast<Builtin>(f), std::move(args)), t.column);
    std::vector<std::string> names;
    for (int f = 0; f <= static_cast<int>(kLastBuiltin); ++f)
      names.emplace_back(spelling(static_cast<Builtin>(f)));
    names.emplace_back("where");
    std::string hint = detail::didYouMean(t.text, names);
    if (t.text == "bool")
      hint = "; there is no bool() cast: write x != 0";
    syntaxError(t.column, fmt::format("unknown function '{}' at column {}{}; expected one of {}",
                                      t.text, t.column, hint, detail::joinNames(names)));
  }

  // Comma-separated expressions up to `close` (the opening token is already consumed).
  std::vector<Expr> parseList(Tok close, std::string_view closeText, const Token &opener) {
    std::vector<Expr> items;
    int height = 0;
    listHeight_ = 0;
    if (accept(close))
      return items;
    while (true) {
      items.push_back(parseExpr());
      height = std::max(height, height_);
      listHeight_ = height;
      if (accept(close))
        return items;
      const Token &t = peek();
      if (t.kind != Tok::Comma)
        syntaxError(t.column, fmt::format("expected ',' or {} at column {} (in '{}' at column {}), "
                                          "found {}",
                                          closeText, t.column, opener.text, opener.column,
                                          detail::describeToken(t)));
      next();
    }
  }

  static Expr at(Expr e, int column) {
    e.column = column;
    return e;
  }

  static int64_t parseInt(const Token &t) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (ec != std::errc() || ptr != t.text.data() + t.text.size())
      syntaxError(t.column,
                  fmt::format("integer {} at column {} does not fit in int64", t.text, t.column));
    return v;
  }

  static double parseFloat(const Token &t) {
    double v = 0.0;
    auto [ptr, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (ec != std::errc() || ptr != t.text.data() + t.text.size() || !std::isfinite(v))
      syntaxError(t.column, fmt::format("number {} at column {} is outside the range of double "
                                        "(write inf for infinity)",
                                        t.text, t.column));
    return v;
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int height_ = 0;     ///< Height of the tree the last parse function returned.
  int listHeight_ = 0; ///< Greatest height among the items of the last parseList.
};

} // namespace

Expr parseExpr(std::string_view text) { return Parser(text).parseAll(); }

Expr parseCheckedExpr(std::string_view text, const ExprScope &scope) {
  Expr e = parseExpr(text);
  checkExpr(e, scope);
  return e;
}

} // namespace tilefuse::spec
