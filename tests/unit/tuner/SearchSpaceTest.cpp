// The search space and its pruning rules, without a GPU (DeviceLimits::forArch).
#include "tilefuse/tuner/SearchSpace.h"

#include <algorithm>
#include <array>

#include <catch2/catch.hpp>

#include <set>

using namespace tilefuse::tuner;
using tilefuse::codegen::QPlacement;
using tilefuse::codegen::Schedule;
using tilefuse::spec::Shape;

namespace {

Schedule sched(int m, int n, int warps, int stages, QPlacement q = QPlacement::Registers) {
  Schedule s;
  s.blockM = m, s.blockN = n, s.warps = warps, s.kvStages = stages, s.q = q;
  return s;
}

int countRule(const SearchSpace &s, const std::string &rule) {
  int n = 0;
  for (const PrunedCandidate &p : s.pruned)
    n += p.rule == rule;
  return n;
}

} // namespace

TEST_CASE("limits per arch without a GPU", "[search]") {
  DeviceLimits h = DeviceLimits::forArch("sm_90");
  CHECK(h.maxSmemPerBlock == 232448);
  CHECK(h.smemPerSm == 228 * 1024);
  CHECK(h.smCount == 132);
  DeviceLimits a = DeviceLimits::forArch("sm_80");
  CHECK(a.maxSmemPerBlock == 166912);
  DeviceLimits g = DeviceLimits::forArch("sm_86");
  CHECK(g.maxSmemPerBlock == 101376);
  CHECK_THROWS(DeviceLimits::forArch("sm_75"));
}

TEST_CASE("resource estimates", "[search]") {
  // Q 128x128 + 2 stages of K, V 64x128, 2 bytes: 32 KiB + 64 KiB.
  CHECK(estimateSmemBytes(sched(128, 64, 8, 2), 128, 128) == 96 * 1024);
  // 16 rows per warp, D = Dv = 128, BLOCK_N = 64, Q in registers:
  // O 64 + S 32 + P 16 + m,l 4 + 32 + 2 x 16 + Q 32 = 212 (ptxas: 201).
  CHECK(estimateRegisters(sched(128, 64, 8, 2), 128, 128) == 212);
  CHECK(estimateRegisters(sched(128, 64, 8, 2, QPlacement::Smem), 128, 128) == 180); // ptxas: 182
  // 32 rows per warp at D = 128 with Q in SMEM: estimated 328, within kRegisterEstimateLimit, so it
  // is compiled (ptxas: 255 registers, no spills); with Q in registers too or BLOCK_N = 128 it is
  // pruned before compiling (ptxas: 2036 and 2760 bytes of spills).
  CHECK(estimateRegisters(sched(128, 64, 4, 2, QPlacement::Smem), 128, 128) == 328);
  CHECK(estimateRegisters(sched(128, 64, 4, 2, QPlacement::Smem), 128, 128) <= kRegisterEstimateLimit);
  CHECK(estimateRegisters(sched(128, 64, 4, 2), 128, 128) > kRegisterEstimateLimit);
  CHECK(estimateRegisters(sched(128, 128, 4, 2, QPlacement::Smem), 128, 128) > kRegisterEstimateLimit);
  CHECK(estimateRegisters(sched(128, 128, 8, 2), 128, 128) > 255);
  CHECK(estimateRegisters(sched(128, 128, 8, 2, QPlacement::Smem), 128, 128) <= 255); // ptxas: 250
  DeviceLimits h = DeviceLimits::forArch("sm_90");
  Occupancy o = occupancy(sched(128, 64, 8, 2), 180, 96 * 1024, h);
  // 184 registers x 256 threads = 47104 of 65536: 1 block by registers.
  CHECK(o.blocksPerSm == 1);
  CHECK(o.limiter == "registers");
  CHECK(o.warpsPerSm == 8);
  Occupancy o2 = occupancy(sched(64, 64, 4, 2), 128, 64 * 1024, h);
  CHECK(o2.blocksPerSm == 3); // smem: 228 KiB / 65 KiB
  CHECK(o2.limiter == "smem");
}

