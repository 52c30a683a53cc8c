//===- SearchSpace.cpp - candidate schedules and the pruning rules ---------===//
#include "tilefuse/tuner/SearchSpace.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <sstream>

namespace tilefuse::tuner {

using codegen::QPlacement;
using codegen::Schedule;

DeviceLimits DeviceLimits::forArch(const std::string &arch) {
  DeviceLimits l;
  l.arch = arch;
  l.maxSmemPerBlock = codegen::maxDynamicSmemBytes(arch);
  switch (codegen::computeCapability(arch)) {
  case 80:
  case 87:
    l.smemPerSm = 164 * 1024, l.smCount = 108;
    break;
  case 90:
  case 100:
    l.smemPerSm = 228 * 1024, l.smCount = 132;
    break;
  default:
    l.smemPerSm = 100 * 1024, l.smCount = 84, l.maxThreadsPerSm = 1536;
    break;
  }
  return l;
}

int estimateRegisters(const Schedule &s, int headDim, int valueDim) {
  const int r = s.rowsPerWarp();
  int regs = r * valueDim / 32 + r * s.blockN / 32 + r * s.blockN / 64 + r / 4 + 32 + 2 * r;
  if (s.q == QPlacement::Registers)
    regs += r * headDim / 64;
  return regs;
}

std::size_t estimateSmemBytes(const Schedule &s, int headDim, int valueDim) {
  return 2 * (static_cast<std::size_t>(s.blockM) * headDim +
              static_cast<std::size_t>(s.kvStages) * s.blockN * (headDim + valueDim));
}

Occupancy occupancy(const Schedule &s, int registers, std::size_t smemBytes, const DeviceLimits &l) {
  const int threads = s.threadsPerBlock();
  // Registers are allocated per warp in units of 256 (8 per thread).
  const int perWarp = (std::max(registers, 1) * 32 + 255) / 256 * 256;
  const int byRegs = l.registersPerSm / (perWarp * s.warps);
  const int bySmem = static_cast<int>(l.smemPerSm / (smemBytes + 1024));
  const int byThreads = l.maxThreadsPerSm / threads;
  Occupancy o;
  o.blocksPerSm = l.maxBlocksPerSm, o.limiter = "blocks";
  auto limit = [&](int n, const char *what) {
    if (n < o.blocksPerSm)
      o.blocksPerSm = n, o.limiter = what;
  };
  limit(byRegs, "registers");
  limit(bySmem, "smem");
  limit(byThreads, "threads");
  o.warpsPerSm = o.blocksPerSm * s.warps;
  return o;
}

double score(const Schedule &s, const Occupancy &occ, const spec::Shape &shape, const DeviceLimits &l) {
  if (occ.blocksPerSm <= 0)
    return 0;
  const double tiles = double(shape.B) * shape.Hq * ((shape.Sq + s.blockM - 1) / s.blockM);
  const double slots = double(l.smCount) * occ.blocksPerSm;
  const double waves = std::ceil(tiles / slots);
  const double waveEff = tiles / (waves * slots);
  const double hide = std::min(1.0, occ.warpsPerSm / 8.0);
  const double r = s.rowsPerWarp();
  const double reuse = r / (r + 16);
  const double loop = s.blockN / (s.blockN + 32.0);
  const double pipe = s.kvStages >= 2 ? 1.0 : 0.85;
  const double q = s.q == QPlacement::Registers ? 1.0 : 0.95;
  return waveEff * hide * reuse * loop * pipe * q;
}

namespace {

/// Registers per thread ptxas may use: 255, or less when __launch_bounds__ asks for
/// min_blocks_per_sm blocks (whole warps' allocations of 256 registers must fit).
int registerCap(const Schedule &s, const DeviceLimits &l) {
  if (s.minBlocksPerSm <= 1)
    return 255;
  const int perWarp = l.registersPerSm / (s.minBlocksPerSm * s.warps) / 256 * 256;
  return std::min(255, perWarp / 32 / 8 * 8);
}

std::string kib(std::size_t bytes) {
  std::ostringstream os;
  os.precision(1);
  os << std::fixed << bytes / 1024.0 << " KiB";
  return os.str();
}

/// The smem / registers / occupancy rules with given resources; "" when the schedule passes.
std::string resourceRules(const Schedule &s, int registers, bool registersAreEstimate,
                          std::size_t smem, const DeviceLimits &l, std::string *rule) {
  if (smem > l.maxSmemPerBlock) {
    *rule = "smem";
    return "needs " + kib(smem) + " of shared memory per block; " + l.arch + " allows " +
           kib(l.maxSmemPerBlock);
  }
  const int cap = registerCap(s, l);
  // ptxas can squeeze a kernel somewhat below what it would use to meet a __launch_bounds__ cap;
  // beyond a quarter more it spills (the post-compile rule checks the real outcome).
  // Without a cap, the estimate's own error is the margin: up to kRegisterEstimateLimit the
  // schedule is compiled and ptxas's spill count decides.
  const int squeezable = s.minBlocksPerSm > 1 ? std::min(255, cap * 5 / 4) : kRegisterEstimateLimit;
  if (registersAreEstimate && registers > squeezable) {
    *rule = "registers";
    if (s.minBlocksPerSm > 1)
      return "needs about " + std::to_string(registers) + " registers per thread; min_blocks_per_sm = " +
             std::to_string(s.minBlocksPerSm) + " caps them at " + std::to_string(cap) +
             ", more than a quarter below: it would spill";
    return "needs about " + std::to_string(registers) + " registers per thread (> " +
           std::to_string(kRegisterEstimateLimit) + " = 1.3 x 255): it would spill";
  }
  if (registersAreEstimate)
    registers = std::min(registers, cap);
  Occupancy o = occupancy(s, registers, smem, l);
  if (o.blocksPerSm <= 0) {
    *rule = "occupancy";
    return "no block fits on an SM (limited by " + o.limiter + ")";
  }
  if (o.warpsPerSm < 4) {
    *rule = "occupancy";
    return std::to_string(o.warpsPerSm) + " warp(s) per SM (" + std::to_string(o.blocksPerSm) +
           " block(s), limited by " + o.limiter + "); at least 4 are needed to hide latency";
  }
  return "";
}

/// Copies of the default candidate and of the default's twin with Q in registers (when `all` holds them),
/// each changed by `change`, inserted at the front of `all` (timed first after the default).
template <typename Change>
void twinsOfDefault(std::vector<Candidate> &all, const Schedule &defaultSchedule, SearchSpace &space, Change change) {
  Schedule qTwin = defaultSchedule;
  qTwin.q = QPlacement::Registers;
  std::vector<Candidate> twins;
  for (const Candidate &c : all)
    if (c.isDefault || c.schedule == qTwin) {
      Candidate twin = c;
      change(twin.schedule);
      twin.isDefault = false;
      if (std::none_of(twins.begin(), twins.end(), [&](const Candidate &t) { return t.schedule == twin.schedule; }))
        twins.push_back(twin);
    }
  for (Candidate &c : twins) {
    ++space.total;
    all.insert(all.begin(), c);
  }
}

/// The sm90 backend's space (warp-specialized wgmma + TMA; on sm_90 GPUs, codegen::sm90DefaultFor(D, Dv)):
/// BLOCK_M in {64, 128, 192} (1 to 3 consumer warpgroups), BLOCK_N a multiple of 16 in [64, 192],
/// 2 or 3 stages. Pruned by the problem and smem rules and by a register rule of its own (each consumer
/// thread holds Dv/2 + 3 BLOCK_N / 4 + about 30 registers: O, S, P, m, l, addresses; setmaxnreg gives it
/// 240, or 160 with 3 consumer warpgroups; ptxas's report after the compile has the last word. With 68,
/// 128 x 192 at D = 128, which compiles with 0 spills and is the fastest at S = 16k, was never timed);
/// the best kSm90ByModel tile shapes by the analytic model, the default's and a few anchors (64 and
/// 128 rows by 64 and 128 columns) are kept. Each one with 2 or 3 consumer warpgroups is also timed
/// with the other overlap (none / pingpong, FA3 Sec. 3.1), and each one on a persistent grid (pingpong
/// with 2 or 3 consumer warpgroups): the model cannot
/// rank those, the clock does. The default schedule itself (overlap and grid included) is always a
/// candidate, so a tuned kernel is never slower than the untuned one by more than the timing noise;
/// so is the default with Q in registers, both with the lazy running max, with tileOrders both in other
/// orders of the Q tiles (snake; paired and lpt when the default grid is not persistent), with dynamicTiles both
/// on a persistent grid with the dynamic tile scheduler, and with
/// compareWidths the default with the other width of position compares.
std::vector<Candidate> sm90Candidates(const spec::Shape &shape, const Schedule &defaultSchedule,
                                      const DeviceLimits &limits, const SearchOptions &options, SearchSpace &space) {
  constexpr std::size_t kSm90ByModel = 4;
  std::vector<Candidate> out;
  const int d = static_cast<int>(shape.D), dv = static_cast<int>(shape.Dv);
  if (codegen::computeCapability(limits.arch) != 90 || !codegen::sm90DefaultFor(d, dv))
    return out;
  for (int bm : {64, 128, 192})
    for (int bn = 64; bn <= 192; bn += 16)
      for (int stages : {2, 3}) {
        Schedule s;
        s.mma = codegen::MmaFamily::Wgmma, s.q = QPlacement::Smem;
        s.blockM = bm, s.warps = bm / 16, s.blockN = bn, s.kvStages = stages;
        s.validate();
        ++space.total;
        auto prune = [&](const std::string &rule, const std::string &reason) {
          space.pruned.push_back({s, rule, reason});
        };
        if (bm > 64 && bm >= 2 * shape.Sq) {
          prune("problem", "BLOCK_M = " + std::to_string(bm) + " >= 2 x Sq (" + std::to_string(shape.Sq) +
                               "): most of every Q tile is padding");
          continue;
        }
        if (bn > 64 && bn >= 2 * shape.Sk) {
          prune("problem", "BLOCK_N = " + std::to_string(bn) + " >= 2 x Sk (" + std::to_string(shape.Sk) +
                               "): most of every K/V tile is padding");
          continue;
        }
        Candidate c;
        c.schedule = s;
        c.isDefault = s == defaultSchedule;
        c.smemBytes = codegen::smemBytes(s, d);
        c.registerEstimate = dv / 2 + 3 * bn / 4 + 30;
        const int budget = bm == 192 ? 160 : 240;
        if (c.smemBytes > limits.maxSmemPerBlock) {
          prune("smem", "needs " + kib(c.smemBytes) + " of shared memory per block; " + limits.arch + " allows " +
                            kib(limits.maxSmemPerBlock));
          continue;
        }
        if (c.registerEstimate > budget * 11 / 10) {
          prune("registers", "a consumer thread needs about " + std::to_string(c.registerEstimate) +
                                 " registers; setmaxnreg gives it " + std::to_string(budget) + ": it would spill");
          continue;
        }
        c.occupancy.blocksPerSm = 1, c.occupancy.warpsPerSm = s.warps + 4, c.occupancy.limiter = "smem";
        c.score = score(s, c.occupancy, shape, limits) * (stages == 2 ? 1.0 : 0.99);
        out.push_back(c);
      }
  std::stable_sort(out.begin(), out.end(), [](const Candidate &a, const Candidate &b) { return a.score > b.score; });
  auto sameTiles = [](const Schedule &a, const Schedule &b) {
    return a.blockM == b.blockM && a.blockN == b.blockN && a.kvStages == b.kvStages;
  };
  // Kept: the model's best kSm90ByModel tile shapes, the default schedule's (the baseline of every table),
  // and the anchors. The model favours the widest BLOCK_N, which is right for long dense rows but wrong
  // where a mask leaves a Q tile one or two K/V tiles (64-token documents: the kernel streams Q, K, V and
  // O, and smaller tiles keep more loads in flight) or where a mask's registers make wide tiles spill.
  // Which of those holds, only the clock can tell.
  struct Anchor {
    int blockM, blockN, stages;
  };
  static constexpr Anchor kAnchors[] = {{64, 64, 2}, {64, 64, 3}, {128, 64, 2}, {128, 64, 3}, {64, 128, 2}, {128, 128, 2}};
  std::vector<Candidate> kept;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Schedule &t = out[i].schedule;
    if (i < kSm90ByModel || sameTiles(t, defaultSchedule) ||
        std::any_of(std::begin(kAnchors), std::end(kAnchors), [&](const Anchor &a) {
          return a.blockM == t.blockM && a.blockN == t.blockN && a.stages == t.kvStages;
        }))
      kept.push_back(out[i]);
    else
      space.pruned.push_back({out[i].schedule, "budget", "sm90: only the best " + std::to_string(kSm90ByModel) +
                                                            " wgmma tile shapes by the model, the default's and the "
                                                            "anchors (64 and 128 x 64 and 128) are compiled"});
  }
  out = std::move(kept);
  // The axes the model cannot rank: the overlap of 2 or 3 consumer warpgroups, then the persistent grid.
  std::vector<Candidate> all;
  for (const Candidate &base : out) {
    std::vector<Candidate> twins = {base};
    const bool takeTurns = base.schedule.blockM >= 128;
    if (takeTurns) {
      Candidate other = base;
      other.schedule.overlap = base.schedule.overlap == codegen::WarpgroupOverlap::None ? codegen::WarpgroupOverlap::Pingpong
                                                                                        : codegen::WarpgroupOverlap::None;
      twins.push_back(other);
    }
    Candidate p = base;
    p.schedule.overlap = takeTurns ? codegen::WarpgroupOverlap::Pingpong : codegen::WarpgroupOverlap::None;
    p.schedule.persistent = true;
    twins.push_back(p);
    for (Candidate &c : twins) {
      c.isDefault = c.schedule == defaultSchedule;
      if (&c != &twins.front())
        ++space.total;
      all.push_back(c);
    }
  }
  // The default schedule exactly (its tile shape is kept above, but its overlap or grid may not be).
  if (defaultSchedule.mma == codegen::MmaFamily::Wgmma &&
      std::none_of(all.begin(), all.end(), [](const Candidate &c) { return c.isDefault; })) {
    auto tile = std::find_if(all.begin(), all.end(), [&](const Candidate &c) { return sameTiles(c.schedule, defaultSchedule); });
    if (tile != all.end()) {
      Candidate c = *tile;
      c.schedule = defaultSchedule, c.isDefault = true;
      ++space.total;
      all.insert(all.begin(), c);
    }
  }
  // And the default with Q in registers (S = Q K^T as wgmma RS): on the H200 it saves 1-5% in steady state at
  // BLOCK 128x128 and loses 25-40% at BLOCK_N 192 or with three consumer warpgroups (docs/results/v0.16,
  // call 3), so the tuner times it.
  if (defaultSchedule.mma == codegen::MmaFamily::Wgmma && defaultSchedule.q == QPlacement::Smem) {
    auto def = std::find_if(all.begin(), all.end(), [](const Candidate &c) { return c.isDefault; });
    if (def != all.end()) {
      Candidate c = *def;
      c.schedule.q = QPlacement::Registers, c.isDefault = false;
      ++space.total;
      all.insert(all.begin(), c);
    }
  }
  // And the default and its Q-in-registers twin on clusters of two blocks that share each K/V tile (TMA
  // multicast), which halves the L2-to-SM traffic of K and V.
  if (options.clusters && defaultSchedule.mma == codegen::MmaFamily::Wgmma && defaultSchedule.cluster == 1) {
    twinsOfDefault(all, defaultSchedule, space, [](Schedule &s) { s.cluster = 2; });
  }
  // And, for batched specs with a mask (SearchOptions::tileOrders), the default and its Q-in-registers twin in
  // other orders of the Q tiles (Schedule.h): on a persistent grid that deals them back and forth
  // (QTileOrder::Snake); and where the default grid is not persistent (a mask whose Q tiles visit unequal K/V
  // tile counts: causal, bottom-right, ALiBi + causal, wide windows), on a persistent grid that deals them in
  // pairs of equal causal work (QTileOrder::Paired; dealt one by one, a quarter of the blocks got 20% more work
  // than another at causal S 4096), and on their own grid with the heaviest Q tiles of a section of heads first
  // (QTileOrder::Lpt).
  // And (SearchOptions::dynamicTiles) on a persistent grid whose blocks claim their tiles from a counter; added
  // first, so timed after the static orders above.
  if (options.dynamicTiles && defaultSchedule.mma == codegen::MmaFamily::Wgmma && defaultSchedule.cluster == 1)
    twinsOfDefault(all, defaultSchedule, space, [](Schedule &s) {
      s.persistent = true;
      s.qTileOrder = codegen::QTileOrder::Dynamic;
    });
  if (options.tileOrders && defaultSchedule.mma == codegen::MmaFamily::Wgmma && defaultSchedule.cluster == 1) {
    if (!defaultSchedule.persistent)
      twinsOfDefault(all, defaultSchedule, space, [](Schedule &s) { s.qTileOrder = codegen::QTileOrder::Lpt; });
    twinsOfDefault(all, defaultSchedule, space, [](Schedule &s) {
      s.persistent = true;
      s.qTileOrder = codegen::QTileOrder::Snake;
    });
    if (!defaultSchedule.persistent)
      twinsOfDefault(all, defaultSchedule, space, [](Schedule &s) {
        s.persistent = true;
        s.qTileOrder = codegen::QTileOrder::Paired;
      });
  }
  // And the default and its twin with Q in registers with the lazy running max (Schedule::lazyRescale): on an
  // H100 1.2-1.7% faster at 128x128 with Q in registers, 1-2% slower where the row max moves on most K/V tiles
  // (ALiBi) or a row has few of them (sliding window 1024) (docs/results/v0.20, call 2), so the tuner times it.
  if (defaultSchedule.mma == codegen::MmaFamily::Wgmma && !defaultSchedule.lazyRescale) {
    twinsOfDefault(all, defaultSchedule, space, [](Schedule &s) { s.lazyRescale = true; });
  }
  // And the default with the other width of position compares (SearchOptions::compareWidths), first: the
  // tuner times the default, then this twin, before the budget of the backend runs out.
  if (options.compareWidths && defaultSchedule.mma == codegen::MmaFamily::Wgmma) {
    auto def = std::find_if(all.begin(), all.end(), [](const Candidate &c) { return c.isDefault; });
    if (def != all.end()) {
      Candidate c = *def;
      c.schedule.compares64 = !c.schedule.compares64, c.isDefault = false;
      ++space.total;
      all.insert(all.begin(), c);
    }
  }
  return all;
}

} // namespace

