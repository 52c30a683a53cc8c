// The tuning objective without a GPU: its spelling, the score each objective minimises, the order in
// which tune() tries winners (rankCandidates), and tune()'s refusal to tune for energy without NVML
// (the fake libnvidia-ml of tests/unit/runtime, found through $TILEFUSE_NVML_LIBRARY).
#include "../runtime/ScopedEnv.h"
#include "TunerTestSupport.h"

#include "../../../tuner/lib/GpuRun.h"

#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/tuner/Tuner.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <stdexcept>
#include <string>

using namespace tilefuse;
using namespace tilefuse::tuner;
using Catch::Matchers::Contains;

#ifndef FAKE_NVML_PATH
#error "FAKE_NVML_PATH must be defined by tests/unit/tuner/CMakeLists.txt"
#endif

namespace {

using tilefuse::runtime::test::ScopedEnv;

/// A timed candidate with `ms` per call and, when joules > 0, an energy measurement of `joules` per call.
CandidateResult timed(int blockM, double ms, double joules) {
  CandidateResult c;
  c.schedule.blockM = blockM;
  c.status = CandidateStatus::Timed;
  c.medianMs = ms;
  if (joules > 0) {
    EnergyMeasurement &e = c.energy.emplace();
    e.joulesPerCall = joules;
    e.watts = joules / (ms * 1e-3);
    e.seconds = 1.0;
    e.calls = 1000;
  }
  return c;
}

spec::Spec loadSpec(const std::string &name) {
  return spec::parseSpecFile(std::string(TILEFUSE_SPECS_DIR) + "/" + name);
}

} // namespace

TEST_CASE("objective: spelled time - energy - edp - anything else is refused by name", "[objective]") {
  for (Objective o : {Objective::Time, Objective::Energy, Objective::Edp})
    CHECK(objectiveFromString(spelling(o)) == o);
  CHECK(spelling(Objective::Edp) == "edp");
  CHECK_THROWS_AS(objectiveFromString("power"), std::invalid_argument);
  CHECK_THROWS_WITH(objectiveFromString("power"), Contains("\"power\"") && Contains("time, energy or edp"));
  CHECK_THROWS_AS(objectiveFromString("Energy"), std::invalid_argument); // exact spelling
  CHECK_THROWS_AS(objectiveFromString(""), std::invalid_argument);
}

TEST_CASE("objective: the score is ms - J per call - or J x s per call", "[objective]") {
  CHECK(objectiveScore(Objective::Time, 2.0, 0.5) == 2.0);
  CHECK(objectiveScore(Objective::Energy, 2.0, 0.5) == 0.5);
  CHECK(objectiveScore(Objective::Edp, 2.0, 0.5) == Approx(1e-3)); // 0.5 J x 0.002 s
}

TEST_CASE("objective: rankCandidates picks min time - min energy - min EDP", "[objective]") {
  std::vector<CandidateResult> c = {
      timed(16, 1.0, 0.30),   // 0: EDP 3.0e-4 J*s (best EDP)
      timed(32, 0.8, 0.40),   // 1: EDP 3.2e-4
      timed(48, 1.5, 0.25),   // 2: EDP 3.75e-4, least energy
      timed(64, 0.5, 0.10),   // 3: best everywhere, but it failed the check
      timed(80, 0.7, 0.0),    // 4: fastest timed, no energy measurement
  };
  c[3].status = CandidateStatus::WrongResult;
  CHECK(rankCandidates(c, Objective::Time) == std::vector<int>{4, 1, 0, 2});
  CHECK(rankCandidates(c, Objective::Energy) == std::vector<int>{2, 0, 1});
  CHECK(rankCandidates(c, Objective::Edp) == std::vector<int>{0, 1, 2});

  // A failed measurement is no measurement.
  c[2].energy->error = "nvmlDeviceGetTotalEnergyConsumption failed";
  CHECK(rankCandidates(c, Objective::Energy) == std::vector<int>{0, 1});
  // A counter that did not move (0 J) is no measurement either, not the best one.
  c[1].energy->joulesPerCall = 0;
  CHECK(rankCandidates(c, Objective::Edp) == std::vector<int>{0});
  // Nothing timed: nothing to pick.
  CHECK(rankCandidates({}, Objective::Energy).empty());
}