TEST_CASE("the sm90 default schedule is a candidate exactly, overlap and grid included", "[search]") {
  // S = 1k: the model ranks 128 x 192 and 128 x 176 first, while the heuristic default is 128 x 128 pingpong
  // on the persistent grid. A tune that never times the default can cache a slower kernel than no tune.
  Shape shape{16, 16, 16, 1024, 1024, 128, 128};
  DeviceLimits h = DeviceLimits::forArch("sm_90a");
  tilefuse::codegen::ScheduleHints hints;
  hints.maskFree = hints.plain = true, hints.sk = shape.Sk;
  Schedule def = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_90a", hints);
  REQUIRE(def.mma == tilefuse::codegen::MmaFamily::Wgmma);
  REQUIRE(def.persistent);
  SearchSpace s = buildSearchSpace(shape, def, h, {24, 12});
  CHECK(s.total == static_cast<int>(s.candidates.size() + s.pruned.size()));
  int defaults = 0, exact = 0;
  for (const Candidate &c : s.candidates) {
    defaults += c.isDefault;
    exact += c.schedule == def;
    if (c.isDefault)
      CHECK(c.schedule == def);
  }
  CHECK(defaults == 1);
  CHECK(exact == 1);
}

TEST_CASE("the sm90 default is also timed with Q in registers, right after the default", "[search]") {
  Shape shape{4, 16, 16, 4096, 4096, 128, 128};
  DeviceLimits h = DeviceLimits::forArch("sm_90a");
  Schedule def = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_90a");
  REQUIRE(def.q == tilefuse::codegen::QPlacement::Smem);
  const SearchSpace s = buildSearchSpace(shape, def, h, SearchOptions{24, 12});
  CHECK(s.total == static_cast<int>(s.candidates.size() + s.pruned.size()));
  std::vector<Schedule> inRegisters;
  for (const Candidate &c : s.candidates)
    if (c.schedule.mma == tilefuse::codegen::MmaFamily::Wgmma && c.schedule.q == tilefuse::codegen::QPlacement::Registers &&
        !c.schedule.lazyRescale && c.schedule.qTileOrder != tilefuse::codegen::QTileOrder::Paired)
      inRegisters.push_back(c.schedule);
  Schedule expected = def;
  expected.q = tilefuse::codegen::QPlacement::Registers;
  REQUIRE(inRegisters.size() == 1);
  CHECK(inRegisters[0] == expected);
  CHECK_NOTHROW(expected.validate());
  // The first sm90 candidate besides the default and the lazy running max's twins (the next test).
  auto firstOther = std::find_if(s.candidates.begin(), s.candidates.end(), [](const Candidate &c) {
    return c.schedule.mma == tilefuse::codegen::MmaFamily::Wgmma && !c.isDefault && !c.schedule.lazyRescale &&
           c.schedule.qTileOrder != tilefuse::codegen::QTileOrder::Paired;
  });
  REQUIRE(firstOther != s.candidates.end());
  CHECK(firstOther->schedule == expected);
}

