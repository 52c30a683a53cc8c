//===- CommandTune.cpp - tilefuse tune and tilefuse bench -------------------===//
#include "CommandSupport.h"
#include "tilefuse/spec/Json.h"

#include "tilefuse/tuner/KernelBuild.h"

#include <fmt/core.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <unistd.h>

namespace tilefuse::tuner::cli {
namespace {

/// A one-line progress bar on stderr, redrawn in place (terminals only).
class ProgressBar {
public:
  explicit ProgressBar(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)) {}
  ~ProgressBar() { done(); }
  void update(const TuneProgress &p) {
    if (!enabled_ || p.total <= 0)
      return;
    constexpr int kWidth = 30;
    const int filled = p.done * kWidth / p.total;
    std::string bar(static_cast<size_t>(filled), '=');
    if (filled < kWidth)
      bar += '>' + std::string(static_cast<size_t>(kWidth - filled - 1), ' ');
    std::string msg = p.message.substr(0, 60);
    fmt::print(stderr, "\r\033[K[{}] {:>3}/{:<3} {:<8} {}", bar, p.done, p.total, p.phase, msg);
    std::fflush(stderr);
    drawn_ = true;
  }
  void done() {
    if (drawn_)
      fmt::print(stderr, "\r\033[K");
    drawn_ = false;
  }

private:
  bool enabled_;
  bool drawn_ = false;
};

std::string kib(std::size_t bytes) { return fmt::format("{:.0f}", bytes / 1024.0); }

std::string checkText(const CandidateResult &c) {
  switch (c.status) {
  case CandidateStatus::Timed: return "pass";
  case CandidateStatus::Compiled: return "compiled";
  case CandidateStatus::WrongResult: return "FAIL";
  case CandidateStatus::CompileFailed: return "compile error";
  case CandidateStatus::LaunchFailed: return "launch error";
  case CandidateStatus::Pruned: return "pruned: " + c.rule;
  }
  return "?";
}

/// null when not measured (bench without --energy, tune for time); {"error"} without NVML; else the
/// measurement (J per call, W, s).
nlohmann::json energyJson(const std::optional<EnergyMeasurement> &e) {
  if (!e)
    return nullptr;
  if (!e->error.empty())
    return {{"error", e->error}};
  return {{"joules_per_call", e->joulesPerCall}, {"watts", e->watts}, {"seconds", e->seconds},
          {"calls", e->calls}, {"extended", e->extended}};
}

nlohmann::json candidateJson(const CandidateResult &c) {
  nlohmann::json j = {{"schedule", detail::scheduleJson(c.schedule)},
                      {"default", c.isDefault},
                      {"status", std::string(spelling(c.status))},
                      {"message", c.message},
                      {"compile_ms", c.compileMs},
                      {"registers", c.registers},
                      {"spill_bytes", c.spillBytes},
                      {"smem_bytes", c.smemBytes},
                      {"blocks_per_sm", c.blocksPerSm}};
  if (c.status == CandidateStatus::Pruned)
    j["rule"] = c.rule;
  if (c.status == CandidateStatus::Timed)
    j.update({{"median_ms", c.medianMs}, {"min_ms", c.minMs}, {"max_ms", c.maxMs}, {"reps", c.reps},
              {"tflops", c.tflops}, {"energy", energyJson(c.energy)}});
  if (c.steadyMs > 0)
    j["steady_ms"] = c.steadyMs;
  if (c.gate.rows > 0)
    j["check"] = detail::accuracyJson(c.gate);
  return j;
}

/// The sm90 schedule choices that the table's other columns do not show: overlap, grid, position
/// compares, software exponential ("-" for sm80 schedules).
std::string sm90Choices(const codegen::Schedule &s) {
  if (s.mma != codegen::MmaFamily::Wgmma)
    return "-";
  std::string t(codegen::spelling(s.overlap));
  if (s.persistent)
    t += dealsPersistentTiles(s.qTileOrder) ? "+persistent(" + std::string(codegen::spelling(s.qTileOrder)) + ")"
                                            : std::string("+persistent");
  if (s.qTileOrder == codegen::QTileOrder::Lpt)
    t += "+lpt";
  if (s.compares64)
    t += "+cmp64";
  if (s.lazyRescale)
    t += "+lazy";
  if (s.exp2FmaQuarters != 0)
    t += "+fma" + std::to_string(s.exp2FmaQuarters);
  return t;
}

void printTable(const TuneResult &r) {
  const bool energy = r.key.objective != Objective::Time;
  fmt::print("  #  {:<7} {:<7} {:<5} {:<6} {:<9} {:<32} {:<4} {:>4} {:>5} {:>8} {:>6} {:>10} {:>10} {:>8}{}  {}\n",
             "BLOCK_M", "BLOCK_N", "warps", "stages", "q", "sm90", "minB", "regs", "spill", "smem KiB", "blk/SM", "compile ms",
             "median ms", "TFLOP/s", energy ? fmt::format(" {:>10} {:>6}", "J/call", "W") : "", "check");
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    const CandidateResult &c = r.candidates[i];
    const codegen::Schedule &s = c.schedule;
    const bool timed = c.status == CandidateStatus::Timed;
    std::string mark = static_cast<int>(i) == r.winner ? " <- winner" : c.isDefault ? " (default)" : "";
    if (static_cast<int>(i) == r.winner && c.isDefault)
      mark = " <- winner (default)";
    const bool measured = timed && c.energy && c.energy->error.empty();
    fmt::print("{:>3}  {:<7} {:<7} {:<5} {:<6} {:<9} {:<32} {:<4} {:>4} {:>5} {:>8} {:>6} {:>10.0f} {:>10} {:>8}{}  {}{}\n",
               i + 1, s.blockM, s.blockN, s.warps, s.kvStages, codegen::spelling(s.q), sm90Choices(s), s.minBlocksPerSm,
               c.registers, c.spillBytes,
               kib(c.smemBytes), c.blocksPerSm, c.compileMs, timed ? fmt::format("{:.3f}", c.medianMs) : "-",
               timed ? fmt::format("{:.1f}", c.tflops) : "-",
               !energy     ? ""
               : measured ? fmt::format(" {:>10.4g} {:>6.0f}", c.energy->joulesPerCall, c.energy->watts)
                          : fmt::format(" {:>10} {:>6}", "-", "-"),
               checkText(c), mark);
  }
}

} // namespace