TEST_CASE("objective: equal energy goes to the faster candidate - then to the earlier one", "[objective]") {
  std::vector<CandidateResult> c = {timed(16, 2.0, 0.5), timed(32, 1.0, 0.5), timed(48, 1.0, 0.5),
                                    timed(64, 3.0, 0.75)};
  CHECK(rankCandidates(c, Objective::Energy) == std::vector<int>{1, 2, 0, 3});
  std::vector<CandidateResult> t = {timed(16, 1.0, 0), timed(32, 1.0, 0)};
  CHECK(rankCandidates(t, Objective::Time) == std::vector<int>{0, 1});
}

TEST_CASE("steady finalists: within the margin of the fastest burst time - at most the cap - none alone",
          "[objective][steady]") {
  std::vector<CandidateResult> c = {timed(16, 1.00, 0), timed(32, 1.05, 0), timed(48, 1.07, 0),
                                    timed(64, 1.03, 0), timed(80, 0.99, 0)};
  const std::vector<int> ranked = rankCandidates(c, Objective::Time); // 4, 0, 3, 1, 2
  REQUIRE(ranked == std::vector<int>{4, 0, 3, 1, 2});
  // 0.99 x 1.06 = 1.0494: 1.05 and 1.07 are out.
  CHECK(steadyFinalists(c, ranked, 4, 0.06) == std::vector<int>{4, 0, 3});
  CHECK(steadyFinalists(c, ranked, 2, 0.06) == std::vector<int>{4, 0});
  CHECK(steadyFinalists(c, ranked, 8, 0.10) == std::vector<int>{4, 0, 3, 1, 2});
  // One qualifies, or the cap is below two: nothing to re-rank.
  CHECK(steadyFinalists(c, ranked, 4, 0.0).empty());
  CHECK(steadyFinalists(c, ranked, 1, 0.06).empty());
  CHECK(steadyFinalists(c, ranked, 0, 0.06).empty());
  CHECK(steadyFinalists(c, {}, 4, 0.06).empty());
}

TEST_CASE("steady finalists: re-timed candidates lead by steady time - the rest keep their order",
          "[objective][steady]") {
  std::vector<CandidateResult> c = {timed(16, 1.00, 0), timed(32, 1.02, 0), timed(48, 1.04, 0),
                                    timed(64, 1.30, 0)};
  const std::vector<int> ranked = rankCandidates(c, Objective::Time);
  REQUIRE(ranked == std::vector<int>{0, 1, 2, 3});
  // The burst's fastest falls back under sustained load; the second is steadier.
  c[0].steadyMs = 1.12, c[1].steadyMs = 1.05, c[2].steadyMs = 1.09;
  CHECK(orderBySteadyTime(c, ranked) == std::vector<int>{1, 2, 0, 3});
  // Equal steady times keep the burst order; a candidate not re-timed never jumps ahead.
  c[2].steadyMs = 1.05;
  CHECK(orderBySteadyTime(c, ranked) == std::vector<int>{1, 2, 0, 3});
  c[1].steadyMs = 0; // not a finalist: after the finalists, though faster in the burst than one of them
  CHECK(orderBySteadyTime(c, ranked) == std::vector<int>{2, 0, 1, 3});
  // Nobody re-timed: the ranking is unchanged.
  for (CandidateResult &x : c)
    x.steadyMs = 0;
  CHECK(orderBySteadyTime(c, ranked) == ranked);
}

TEST_CASE("medianOf: the middle value - the mean of the two middle ones - 0 when empty", "[objective][steady]") {
  using tilefuse::tuner::detail::medianOf;
  CHECK(medianOf(std::vector<double>{3.0, 1.0, 2.0}) == 2.0);       // unsorted input
  CHECK(medianOf(std::vector<float>{4.0f, 1.0f, 3.0f, 2.0f}) == 2.5); // even count
  CHECK(medianOf(std::vector<double>{1.0, 1.0, 9.0}) == 1.0);        // not the mean
  CHECK(medianOf(std::vector<double>{}) == 0.0);
}

