//===- Cache.cpp - lookup, atomic locked store, ls / clear / export / import -===//
#include "tilefuse/tuner/Cache.h"
#include "tilefuse/spec/Json.h"

#include "tilefuse/tuner/Version.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <regex>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/file.h>
#include <unistd.h>

namespace tilefuse::tuner {
namespace fs = std::filesystem;

namespace {

constexpr const char *kLockFile = ".lock";
constexpr const char *kTempPrefix = ".tmp-";
constexpr const char *kArchiveFormat = "tilefuse-cache-archive";
constexpr int kArchiveVersion = 1;

std::string errnoText() { return std::strerror(errno); }

/// The names Tilefuse gives entry files (CacheKey::fileName) and temporary files (publish):
/// nothing else in the cache is ever listed, read or deleted.
bool isEntryName(const std::string &name) {
  static const std::regex pattern("[A-Za-z0-9_]{1,64}-[0-9a-f]{16}-(bf16|fp16)-B[0-9]+-Hq[0-9]+-"
                                  "Hkv[0-9]+-Sq[0-9]+-Sk[0-9]+-D[0-9]+-Dv[0-9]+(-energy|-edp)?\\.json");
  return name.size() < 256 && std::regex_match(name, pattern);
}
bool isTempName(const std::string &name) {
  static const std::regex pattern("\\.tmp-[0-9]+-[0-9]+");
  return std::regex_match(name, pattern);
}

/// A regular file, not a symbolic link (never followed).
bool isPlainFile(const fs::path &p) {
  std::error_code ec;
  return fs::symlink_status(p, ec).type() == fs::file_type::regular;
}


/// An exclusive flock() on `path` (created if missing), released by the destructor (and by the
/// kernel when the process dies, so a killed writer never leaves the directory locked).
class FileLock {
public:
  explicit FileLock(const fs::path &path) {
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw CacheError("cannot open the cache lock '" + path.string() + "': " + errnoText());
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        std::string why = errnoText();
        ::close(fd_);
        throw CacheError("cannot lock '" + path.string() + "': " + why);
      }
    }
  }
  FileLock(const FileLock &) = delete;
  FileLock &operator=(const FileLock &) = delete;
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

private:
  int fd_ = -1;
};

std::optional<std::string> readFile(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeAll(int fd, const char *data, std::size_t size, const fs::path &path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      throw CacheError("cannot write '" + path.string() + "': " + errnoText());
    data += n;
    size -= static_cast<std::size_t>(n);
  }
}

void fsyncDirectory(const fs::path &dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

/// Writes `text` to `target` through a temporary file in the same directory and rename(2).
/// `halfway`, when set, is called after half of the text is written (test hook).
void publish(const fs::path &target, const std::string &text, const std::function<void()> &halfway) {
  static std::atomic<unsigned> counter{0};
  fs::path dir = target.parent_path();
  fs::path tmp = dir / (std::string(kTempPrefix) + std::to_string(::getpid()) + "-" +
                        std::to_string(counter++));
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0)
    throw CacheError("cannot create '" + tmp.string() + "': " + errnoText());
  try {
    std::size_t half = text.size() / 2;
    writeAll(fd, text.data(), half, tmp);
    if (halfway)
      halfway();
    writeAll(fd, text.data() + half, text.size() - half, tmp);
    if (::fsync(fd) != 0)
      throw CacheError("cannot fsync '" + tmp.string() + "': " + errnoText());
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    std::string why = errnoText();
    ::unlink(tmp.c_str());
    throw CacheError("cannot rename '" + tmp.string() + "' to '" + target.string() + "': " + why);
  }
  fsyncDirectory(dir);
}

/// Deletes temporary files left by killed writers. Call with the directory lock held: every live
/// writer holds it while its temporary file exists, so any one found now is orphaned.
void removeOrphanedTemps(const fs::path &dir) {
  std::error_code ec;
  for (const fs::directory_entry &f : fs::directory_iterator(dir, ec))
    if (isTempName(f.path().filename().string()) && isPlainFile(f.path()))
      fs::remove(f.path(), ec);
}

bool sameIdentity(const DeviceIdentity &a, const DeviceIdentity &b) {
  return a.name == b.name && a.ccMajor == b.ccMajor && a.ccMinor == b.ccMinor &&
         a.smCount == b.smCount;
}