std::string pruneAfterCompile(const Schedule &s, int registers, int spillBytes, std::size_t smemBytes,
                              const DeviceLimits &limits, std::string *rule) {
  if (spillBytes > 0) {
    *rule = "spills";
    return "ptxas reports " + std::to_string(spillBytes) + " bytes of register spills per thread (" +
           std::to_string(registers) + " registers)";
  }
  return resourceRules(s, registers, false, smemBytes, limits, rule);
}

SearchSpace buildSearchSpace(const spec::Shape &shape, const Schedule &defaultSchedule,
                             const DeviceLimits &limits, const SearchOptions &options) {
  const int d = static_cast<int>(shape.D), dv = static_cast<int>(shape.Dv);
  SearchSpace space;
  static constexpr int kTiles[] = {16, 32, 64, 128, 256};
  // Smallest tile sizes the problem rule keeps even when they exceed 2 * S.
  const int smallestM = 32, smallestN = 32;
  std::vector<Candidate> valid;
  for (int bm : kTiles)
    for (int bn : kTiles)
      for (int warps : {1, 2, 4, 8, 16})
        for (int stages : {1, 2, 3, 4})
          for (QPlacement q : {QPlacement::Registers, QPlacement::Smem})
            for (int minBlocks : {1, 2}) {
            Schedule s;
            s.blockM = bm, s.blockN = bn, s.warps = warps, s.kvStages = stages, s.q = q;
            s.minBlocksPerSm = minBlocks;
            try {
              s.validate();
            } catch (const codegen::ScheduleError &) {
              continue; // not a schedule at all (rows per warp not a multiple of 16)
            }
            ++space.total;
            const bool isDefault = s == defaultSchedule;
            auto prune = [&](const std::string &rule, const std::string &reason) {
              space.pruned.push_back({s, rule, reason});
            };
            if (!isDefault && (bm == 16 || bn == 16)) {
              prune("tile-size", std::string(bm == 16 ? "BLOCK_M" : "BLOCK_N") +
                                     " = 16: one mma.sync tile per step cannot amortise the "
                                     "per-iteration softmax work");
              continue;
            }
            if (!isDefault && bm > smallestM && bm >= 2 * shape.Sq) {
              prune("problem", "BLOCK_M = " + std::to_string(bm) + " >= 2 x Sq (" +
                                   std::to_string(shape.Sq) + "): most of every Q tile is padding");
              continue;
            }
            if (!isDefault && bn > smallestN && bn >= 2 * shape.Sk) {
              prune("problem", "BLOCK_N = " + std::to_string(bn) + " >= 2 x Sk (" +
                                   std::to_string(shape.Sk) + "): most of every K/V tile is padding");
              continue;
            }
            Candidate c;
            c.schedule = s;
            c.isDefault = isDefault;
            c.smemBytes = estimateSmemBytes(s, d, dv);
            c.registerEstimate = estimateRegisters(s, d, dv);
            std::string rule;
            std::string why = resourceRules(s, c.registerEstimate, true, c.smemBytes, limits, &rule);
            // The default schedule is kept unless it cannot fit (it is the baseline of every table).
            if (!why.empty() && !(isDefault && rule != "smem")) {
              prune(rule, why);
              continue;
            }
            c.occupancy = occupancy(s, std::min(c.registerEstimate, registerCap(s, limits)), c.smemBytes, limits);
            if (!isDefault && minBlocks > 1) {
              // The hint only matters when it lifts occupancy that registers limit.
              Occupancy plain = occupancy(s, c.registerEstimate, c.smemBytes, limits);
              if (plain.blocksPerSm >= minBlocks || c.occupancy.blocksPerSm < minBlocks) {
                prune("hint", "min_blocks_per_sm = " + std::to_string(minBlocks) + " changes nothing: " +
                                  (plain.blocksPerSm >= minBlocks
                                       ? std::to_string(plain.blocksPerSm) + " blocks per SM fit without it"
                                       : "only " + std::to_string(c.occupancy.blocksPerSm) +
                                             " block(s) per SM fit (limited by " + c.occupancy.limiter + ")"));
                continue;
              }
            }
            c.score = score(s, c.occupancy, shape, limits);
            valid.push_back(c);
          }
  std::stable_sort(valid.begin(), valid.end(), [](const Candidate &a, const Candidate &b) {
    return a.score > b.score;
  });
  std::vector<Candidate> hopper = sm90Candidates(shape, defaultSchedule, limits, options, space);
  const int budget = std::max(1, options.maxCandidates) + std::max(0, options.compileExtra);
  // Keep the best `budget` (the default schedule counts against it but is never cut). The model
  // only ranks roughly (e.g. it favours 32 rows per warp, which wins at D = 128 and loses at
  // D = 64 on an H100), so the best candidate of every tile shape (BLOCK_M, BLOCK_N, warps) comes
  // first, up to half of the budget, and the rest of the room goes by score: every tile shape
  // near the top gets timed, not only variants of the model's favourite.
  auto def = std::find_if(valid.begin(), valid.end(), [](const Candidate &c) { return c.isDefault; });
  const bool haveDefault = def != valid.end();
  int room = budget - (haveDefault ? 1 : 0);
  std::vector<bool> taken(valid.size(), false);
  std::vector<std::array<int, 3>> shapes;
  int leaders = room / 2;
  for (std::size_t i = 0; i < valid.size() && leaders > 0; ++i) {
    const Schedule &sc = valid[i].schedule;
    const std::array<int, 3> key{sc.blockM, sc.blockN, sc.warps};
    if (valid[i].isDefault || std::find(shapes.begin(), shapes.end(), key) != shapes.end())
      continue;
    shapes.push_back(key);
    taken[i] = true, --leaders, --room;
  }
  for (std::size_t i = 0; i < valid.size(); ++i)
    if (taken[i] || valid[i].isDefault)
      space.candidates.push_back(valid[i]);
  // The sm90 backend's best, right after the sm80 leaders (timed early; they do not use the sm80 budget).
  space.candidates.insert(space.candidates.end(), hopper.begin(), hopper.end());
  int rank = 0;
  for (std::size_t i = 0; i < valid.size(); ++i) {
    Candidate &c = valid[i];
    ++rank;
    if (taken[i] || c.isDefault)
      continue;
    if (room > 0) {
      space.candidates.push_back(c);
      --room;
      continue;
    }
    std::ostringstream os;
    os.precision(3);
    os << "model score " << c.score << " ranks " << rank << " of " << valid.size()
       << "; only the best " << budget << " are compiled";
    space.pruned.push_back({c.schedule, "budget", os.str()});
  }
  return space;
}

} // namespace tilefuse::tuner
