// The on-disk cache: buckets, location rules, entry format, corruption and staleness, atomic and
// concurrent writes, ls / clear / export / import.
#include "TunerTestSupport.h"

#include "tilefuse/tuner/Cache.h"
#include "tilefuse/tuner/Version.h"

#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <random>
#include <sys/wait.h>
#include <unistd.h>

using namespace tilefuse::tuner;
using namespace tilefuse::tuner::test;
namespace fs = std::filesystem;

TEST_CASE("bucketing: Sq and Sk to powers of two up to 4096 - then multiples of 1024", "[cache]") {
  CHECK(bucketSeqLen(1) == 128);
  CHECK(bucketSeqLen(128) == 128);
  CHECK(bucketSeqLen(129) == 256);
  CHECK(bucketSeqLen(197) == 256);
  CHECK(bucketSeqLen(1024) == 1024);
  CHECK(bucketSeqLen(3000) == 4096);
  CHECK(bucketSeqLen(4096) == 4096);
  CHECK(bucketSeqLen(4097) == 5120);
  CHECK(bucketSeqLen(8000) == 8192);
  CHECK(bucketSeqLen(8192) == 8192);
  CHECK(bucketSeqLen(8193) == 9216);
  CHECK(bucketSeqLen(16384) == 16384);
  CHECK(bucketBatch(1) == 1);
  CHECK(bucketBatch(3) == 4);
  CHECK(bucketBatch(16) == 16);
  CHECK(bucketBatch(64) == 64);
  // S = 8000 and S = 8192 share an entry; D, Dv, Hq, Hkv are exact.
  tilefuse::spec::Shape a{1, 32, 8, 8000, 8000, 128, 128}, b{1, 32, 8, 8192, 8192, 128, 128};
  CHECK(bucketShape(a) == bucketShape(b));
  CacheKey ka = makeTestKey(h100(), 1), kb = ka;
  ka.shape = bucketShape(a);
  kb.shape = bucketShape(b);
  CHECK(ka.fileName() == kb.fileName());
  b.D = 64;
  b.Dv = 64;
  CHECK_FALSE(bucketShape(a) == bucketShape(b));
}

TEST_CASE("location: TILEFUSE_CACHE_DIR - then absolute XDG_CACHE_HOME - then HOME", "[cache]") {
  auto root = [](std::map<std::string, std::string> env) {
    return cacheRootFrom([env](const char *name) -> const char * {
      auto it = env.find(name);
      return it == env.end() ? nullptr : it->second.c_str();
    });
  };
  CHECK(root({{"TILEFUSE_CACHE_DIR", "/tmp/tf"}, {"XDG_CACHE_HOME", "/x"}, {"HOME", "/h"}}) == "/tmp/tf");
  CHECK(root({{"TILEFUSE_CACHE_DIR", ""}, {"XDG_CACHE_HOME", "/x"}, {"HOME", "/h"}}) == "/x/tilefuse");
  CHECK(root({{"XDG_CACHE_HOME", "relative/dir"}, {"HOME", "/h"}}) == "/h/.cache/tilefuse");
  CHECK(root({{"HOME", "/h"}}) == "/h/.cache/tilefuse");
  // Nothing set: the password database's home directory.
  fs::path fallback = root({});
  CHECK(fallback.filename() == "tilefuse");
  CHECK(fallback.parent_path().filename() == ".cache");
}

TEST_CASE("keys: one directory per GPU - readable and deterministic file names", "[cache]") {
  DeviceIdentity d = h100();
  CHECK(d.directoryName() == "NVIDIA-H100-80GB-HBM3_sm90_132sm");
  CHECK(d.arch() == "sm_90");
  DeviceIdentity odd{"  ../weird//GPU name  ", 8, 6, 84, 0};
  CHECK(odd.directoryName() == "weird-GPU-name_sm86_84sm");
  CacheKey k = makeTestKey(d, 7, 2048);
  CHECK(k.fileName() == "spec7-1234567800000007-bf16-B2-Hq16-Hkv16-Sq2048-Sk2048-D128-Dv128.json");
  CHECK(k.toJson() == makeTestKey(d, 7, 2048).toJson());
  CHECK(k.toJson().find("\"tilefuse\":\"" + tilefuseVersion() + "\"") != std::string::npos);
  CHECK(k.toJson().find(kBucketRule) != std::string::npos);
}