/// The part of the key a file name and directory stand for: the GPU, spec, dtype and bucket.
std::string placementMismatch(const CacheKey &inside, const CacheKey &wanted, bool compareDevice) {
  if (compareDevice && !sameIdentity(inside.device, wanted.device))
    return "the entry was tuned on '" + inside.device.directoryName() + "', not '" +
           wanted.device.directoryName() + "'";
  if (inside.specHash != wanted.specHash)
    return "spec hash " + inside.specHash + " inside, " + wanted.specHash + " expected";
  if (inside.dtype != wanted.dtype)
    return "dtype " + std::string(spec::spelling(inside.dtype)) + " inside";
  if (!(inside.shape == wanted.shape))
    return "the shape bucket inside differs from the file name";
  if (inside.objective != wanted.objective)
    return "objective " + std::string(spelling(inside.objective)) + " inside, " +
           std::string(spelling(wanted.objective)) + " expected";
  if (inside.maskDensity != wanted.maskDensity)
    return "mask density class " + std::to_string(inside.maskDensity) + " inside, " +
           std::to_string(wanted.maskDensity) + " expected";
  return "";
}

/// What StoreMode::KeepFaster and findForArch compare: the entry's objectiveScore.
double scoreOf(const CacheEntry &e) {
  return objectiveScore(e.key.objective, e.tuning.medianMs, e.tuning.joulesPerCall);
}

/// "1.25 ms", "0.0312 J", "3.9e-05 J*s": a score with the unit of its objective.
std::string scoreText(Objective o, double score) {
  const char *unit = o == Objective::Time ? " ms" : o == Objective::Energy ? " J" : " J*s";
  char buf[48];
  std::snprintf(buf, sizeof buf, "%.4g%s", score, unit);
  return buf;
}

CurrentVersions versionsOf(const CacheKey &key) {
  return {key.device.driverVersion, key.nvrtcVersion, key.tilefuseVersion};
}

/// A real directory, not a symbolic link (never followed).
bool isRealDir(const fs::path &p) {
  std::error_code ec;
  return fs::symlink_status(p, ec).type() == fs::file_type::directory;
}

/// A GPU directory Tilefuse made, as `clear` requires: a real directory holding the lock file
/// that every store creates.
bool isGpuDir(const fs::path &p) { return isRealDir(p) && isPlainFile(p / kLockFile); }

