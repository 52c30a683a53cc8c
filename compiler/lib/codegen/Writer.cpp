//===- Writer.cpp - indentation-aware text writer -------------------------===//
#include "Writer.h"

namespace tilefuse::codegen {

Writer &Writer::line(std::string_view text) {
  if (!text.empty())
    out_.append(static_cast<size_t>(depth_ * width_), ' ').append(text);
  out_ += '\n';
  return *this;
}

Writer &Writer::comment(std::string_view text) { return line("// " + std::string(text)); }

Writer &Writer::open(std::string_view head) {
  line(head.empty() ? std::string("{") : std::string(head) + " {");
  ++depth_;
  return *this;
}

Writer &Writer::close(std::string_view tail) {
  --depth_;
  return line("}" + std::string(tail));
}

Writer &Writer::orElse(std::string_view head) {
  --depth_;
  line("} " + std::string(head) + " {");
  ++depth_;
  return *this;
}

Writer &Writer::append(const Writer &other) {
  size_t start = 0;
  const std::string &s = other.str();
  while (start < s.size()) {
    size_t end = s.find('\n', start);
    if (end == std::string::npos)
      end = s.size();
    line(std::string_view(s).substr(start, end - start));
    start = end + 1;
  }
  return *this;
}

} // namespace tilefuse::codegen
