//===- SourceMap.cpp - Byte positions of JSON fields ------------------------------------------===//

#include "SourceMap.h"

#include "tilefuse/spec/Json.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <algorithm>
#include <cctype>
#include <set>
#include <tuple>

namespace tilefuse::spec::detail {

// A second, position-recording pass over JSON text. Returns false (and stops) at the first thing it
// cannot read; nlohmann has already said what is wrong by then.
class Scanner {
public:
  Scanner(std::string_view text, SourceMap &map) : s_(text), map_(map) {}

  void run() {
    if (value("", 0)) {
      skipSpace();
    }
  }

private:
  static constexpr int kMaxDepth = kMaxJsonDepth;

  void skipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
  }

  bool value(const std::string &path, int depth) {
    skipSpace();
    if (i_ >= s_.size())
      return false;
    if (depth >= kMaxDepth && (s_[i_] == '{' || s_[i_] == '[')) {
      map_.tooDeep_ = i_;
      return false;
    }
    map_.noteValue(path, i_);
    char c = s_[i_];
    if (c == '{')
      return object(path, depth);
    if (c == '[')
      return array(path, depth);
    if (c == '"') {
      std::string ignored;
      return string(ignored);
    }
    size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '+' ||
                              s_[i_] == '-' || s_[i_] == '.'))
      ++i_;
    if (i_ > start && (std::isdigit(static_cast<unsigned char>(s_[start])) || s_[start] == '-')) {
      std::string number(s_.substr(start, i_ - start));
      errno = 0;
      double v = std::strtod(number.c_str(), nullptr);
      if (!std::isfinite(v) && map_.numberOverflow_ == std::string::npos)
        map_.numberOverflow_ = start;
    }
    return i_ > start;
  }

  bool object(const std::string &path, int depth) {
    ++i_; // '{'
    skipSpace();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return true;
    }
    std::set<std::string> seen;
    while (true) {
      skipSpace();
      if (i_ >= s_.size() || s_[i_] != '"')
        return false;
      size_t keyAt = i_;
      std::string key;
      if (!string(key))
        return false;
      std::string childPath = SourceMap::child(path, key);
      if (!seen.insert(key).second)
        map_.duplicates_.emplace_back(childPath, keyAt);
      map_.noteKey(childPath, keyAt);
      skipSpace();
      if (i_ >= s_.size() || s_[i_] != ':')
        return false;
      ++i_;
      if (!value(childPath, depth + 1))
        return false;
      skipSpace();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return true;
      }
      return false;
    }
  }

  bool array(const std::string &path, int depth) {
    ++i_; // '['
    skipSpace();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return true;
    }
    for (size_t index = 0;; ++index) {
      if (!value(SourceMap::element(path, index), depth + 1))
        return false;
      skipSpace();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return true;
      }
      return false;
    }
  }

  // Reads a string literal, decoding every escape (\uXXXX, surrogate pairs included, to UTF-8) so
  // that "a" and "\u0061" are the same key.
  bool string(std::string &out) {
    ++i_; // '"'
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c != '\\') {
        out += c;
        ++i_;
        continue;
      }
      if (i_ + 1 >= s_.size())
        return false;
      char e = s_[i_ + 1];
      static constexpr std::string_view kFrom = "\"\\/bfnrt", kTo = "\"\\/\b\f\n\r\t";
      size_t k = kFrom.find(e);
      if (k != std::string_view::npos) {
        out += kTo[k];
        i_ += 2;
      } else if (e == 'u') {
        uint32_t cp = 0;
        if (!hex4(i_ + 2, cp))
          return false;
        i_ += 6;
        if (cp >= 0xD800 && cp < 0xDC00 && i_ + 1 < s_.size() && s_[i_] == '\\' &&
            s_[i_ + 1] == 'u') {
          uint32_t low = 0;
          if (hex4(i_ + 2, low) && low >= 0xDC00 && low < 0xE000) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            i_ += 6;
          }
        }
        appendUtf8(out, cp);
      } else {
        return false;
      }
    }
    return false;
  }

  bool hex4(size_t at, uint32_t &cp) const {
    if (at + 4 > s_.size())
      return false;
    cp = 0;
    for (size_t k = at; k < at + 4; ++k) {
      char c = s_[k];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0)
        return false;
      cp = cp * 16 + static_cast<uint32_t>(d);
    }
    return true;
  }

  static void appendUtf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string_view s_;
  size_t i_ = 0;
  SourceMap &map_;
};

SourceMap::SourceMap(std::string text) : text_(std::move(text)) {
  lineStarts_.push_back(0);
  for (size_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n')
      lineStarts_.push_back(i + 1);
  Scanner(text_, *this).run();
}

std::string SourceMap::child(std::string_view parent, std::string_view key) {
  std::string path(parent);
  if (!path.empty())
    path += '.';
  path += key;
  return path;
}

std::string SourceMap::element(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::pair<int, int> SourceMap::lineColumn(size_t offset) const {
  offset = std::min(offset, text_.size());
  auto it = std::upper_bound(lineStarts_.begin(), lineStarts_.end(), offset);
  size_t line = static_cast<size_t>(it - lineStarts_.begin()); // >= 1: lineStarts_[0] == 0
  size_t column = offset - lineStarts_[line - 1] + 1;
  return {static_cast<int>(line), static_cast<int>(column)};
}

void SourceMap::noteKey(const std::string &path, size_t offset) {
  entries_[path].key = offset;
  events_.emplace_back(offset, path);
}

void SourceMap::noteValue(const std::string &path, size_t offset) {
  entries_[path].value = offset;
  events_.emplace_back(offset, path);
}

const SourceMap::Entry *SourceMap::findOrParent(std::string_view path) const {
  while (true) {
    auto it = entries_.find(path);
    if (it != entries_.end())
      return &it->second;
    if (path.empty())
      return nullptr;
    size_t cut = path.find_last_of(".[");
    path = cut == std::string_view::npos ? std::string_view() : path.substr(0, cut);
  }
}

SourceLocation SourceMap::locate(std::string_view file, std::string_view path, bool atKey) const {
  SourceLocation where;
  where.file = file;
  where.field = path;
  const Entry *entry = findOrParent(path);
  if (entry == nullptr)
    return where;
  // A field that was found exactly: its key or value; an ancestor: its value (the enclosing '{').
  bool exact = entries_.find(path) != entries_.end();
  size_t offset = exact && atKey && entry->key != std::string::npos ? entry->key : entry->value;
  if (offset == std::string::npos)
    offset = entry->key;
  if (offset == std::string::npos)
    return where;
  std::tie(where.line, where.column) = lineColumn(offset);
  return where;
}

SourceLocation SourceMap::locateInString(std::string_view file, std::string_view path,
                                         int exprColumn) const {
  SourceLocation where = locate(file, path);
  where.exprColumn = exprColumn;
  auto it = entries_.find(path);
  if (it == entries_.end() || it->second.value == std::string::npos ||
      text_[it->second.value] != '"')
    return where;
  size_t i = it->second.value + 1;
  for (int c = 1; c < exprColumn && i < text_.size() && text_[i] != '"'; ++c)
    i += text_[i] != '\\' ? 1 : (i + 1 < text_.size() && text_[i + 1] == 'u' ? 6 : 2);
  std::tie(where.line, where.column) = lineColumn(i);
  return where;
}

std::string SourceMap::pathAt(size_t offset) const {
  auto it = std::upper_bound(events_.begin(), events_.end(), offset,
                             [](size_t o, const auto &event) { return o < event.first; });
  if (it == events_.begin())
    return "";
  return std::prev(it)->second;
}

} // namespace tilefuse::spec::detail
