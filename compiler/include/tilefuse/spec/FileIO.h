//===- FileIO.h - Writing output files atomically --------------------*- C++ -*-===//
#pragma once

#include <stdexcept>
#include <string>

namespace tilefuse::spec {

/// A file Tilefuse cannot write; what() names the path and the reason.
class OutputError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Writes `text` (bytes) to `path` atomically: a temporary file in the same folder, then rename,
/// so a failure never leaves a partial file. A symbolic link is followed (the file it points to is
/// replaced, the link stays); a directory is refused. Throws OutputError naming the path.
void writeFileAtomically(const std::string &path, const std::string &text);

} // namespace tilefuse::spec