TEST_CASE("entries round-trip through JSON with the CUBIN and launch description", "[cache]") {
  CacheEntry e = makeTestEntry(makeTestKey(h100(), 1), 1.25, 1001);
  CacheEntry back = entryFromJson(entryToJson(e));
  CHECK(back.key == e.key);
  CHECK(back.schedule == e.schedule);
  CHECK(back.cubin == e.cubin);
  CHECK(back.tuning.medianMs == e.tuning.medianMs);
  CHECK(back.tuning.defaultSchedule == e.tuning.defaultSchedule);
  CHECK(back.launch.kernelName == e.launch.kernelName);
  CHECK(back.launch.grid.toString() == e.launch.grid.toString());
  CHECK(back.launch.params.toString() == e.launch.params.toString());
  REQUIRE(back.launch.params.tensors.size() == 1);
  CHECK(back.launch.params.tensors[0].dimNames == e.launch.params.tensors[0].dimNames);
  CHECK(back.launch.params.tensors[0].needs16ByteRows);
}

TEST_CASE("an sm90 entry keeps its TMA tensor maps and their boxes through JSON", "[cache]") {
  CacheEntry e = makeTestEntry(makeTestKey(h100(), 1), 1.0);
  tilefuse::codegen::ParamField map;
  map.name = "Q_map";
  map.source = tilefuse::codegen::ParamSource::TensorMap;
  map.tensor = 0;
  map.offset = 0;
  map.boxRows = 128, map.boxCols = 64;
  e.launch.params.fields.insert(e.launch.params.fields.begin(), map);
  std::string text = entryToJson(e);
  CacheEntry back = entryFromJson(text);
  REQUIRE(back.launch.params.fields.size() == e.launch.params.fields.size());
  const tilefuse::codegen::ParamField &f = back.launch.params.fields.front();
  CHECK(f.source == tilefuse::codegen::ParamSource::TensorMap);
  CHECK(f.boxRows == 128);
  CHECK(f.boxCols == 64);
  CHECK(back.launch.params.toString() == e.launch.params.toString());

  // A box outside what cuTensorMapEncodeTiled takes is a corrupt entry, named by its field.
  std::string bad = text;
  const std::string from = "\"box_rows\": 128";
  REQUIRE(bad.find(from) != std::string::npos);
  bad.replace(bad.find(from), from.size(), "\"box_rows\": 0");
  CHECK_THROWS_WITH(entryFromJson(bad), Catch::Contains("box_rows") && Catch::Contains("[1, 256]"));
}

TEST_CASE("a dynamic tile scheduler's counter field reads back from an entry", "[cache]") {
  CacheEntry e = makeTestEntry(makeTestKey(h100(), 1), 1.0);
  tilefuse::codegen::ParamField f;
  f.name = "tile_counter";
  f.source = tilefuse::codegen::ParamSource::TileCounter;
  f.offset = e.launch.params.bytes;
  e.launch.params.fields.push_back(f);
  e.launch.params.bytes += 8;
  const std::string text = entryToJson(e);
  CHECK(text.find("\"tile_counter\"") != std::string::npos);
  CHECK(text.find("\"?\"") == std::string::npos);
  const CacheEntry back = entryFromJson(text);
  CHECK(back.launch.params.tileCounterOffset() == static_cast<int64_t>(f.offset));
  CHECK(back.launch.params.toString() == e.launch.params.toString());
}

TEST_CASE("a packed kernel's entry keeps its cu_seqlens fields through JSON", "[cache]") {
  // Every ParamSource has a spelling that reads back: a packed (varlen) kernel's cu_seqlens_q / _k
  // pointers were written as "?" and the entry then read back as corrupt.
  CacheEntry e = makeTestEntry(makeTestKey(h100(), 1), 1.0);
  for (int dim : {0, 1}) {
    tilefuse::codegen::ParamField f;
    f.name = dim == 0 ? "cu_seqlens_q" : "cu_seqlens_k";
    f.source = tilefuse::codegen::ParamSource::SeqStarts;
    f.dim = dim;
    f.offset = 0;
    e.launch.params.fields.push_back(f);
  }
  e.launch.params.packed = true;
  const std::string text = entryToJson(e);
  CHECK(text.find("\"?\"") == std::string::npos);
  CacheEntry back = entryFromJson(text);
  // The layout's packed flag too: without it the cached kernel was refused at launch (v0.18's packed tune).
  CHECK(back.launch.params.packed);
  CHECK_FALSE(entryFromJson(entryToJson(makeTestEntry(makeTestKey(h100(), 1), 1.0))).launch.params.packed);
  REQUIRE(back.launch.params.fields.size() == e.launch.params.fields.size());
  CHECK(back.launch.params.fields.back().source == tilefuse::codegen::ParamSource::SeqStarts);
  CHECK(back.launch.params.fields.back().dim == 1);
  CHECK(back.launch.params.toString() == e.launch.params.toString());
  // The grid of the packed tiles (v0.15) is recorded; an entry without the field (its kernel from before,
  // mapping a grid of max_seqlen_q tiles per sequence) reads back without it.
  CHECK_FALSE(back.launch.grid.packedTiles);
  CHECK(text.find("packed_tiles") == std::string::npos);
  e.launch.grid = {{"Sq", 128}, {"Hq", 1}, {"B", 1}};
  e.launch.grid.packedTiles = true;
  back = entryFromJson(entryToJson(e));
  CHECK(back.launch.grid.packedTiles);
  CHECK(back.launch.grid.toString() == e.launch.grid.toString());
}