int runTune(const TuneArgs &a) {
  return detail::guarded("tune", a.json, [&] {
    detail::Loaded l = detail::load(a.problem);
    Cache cache = Cache::openDefault();
    TuneOptions options = a.options;
    if (!a.captureFiles.empty())
      options.captures = readCaptureFiles(l.spec, l.shape, a.captureFiles);
    ProgressBar bar(a.progressBar && !a.json);
    options.progress = [&](const TuneProgress &p) {
      bar.update(p);
      if (a.verbose && !a.json && !::isatty(STDERR_FILENO) && p.phase == "time")
        fmt::print(stderr, "[{}/{}] {}\n", p.done, p.total, p.message);
    };
    if (!a.json) {
      fmt::print(stderr, "tilefuse tune: {} {} ...\n", describe(l.spec, l.shape), detail::shapeText(l.shape));
      detail::printMaskDensity("tune", l, options.captures);
    }
    TuneResult r = tune(l.spec, l.shape, options, cache);
    bar.done();
    const bool dry = !options.dryRunArch.empty();
    static const CandidateResult kNone;
    const CandidateResult &w = r.best() ? *r.best() : kNone;
    std::map<std::string, int> byRule;
    for (const PrunedCandidate &p : r.pruned)
      ++byRule[p.rule];
    for (const CandidateResult &c : r.candidates)
      if (c.status == CandidateStatus::Pruned)
        ++byRule[c.rule];
    if (a.json) {
      nlohmann::json cands = nlohmann::json::array(), pruned = nlohmann::json::array();
      for (const CandidateResult &c : r.candidates)
        cands.push_back(candidateJson(c));
      for (const PrunedCandidate &p : r.pruned)
        pruned.push_back({{"schedule", detail::scheduleJson(p.schedule)}, {"rule", p.rule}, {"reason", p.reason}});
      nlohmann::json out = {{"spec", l.spec.name},
                            {"file", a.problem.specPath},
                            {"shape", detail::shapeJson(l.shape)},
                            {"device", detail::deviceJson(r.device)},
                            {"cache_key", nlohmann::json::parse(r.key.toJson())},
                            {"objective", std::string(spelling(r.key.objective))},
                            {"enumerated", r.enumerated},
                            {"pruned_by_rule", byRule},
                            {"candidates", cands},
                            {"pruned", pruned},
                            {"dry_run", dry},
                            {"winner", dry ? nlohmann::json() : detail::scheduleJson(w.schedule)},
                            {"median_ms", w.medianMs},
                            {"tflops", w.tflops},
                            {"energy", energyJson(w.energy)},
                            {"default_ms", r.defaultMs},
                            {"speedup_vs_default", r.defaultMs > 0 ? r.defaultMs / w.medianMs : 0.0},
                            {"useful_flops", r.usefulFlops},
                            {"flops_rule", r.flopsRule},
                            {"winner_check", detail::accuracyJson(r.winnerCheck)},
                            {"tuning_seconds", r.seconds},
                            {"cache_note", r.cacheNote},
                            {"steady_note", r.steadyNote}};
      if (r.stored)
        out["cache"] = {{"path", r.stored->path.string()}, {"written", r.stored->written}, {"note", r.stored->note}};
      fmt::print("{}\n", tilefuse::spec::dumpJson(out, 2));
      return 0;
    }

    fmt::print("tilefuse tune: {} {}\n", describe(l.spec, l.shape), detail::shapeText(l.shape));
    if (dry)
      fmt::print("dry run for {}: limits of the arch, every candidate generated and compiled; nothing run, "
                 "timed or cached\n",
                 options.dryRunArch);
    else
      fmt::print("device: {} ({}, {} SMs, driver {})\n", r.device.name, r.device.arch(), r.device.smCount,
                 r.device.driverVersion);
    if (!r.cacheNote.empty())
      fmt::print("cache: {}\n", r.cacheNote);
    if (r.key.maskDensity != 0)
      fmt::print("mask density class: 1/{} of the scores unmasked, on {} captures (part of the cache key)\n",
                 r.key.maskDensity, options.captures ? "the --capture" : "synthetic");
    std::string rules;
    for (auto &[rule, n] : byRule)
      rules += fmt::format("{}{} {}", rules.empty() ? "" : ", ", rule, n);
    if (r.key.objective != Objective::Time)
      fmt::print("objective: {} ({}; NVML energy counter of the whole GPU, each candidate's runs repeated "
                 "to last >= {:g} s)\n",
                 spelling(r.key.objective),
                 r.key.objective == Objective::Energy ? "min J per call" : "min J per call x s per call", kEnergyMinSeconds);
    fmt::print("search space: {} schedules; pruned: {}; {} compiled\n", r.enumerated, rules.empty() ? "none" : rules,
               r.candidates.size());
    if (a.verbose) {
      for (const PrunedCandidate &p : r.pruned)
        fmt::print("  pruned [{}] {}: {}\n", p.rule, detail::scheduleText(p.schedule), p.reason);
      for (const CandidateResult &c : r.candidates)
        if (c.status != CandidateStatus::Timed && !c.message.empty())
          fmt::print("  {} [{}] {}: {}\n", spelling(c.status), c.rule, detail::scheduleText(c.schedule), c.message);
    }
    printTable(r);
    if (dry) {
      fmt::print("generation and compilation took {:.1f} s\n", r.seconds);
      return 0;
    }
    if (!r.steadyNote.empty())
      fmt::print("steady state: {}\n", r.steadyNote);
    fmt::print("winner: {}: {:.3f} ms, {:.1f} TFLOP/s ({} FLOPs: {:.3e})", detail::scheduleText(w.schedule), w.medianMs,
               w.tflops, r.flopsRule, r.usefulFlops);
    if (w.energy && w.energy->error.empty())
      fmt::print(", {:.4g} J per call, {:.1f} W", w.energy->joulesPerCall, w.energy->watts);
    if (r.defaultMs > 0)
      fmt::print(", {:.2f}x the default schedule ({:.3f} ms)", r.defaultMs / w.medianMs, r.defaultMs);
    if (w.steadyMs > 0) {
      fmt::print(", {:.3f} ms in steady state", w.steadyMs);
      // The default re-timed too: the ratio that counts (the burst one above can be below 1 for a steady winner).
      auto def = std::find_if(r.candidates.begin(), r.candidates.end(), [](const CandidateResult &c) { return c.isDefault; });
      if (def != r.candidates.end() && def->steadyMs > 0 && &*def != &w)
        fmt::print(" ({:.2f}x the default's {:.3f})", def->steadyMs / w.steadyMs, def->steadyMs);
    }
    fmt::print("\nchecked at the tuned shape on {} rows: max|O-ref| = {:.3g} <= {:.3g}\n", r.winnerCheck.rows,
               r.winnerCheck.maxErr, r.winnerCheck.bound);
    if (r.stored)
      fmt::print("cache: {} {}{}\n", r.stored->written ? "wrote" : "kept", r.stored->path.string(),
                 r.stored->note.empty() ? "" : " (" + r.stored->note + ")");
    fmt::print("tuning took {:.1f} s\n", r.seconds);
    return 0;
  });
}

