//===- SpecError.h - The one error type of attention-variant specs -*- C++ -*-===//
//
// Every error found while reading a spec file, parsing or type-checking an expression, resolving a
// shape or evaluating an expression is a tilefuse::spec::SpecError. what() reads like a compiler
// diagnostic:
//
//   bad.json:4:52: error: field 'score_mod': expected ')' at column 36 to close the '(' at
//   column 21, found end of expression
//
// This header is safe to include from code built with -fno-exceptions (it throws nothing itself).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include <stdexcept>
#include <string>

namespace tilefuse::spec {

/// Where an error is. Every part is optional: empty / 0 means "unknown".
struct SourceLocation {
  std::string file;   ///< Spec file name as given to parseSpecFile / parseSpecString.
  std::string field;  ///< JSON path: "score_mod", "heads.kv", "captures.bias.shape[1]".
  int line = 0;       ///< 1-based line in the JSON text.
  int column = 0;     ///< 1-based byte column in that line.
  int exprColumn = 0; ///< 1-based byte column inside an expression string (0: not one).
};

/// The exception raised by everything in tilefuse/spec.
///
/// what() is "FILE:LINE:COL: error: field 'FIELD': MESSAGE"; parts that are unknown are left out
/// ("FILE: error: MESSAGE", "error: MESSAGE"). For expression errors the message itself says
/// "at column N" (the column inside the expression string, also in exprColumn()), while LINE:COL
/// point at that same character inside the JSON file.
class SpecError : public std::runtime_error {
public:
  SpecError(SourceLocation where, std::string message);

  const SourceLocation &where() const noexcept { return where_; }
  const std::string &file() const noexcept { return where_.file; }
  const std::string &field() const noexcept { return where_.field; }
  int line() const noexcept { return where_.line; }
  int column() const noexcept { return where_.column; }
  int exprColumn() const noexcept { return where_.exprColumn; }
  /// The message alone, without file, position or field.
  const std::string &message() const noexcept { return message_; }

private:
  SourceLocation where_;
  std::string message_;
};

} // namespace tilefuse::spec