TEST_CASE("store then lookup: hit - miss - and a different key", "[cache]") {
  TempDir dir;
  Cache cache(dir.path());
  CacheKey key = makeTestKey(h100(), 1);
  CHECK(cache.lookup(key).status == LookupStatus::Miss);
  StoreResult s = cache.store(makeTestEntry(key, 2.0));
  CHECK(s.written);
  CHECK(s.path == dir.path() / "NVIDIA-H100-80GB-HBM3_sm90_132sm" / key.fileName());
  LookupResult r = cache.lookup(key);
  REQUIRE(r.hit());
  CHECK(r.entry->tuning.medianMs == 2.0);
  CHECK(cache.lookup(makeTestKey(h100(), 2)).status == LookupStatus::Miss);
  // S = 8000 finds the entry tuned at 8192 (same bucket).
  CacheKey near = makeTestKey(h100(), 1, 8000), far = makeTestKey(h100(), 1, 8192);
  cache.store(makeTestEntry(far, 3.0));
  CHECK(cache.lookup(near).hit());
  CHECK(countTempFiles(dir.path()) == 0);
}

TEST_CASE("an entry without a CUBIN is never written", "[cache]") {
  TempDir dir;
  Cache cache(dir.path());
  CacheEntry e = makeTestEntry(makeTestKey(h100(), 1), 1.0);
  e.cubin.clear();
  CHECK_THROWS_AS(cache.store(e), CacheError);
  CHECK(cache.lookup(e.key).status == LookupStatus::Miss);
}

TEST_CASE("corruption is detected - reported and rebuilt", "[cache]") {
  TempDir dir;
  Cache cache(dir.path());
  CacheKey key = makeTestKey(h100(), 1);
  fs::path path = cache.store(makeTestEntry(key, 2.0)).path;
  const std::string good = readText(path);

  SECTION("truncated file (bad JSON)") {
    writeText(path, good.substr(0, good.size() / 2));
    LookupResult r = cache.lookup(key);
    CHECK(r.status == LookupStatus::Corrupt);
    CHECK_THAT(r.problem, Catch::Contains("not valid JSON"));
  }
  SECTION("a flipped CUBIN byte (SHA-256 mismatch)") {
    std::string bad = good;
    size_t at = bad.find("\"base64\": \"") + 20;
    bad[at] = bad[at] == 'A' ? 'B' : 'A';
    writeText(path, bad);
    LookupResult r = cache.lookup(key);
    CHECK(r.status == LookupStatus::Corrupt);
    CHECK_THAT(r.problem, Catch::Contains("SHA-256 mismatch"));
  }
  SECTION("a missing field") {
    std::string bad = good;
    size_t at = bad.find("\"median_ms\"");
    bad.replace(at, 11, "\"medain_ms\"");
    writeText(path, bad);
    LookupResult r = cache.lookup(key);
    CHECK(r.status == LookupStatus::Corrupt);
    CHECK_THAT(r.problem, Catch::Contains("tuning.median_ms") && Catch::Contains("missing"));
  }
  SECTION("an entry copied under another key's name") {
    fs::path other = path.parent_path() / makeTestKey(h100(), 9).fileName();
    fs::copy_file(path, other);
    LookupResult r = cache.lookup(makeTestKey(h100(), 9));
    CHECK(r.status == LookupStatus::Corrupt);
    CHECK_THAT(r.problem, Catch::Contains("does not match"));
  }
  std::vector<ListedEntry> listed = cache.list({});
  REQUIRE(listed.size() >= 1);
  bool sawCorrupt = false;
  for (const ListedEntry &l : listed)
    sawCorrupt = sawCorrupt || l.status == LookupStatus::Corrupt;
  CHECK(sawCorrupt);
  // Rebuilt: the next store replaces it and says so.
  for (const ListedEntry &l : listed)
    if (l.status == LookupStatus::Corrupt && l.path == path) {
      StoreResult s = cache.store(makeTestEntry(key, 1.5));
      CHECK(s.written);
      CHECK_THAT(s.note, Catch::Contains("rebuilt a corrupt entry"));
      CHECK(cache.lookup(key).hit());
    }
}