TEST_CASE("the sm90 default and its Q-in-registers twin are also timed with the lazy running max", "[search]") {
  Shape shape{4, 16, 16, 4096, 4096, 128, 128};
  DeviceLimits h = DeviceLimits::forArch("sm_90a");
  Schedule def = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_90a");
  REQUIRE(def.q == tilefuse::codegen::QPlacement::Smem);
  REQUIRE_FALSE(def.lazyRescale);
  const SearchSpace s = buildSearchSpace(shape, def, h, SearchOptions{24, 12});
  CHECK(s.total == static_cast<int>(s.candidates.size() + s.pruned.size()));
  std::vector<Schedule> lazy;
  int sm90Index = 0; // the order the tuner times the sm90 backend's candidates in
  for (const Candidate &c : s.candidates) {
    if (c.schedule.mma != tilefuse::codegen::MmaFamily::Wgmma)
      continue;
    if (c.schedule.lazyRescale) {
      lazy.push_back(c.schedule);
      CHECK(sm90Index <= 3); // among the first, with the default: before the backend's budget runs out
    }
    ++sm90Index;
  }
  Schedule plain = def, inRegisters = def;
  plain.lazyRescale = true;
  inRegisters.lazyRescale = true, inRegisters.q = tilefuse::codegen::QPlacement::Registers;
  REQUIRE(lazy.size() == 2);
  CHECK(std::count(lazy.begin(), lazy.end(), plain) == 1);
  CHECK(std::count(lazy.begin(), lazy.end(), inRegisters) == 1);
  for (const Schedule &l : lazy)
    CHECK_NOTHROW(l.validate());
  // A default with Q in registers has one twin; sm80 schedules have none.
  Schedule qDefault = def;
  qDefault.q = tilefuse::codegen::QPlacement::Registers;
  int twins = 0;
  for (const Candidate &c : buildSearchSpace(shape, qDefault, h, SearchOptions{24, 12}).candidates)
    twins += c.schedule.lazyRescale;
  CHECK(twins == 1);
  Schedule sm80Default = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_86");
  for (const Candidate &c : buildSearchSpace(shape, sm80Default, DeviceLimits::forArch("sm_86"), SearchOptions{24, 12}).candidates)
    CHECK_FALSE(c.schedule.lazyRescale);
}

namespace {

/// `got` holds exactly the default's twin in `order` and its Q-in-registers twin (on the persistent grid when
/// `persistent`), each once, and both validate.
void checkOrderTwins(const std::vector<Schedule> &got, const Schedule &def, tilefuse::codegen::QTileOrder order,
                     bool persistent) {
  Schedule plain = def, inRegisters = def;
  plain.persistent = inRegisters.persistent = persistent;
  plain.qTileOrder = inRegisters.qTileOrder = order;
  inRegisters.q = QPlacement::Registers;
  INFO("q_tile_order " << tilefuse::codegen::spelling(order));
  REQUIRE(got.size() == 2);
  CHECK(std::count(got.begin(), got.end(), plain) == 1);
  CHECK(std::count(got.begin(), got.end(), inRegisters) == 1);
  for (const Schedule &x : got)
    CHECK_NOTHROW(x.validate());
}

} // namespace

TEST_CASE("the default is also timed dealt back and forth, and when not persistent in pairs and longest first",
          "[search]") {
  using tilefuse::codegen::QTileOrder;
  Shape shape{4, 16, 16, 4096, 4096, 128, 128};
  DeviceLimits h = DeviceLimits::forArch("sm_90a");
  Schedule def = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_90a");
  REQUIRE_FALSE(def.persistent); // as for a causal spec (ScheduleHints: a mask with unequal tiles)
  SearchOptions withPairs{24, 12};
  withPairs.tileOrders = true; // a batched spec with a mask_mod
  const SearchSpace s = buildSearchSpace(shape, def, h, withPairs);
  CHECK(s.total == static_cast<int>(s.candidates.size() + s.pruned.size()));
  std::vector<Schedule> paired, lpt, snake;
  int sm90Index = 0;
  for (const Candidate &c : s.candidates) {
    if (c.schedule.mma != tilefuse::codegen::MmaFamily::Wgmma)
      continue;
    if (c.schedule.qTileOrder == QTileOrder::Paired) {
      paired.push_back(c.schedule);
      CHECK(sm90Index <= 5); // with the default and the lazy twins, before the backend's budget runs out
    }
    if (c.schedule.qTileOrder == QTileOrder::Lpt) {
      lpt.push_back(c.schedule);
      CHECK(sm90Index <= 9);
    }
    if (c.schedule.qTileOrder == QTileOrder::Snake) {
      snake.push_back(c.schedule);
      CHECK(sm90Index <= 7);
    }
    ++sm90Index;
  }
  checkOrderTwins(lpt, def, QTileOrder::Lpt, false);
  checkOrderTwins(snake, def, QTileOrder::Snake, true);
  checkOrderTwins(paired, def, QTileOrder::Paired, true);
  // A persistent default (mask-free, captured or balanced masks, narrow windows) gets the snake twins alone, sm80
  // none, nor a spec without the option (mask-free, or packed: pairs over the longest sequence lost 20%).
  Schedule persistentDefault = def;
  persistentDefault.persistent = true;
  int persistentSnakes = 0;
  for (const Candidate &c : buildSearchSpace(shape, persistentDefault, h, withPairs).candidates) {
    CHECK((c.schedule.qTileOrder == QTileOrder::Descending || c.schedule.qTileOrder == QTileOrder::Snake));
    persistentSnakes += c.schedule.qTileOrder == QTileOrder::Snake;
  }
  CHECK(persistentSnakes == 2);
  Schedule sm80Default = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_86");
  for (const Candidate &c : buildSearchSpace(shape, sm80Default, DeviceLimits::forArch("sm_86"), withPairs).candidates)
    CHECK(c.schedule.qTileOrder == QTileOrder::Descending);
  for (const Candidate &c : buildSearchSpace(shape, def, h, SearchOptions{24, 12}).candidates)
    CHECK(c.schedule.qTileOrder == QTileOrder::Descending);
}

