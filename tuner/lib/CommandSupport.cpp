//===- CommandSupport.cpp - what the CLI commands share --------------------===//
#include "CommandSupport.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/spec/Json.h"

#include "tilefuse/tuner/KernelBuild.h"

#include <fmt/core.h>

namespace tilefuse::tuner::cli::detail {

Loaded load(const ProblemArgs &args) {
  Loaded l{spec::parseSpecFile(args.specPath), {}};
  l.shape = spec::resolveShape(l.spec, args.overrides);
  return l;
}

void printMaskDensity(const char *command, const Loaded &l, const std::optional<HostCaptures> &captures) {
  if (!codegen::maskReadsCapture(l.spec))
    return;
  const MaskDensity d =
      maskDensity(l.spec, l.shape, captures ? *captures : syntheticCaptures(l.spec, l.shape, kSyntheticCaptureSeed));
  fmt::print(stderr, "tilefuse {}: mask density {:.4f} (class 1/{}, {} samples) on the {} captures\n", command,
             d.fraction, d.denominator, d.samples, captures ? "--capture" : "synthetic");
}

std::string shapeText(const spec::Shape &s) {
  return fmt::format("B={} Hq={} Hkv={} Sq={} Sk={} D={} Dv={}", s.B, s.Hq, s.Hkv, s.Sq, s.Sk, s.D, s.Dv);
}

nlohmann::json shapeJson(const spec::Shape &s) {
  return {{"B", s.B}, {"Hq", s.Hq}, {"Hkv", s.Hkv}, {"Sq", s.Sq}, {"Sk", s.Sk}, {"D", s.D}, {"Dv", s.Dv}};
}

nlohmann::json scheduleJson(const codegen::Schedule &s) { return nlohmann::json::parse(s.toJson()); }

nlohmann::json accuracyJson(const Accuracy &a) {
  return {{"rows", a.rows},          {"max_abs_err", a.maxErr},  {"naive_err", a.naiveErr},
          {"bound", a.bound},        {"max_lse_err", a.maxLseErr}, {"lse_inf_match", a.lseInfMatch},
          {"finite", a.finite},      {"passed", a.passed},        {"worst", a.detail}};
}

nlohmann::json deviceJson(const DeviceIdentity &d) {
  return {{"name", d.name}, {"arch", d.arch()}, {"sm_count", d.smCount}, {"driver", d.driverVersion}};
}

std::string scheduleText(const codegen::Schedule &s) {
  return fmt::format("BLOCK_M={} BLOCK_N={} warps={} stages={} mma={} q={}{}{}{}{}{}{}{}{}", s.blockM, s.blockN, s.warps,
                     s.kvStages, codegen::spelling(s.mma), codegen::spelling(s.q),
                     s.minBlocksPerSm > 1 ? fmt::format(" min_blocks_per_sm={}", s.minBlocksPerSm) : "",
                     s.persistent ? " persistent" : "",
                     s.qTileOrder != codegen::QTileOrder::Descending
                         ? fmt::format(" q_tile_order={}", codegen::spelling(s.qTileOrder))
                         : "",
                     s.cluster != 1 ? fmt::format(" cluster={}", s.cluster) : "",
                     s.overlap != codegen::WarpgroupOverlap::None ? fmt::format(" overlap={}", codegen::spelling(s.overlap))
                                                                 : "",
                     s.exp2FmaQuarters != 0 ? fmt::format(" exp2_fma={}", s.exp2FmaQuarters) : "",
                     s.compares64 ? " compares64" : "", s.lazyRescale ? " lazy_rescale" : "");
}

std::optional<codegen::Schedule> parseSchedule(const std::string &json) {
  if (json.empty())
    return std::nullopt;
  codegen::Schedule s = codegen::scheduleFromJson(json);
  s.validate();
  return s;
}

std::string describeJsonException(const std::exception &e) {
  std::string what = e.what();
  if (what.rfind("[json.exception.", 0) == 0 && what.find("] ") != std::string::npos)
    what = what.substr(what.find("] ") + 2);
  return "invalid JSON value: " + what;
}

int guarded(const char *command, bool json, const std::function<int()> &body) {
  auto fail = [&](const std::string &what, int code, bool needsGpu) {
    // A message that begins with its place ("spec.json:3:5: error: ...") already says "error".
    size_t located = what.find(": error: ");
    bool saysError = located != std::string::npos && what.find(' ') > located;
    fmt::print(stderr, "tilefuse {}: {}{}\n", command, saysError ? "" : "error: ", what);
    if (json) {
      nlohmann::json j = {{"command", command}, {"error", what}};
      if (needsGpu)
        j["needs_gpu"] = true;
      fmt::print("{}\n", tilefuse::spec::dumpJson(j, 2));
    }
    return code;
  };
  // The handlers only format text: dumpJson never throws, so no exception escapes them.
  try {
    return body();
  } catch (const NeedsGpuError &e) {
    return fail(e.what(), 2, true);
  } catch (const nlohmann::json::exception &e) {
    return fail(describeJsonException(e), 1, false);
  } catch (const std::bad_alloc &) {
    return fail("out of memory (the sizes need more memory than this machine has)", 1, false);
  } catch (const std::exception &e) {
    return fail(e.what(), 1, false);
  }
}

} // namespace tilefuse::tuner::cli::detail