TEST_CASE("entries of other versions are stale", "[cache]") {
  TempDir dir;
  Cache cache(dir.path());
  CacheKey key = makeTestKey(h100(), 1);
  SECTION("another Tilefuse version") {
    CacheKey old = key;
    old.tilefuseVersion = "0.0.1";
    cache.store(makeTestEntry(old, 2.0));
    LookupResult r = cache.lookup(key);
    CHECK(r.status == LookupStatus::Stale);
    CHECK_THAT(r.problem, Catch::Contains("Tilefuse 0.0.1 (entry)"));
    StoreResult s = cache.store(makeTestEntry(key, 2.5));
    CHECK_THAT(s.note, Catch::Contains("rebuilt a stale entry"));
    CHECK(cache.lookup(key).hit());
  }
  SECTION("another driver") {
    CacheKey old = key;
    old.device.driverVersion = 12080;
    cache.store(makeTestEntry(old, 2.0));
    LookupResult r = cache.lookup(key);
    CHECK(r.status == LookupStatus::Stale);
    CHECK_THAT(r.problem, Catch::Contains("driver 12080"));
    // Without a GPU the driver is unknown and not compared.
    CurrentVersions noGpu{0, key.nvrtcVersion, key.tilefuseVersion};
    CHECK(cache.list(noGpu).at(0).status == LookupStatus::Hit);
  }
  SECTION("another NVRTC") {
    CacheKey old = key;
    old.nvrtcVersion = "12.8";
    cache.store(makeTestEntry(old, 2.0));
    CHECK(cache.lookup(key).status == LookupStatus::Stale);
  }
  SECTION("another bucketing rule") {
    CacheKey old = key;
    old.bucketRule = "seq:pow2;v0";
    cache.store(makeTestEntry(old, 2.0));
    CHECK(cache.lookup(key).status == LookupStatus::Stale);
  }
  SECTION("another entry format version") {
    std::string text = entryToJson(makeTestEntry(key, 2.0));
    text.replace(text.find("\"format_version\": 2"), 19, "\"format_version\": 1");
    fs::create_directories(cache.gpuDir(key.device));
    writeText(cache.entryPath(key), text);
    LookupResult r = cache.lookup(key);
    CHECK(r.status == LookupStatus::Stale);
    CHECK_THAT(r.problem, Catch::Contains("format_version"));
  }
}

TEST_CASE("a writer killed mid-write leaves the old entry intact", "[cache]") {
  TempDir dir;
  Cache cache(dir.path());
  CacheKey key = makeTestKey(h100(), 1);
  cache.store(makeTestEntry(key, 2.0, 64 * 1024));
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    Cache writer(dir.path());
    writer.afterPartialWriteForTest = [] { ::_exit(3); }; // "killed" with the lock held
    try {
      writer.store(makeTestEntry(key, 1.0, 64 * 1024));
    } catch (...) {
    }
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 3); // it died in the middle of the write
  CHECK(countTempFiles(dir.path()) == 1);
  LookupResult r = cache.lookup(key);
  REQUIRE(r.hit());
  CHECK(r.entry->tuning.medianMs == 2.0); // the old entry, whole
  CHECK(cache.list({}).size() == 1);      // the temporary file is not an entry
  // The lock died with the writer; the next writer removes its orphaned temporary file.
  cache.store(makeTestEntry(makeTestKey(h100(), 2), 1.0));
  CHECK(countTempFiles(dir.path()) == 0);
}