int runBench(const BenchArgs &a) {
  if (std::filesystem::path(a.problem.specPath).extension() == ".mlir")
    return runBenchChain(a);
  if (!a.sizes.empty())
    return detail::guarded("bench", a.json, [&]() -> int {
      throw std::invalid_argument("--size is for block programs (.mlir); a spec takes --B, --S, --D, ...");
    });
  return detail::guarded("bench", a.json, [&] {
    detail::Loaded l = detail::load(a.problem);
    Cache cache = Cache::openDefault();
    BenchOptions options = a.options;
    options.schedule = detail::parseSchedule(a.scheduleJson);
    if (!a.captureFiles.empty())
      options.captures = readCaptureFiles(l.spec, l.shape, a.captureFiles);
    if (!a.json)
      detail::printMaskDensity("bench", l, options.captures);
    BenchResult r = bench(l.spec, l.shape, options, cache);
    if (a.json) {
      nlohmann::json out = {{"spec", l.spec.name},
                            {"file", a.problem.specPath},
                            {"shape", detail::shapeJson(l.shape)},
                            {"device", detail::deviceJson(r.device)},
                            {"schedule", detail::scheduleJson(r.schedule)},
                            {"schedule_source", r.scheduleSource},
                            {"note", r.note},
                            {"median_ms", r.medianMs},
                            {"min_ms", r.minMs},
                            {"max_ms", r.maxMs},
                            {"reps", r.reps},
                            {"warmup_ms", options.warmupMs},
                            {"tflops", r.tflops},
                            {"useful_flops", r.usefulFlops},
                            {"flops_rule", r.flopsRule},
                            {"cached_ms", r.cachedMs},
                            {"block_mask_build_ms", r.blockMaskBuildMs},
                            {"packed", r.packed ? nlohmann::json{{"cu_seqlens_q", r.packed->cuQ},
                                                                 {"cu_seqlens_k", r.packed->cuK},
                                                                 {"total_q", r.packed->totalQ()},
                                                                 {"total_k", r.packed->totalK()}}
                                                : nlohmann::json(nullptr)},
                            {"check_small", detail::accuracyJson(r.small)},
                            {"check_sampled", detail::accuracyJson(r.sampled)},
                            {"energy", energyJson(r.energy)},
                            {"passed", r.passed()}};
      fmt::print("{}\n", tilefuse::spec::dumpJson(out, 2));
    } else {
      fmt::print("tilefuse bench: {} {}\n", describe(l.spec, l.shape), detail::shapeText(l.shape));
      fmt::print("device: {} ({}, {} SMs)\n", r.device.name, r.device.arch(), r.device.smCount);
      if (r.packed) {
        int64_t shortest = INT64_MAX;
        for (int64_t b = 0; b < r.packed->batch(); ++b)
          shortest = std::min(shortest, r.packed->lenQ(b));
        fmt::print("packed: {} sequences, {} query tokens, {} key tokens, lengths {}..{}\n", r.packed->batch(),
                   r.packed->totalQ(), r.packed->totalK(), shortest, r.packed->maxLenQ());
      }
      fmt::print("schedule: {} from {}{}\n", detail::scheduleText(r.schedule), r.scheduleSource,
                 r.note.empty() ? "" : " (" + r.note + ")");
      fmt::print("time: median {:.3f} ms (min {:.3f}, max {:.3f}, {} runs after {:g} ms of warm-up){}\n", r.medianMs,
                 r.minMs, r.maxMs, r.reps, options.warmupMs,
                 r.cachedMs > 0 ? fmt::format("; tuned {:.3f} ms", r.cachedMs) : "");
      fmt::print("throughput: {:.1f} TFLOP/s ({} FLOPs: {:.3e})\n", r.tflops, r.flopsRule, r.usefulFlops);
      for (auto [name, acc] : {std::pair{r.packed ? "small packed batch, every row" : "small shape, every row", &r.small}, std::pair{"sampled rows", &r.sampled}})
        fmt::print("error ({}: {} rows): max|O-ref| = {:.3g}, bound {:.3g} (2 x naive {:.3g} + 1e-5){} -> {}\n", name,
                   acc->rows, acc->maxErr, acc->bound, acc->naiveErr,
                   acc->maxLseErr > 0 ? fmt::format(", max|LSE-ref| = {:.3g}", acc->maxLseErr) : "",
                   acc->passed ? "PASS" : "FAIL (" + acc->detail + ")");
      if (r.energy && !r.energy->error.empty())
        fmt::print("energy: unavailable ({})\n", r.energy->error);
      else if (r.energy)
        fmt::print("energy: {:.4g} J per call, {:.1f} W average ({} calls in {:.2f} s{}; NVML counter of the "
                   "whole GPU)\n",
                   r.energy->joulesPerCall, r.energy->watts, r.energy->calls, r.energy->seconds,
                   r.energy->extended ? fmt::format(", timed loop repeated to last >= {:g} s for the counter's "
                                                    "resolution", kEnergyMinSeconds)
                                      : "");
    }
    return r.passed() ? 0 : 1;
  });
}

} // namespace tilefuse::tuner::cli
