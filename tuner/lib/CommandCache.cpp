//===- CommandCache.cpp - tilefuse cache ls|show|clear|export|import|dir ----===//
#include "CommandSupport.h"
#include "tilefuse/spec/Json.h"

#include "tilefuse/tuner/Version.h"

#include <fmt/core.h>

#include <fstream>
#include <sstream>

namespace tilefuse::tuner::cli {
namespace {

std::string statusText(const ListedEntry &e) {
  return e.status == LookupStatus::Hit ? "ok" : std::string(spelling(e.status));
}

std::string bucketText(const ShapeBucket &b) {
  return fmt::format("B{} Hq{} Hkv{} Sq{} Sk{} D{} Dv{}", b.B, b.Hq, b.Hkv, b.Sq, b.Sk, b.D, b.Dv);
}

std::string shortSchedule(const codegen::Schedule &s) {
  return fmt::format("{}x{} w{} s{} {}{}", s.blockM, s.blockN, s.warps, s.kvStages,
                     s.q == codegen::QPlacement::Registers ? "qreg" : "qsmem",
                     s.minBlocksPerSm > 1 ? fmt::format(" b{}", s.minBlocksPerSm) : "");
}

/// The entry file's JSON with the CUBIN's base64 left out, plus where it is and its status.
nlohmann::json entryJson(const ListedEntry &e) {
  nlohmann::json j;
  if (e.entry) {
    j = nlohmann::json::parse(entryToJson(*e.entry, -1));
    j["cubin"].erase("base64");
  }
  j["path"] = e.path.string();
  j["gpu_dir"] = e.gpuDir;
  j["status"] = statusText(e);
  j["problem"] = e.problem;
  return j;
}

/// The entry `target` names: a path, "<gpu dir>/<file>", a file name, or a substring of exactly one.
const ListedEntry &findEntry(const std::vector<ListedEntry> &all, const std::string &target) {
  std::vector<const ListedEntry *> matches;
  for (const ListedEntry &e : all) {
    std::string rel = e.gpuDir + "/" + e.path.filename().string();
    if (e.path.string() == target || rel == target || e.path.filename().string() == target)
      return e;
    if (rel.find(target) != std::string::npos)
      matches.push_back(&e);
  }
  if (matches.size() == 1)
    return *matches.front();
  if (matches.empty())
    throw std::invalid_argument("no cache entry matches '" + target + "' (see `tilefuse cache ls`)");
  std::string names;
  for (const ListedEntry *e : matches)
    names += "\n  " + e->gpuDir + "/" + e->path.filename().string();
  throw std::invalid_argument("'" + target + "' matches " + std::to_string(matches.size()) +
                              " entries; give more of the name:" + names);
}

void printReport(const char *verb, const TransferReport &r, bool json, const std::string &where) {
  for (const std::string &p : r.problems) // on stderr also with --json: the exit status is 1
    fmt::print(stderr, "tilefuse cache: skipped {}\n", p);
  if (json) {
    nlohmann::json j = {{"action", verb}, {"entries", r.entries}, {"problems", r.problems}, {"path", where}};
    fmt::print("{}\n", tilefuse::spec::dumpJson(j, 2));
    return;
  }
  fmt::print("{} {} entr{} ({})\n", verb, r.entries, r.entries == 1 ? "y" : "ies", where);
}

} // namespace

int runCache(const CacheArgs &a) {
  return detail::guarded("cache", a.json, [&] {
    Cache cache = Cache::openDefault();
    const CurrentVersions now = currentVersions();
    if (a.action == "dir") {
      if (a.json)
        fmt::print("{}\n", tilefuse::spec::dumpJson(nlohmann::json{{"root", cache.root().string()}}, 2));
      else
        fmt::print("{}\n", cache.root().string());
      return 0;
    }
    if (a.action == "ls") {
      std::vector<ListedEntry> all = cache.list(now);
      if (a.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const ListedEntry &e : all)
          list.push_back(entryJson(e));
        nlohmann::json out = {{"root", cache.root().string()},
                              {"tilefuse", now.tilefuseVersion},
                              {"nvrtc", now.nvrtcVersion},
                              {"driver", now.driverVersion},
                              {"bucket_rule", kBucketRule},
                              {"entries", list}};
        fmt::print("{}\n", tilefuse::spec::dumpJson(out, 2));
        return 0;
      }
      fmt::print("cache: {} (Tilefuse {}, NVRTC {}, {})\n", cache.root().string(), now.tilefuseVersion,
                 now.nvrtcVersion, now.driverVersion ? fmt::format("driver {}", now.driverVersion) : "no GPU");
      if (all.empty()) {
        fmt::print("no entries{}\n", cache.checkRoot() ? "" : " (the directory does not exist yet)");
        return 0;
      }
      fmt::print("{:<8} {:<34} {:<20} {:<5} {:<40} {:<20} {:>9} {:>8} {:>7}\n", "STATUS", "GPU", "SPEC", "DTYPE",
                 "SHAPE BUCKET", "SCHEDULE", "MEDIAN ms", "TFLOP/s", "vs def");
      for (const ListedEntry &e : all) {
        if (!e.entry) {
          fmt::print("{:<8} {:<34} {}: {}\n", statusText(e), e.gpuDir, e.path.filename().string(), e.problem);
          continue;
        }
        const CacheEntry &c = *e.entry;
        const TuningRecord &t = c.tuning;
        fmt::print("{:<8} {:<34} {:<20} {:<5} {:<40} {:<20} {:>9.3f} {:>8.1f} {:>7}\n", statusText(e), e.gpuDir,
                   c.key.specName, spec::spelling(c.key.dtype), bucketText(c.key.shape), shortSchedule(c.schedule),
                   t.medianMs, t.tflops, t.defaultMs > 0 ? fmt::format("{:.2f}x", t.defaultMs / t.medianMs) : "-");
        if (e.status != LookupStatus::Hit)
          fmt::print("         ({})\n", e.problem);
      }
      return 0;
    }
    if (a.action == "show") {
      if (a.target.empty())
        throw std::invalid_argument("cache show needs an entry (a file name from `tilefuse cache ls`)");
      std::vector<ListedEntry> all = cache.list(now);
      const ListedEntry &e = findEntry(all, a.target);
      nlohmann::json j = entryJson(e);
      if (a.json) {
        fmt::print("{}\n", tilefuse::spec::dumpJson(j, 2));
        return 0;
      }
      fmt::print("path: {}\nstatus: {}{}\n", e.path.string(), statusText(e), e.problem.empty() ? "" : " (" + e.problem + ")");
      if (!e.entry)
        return 0;
      const CacheEntry &c = *e.entry;
      const TuningRecord &t = c.tuning;
      fmt::print("key: {}\n", c.key.toJson());
      fmt::print("schedule: {}\n", c.schedule.toJson());
      fmt::print("tuned at: {}\n", detail::shapeText(t.tunedShape));
      fmt::print("median: {:.3f} ms, {:.1f} TFLOP/s ({} FLOPs {:.3e}); default {} {:.3f} ms\n", t.medianMs, t.tflops,
                 t.flopsRule, t.usefulFlops, t.defaultSchedule.toJson(), t.defaultMs);
      fmt::print("tuning: {:.1f} s, {} timed, {} pruned, {} failed; {} registers, {} spill bytes; {}\n", t.tuningSeconds,
                 t.candidatesTimed, t.candidatesPruned, t.candidatesFailed, t.registers, t.spillBytes, t.createdAt);
      fmt::print("launch: {} grid ({}), {} threads, {} bytes dynamic smem, {} bytes of Params\n", c.launch.kernelName,
                 c.launch.grid.toString(), c.launch.threadsPerBlock, c.launch.dynamicSmemBytes, c.launch.params.bytes);
      fmt::print("cubin: {} bytes, sha256 {}\n", c.cubin.size(), j["cubin"]["sha256"].get<std::string>());
      return 0;
    }
    if (a.action == "clear") {
      TransferReport r = cache.clear(a.target, a.onlyInvalid, now);
      printReport(a.onlyInvalid ? "removed stale/corrupt" : "removed", r, a.json, cache.root().string());
      return r.problems.empty() ? 0 : 1;
    }
    if (a.action == "export") {
      if (a.target.empty())
        throw std::invalid_argument("cache export needs an archive file, e.g. `tilefuse cache export h100.tfcache`");
      TransferReport r = cache.exportTo(a.target);
      printReport("exported", r, a.json, a.target);
      return 0;
    }
    if (a.action == "import") {
      if (a.target.empty())
        throw std::invalid_argument("cache import needs an archive file made by `tilefuse cache export`");
      TransferReport r = cache.importFrom(a.target, a.keepFaster ? StoreMode::KeepFaster : StoreMode::Replace);
      printReport("imported", r, a.json, cache.root().string());
      return r.problems.empty() ? 0 : 1;
    }
    throw std::invalid_argument("unknown cache action '" + a.action + "'; use ls, show, clear, export, import or dir");
  });
}

} // namespace tilefuse::tuner::cli
