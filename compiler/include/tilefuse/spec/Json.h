//===- Json.h - Reading untrusted JSON and printing JSON safely ----*- C++ -*-===//
//
// Every JSON text Tilefuse reads from a user or from disk (spec files, cache entries, cache
// archives, --schedule) goes through parseUntrustedJson; every JSON value it prints goes through
// dumpJson. Together they bound the recursion of everything that later walks or prints the value
// (nlohmann's dump and copy are recursive), reject what nlohmann accepts silently, and keep the
// error path from throwing.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tilefuse::spec {

/// The deepest nesting of objects and arrays accepted in any JSON input (a spec needs 4).
inline constexpr int kMaxJsonDepth = 64;

/// A JSON text that parseUntrustedJson refuses. `offset` is the byte offset of the problem when
/// known (std::string::npos otherwise); what() is the reason without nlohmann's prefix.
class JsonInputError : public std::runtime_error {
public:
  JsonInputError(std::string reason, std::size_t offset)
      : std::runtime_error(std::move(reason)), offset_(offset) {}
  std::size_t offset() const { return offset_; }

private:
  std::size_t offset_;
};

/// Parses `text` strictly: syntax errors, objects or arrays nested deeper than kMaxJsonDepth,
/// a key that appears twice in one object (compared after unescaping, so "a" and "\u0061" are the
/// same key) and numbers outside the range of double all throw JsonInputError. Never throws a
/// nlohmann exception.
nlohmann::json parseUntrustedJson(std::string_view text);

/// `j` as text (indent < 0: one line), never throwing: invalid UTF-8 in strings is replaced by
/// U+FFFD, and a value nested deeper than kMaxJsonDepth (only built in code) prints as the string
/// "<nested too deep>" instead of recursing.
std::string dumpJson(const nlohmann::json &j, int indent = -1) noexcept;

} // namespace tilefuse::spec