TEST_CASE("two processes writing the cache at once lose and corrupt nothing", "[cache]") {
  TempDir dir;
  constexpr int kPerProcess = 30, kShared = 10;
  auto writer = [&](int who) {
    Cache cache(dir.path());
    for (int i = 0; i < kPerProcess; ++i) {
      // Entries 0..kShared-1 are written by both processes; the rest by one only.
      int id = i < kShared ? i : 1000 * (who + 1) + i;
      cache.store(makeTestEntry(makeTestKey(h100(), id), 1.0 + who + i * 0.01, 32 * 1024 + 97 * i));
    }
  };
  pid_t children[2];
  for (int who = 0; who < 2; ++who) {
    children[who] = ::fork();
    REQUIRE(children[who] >= 0);
    if (children[who] == 0) {
      int code = 0;
      try {
        writer(who);
      } catch (...) {
        code = 1;
      }
      ::_exit(code);
    }
  }
  for (pid_t c : children) {
    int status = 0;
    ::waitpid(c, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  Cache cache(dir.path());
  std::vector<ListedEntry> all = cache.list({});
  CHECK(all.size() == 2 * kPerProcess - kShared);
  for (const ListedEntry &e : all) {
    INFO(e.path.string() << ": " << e.problem);
    CHECK(e.status == LookupStatus::Hit);
  }
  for (int who = 0; who < 2; ++who)
    for (int i = kShared; i < kPerProcess; ++i)
      CHECK(cache.lookup(makeTestKey(h100(), 1000 * (who + 1) + i)).hit());
  CHECK(countTempFiles(dir.path()) == 0);
}

TEST_CASE("KeepFaster keeps a faster existing entry", "[cache]") {
  TempDir dir;
  Cache cache(dir.path());
  CacheKey key = makeTestKey(h100(), 1);
  cache.store(makeTestEntry(key, 1.0));
  StoreResult s = cache.store(makeTestEntry(key, 2.0), StoreMode::KeepFaster);
  CHECK_FALSE(s.written);
  CHECK(cache.lookup(key).entry->tuning.medianMs == 1.0);
  CHECK(cache.store(makeTestEntry(key, 0.5), StoreMode::KeepFaster).written);
  CHECK(cache.lookup(key).entry->tuning.medianMs == 0.5);
  CHECK(cache.store(makeTestEntry(key, 3.0)).written); // Replace
  CHECK(cache.lookup(key).entry->tuning.medianMs == 3.0);
}

TEST_CASE("list and clear: all - by match - only invalid", "[cache]") {
  TempDir dir;
  Cache cache(dir.path());
  DeviceIdentity a100{"NVIDIA A100-SXM4-80GB", 8, 0, 108, 13000};
  cache.store(makeTestEntry(makeTestKey(h100(), 1), 1.0));
  cache.store(makeTestEntry(makeTestKey(h100(), 2), 1.0));
  cache.store(makeTestEntry(makeTestKey(a100, 1), 1.0));
  CacheKey stale = makeTestKey(h100(), 3);
  stale.tilefuseVersion = "0.0.0";
  cache.store(makeTestEntry(stale, 1.0));
  CurrentVersions now{13000, "13.0", tilefuseVersion()};
  std::vector<ListedEntry> all = cache.list(now);
  REQUIRE(all.size() == 4);
  CHECK(all[0].gpuDir == "NVIDIA-A100-SXM4-80GB_sm80_108sm");

  CHECK(cache.clear("", true, now).entries == 1); // the stale one
  CHECK(cache.list(now).size() == 3);
  CHECK(cache.clear("A100", false, now).entries == 1);
  CHECK(cache.list(now).size() == 2);
  CHECK(cache.clear("", false, now).entries == 2);
  CHECK(cache.list(now).empty());
}

TEST_CASE("findForArch: entries of any GPU with the arch - fastest first", "[cache]") {
  TempDir dir;
  Cache cache(dir.path());
  DeviceIdentity h100pcie{"NVIDIA H100 PCIe", 9, 0, 114, 12080};
  DeviceIdentity a100{"NVIDIA A100-SXM4-80GB", 8, 0, 108, 13000};
  cache.store(makeTestEntry(makeTestKey(h100(), 1), 2.0));
  cache.store(makeTestEntry(makeTestKey(h100pcie, 1), 1.0));
  cache.store(makeTestEntry(makeTestKey(a100, 1), 0.5));
  DeviceIdentity sm90{"", 9, 0, 0, 0};
  std::vector<LookupResult> found = cache.findForArch(makeTestKey(sm90, 1));
  REQUIRE(found.size() == 2);
  CHECK(found[0].entry->key.device.name == "NVIDIA H100 PCIe");
  CHECK(found[1].entry->key.device.name == "NVIDIA H100 80GB HBM3");
  CHECK(cache.findForArch(makeTestKey(sm90, 2)).empty());
}

TEST_CASE("export and import through one archive file", "[cache]") {
  TempDir from, to, files;
  Cache source(from.path());
  DeviceIdentity a100{"NVIDIA A100-SXM4-80GB", 8, 0, 108, 13000};
  for (int id = 0; id < 5; ++id)
    source.store(makeTestEntry(makeTestKey(id % 2 ? a100 : h100(), id), 1.0 + id));
  // One corrupt file: skipped and reported, not exported.
  writeText(source.gpuDir(h100()) / "broken-0000000000000000-bf16-B1-Hq1-Hkv1-Sq128-Sk128-D64-Dv64.json", "{");
  fs::path archive = files.path() / "sub" / "all.tfcache";
  TransferReport out = source.exportTo(archive);
  CHECK(out.entries == 5);
  REQUIRE(out.problems.size() == 1);
  CHECK_THAT(out.problems[0], Catch::Contains("broken"));

  Cache target(to.path());
  TransferReport in = target.importFrom(archive);
  CHECK(in.entries == 5);
  CHECK(in.problems.empty());
  for (int id = 0; id < 5; ++id) {
    LookupResult r = target.lookup(makeTestKey(id % 2 ? a100 : h100(), id));
    REQUIRE(r.hit());
    CHECK(r.entry->cubin == source.lookup(makeTestKey(id % 2 ? a100 : h100(), id)).entry->cubin);
  }
  // KeepFaster import keeps faster (or equal) local entries and replaces slower ones.
  target.store(makeTestEntry(makeTestKey(h100(), 0), 0.1));
  target.store(makeTestEntry(makeTestKey(h100(), 2), 9.0));
  TransferReport again = target.importFrom(archive, StoreMode::KeepFaster);
  CHECK(again.entries == 1);
  CHECK(target.lookup(makeTestKey(h100(), 0)).entry->tuning.medianMs == 0.1);
  CHECK(target.lookup(makeTestKey(h100(), 2)).entry->tuning.medianMs == 3.0);

  // A damaged line is reported and skipped; the rest is imported.
  std::string text = readText(archive);
  size_t second = text.find('\n', text.find('\n') + 1);
  text.insert(second + 1, "{\"not\": \"an entry\"}\n");
  writeText(archive, text);
  TempDir third;
  Cache other(third.path());
  TransferReport partial = other.importFrom(archive);
  CHECK(partial.entries == 5);
  REQUIRE(partial.problems.size() == 1);
  CHECK_THAT(partial.problems[0], Catch::Contains("all.tfcache:3"));

  writeText(files.path() / "not.tfcache", "hello\n");
  CHECK_THROWS_WITH(other.importFrom(files.path() / "not.tfcache"), Catch::Contains("not a Tilefuse cache archive"));
}

TEST_CASE("writers killed with a real SIGKILL at random points corrupt nothing", "[cache][hardening]") {
  // Issue 14: in addition to the _exit hook above, a real SIGKILL at a random moment (mid-write,
  // mid-rename, holding the lock, or between entries), 20 times with a fixed seed.
  TempDir dir;
  Cache cache(dir.path());
  CacheKey key = makeTestKey(h100(), 1);
  cache.store(makeTestEntry(key, 2.0, 256 * 1024));
  std::mt19937 rng(14);
  for (int round = 0; round < 20; ++round) {
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      Cache writer(dir.path());
      for (int i = 0;; ++i) // rewrites the shared entry and adds new ones until killed
        writer.store(makeTestEntry(makeTestKey(h100(), i % 2 ? 1 : 100 + i), 1.0 + i, 256 * 1024 + i));
    }
    ::usleep(std::uniform_int_distribution<useconds_t>(0, 30000)(rng));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    for (const ListedEntry &e : cache.list({})) {
      INFO("round " << round << ": " << e.path.string() << ": " << e.problem);
      CHECK(e.status == LookupStatus::Hit);
    }
    CHECK(cache.lookup(key).hit()); // the shared entry is always whole: old or new
  }
  // The locks died with the writers; the next store removes their orphaned temporary files.
  cache.store(makeTestEntry(makeTestKey(h100(), 2), 1.0));
  CHECK(countTempFiles(dir.path()) == 0);
}

TEST_CASE("keys with unsafe names are refused before any path is built", "[cache][hardening]") {
  TempDir dir;
  Cache cache(dir.path());
  CacheKey key = makeTestKey(h100(), 1);
  key.specHash = "x/../../../../escaped";
  CHECK_THROWS_WITH(cache.store(makeTestEntry(key, 1.0)),
                    Catch::Contains("'key.spec_hash' must be 16 lowercase hex digits"));
  key = makeTestKey(h100(), 1);
  key.shape.B = int64_t{1} << 40;
  CHECK_THROWS_WITH(cache.store(makeTestEntry(key, 1.0)), Catch::Contains("key.shape_bucket"));
  CHECK_THROWS_AS(cache.pathInside("..", "x.json"), CacheError);
  CHECK_THROWS_AS(cache.pathInside("gpu", "a/b.json"), CacheError);
  CHECK(cache.pathInside("gpu", "b.json") == dir.path() / "gpu" / "b.json");
  CHECK(countTempFiles(dir.path()) == 0);
}

TEST_CASE("objective: a time key is spelled as before objectives existed", "[cache][objective]") {
  CacheKey k = makeTestKey(h100(), 7, 2048);
  REQUIRE(k.objective == Objective::Time);
  // The file name and the JSON of a time key, byte for byte as entries made before objectives: older
  // caches stay valid.
  CHECK(k.fileName() == "spec7-1234567800000007-bf16-B2-Hq16-Hkv16-Sq2048-Sk2048-D128-Dv128.json");
  CHECK(k.toJson() == std::string("{\"bucket_rule\":\"") + kBucketRule +
                          "\",\"cc\":\"9.0\",\"driver\":13000,\"dtype\":\"bf16\",\"gpu\":\"NVIDIA H100 80GB "
                          "HBM3\",\"nvrtc\":\"13.0\",\"shape_bucket\":{\"B\":2,\"D\":128,\"Dv\":128,\"Hkv\":16,"
                          "\"Hq\":16,\"Sk\":2048,\"Sq\":2048},\"sm_count\":132,\"spec\":\"spec7\",\"spec_hash\":"
                          "\"1234567800000007\",\"tilefuse\":\"" +
                          tilefuseVersion() + "\"}");
  // makeKey's default objective is time.
  tilefuse::spec::Spec spec;
  spec.name = "causal";
  tilefuse::spec::Shape shape{1, 8, 8, 1000, 1000, 64, 64};
  CHECK(makeKey(h100(), "13.0", spec, shape) == makeKey(h100(), "13.0", spec, shape, Objective::Time));
  CHECK(makeKey(h100(), "13.0", spec, shape).fileName() ==
        makeKey(h100(), "13.0", spec, shape, Objective::Time).fileName());
}

TEST_CASE("objective: every objective has its own key - file name and JSON", "[cache][objective]") {
  tilefuse::spec::Spec spec;
  spec.name = "causal";
  tilefuse::spec::Shape shape{1, 8, 8, 1000, 1000, 64, 64};
  CacheKey time = makeKey(h100(), "13.0", spec, shape, Objective::Time);
  CacheKey energy = makeKey(h100(), "13.0", spec, shape, Objective::Energy);
  CacheKey edp = makeKey(h100(), "13.0", spec, shape, Objective::Edp);
  CHECK(energy.objective == Objective::Energy);
  CHECK_FALSE(time == energy);
  CHECK_FALSE(energy == edp);
  CHECK(time.fileName() != energy.fileName());
  CHECK(energy.fileName() != edp.fileName());
  CHECK(energy.fileName() == time.fileName().substr(0, time.fileName().size() - 5) + "-energy.json");
  CHECK(edp.fileName() == time.fileName().substr(0, time.fileName().size() - 5) + "-edp.json");
  CHECK(time.toJson().find("objective") == std::string::npos);
  CHECK(energy.toJson().find("\"objective\":\"energy\"") != std::string::npos);
  CHECK(edp.toJson().find("\"objective\":\"edp\"") != std::string::npos);
}

TEST_CASE("objective: an energy entry never answers a time lookup - nor the reverse", "[cache][objective]") {
  TempDir dir;
  Cache cache(dir.path());
  CacheKey time = makeTestKey(h100(), 3);
  CacheKey energy = time;
  energy.objective = Objective::Energy;
  CacheEntry e = makeTestEntry(energy, 2.0);
  e.tuning.joulesPerCall = 0.5, e.tuning.watts = 250;
  cache.store(e);
  CHECK(cache.lookup(time).status == LookupStatus::Miss);
  CHECK(cache.findForArch(time).empty());
  LookupResult hit = cache.lookup(energy);
  REQUIRE(hit.hit());
  CHECK(hit.entry->key.objective == Objective::Energy);
  CHECK(hit.entry->tuning.joulesPerCall == 0.5);
  CHECK(hit.entry->tuning.watts == 250);
  CHECK(cache.findForArch(energy).size() == 1);

  cache.store(makeTestEntry(time, 1.0));
  CHECK(cache.lookup(time).hit());
  CHECK(cache.lookup(time).entry->key.objective == Objective::Time);
  CHECK(cache.lookup(energy).entry->tuning.medianMs == 2.0); // untouched by the time entry
  CacheKey edp = time;
  edp.objective = Objective::Edp;
  CHECK(cache.lookup(edp).status == LookupStatus::Miss);
  CHECK(cache.list(CurrentVersions{}).size() == 2); // ls, export, import and clear see both
  TempDir other;
  CHECK(cache.exportTo(other.path() / "all.tfcache").entries == 2);
  Cache copy(other.path() / "cache");
  CHECK(copy.importFrom(other.path() / "all.tfcache").entries == 2);
  CHECK(copy.lookup(energy).hit());
  CHECK(copy.clear("-energy", false, CurrentVersions{}).entries == 1);
  CHECK(copy.lookup(energy).status == LookupStatus::Miss);
  CHECK(copy.lookup(time).hit());

  // An energy entry copied over the time entry's file: the key inside disagrees with the place.
  writeText(cache.entryPath(time), readText(cache.entryPath(energy)));
  LookupResult moved = cache.lookup(time);
  CHECK(moved.status == LookupStatus::Corrupt);
  CHECK_THAT(moved.problem, Catch::Contains("does not match the file's place"));
}

TEST_CASE("objective: entries record it - with J per call and W when measured", "[cache][objective]") {
  CacheKey key = makeTestKey(h100(), 4);
  key.objective = Objective::Edp;
  CacheEntry e = makeTestEntry(key, 1.5);
  e.tuning.joulesPerCall = 0.125, e.tuning.watts = 300.5;
  const std::string text = entryToJson(e);
  CHECK(text.find("\"objective\": \"edp\"") != std::string::npos);
  CHECK(text.find("\"joules_per_call\": 0.125") != std::string::npos);
  CHECK(text.find("\"watts\": 300.5") != std::string::npos);
  CacheEntry back = entryFromJson(text);
  CHECK(back.key == e.key);
  CHECK(back.tuning.joulesPerCall == 0.125);
  CHECK(back.tuning.watts == 300.5);

  // A time entry without a measurement writes no energy; one of an older Tilefuse (no "objective"
  // anywhere) reads as time.
  std::string timeText = entryToJson(makeTestEntry(makeTestKey(h100(), 4), 1.5));
  CHECK(timeText.find("joules_per_call") == std::string::npos);
  CHECK(timeText.find("\"objective\": \"time\"") != std::string::npos);
  std::string old = timeText;
  old.erase(old.find(",\n  \"objective\": \"time\""), std::string(",\n  \"objective\": \"time\"").size());
  REQUIRE(old.find("objective") == std::string::npos);
  CHECK(entryFromJson(old).key.objective == Objective::Time);

  // The tuning record's objective must agree with the key's; an unknown one names the field.
  std::string mismatch = text;
  mismatch.replace(mismatch.find("\"objective\": \"edp\""), 18, "\"objective\": \"time\"");
  CHECK_THROWS_WITH(entryFromJson(mismatch), Catch::Contains("tuning.objective") && Catch::Contains("edp"));
  std::string unknown = text;
  unknown.replace(unknown.find("\"objective\": \"edp\""), 18, "\"objective\": \"watts\"");
  CHECK_THROWS_WITH(entryFromJson(unknown), Catch::Contains("objective") && Catch::Contains("watts") &&
                                                Catch::Contains("\"time\", \"energy\" or \"edp\""));
}

TEST_CASE("objective: --keep-faster keeps the better entry by the key's objective", "[cache][objective]") {
  TempDir dir;
  Cache cache(dir.path());
  CacheKey key = makeTestKey(h100(), 5);
  key.objective = Objective::Energy;
  CacheEntry frugal = makeTestEntry(key, 2.0); // slower, less energy
  frugal.tuning.joulesPerCall = 0.4, frugal.tuning.watts = 200;
  CacheEntry fast = makeTestEntry(key, 1.0);
  fast.tuning.joulesPerCall = 0.5, fast.tuning.watts = 500;
  cache.store(frugal);
  StoreResult kept = cache.store(fast, StoreMode::KeepFaster);
  CHECK_FALSE(kept.written);
  CHECK_THAT(kept.note, Catch::Contains("0.4 J <= 0.5 J"));
  CHECK(cache.lookup(key).entry->tuning.joulesPerCall == 0.4);
  CacheEntry better = makeTestEntry(key, 3.0);
  better.tuning.joulesPerCall = 0.3, better.tuning.watts = 100;
  CHECK(cache.store(better, StoreMode::KeepFaster).written);
  CHECK(cache.lookup(key).entry->tuning.joulesPerCall == 0.3);
}
