//===- CacheKey.cpp - cache location, shape buckets, keys, file names -----===//
#include "tilefuse/tuner/Cache.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/spec/Json.h"

#include <algorithm>

#include "tilefuse/tuner/Version.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <stdexcept>
#include <pwd.h>
#include <unistd.h>

namespace tilefuse::tuner {

std::filesystem::path cacheRootFrom(const std::function<const char *(const char *)> &getenv) {
  auto nonEmpty = [&](const char *name) -> std::string {
    const char *v = getenv(name);
    return v ? std::string(v) : std::string();
  };
  if (std::string dir = nonEmpty("TILEFUSE_CACHE_DIR"); !dir.empty())
    return dir;
  if (std::string xdg = nonEmpty("XDG_CACHE_HOME"); !xdg.empty() && xdg.front() == '/')
    return std::filesystem::path(xdg) / "tilefuse";
  if (std::string home = nonEmpty("HOME"); !home.empty())
    return std::filesystem::path(home) / ".cache" / "tilefuse";
  if (const passwd *pw = ::getpwuid(::getuid()); pw && pw->pw_dir && *pw->pw_dir)
    return std::filesystem::path(pw->pw_dir) / ".cache" / "tilefuse";
  throw CacheError("cannot locate the kernel cache: set TILEFUSE_CACHE_DIR (neither XDG_CACHE_HOME "
                   "nor HOME is set and the user has no home directory)");
}

std::filesystem::path cacheRoot() {
  return cacheRootFrom([](const char *name) { return std::getenv(name); });
}

std::string DeviceIdentity::arch() const {
  return "sm_" + std::to_string(ccMajor) + std::to_string(ccMinor);
}

std::string DeviceIdentity::directoryName() const {
  std::string out;
  bool dash = false;
  for (char c : name) {
    bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_';
    if (keep) {
      out += c;
      dash = false;
    } else if (!dash && !out.empty()) {
      out += '-';
      dash = true;
    }
  }
  // No leading dots or dashes (no "..", no hidden directory), no trailing dash.
  out.erase(0, out.find_first_not_of(".-"));
  while (!out.empty() && out.back() == '-')
    out.pop_back();
  if (out.empty())
    out = "gpu";
  return out + "_sm" + std::to_string(ccMajor) + std::to_string(ccMinor) + "_" +
         std::to_string(smCount) + "sm";
}


std::string_view spelling(Objective o) {
  switch (o) {
  case Objective::Time: return "time";
  case Objective::Energy: return "energy";
  case Objective::Edp: return "edp";
  }
  return "?";
}

Objective objectiveFromString(std::string_view text) {
  for (Objective o : {Objective::Time, Objective::Energy, Objective::Edp})
    if (spelling(o) == text)
      return o;
  throw std::invalid_argument("objective must be time, energy or edp, got \"" + std::string(text.substr(0, 40)) +
                              (text.size() > 40 ? "..." : "") + "\"");
}

double objectiveScore(Objective o, double ms, double joulesPerCall) {
  switch (o) {
  case Objective::Time: return ms;
  case Objective::Energy: return joulesPerCall;
  case Objective::Edp: return joulesPerCall * ms * 1e-3; // J x s
  }
  return ms;
}

std::string CacheKey::fileName() const {
  std::string spec = specName.substr(0, 64);
  for (char &c : spec)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
      c = '_';
  if (spec.empty())
    spec = "spec";
  const ShapeBucket &b = shape;
  return spec + "-" + specHash + "-" + std::string(spec::spelling(dtype)) + "-B" +
         std::to_string(b.B) + "-Hq" + std::to_string(b.Hq) + "-Hkv" + std::to_string(b.Hkv) +
         "-Sq" + std::to_string(b.Sq) + "-Sk" + std::to_string(b.Sk) + "-D" + std::to_string(b.D) +
         "-Dv" + std::to_string(b.Dv) + (maskDensity ? "-density" + std::to_string(maskDensity) : "") +
         // Time keys keep the file names of entries made before objectives existed.
         (objective == Objective::Time ? "" : "-" + std::string(spelling(objective))) + ".json";
}

std::string CacheKey::toJson() const {
  nlohmann::json j = {
      {"gpu", device.name},
      {"cc", std::to_string(device.ccMajor) + "." + std::to_string(device.ccMinor)},
      {"sm_count", device.smCount},
      {"driver", device.driverVersion},
      {"nvrtc", nvrtcVersion},
      {"tilefuse", tilefuseVersion},
      {"bucket_rule", bucketRule},
      {"spec", specName},
      {"spec_hash", specHash},
      {"dtype", std::string(spec::spelling(dtype))},
      {"shape_bucket",
       {{"B", shape.B}, {"Hq", shape.Hq}, {"Hkv", shape.Hkv}, {"Sq", shape.Sq}, {"Sk", shape.Sk},
        {"D", shape.D}, {"Dv", shape.Dv}}}};
  if (objective != Objective::Time) // absent means time: time keys read as they did before
    j["objective"] = std::string(spelling(objective));
  if (maskDensity != 0) // absent for specs whose mask reads no captures: their keys read as before
    j["mask_density"] = maskDensity;
  return tilefuse::spec::dumpJson(j);
}

CacheKey makeKey(const DeviceIdentity &device, const std::string &nvrtc, const spec::Spec &spec,
                 const spec::Shape &shape, Objective objective, const HostCaptures *captures) {
  CacheKey k;
  k.device = device;
  k.nvrtcVersion = nvrtc;
  k.tilefuseVersion = tilefuseVersion();
  k.specName = spec.name;
  k.specHash = spec::contentHashHex(spec);
  k.dtype = spec.dtype;
  k.shape = bucketShape(shape);
  k.objective = objective;
  if (codegen::maskReadsCapture(spec))
    k.maskDensity = maskDensity(spec, shape, captures ? *captures
                                                      : syntheticCaptures(spec, shape, kSyntheticCaptureSeed))
                        .denominator;
  return k;
}

std::string staleReason(const CacheKey &e, const CurrentVersions &now, const DeviceIdentity *device) {
  auto differs = [](const std::string &what, const std::string &entry, const std::string &here) {
    return what + " " + entry + " (entry) != " + here + " (this machine)";
  };
  if (!now.tilefuseVersion.empty() && e.tilefuseVersion != now.tilefuseVersion)
    return differs("Tilefuse", e.tilefuseVersion, now.tilefuseVersion);
  if (!now.nvrtcVersion.empty() && e.nvrtcVersion != now.nvrtcVersion)
    return differs("NVRTC", e.nvrtcVersion, now.nvrtcVersion);
  if (now.driverVersion != 0 && e.device.driverVersion != now.driverVersion)
    return differs("driver", std::to_string(e.device.driverVersion),
                   std::to_string(now.driverVersion));
  if (e.bucketRule != kBucketRule)
    return differs("bucket rule", e.bucketRule, kBucketRule);
  if (device && (e.device.name != device->name || e.device.ccMajor != device->ccMajor ||
                 e.device.ccMinor != device->ccMinor || e.device.smCount != device->smCount))
    return differs("GPU", e.device.directoryName(), device->directoryName());
  return "";
}

void validateKey(const CacheKey &key) {
  const std::string &h = key.specHash;
  bool hex = h.size() == 16 && std::all_of(h.begin(), h.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
             });
  if (!hex)
    throw CacheError("field 'key.spec_hash' must be 16 lowercase hex digits, got \"" +
                     h.substr(0, 40) + (h.size() > 40 ? "..." : "") + "\"");
  if (key.device.directoryName().empty() || key.device.name.size() > 256)
    throw CacheError("field 'key.gpu' must be a GPU name of 1 to 256 characters with a letter or "
                     "digit");
  const int d = key.maskDensity;
  if (d < 0 || d > kMaskDensityMaxDenominator || (d & (d - 1)) != 0)
    throw CacheError("field 'key.mask_density' is " + std::to_string(d) + "; expected absent or a power of two from 1 to " +
                     std::to_string(kMaskDensityMaxDenominator));
  try {
    spec::checkShapeLimits(key.shape, "key.");
  } catch (const spec::SpecError &e) {
    throw CacheError("field 'key.shape_bucket' is out of range: " + e.message());
  }
}

std::string_view spelling(LookupStatus s) {
  switch (s) {
  case LookupStatus::Hit: return "hit";
  case LookupStatus::Miss: return "miss";
  case LookupStatus::Stale: return "stale";
  case LookupStatus::Corrupt: return "corrupt";
  }
  return "?";
}

} // namespace tilefuse::tuner
