//===- Writer.h - indentation-aware text writer for generated code ---*- C++ -*-===//
//
// Lines are written at the current indentation; open()/close() bracket a `{ ... }` block, Scope
// does it for a C++ scope. Comments wrap nothing: a generated line is one line of source.
//
#pragma once

#include <string>
#include <string_view>

namespace tilefuse::codegen {

class Writer {
public:
  explicit Writer(int indentWidth = 2) : width_(indentWidth) {}

  /// One line at the current indentation (an empty `text` writes an empty line).
  Writer &line(std::string_view text = {});
  /// "// text" at the current indentation.
  Writer &comment(std::string_view text);
  /// `head {` then indent (head may be empty: a bare scope).
  Writer &open(std::string_view head);
  /// Dedent, then `}` followed by `tail` (e.g. ");" or " else {").
  Writer &close(std::string_view tail = {});
  /// Dedent, `} else {`, indent.
  Writer &orElse(std::string_view head = "else");
  void indent() { ++depth_; }
  void dedent() { --depth_; }
  /// Appends text written by another writer, re-indented to the current depth.
  Writer &append(const Writer &other);

  const std::string &str() const { return out_; }
  int depth() const { return depth_; }

  /// Opens on construction, closes on destruction.
  class Scope {
  public:
    Scope(Writer &w, std::string_view head, std::string tail = {}) : w_(w), tail_(std::move(tail)) { w_.open(head); }
    ~Scope() { w_.close(tail_); }
    Scope(const Scope &) = delete;
    Scope &operator=(const Scope &) = delete;

  private:
    Writer &w_;
    std::string tail_;
  };

private:
  std::string out_;
  int depth_ = 0;
  int width_;
};

} // namespace tilefuse::codegen