TEST_CASE("dynamicTiles: the default and its Q-in-registers twin are also timed with the dynamic tile scheduler",
          "[search]") {
  using tilefuse::codegen::QTileOrder;
  Shape shape{31, 16, 16, 4096, 4096, 128, 128}; // as a packed batch: B sequences, max_seqlen 4096
  DeviceLimits h = DeviceLimits::forArch("sm_90a");
  Schedule def = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_90a");
  REQUIRE_FALSE(def.persistent);
  SearchOptions options{24, 12};
  options.dynamicTiles = true;
  const SearchSpace s = buildSearchSpace(shape, def, h, options);
  CHECK(s.total == static_cast<int>(s.candidates.size() + s.pruned.size()));
  std::vector<Schedule> dynamic;
  for (const Candidate &c : s.candidates)
    if (c.schedule.qTileOrder == QTileOrder::Dynamic) {
      dynamic.push_back(c.schedule);
      CHECK_FALSE(c.isDefault);
    }
  checkOrderTwins(dynamic, def, QTileOrder::Dynamic, true);
  // Not without the option, nor on sm80.
  for (const Candidate &c : buildSearchSpace(shape, def, h, SearchOptions{24, 12}).candidates)
    CHECK(c.schedule.qTileOrder != QTileOrder::Dynamic);
  Schedule sm80Default = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_86");
  for (const Candidate &c : buildSearchSpace(shape, sm80Default, DeviceLimits::forArch("sm_86"), options).candidates)
    CHECK(c.schedule.qTileOrder != QTileOrder::Dynamic);
}

TEST_CASE("compareWidths: the sm90 default is also timed with the other width of position compares", "[search]") {
  Shape shape{4, 16, 16, 4096, 4096, 128, 128};
  DeviceLimits h = DeviceLimits::forArch("sm_90a");
  Schedule def = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_90a");
  REQUIRE(def.mma == tilefuse::codegen::MmaFamily::Wgmma);
  REQUIRE_FALSE(def.compares64);
  auto wide = [](const SearchSpace &s) {
    std::vector<Schedule> out;
    for (const Candidate &c : s.candidates)
      if (c.schedule.compares64)
        out.push_back(c.schedule);
    return out;
  };
  SearchOptions options{24, 12};
  const SearchSpace without = buildSearchSpace(shape, def, h, options);
  CHECK(wide(without).empty());
  options.compareWidths = true;
  const SearchSpace with = buildSearchSpace(shape, def, h, options);
  CHECK(with.total == static_cast<int>(with.candidates.size() + with.pruned.size()));
  CHECK(with.candidates.size() == without.candidates.size() + 1);
  const std::vector<Schedule> w = wide(with);
  REQUIRE(w.size() == 1);
  Schedule expected = def;
  expected.compares64 = true;
  CHECK(w[0] == expected);
  CHECK_NOTHROW(w[0].validate());
  // It is the first sm90 candidate besides the default, so a small budget still times it.
  auto firstOther = std::find_if(with.candidates.begin(), with.candidates.end(), [](const Candidate &c) {
    return c.schedule.mma == tilefuse::codegen::MmaFamily::Wgmma && !c.isDefault;
  });
  REQUIRE(firstOther != with.candidates.end());
  CHECK(firstOther->schedule == expected);
  // Not on a GPU without the sm90 backend: sm80 schedules have no choice of width.
  Schedule sm80Default = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_86");
  CHECK(wide(buildSearchSpace(shape, sm80Default, DeviceLimits::forArch("sm_86"), options)).empty());
}