TEST_CASE("steady finalists: tune refuses out-of-range options by name", "[objective][steady]") {
  spec::Spec s = loadSpec("causal.json");
  spec::Shape shape = spec::resolveShape(s, {1, 4, 4, 1000, 1000, {}, {}});
  test::TempDir dir;
  Cache cache(dir.path());
  TuneOptions options;
  options.finalists = -1;
  CHECK_THROWS_AS(tune(s, shape, options, cache), std::invalid_argument);
  CHECK_THROWS_WITH(tune(s, shape, options, cache), "tune: finalists = -1 is out of range; allowed: 0 or more (0 or 1: "
                                                    "no steady-state re-timing)");
  options.finalists = 4;
  options.steadyRounds = 0;
  CHECK_THROWS_WITH(tune(s, shape, options, cache), "tune: steady_rounds = 0 is out of range; allowed: 1 or more");
  options.steadyRounds = 3;
  options.finalistMargin = std::nan("");
  CHECK_THROWS_WITH(tune(s, shape, options, cache), Contains("finalist_margin = nan is out of range"));
  options.finalistMargin = 0.06;
  options.steadyWarmupMs = -1;
  CHECK_THROWS_WITH(tune(s, shape, options, cache), Contains("steady_warmup_ms = -1 is out of range"));
}

TEST_CASE("objective: tune for energy without NVML fails naming NVML and TILEFUSE_NVML_LIBRARY",
          "[objective][nvml]") {
  spec::Spec s = loadSpec("causal.json");
  spec::Shape shape = spec::resolveShape(s, {1, 4, 4, 1000, 1000, {}, {}});
  test::TempDir dir;
  Cache cache(dir.path());
  TuneOptions options;
  options.objective = Objective::Energy;

  {
    ScopedEnv lib("TILEFUSE_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1");
    CHECK_THROWS_AS(tune(s, shape, options, cache), EnergyUnavailableError);
    CHECK_THROWS_WITH(tune(s, shape, options, cache),
                      Contains("objective 'energy'") && Contains("NVML") && Contains("TILEFUSE_NVML_LIBRARY") &&
                          Contains("dlopen(/nonexistent/libnvidia-ml.so.1)"));
    options.objective = Objective::Edp;
    CHECK_THROWS_WITH(tune(s, shape, options, cache), Contains("objective 'edp'"));
  }
  {
    ScopedEnv lib("TILEFUSE_NVML_LIBRARY", FAKE_NVML_NO_ENERGY_PATH); // NVML without the energy call
    CHECK_THROWS_WITH(tune(s, shape, options, cache),
                      Contains("lacks nvmlDeviceGetTotalEnergyConsumption") && Contains("TILEFUSE_NVML_LIBRARY"));
  }
  {
    ScopedEnv lib("TILEFUSE_NVML_LIBRARY", FAKE_NVML_PATH);
    ScopedEnv fail("FAKE_NVML_INIT_ERROR", "9"); // NVML_ERROR_DRIVER_NOT_LOADED
    CHECK_THROWS_WITH(tune(s, shape, options, cache), Contains("nvmlInit_v2 failed: NVML error 9"));
  }
  // With a working NVML the objective is accepted: the next question is the GPU.
  if (!runtime::gpuAvailable()) {
    ScopedEnv lib("TILEFUSE_NVML_LIBRARY", FAKE_NVML_PATH);
    CHECK_THROWS_AS(tune(s, shape, options, cache), NeedsGpuError);
  }
  // Time never touches NVML.
  if (!runtime::gpuAvailable()) {
    ScopedEnv lib("TILEFUSE_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1");
    options.objective = Objective::Time;
    CHECK_THROWS_AS(tune(s, shape, options, cache), NeedsGpuError);
  }
  CHECK(std::filesystem::is_empty(dir.path())); // nothing cached
}

TEST_CASE("objective: a dry run needs no NVML and keys its result by the objective", "[objective][nvrtc]") {
  spec::Spec s = loadSpec("causal.json");
  spec::Shape shape = spec::resolveShape(s, {1, 4, 4, 1000, 1000, {}, {}});
  test::TempDir dir;
  Cache cache(dir.path());
  ScopedEnv lib("TILEFUSE_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1");
  TuneOptions options;
  options.objective = Objective::Energy;
  options.dryRunArch = "sm_80"; // one backend: a dry run compiles one schedule (sm_90 adds the sm90 one's)
  options.maxCandidates = 1;
  options.compileExtra = 0;
  options.threads = 1;
  TuneResult r = tune(s, shape, options, cache);
  CHECK(r.winner == -1);
  CHECK(r.key.objective == Objective::Energy);
  CHECK_THAT(r.key.fileName(), Catch::EndsWith("-energy.json"));
  CHECK(r.key == makeKey(r.device, r.key.nvrtcVersion, s, shape, Objective::Energy));
  CHECK(std::filesystem::is_empty(dir.path())); // a dry run caches nothing
}