/// The first bytes of an entry file (entryToJson) hold its format field, also in a corrupt
/// (truncated) one: `clear` deletes only files that carry it.
bool hasEntryHeader(const fs::path &p) {
  std::ifstream in(p, std::ios::binary);
  std::string text(1 << 16, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.find("\"tilefuse-cache-entry\"") != std::string::npos)
    return true;
  // Sorted keys put the CUBIN first: also look at the end of a large file.
  std::error_code ec;
  auto size = fs::file_size(p, ec);
  if (ec || size <= text.size())
    return false;
  in.clear();
  in.seekg(static_cast<std::streamoff>(size - std::min<std::uintmax_t>(size, 1 << 16)));
  std::string tail(1 << 16, '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  tail.resize(static_cast<std::size_t>(in.gcount()));
  return tail.find("\"tilefuse-cache-entry\"") != std::string::npos;
}

bool isEntryFile(const fs::directory_entry &f) {
  return isEntryName(f.path().filename().string()) && isPlainFile(f.path());
}

enum class Children { Entries, Dirs, DirsToClear };

/// The entry files (Children::Entries) or GPU directories of `dir`, sorted. Reading lists every
/// real directory; clearing only those Tilefuse made (isGpuDir).
std::vector<fs::path> sortedChildren(const fs::path &dir, Children which) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const fs::directory_entry &f : fs::directory_iterator(dir, ec)) {
    bool take = which == Children::Entries ? isEntryFile(f)
                : which == Children::Dirs  ? isRealDir(f.path())
                                           : isGpuDir(f.path());
    if (take)
      out.push_back(f.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

/// Parses one entry file and checks it against `now` (Hit, Stale or Corrupt).
ListedEntry inspect(const fs::path &path, const CurrentVersions &now) {
  ListedEntry l;
  l.gpuDir = path.parent_path().filename().string();
  l.path = path;
  std::optional<std::string> text = readFile(path);
  if (!text) {
    l.status = LookupStatus::Corrupt;
    l.problem = "cannot read: " + errnoText();
    return l;
  }
  try {
    l.entry = entryFromJson(*text);
  } catch (const CacheFormatVersionError &e) {
    l.status = LookupStatus::Stale;
    l.problem = e.what();
    return l;
  } catch (const CacheError &e) {
    l.status = LookupStatus::Corrupt;
    l.problem = e.what();
    return l;
  }
  if (l.entry->key.fileName() != path.filename().string() ||
      l.entry->key.device.directoryName() != l.gpuDir) {
    l.status = LookupStatus::Corrupt;
    l.problem = "the key inside does not match the file's place (expected " +
                l.entry->key.device.directoryName() + "/" + l.entry->key.fileName() + ")";
    return l;
  }
  if (std::string why = staleReason(l.entry->key, now); !why.empty()) {
    l.status = LookupStatus::Stale;
    l.problem = why;
  }
  return l;
}

} // namespace

Cache::Cache(fs::path root) : root_(std::move(root)) {}

Cache Cache::openDefault() { return Cache(cacheRoot()); }

bool Cache::checkRoot() const {
  std::error_code ec;
  fs::file_status st = fs::status(root_, ec);
  if (st.type() == fs::file_type::not_found)
    return false;
  if (ec)
    throw CacheError("cannot read the cache directory '" + root_.string() + "': " + ec.message());
  if (st.type() != fs::file_type::directory)
    throw CacheError("the cache directory '" + root_.string() +
                     "' is not a directory; set TILEFUSE_CACHE_DIR to a directory");
  fs::directory_iterator it(root_, ec);
  if (ec)
    throw CacheError("cannot read the cache directory '" + root_.string() + "': " + ec.message());
  return true;
}

fs::path Cache::pathInside(const fs::path &gpuDirName, const std::string &fileName) const {
  // Both parts are sanitised by construction (DeviceIdentity::directoryName, CacheKey::fileName
  // of a validated key); check again that the result is exactly root/dir/file.
  const std::string dir = gpuDirName.string();
  for (const std::string &part : {dir, fileName})
    if (part.empty() || part == "." || part == ".." || part.find('/') != std::string::npos ||
        part.find('\0') != std::string::npos)
      throw CacheError("refusing the cache path '" + dir + "/" + fileName +
                       "': it would leave the cache directory '" + root_.string() + "'");
  return root_ / dir / fileName;
}

fs::path Cache::gpuDir(const DeviceIdentity &device) const { return root_ / device.directoryName(); }

fs::path Cache::entryPath(const CacheKey &key) const {
  return pathInside(key.device.directoryName(), key.fileName());
}

LookupResult Cache::lookup(const CacheKey &key) const {
  LookupResult r;
  r.path = entryPath(key);
  std::error_code ec;
  if (!fs::exists(r.path, ec)) {
    r.status = LookupStatus::Miss;
    return r;
  }
  ListedEntry l = inspect(r.path, versionsOf(key));
  r.status = l.status;
  r.problem = l.problem;
  r.entry = std::move(l.entry);
  if (r.entry && r.status != LookupStatus::Corrupt) {
    if (std::string why = placementMismatch(r.entry->key, key, true); !why.empty()) {
      r.status = LookupStatus::Corrupt;
      r.problem = why;
    } else if (std::string stale = staleReason(r.entry->key, versionsOf(key), &key.device);
               !stale.empty()) {
      r.status = LookupStatus::Stale;
      r.problem = stale;
    }
  }
  if (r.status == LookupStatus::Corrupt)
    r.entry.reset();
  return r;
}

std::vector<LookupResult> Cache::findForArch(const CacheKey &key) const {
  std::vector<LookupResult> out;
  CurrentVersions now{0, key.nvrtcVersion, key.tilefuseVersion};
  for (const fs::path &dir : sortedChildren(root_, Children::Dirs)) {
    fs::path file = dir / key.fileName();
    std::error_code ec;
    if (!fs::exists(file, ec))
      continue;
    ListedEntry l = inspect(file, now);
    if (l.status != LookupStatus::Hit)
      continue;
    const CacheKey &k = l.entry->key;
    if (k.device.ccMajor != key.device.ccMajor || k.device.ccMinor != key.device.ccMinor ||
        !placementMismatch(k, key, false).empty())
      continue;
    out.push_back({LookupStatus::Hit, file, "", std::move(l.entry)});
  }
  // Best first by the key's objective (by index: sorting the results in place trips GCC 12's
  // -Wmaybe-uninitialized).
  std::vector<std::size_t> order(out.size());
  for (std::size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return scoreOf(*out[a].entry) < scoreOf(*out[b].entry);
  });
  std::vector<LookupResult> sorted;
  for (std::size_t i : order)
    sorted.push_back(std::move(out[i]));
  return sorted;
}

StoreResult Cache::store(const CacheEntry &entry, StoreMode mode) {
  if (entry.cubin.empty())
    throw CacheError("refusing to cache an entry without a CUBIN (" + entry.key.fileName() + ")");
  validateKey(entry.key);
  StoreResult result;
  result.path = entryPath(entry.key);
  fs::path dir = result.path.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw CacheError("cannot create the cache directory '" + dir.string() + "': " + ec.message());
  std::string text = entryToJson(entry);

  FileLock lock(dir / kLockFile);
  removeOrphanedTemps(dir);
  LookupResult existing = lookup(entry.key);
  if (existing.status == LookupStatus::Hit && mode == StoreMode::KeepFaster &&
      scoreOf(*existing.entry) <= scoreOf(entry)) {
    const Objective o = entry.key.objective;
    result.note = "kept the existing entry (" + scoreText(o, scoreOf(*existing.entry)) + " <= " +
                  scoreText(o, scoreOf(entry)) + ")";
    return result;
  }
  if (existing.status == LookupStatus::Stale || existing.status == LookupStatus::Corrupt)
    result.note = "rebuilt a " + std::string(spelling(existing.status)) + " entry (" +
                  existing.problem + ")";
  else if (existing.status == LookupStatus::Hit)
    result.note = "replaced the previous entry";
  publish(result.path, text, afterPartialWriteForTest);
  result.written = true;
  return result;
}