TEST_CASE("clusters: the sm90 default and its Q-in-registers twin are also timed on clusters of 2", "[search]") {
  Shape shape{4, 16, 16, 4096, 4096, 128, 128};
  DeviceLimits h = DeviceLimits::forArch("sm_90a");
  Schedule def = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_90a");
  REQUIRE(def.cluster == 1);
  auto clustered = [](const SearchSpace &s) {
    std::vector<Schedule> out;
    for (const Candidate &c : s.candidates)
      if (c.schedule.cluster != 1)
        out.push_back(c.schedule);
    return out;
  };
  SearchOptions options{24, 12};
  const SearchSpace without = buildSearchSpace(shape, def, h, options);
  CHECK(clustered(without).empty());
  options.clusters = true;
  const SearchSpace with = buildSearchSpace(shape, def, h, options);
  CHECK(with.total == static_cast<int>(with.candidates.size() + with.pruned.size()));
  CHECK(with.candidates.size() == without.candidates.size() + 2);
  Schedule plain = def, inRegisters = def;
  plain.cluster = 2;
  inRegisters.cluster = 2, inRegisters.q = tilefuse::codegen::QPlacement::Registers;
  const std::vector<Schedule> c = clustered(with);
  REQUIRE(c.size() == 2);
  CHECK(std::count(c.begin(), c.end(), plain) == 1);
  CHECK(std::count(c.begin(), c.end(), inRegisters) == 1);
  for (const Schedule &s : c)
    CHECK_NOTHROW(s.validate());
  // Not on a GPU without the sm90 backend.
  Schedule sm80Default = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_86");
  CHECK(clustered(buildSearchSpace(shape, sm80Default, DeviceLimits::forArch("sm_86"), options)).empty());
}

