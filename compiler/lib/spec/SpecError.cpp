//===- SpecError.cpp - Formatting of spec diagnostics -----------------------------------------===//

#include "tilefuse/spec/SpecError.h"

#include <fmt/format.h>

namespace tilefuse::spec {
namespace {

// "FILE:LINE:COL: error: field 'FIELD': MESSAGE", leaving out the parts that are unknown.
std::string formatDiagnostic(const SourceLocation &where, const std::string &message) {
  std::string out;
  if (!where.file.empty() || where.line > 0)
    out += where.file.empty() ? "<input>" : where.file;
  if (where.line > 0)
    out += where.column > 0 ? fmt::format(":{}:{}", where.line, where.column)
                            : fmt::format(":{}", where.line);
  if (!out.empty())
    out += ": ";
  out += "error: ";
  if (!where.field.empty())
    out += fmt::format("field '{}': ", where.field);
  out += message;
  return out;
}

} // namespace

SpecError::SpecError(SourceLocation where, std::string message)
    : std::runtime_error(formatDiagnostic(where, message)), where_(std::move(where)),
      message_(std::move(message)) {}

} // namespace tilefuse::spec