std::vector<ListedEntry> Cache::list(const CurrentVersions &now) const {
  std::vector<ListedEntry> out;
  if (!checkRoot())
    return out;
  for (const fs::path &dir : sortedChildren(root_, Children::Dirs))
    for (const fs::path &file : sortedChildren(dir, Children::Entries))
      out.push_back(inspect(file, now));
  return out;
}

TransferReport Cache::clear(const std::string &match, bool onlyInvalid, const CurrentVersions &now) {
  TransferReport report;
  if (!checkRoot())
    return report;
  for (const fs::path &dir : sortedChildren(root_, Children::DirsToClear)) {
    FileLock lock(dir / kLockFile);
    if (!onlyInvalid && (match.empty() || dir.filename().string().find(match) != std::string::npos))
      removeOrphanedTemps(dir);
    for (const fs::path &file : sortedChildren(dir, Children::Entries)) {
      std::string where = dir.filename().string() + "/" + file.filename().string();
      if (!match.empty() && where.find(match) == std::string::npos)
        continue;
      if (onlyInvalid && inspect(file, now).status == LookupStatus::Hit)
        continue;
      if (!hasEntryHeader(file)) { // named like an entry, but not written by Tilefuse
        report.problems.push_back(where + ": not a Tilefuse cache entry (no \"format\": "
                                  "\"tilefuse-cache-entry\"); left in place");
        continue;
      }
      std::error_code ec;
      if (fs::remove(file, ec))
        ++report.entries;
      else if (ec)
        report.problems.push_back(where + ": " + ec.message());
    }
  }
  return report;
}

TransferReport Cache::exportTo(const fs::path &archive) const {
  TransferReport report;
  std::string body;
  for (ListedEntry &l : list({})) {
    if (!l.entry) { // corrupt, or another format version
      report.problems.push_back(l.gpuDir + "/" + l.path.filename().string() + ": " + l.problem);
      continue;
    }
    body += entryToJson(*l.entry, -1);
    ++report.entries;
  }
  nlohmann::json header = {{"format", kArchiveFormat},
                           {"format_version", kArchiveVersion},
                           {"tilefuse", tilefuseVersion()},
                           {"entries", report.entries}};
  fs::path target = fs::absolute(archive);
  std::error_code ec;
  fs::create_directories(target.parent_path(), ec);
  publish(target, tilefuse::spec::dumpJson(header) + "\n" + body, nullptr);
  return report;
}

TransferReport Cache::importFrom(const fs::path &archive, StoreMode mode) {
  std::ifstream in(archive, std::ios::binary);
  if (!in)
    throw CacheError("cannot read the archive '" + archive.string() + "': " + errnoText());
  std::string line;
  nlohmann::json header;
  if (std::getline(in, line)) {
    try {
      header = spec::parseUntrustedJson(line);
    } catch (const spec::JsonInputError &) {
      header = nullptr; // reported below as "not a Tilefuse cache archive"
    }
  }
  if (!header.is_object() || !header.contains("format") || header["format"] != kArchiveFormat)
    throw CacheError("'" + archive.string() + "' is not a Tilefuse cache archive (its first line "
                     "must be {\"format\": \"" + kArchiveFormat + "\", ...}; made by `tilefuse cache export`)");
  if (!header.contains("format_version") || !header["format_version"].is_number_integer() ||
      header["format_version"] != kArchiveVersion)
    throw CacheError("'" + archive.string() + "' has archive format version " +
                     tilefuse::spec::dumpJson(header.value("format_version", nlohmann::json(0))) + "; this Tilefuse reads " +
                     std::to_string(kArchiveVersion));
  TransferReport report;
  int lineNo = 1;
  while (std::getline(in, line)) {
    ++lineNo;
    if (line.empty())
      continue;
    try {
      CacheEntry e = entryFromJson(line);
      if (store(e, mode).written)
        ++report.entries;
    } catch (const CacheError &err) {
      report.problems.push_back(archive.filename().string() + ":" + std::to_string(lineNo) + ": " +
                                err.what());
    }
  }
  return report;
}

} // namespace tilefuse::tuner