TEST_CASE("every enumerated schedule is a candidate or pruned with a reason", "[search]") {
  Shape shape{1, 32, 8, 8192, 8192, 128, 128};
  DeviceLimits h = DeviceLimits::forArch("sm_90");
  Schedule def = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_90");
  SearchSpace s = buildSearchSpace(shape, def, h, {24, 12});
  CHECK(s.total == static_cast<int>(s.candidates.size() + s.pruned.size()));
  // The sm90 backend's space is ranked apart: its best 4 tile shapes by the model and the anchors (64 and
  // 128 rows by 64 and 128 columns) join the sm80 budget's 36, each with 2 or 3 consumer warpgroups under
  // both overlaps, and each tile shape on a persistent grid too.
  std::vector<Candidate> hopper;
  for (const Candidate &c : s.candidates)
    if (c.schedule.mma == tilefuse::codegen::MmaFamily::Wgmma)
      hopper.push_back(c);
  std::set<std::array<int, 3>> tiles;
  int multiWarpgroup = 0, persistent = 0;
  for (const Candidate &c : hopper) {
    tiles.insert({c.schedule.blockM, c.schedule.blockN, c.schedule.kvStages});
    persistent += c.schedule.persistent;
    if (c.schedule.blockM >= 128 && !c.schedule.persistent) {
      ++multiWarpgroup;
      Schedule twin = c.schedule;
      twin.overlap = c.schedule.overlap == tilefuse::codegen::WarpgroupOverlap::None
                         ? tilefuse::codegen::WarpgroupOverlap::Pingpong
                         : tilefuse::codegen::WarpgroupOverlap::None;
      INFO(c.schedule.toString());
      CHECK(std::count_if(hopper.begin(), hopper.end(), [&](const Candidate &o) { return o.schedule == twin; }) == 1);
    }
  }
  CHECK(tiles.size() >= 4 + 5); // 128 x 128 may be among the model's best
  for (std::array<int, 3> anchor :
       {std::array{64, 64, 2}, {64, 64, 3}, {128, 64, 2}, {128, 64, 3}, {64, 128, 2}, {128, 128, 2}})
    CHECK(tiles.count(anchor) == 1);
  CHECK(multiWarpgroup >= 4);
  CHECK(persistent == static_cast<int>(tiles.size()));
  CHECK(hopper.size() == tiles.size() + multiWarpgroup / 2 + persistent);
  for (const Candidate &c : hopper) {
    INFO(c.schedule.toString());
    CHECK_NOTHROW(c.schedule.validate());
    CHECK(c.smemBytes <= h.maxSmemPerBlock);
    CHECK(c.registerEstimate <= (c.schedule.blockM == 192 ? 176 : 264));
  }
  std::erase_if(s.candidates, [](const Candidate &c) { return c.schedule.mma == tilefuse::codegen::MmaFamily::Wgmma; });
  CHECK(s.candidates.size() == 36);
  std::set<std::string> rules = {"tile-size", "problem", "smem", "registers", "occupancy", "hint", "budget"};
  for (const PrunedCandidate &p : s.pruned) {
    INFO(p.schedule.toString());
    CHECK(rules.count(p.rule) == 1);
    CHECK_FALSE(p.reason.empty());
  }
  int defaults = 0;
  for (const Candidate &c : s.candidates) {
    defaults += c.isDefault;
    CHECK(c.smemBytes <= h.maxSmemPerBlock);
    CHECK(c.registerEstimate <= kRegisterEstimateLimit);
    CHECK(c.occupancy.warpsPerSm >= 4);
    CHECK(c.schedule.blockM > 16);
  }
  CHECK(defaults == 1);
  CHECK(countRule(s, "smem") > 0);
  CHECK(countRule(s, "registers") > 0);
  CHECK(countRule(s, "budget") > 0);
  // First the best of each tile shape (BLOCK_M, BLOCK_N, warps), then the rest; each part sorted by
  // the model, best first (the default may sit anywhere). Every tile shape of the other part has
  // its leader in the first.
  std::vector<std::array<int, 3>> leaders;
  size_t i = 0;
  auto shapeOf = [](const Schedule &sc) { return std::array<int, 3>{sc.blockM, sc.blockN, sc.warps}; };
  for (; i < s.candidates.size(); ++i) {
    const Candidate &c = s.candidates[i];
    if (c.isDefault)
      continue;
    if (std::find(leaders.begin(), leaders.end(), shapeOf(c.schedule)) != leaders.end())
      break; // a second schedule of a shape: the second part starts
    leaders.push_back(shapeOf(c.schedule));
  }
  CHECK(leaders.size() >= 4);
  CHECK(leaders.size() <= (24 + 12) / 2);
  auto sortedFrom = [&](size_t begin, size_t end) {
    const Candidate *prev = nullptr;
    for (size_t k = begin; k < end; ++k) {
      if (s.candidates[k].isDefault)
        continue;
      if (prev)
        CHECK(prev->score >= s.candidates[k].score);
      prev = &s.candidates[k];
    }
  };
  sortedFrom(0, i);
  sortedFrom(i, s.candidates.size());
}

TEST_CASE("smaller shared memory prunes more: sm_86 against sm_90", "[search]") {
  Shape shape{1, 32, 8, 4096, 4096, 128, 128};
  Schedule def86 = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_86");
  Schedule def90 = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_90");
  SearchSpace s86 = buildSearchSpace(shape, def86, DeviceLimits::forArch("sm_86"), {1000, 0});
  SearchSpace s90 = buildSearchSpace(shape, def90, DeviceLimits::forArch("sm_90"), {1000, 0});
  CHECK(countRule(s86, "smem") > countRule(s90, "smem"));
  for (const PrunedCandidate &p : s86.pruned)
    if (p.rule == "smem")
      CHECK_THAT(p.reason, Catch::Contains("sm_86 allows 99.0 KiB"));
}

