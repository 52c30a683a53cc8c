//===- FileIO.cpp - Writing output files atomically -------------------------------------------===//

#include "tilefuse/spec/FileIO.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace tilefuse::spec {

void writeFileAtomically(const std::string &path, const std::string &text) {
  namespace fs = std::filesystem;
  fs::path target(path);
  std::error_code ec;
  if (path.empty())
    throw OutputError("cannot write the output: the file name is empty");
  // Writing through a symbolic link writes the file it points to (the link stays a link).
  for (int hops = 0; fs::is_symlink(fs::symlink_status(target, ec)); ++hops) {
    if (hops == 40)
      throw OutputError("cannot write '" + path + "': too many levels of symbolic links");
    fs::path next = fs::read_symlink(target, ec);
    if (ec)
      throw OutputError("cannot write '" + path + "': " + ec.message());
    target = next.is_absolute() ? next : target.parent_path() / next;
  }
  if (fs::is_directory(target, ec))
    throw OutputError("cannot write '" + path + "': it is a directory; expected a file name");
  fs::path tmp = target;
  tmp += ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw OutputError("cannot write '" + path + "' (through the temporary file '" +
                        tmp.string() + "'): " + std::strerror(errno));
    out << text;
    out.flush();
    if (!out) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw OutputError("cannot write '" + path + "': write failed");
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw OutputError("cannot write '" + path + "': " + ec.message());
  }
}

} // namespace tilefuse::spec
