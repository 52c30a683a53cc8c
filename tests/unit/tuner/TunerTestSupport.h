// Helpers of the tuner tests: temporary cache roots and synthetic cache entries.
#pragma once

#include "tilefuse/tuner/Cache.h"

#include <filesystem>
#include <string>

namespace tilefuse::tuner::test {

/// A fresh empty directory under $TMPDIR, removed by the destructor.
class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::filesystem::path &path() const { return path_; }

private:
  std::filesystem::path path_;
};

/// An H100-like device identity with driver 13000.
DeviceIdentity h100();

/// A key on `device` for a synthetic spec "spec<id>" (hash derived from id) at Sq = Sk = seq.
CacheKey makeTestKey(const DeviceIdentity &device, int id, int64_t seq = 4096);

/// A complete entry for `key` with `medianMs` and a CUBIN of `cubinBytes` pseudo-random bytes.
CacheEntry makeTestEntry(const CacheKey &key, double medianMs, std::size_t cubinBytes = 4096);

/// Every file whose name starts with ".tmp-" under `root` (recursively).
int countTempFiles(const std::filesystem::path &root);

std::string readText(const std::filesystem::path &path);
void writeText(const std::filesystem::path &path, const std::string &text);

} // namespace tilefuse::tuner::test
