//===- SourceMap.h - Byte positions of JSON fields (private) -----*- C++ -*-===//
//
// nlohmann/json 3.11 keeps no positions in its values, so errors found after parsing ("unknown
// field", "expected an integer", an expression error) would have no line:column. A SourceMap scans
// the same text once more and records, for every field path ("heads.kv", "captures.bias.shape[1]"),
// where its key and its value begin. It is tolerant: on malformed text it stops at the first
// token it cannot read, which is how a JSON syntax error is given a field (pathAt).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/SpecError.h"

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tilefuse::spec::detail {

class SourceMap {
public:
  explicit SourceMap(std::string text);

  /// "parent.key" or "parent[3]" (no leading dot at the root).
  static std::string child(std::string_view parent, std::string_view key);
  static std::string element(std::string_view parent, size_t index);

  /// 1-based line and column of a byte offset (clamped to the text).
  std::pair<int, int> lineColumn(size_t offset) const;

  /// The value of `path` (or its key when atKey), falling back to the nearest enclosing field
  /// that was found; file and field filled in.
  SourceLocation locate(std::string_view file, std::string_view path, bool atKey = false) const;

  /// The character at 1-based `exprColumn` of the string value of `path` (JSON escapes count as
  /// one character); exprColumn filled in.
  SourceLocation locateInString(std::string_view file, std::string_view path, int exprColumn) const;

  /// The path of the last key or value that begins at or before `offset` ("" at the root).
  std::string pathAt(size_t offset) const;

  /// Keys that appear twice in one object: (path, offset of the second key).
  const std::vector<std::pair<std::string, size_t>> &duplicateKeys() const { return duplicates_; }

  /// Offset of the first number outside the range of double, or npos.
  size_t numberOverflow() const { return numberOverflow_; }
  /// Offset of the first '{' or '[' nested deeper than kMaxJsonDepth (Json.h), or npos.
  size_t tooDeep() const { return tooDeep_; }

private:
  struct Entry {
    size_t key = std::string::npos;
    size_t value = std::string::npos;
  };
  friend class Scanner;

  void noteKey(const std::string &path, size_t offset);
  void noteValue(const std::string &path, size_t offset);
  const Entry *findOrParent(std::string_view path) const;

  std::string text_;
  std::vector<size_t> lineStarts_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<std::pair<size_t, std::string>> events_; // (offset, path), increasing offsets
  std::vector<std::pair<std::string, size_t>> duplicates_;
  size_t numberOverflow_ = std::string::npos;
  size_t tooDeep_ = std::string::npos;
};

} // namespace tilefuse::spec::detail