TEST_CASE("short sequences prune tiles that would be mostly padding", "[search]") {
  Shape shortSeq{64, 16, 16, 100, 100, 64, 64};
  Schedule def = tilefuse::codegen::defaultSchedule(64, tilefuse::spec::DType::BF16, "sm_90");
  SearchSpace s = buildSearchSpace(shortSeq, def, DeviceLimits::forArch("sm_90"), {24});
  for (const Candidate &c : s.candidates) {
    CHECK(c.schedule.blockM < 2 * 100);
    CHECK(c.schedule.blockN < 2 * 100);
  }
  CHECK(countRule(s, "problem") > 0);
  // ViT-L/16 (S = 197): BLOCK_M = 256 is one tile with as much padding as two of 128: kept.
  Shape vit{64, 16, 16, 197, 197, 64, 64};
  SearchSpace v = buildSearchSpace(vit, def, DeviceLimits::forArch("sm_90"), {1000, 0});
  bool any256 = false;
  for (const Candidate &c : v.candidates)
    any256 = any256 || c.schedule.blockM == 256;
  CHECK(any256);
}

TEST_CASE("D = 256 still has candidates within the register limit", "[search]") {
  Shape gemma{1, 16, 8, 8192, 8192, 256, 256};
  Schedule def = tilefuse::codegen::defaultSchedule(256, tilefuse::spec::DType::BF16, "sm_90");
  SearchSpace s = buildSearchSpace(gemma, def, DeviceLimits::forArch("sm_90"), {24});
  REQUIRE_FALSE(s.candidates.empty());
  for (const Candidate &c : s.candidates)
    CHECK((c.registerEstimate <= kRegisterEstimateLimit || c.isDefault));
}

TEST_CASE("min_blocks_per_sm: a register cap - searched where it lifts occupancy", "[search]") {
  DeviceLimits h = DeviceLimits::forArch("sm_90");
  Schedule s = sched(128, 64, 8, 2);
  CHECK(estimateRegisters(s, 128, 128) == 212); // 1 block of 8 warps per SM by registers
  Schedule hinted = s;
  hinted.minBlocksPerSm = 2; // 65536 / (2 x 256) = 128 registers: the kernel would spill
  Shape shape{1, 32, 8, 8192, 8192, 128, 128};
  Schedule def = tilefuse::codegen::defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_90");
  SearchSpace space = buildSearchSpace(shape, def, h, {1000, 0});
  bool sawCap = false, sawNoEffect = false, sawHinted = false;
  for (const PrunedCandidate &p : space.pruned) {
    if (p.schedule == hinted) {
      CHECK(p.rule == "registers");
      CHECK_THAT(p.reason, Catch::Contains("caps them at 128") && Catch::Contains("min_blocks_per_sm = 2"));
      sawCap = true;
    }
    sawNoEffect = sawNoEffect || p.rule == "hint";
  }
  for (const Candidate &c : space.candidates)
    if (c.schedule.minBlocksPerSm == 2) {
      sawHinted = true;
      CHECK(c.occupancy.blocksPerSm >= 2);
    }
  CHECK(sawCap);
  CHECK(sawNoEffect);
  CHECK(sawHinted);
}

TEST_CASE("after compiling: spills and real occupancy prune", "[search]") {
  DeviceLimits h = DeviceLimits::forArch("sm_90");
  std::string rule;
  CHECK(pruneAfterCompile(sched(128, 64, 8, 2), 200, 0, 96 * 1024, h, &rule).empty());
  CHECK_THAT(pruneAfterCompile(sched(128, 64, 8, 2), 255, 48, 96 * 1024, h, &rule), Catch::Contains("48 bytes"));
  CHECK(rule == "spills");
  CHECK_FALSE(pruneAfterCompile(sched(64, 64, 2, 2), 255, 0, 240 * 1024, h, &rule).empty());
  CHECK(rule == "smem");
  CHECK_FALSE(pruneAfterCompile(sched(32, 64, 1, 2), 255, 0, 200 * 1024, h, &rule).empty());
  CHECK(rule == "occupancy");
}
