//===- Schedule.cpp - schedule validation, printing, JSON, defaults --------===//
#include "tilefuse/codegen/Schedule.h"

#include "tilefuse/spec/Eval.h"
#include "tilefuse/spec/Json.h"
#include "tilefuse/spec/SpecError.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <initializer_list>
#include <sstream>

namespace tilefuse::codegen {
namespace {

std::string listOf(std::initializer_list<int> values) {
  std::string s;
  for (int v : values)
    s += (s.empty() ? "" : ", ") + std::to_string(v);
  return s;
}

void requireOneOf(const char *field, int value, std::initializer_list<int> allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end())
    throw ScheduleError(std::string("schedule: ") + field + " = " + std::to_string(value) +
                        " is not allowed; allowed values: " + listOf(allowed));
}

/// Whether a mask_mod that reads no captured tensor leaves every Q tile few K/V tiles, and about as many
/// as the others: over 8 Q tiles spread over Sq, the mean count is at most 16 and the largest at most 1.5
/// times the mean (a sliding window 1024 at S 4096: mean 7.9, largest 1.14 x; a block diagonal: 1, 1 x;
/// causal: largest about 2 x the mean). The persistent grid pays there, where each Q tile's prologue and
/// epilogue weigh (v0.9 call 4, H200: sliding window 1024 0.303 -> 0.285 ms, block diagonal 64
/// 0.123 -> 0.099); with long K/V loops it lost (window 4096 at S 16384, mean 28.9: 0.804 -> 0.893 ms;
/// Gemma-2 local, D256: 0.754 -> 0.949). A 128 x 128 K/V tile counts
/// when the mask is true at its corners or its centre, at b = h = 0: an estimate that may miss a thin
/// stripe, good enough to pick a grid (it never decides which tiles run). At most 8 x 2048 tiles x 5
/// points are evaluated (`tilefuse emit` of sliding_window at S 262144, the largest Sk sampled, takes
/// 39 ms in all on this project's CPU machine); false above Sk = 2048 tiles, when Sq or Sk is not positive, or when
/// the mask cannot be evaluated (e.g. an integer division by zero at a sampled point).
bool kvWorkIsBalanced(const spec::Expr &mask, const spec::Shape &shape) {
  constexpr int64_t kTile = 128, kMaxQTiles = 8, kMaxKvTiles = 2048;
  if (shape.Sq <= 0 || shape.Sk <= 0)
    return false;
  const int64_t qTiles = (shape.Sq + kTile - 1) / kTile, kvTiles = (shape.Sk + kTile - 1) / kTile;
  if (kvTiles > kMaxKvTiles)
    return false;
  const int64_t sampled = std::min(qTiles, kMaxQTiles);
  spec::EvalEnv env;
  env.shape = shape;
  const auto point = [&](int64_t q, int64_t kv) {
    env.q_idx = q, env.kv_idx = kv;
    return spec::evaluate(mask, env).asBool();
  };
  int64_t total = 0, most = 0;
  try {
    for (int64_t k = 0; k < sampled; ++k) {
      const int64_t qt = sampled == 1 ? 0 : k * (qTiles - 1) / (sampled - 1);
      const int64_t q0 = qt * kTile, q1 = std::min(q0 + kTile, shape.Sq) - 1;
      int64_t count = 0;
      for (int64_t kt = 0; kt < kvTiles; ++kt) {
        const int64_t k0 = kt * kTile, k1 = std::min(k0 + kTile, shape.Sk) - 1;
        count += point(q0, k0) || point(q0, k1) || point(q1, k0) || point(q1, k1) ||
                 point((q0 + q1) / 2, (k0 + k1) / 2);
      }
      total += count;
      most = std::max(most, count);
    }
  } catch (const spec::SpecError &) {
    return false;
  }
  return total > 0 && total <= 16 * sampled && 2 * most * sampled <= 3 * total;
}

} // namespace

std::string_view spelling(MmaFamily f) {
  return f == MmaFamily::MmaSyncM16N8K16 ? "mma_sync_m16n8k16" : "wgmma";
}

std::string_view spelling(QPlacement q) { return q == QPlacement::Registers ? "registers" : "smem"; }
std::string_view spelling(QTileOrder o) {
  switch (o) {
  case QTileOrder::Descending: return "descending";
  case QTileOrder::Ascending: return "ascending";
  case QTileOrder::Paired: return "paired";
  case QTileOrder::Lpt: return "lpt";
  case QTileOrder::Snake: return "snake";
  case QTileOrder::Dynamic: return "dynamic";
  }
  return "?";
}
std::string_view spelling(WarpgroupOverlap o) {
  switch (o) {
  case WarpgroupOverlap::Pingpong:
    return "pingpong";
  case WarpgroupOverlap::Intra:
    return "intra";
  case WarpgroupOverlap::PingpongIntra:
    return "pingpong_intra";
  case WarpgroupOverlap::None:
    break;
  }
  return "none";
}

void Schedule::validate() const {
  if (exp2FmaQuarters < 0 || exp2FmaQuarters > 2)
    throw ScheduleError("schedule: exp2_fma = " + std::to_string(exp2FmaQuarters) +
                        " is not allowed; allowed values: 0, 1, 2 (of every four 8-column groups of the scores, "
                        "how many take the exponential on the FMA pipe)");
  if (mma == MmaFamily::Wgmma) {
    // sm90 backend: one producer warpgroup plus BLOCK_M / 64 consumer warpgroups of 4 warps; each
    // consumer warp owns 16 query rows (the wgmma m64 fragment, split over a warpgroup's 4 warps).
    requireOneOf("block_m", blockM, {64, 128, 192});
    if (blockN % 16 != 0 || blockN < 32 || blockN > 256)
      throw ScheduleError("schedule: block_n = " + std::to_string(blockN) +
                          " is not allowed with mma = wgmma; allowed values: multiples of 16 from 32 to 256");
    if (warps != blockM / 16)
      throw ScheduleError("schedule: warps = " + std::to_string(warps) + " with mma = wgmma and block_m = " +
                          std::to_string(blockM) + " must be " + std::to_string(blockM / 16) +
                          " (the consumer warps: 16 query rows each; the producer warpgroup comes on top)");
    requireOneOf("kv_stages", kvStages, {2, 3, 4});
    requireOneOf("min_blocks_per_sm", minBlocksPerSm, {1});
    requireOneOf("cluster", cluster, {1, 2});
    if (dealsPersistentTiles(qTileOrder) && (!persistent || cluster != 1))
      throw ScheduleError("schedule: q_tile_order = \"" + std::string(spelling(qTileOrder)) + "\" with " +
                          (persistent ? "cluster = " + std::to_string(cluster) : std::string("persistent = false")) +
                          " is not allowed: it deals the tiles to the blocks of a persistent grid of single blocks; "
                          "allowed: persistent = true and cluster = 1, or q_tile_order \"descending\" or "
                          "\"ascending\"");
    if (qTileOrder == QTileOrder::Lpt && (persistent || cluster != 1))
      throw ScheduleError(std::string("schedule: q_tile_order = \"lpt\" with ") +
                          (persistent ? std::string("persistent = true") : "cluster = " + std::to_string(cluster)) +
                          " is not allowed: the longest Q tiles first is an order of the blocks for the hardware's "
                          "dispatch, one block per Q tile; allowed: persistent = false and cluster = 1, or "
                          "q_tile_order \"descending\", \"ascending\", or on a persistent grid \"paired\", "
                          "\"snake\" or \"dynamic\"");
    if (takesTurns(overlap) && blockM < 128)
      throw ScheduleError("schedule: overlap = \"" + std::string(spelling(overlap)) + "\" with block_m = " +
                          std::to_string(blockM) +
                          " is not allowed: the consumer warpgroups take turns, so it needs 2 or 3 of them; "
                          "allowed: block_m 128 or 192, or overlap = \"none\" or \"intra\"");
    return;
  }
  if (persistent)
    throw ScheduleError("schedule: persistent = true is not allowed with mma = mma_sync_m16n8k16; allowed "
                        "there: false (the persistent grid is a schedule of the sm90 backend, mma = wgmma)");
  if (dealsPersistentTiles(qTileOrder))
    throw ScheduleError("schedule: q_tile_order = \"" + std::string(spelling(qTileOrder)) +
                        "\" is not allowed with mma = mma_sync_m16n8k16; "
                        "allowed there: \"descending\", \"ascending\", \"lpt\" (tiles are dealt by the sm90 backend's "
                        "persistent grid, mma = wgmma)");
  if (exp2FmaQuarters != 0)
    throw ScheduleError("schedule: exp2_fma = " + std::to_string(exp2FmaQuarters) +
                        " is not allowed with mma = mma_sync_m16n8k16; allowed there: 0 (the software exponential "
                        "is a schedule of the sm90 backend, mma = wgmma)");
  if (compares64)
    throw ScheduleError("schedule: compares64 = true is not allowed with mma = mma_sync_m16n8k16; allowed "
                        "there: false (the sm80 backend compares positions in 64 bits always; the choice is a "
                        "schedule of the sm90 backend, mma = wgmma)");
  if (lazyRescale)
    throw ScheduleError("schedule: lazy_rescale = true is not allowed with mma = mma_sync_m16n8k16; allowed "
                        "there: false (the lazy running max is a schedule of the sm90 backend, mma = wgmma)");
  if (cluster != 1)
    throw ScheduleError("schedule: cluster = " + std::to_string(cluster) +
                        " is not allowed with mma = mma_sync_m16n8k16; allowed there: 1 (clusters with TMA "
                        "multicast are a schedule of the sm90 backend, mma = wgmma)");
  if (overlap != WarpgroupOverlap::None)
    throw ScheduleError("schedule: overlap = \"" + std::string(spelling(overlap)) +
                        "\" is not allowed with mma = mma_sync_m16n8k16; allowed there: \"none\" (warpgroup "
                        "overlap is a schedule of the sm90 backend, mma = wgmma)");
  requireOneOf("block_m", blockM, {16, 32, 64, 128, 256});
  requireOneOf("block_n", blockN, {16, 32, 64, 128, 256});
  requireOneOf("warps", warps, {1, 2, 4, 8, 16});
  requireOneOf("kv_stages", kvStages, {1, 2, 3, 4});
  requireOneOf("min_blocks_per_sm", minBlocksPerSm, {1, 2, 3, 4});
  if (blockM % (16 * warps) != 0) {
    std::string allowed;
    for (int w : {1, 2, 4, 8, 16})
      if (blockM % (16 * w) == 0)
        allowed += (allowed.empty() ? "" : ", ") + std::to_string(w);
    throw ScheduleError("schedule: warps = " + std::to_string(warps) + " with block_m = " +
                        std::to_string(blockM) +
                        " leaves a warp a number of rows that is not a multiple of 16 (the mma.sync "
                        "M); allowed values for this block_m: " + allowed);
  }
}

std::string_view Schedule::target() const { return mma == MmaFamily::Wgmma ? "sm90" : "sm80"; }

int Schedule::threadsPerBlock() const { return 32 * warps + (mma == MmaFamily::Wgmma ? 128 : 0); }

bool isSupportedHeadDim(int dim) { return dim % 16 == 0 && dim >= 16 && dim <= 256; }

void checkHeadDim(const char *field, int value) {
  if (!isSupportedHeadDim(value))
    throw ScheduleError(std::string(field) + " = " + std::to_string(value) +
                        " is not supported; allowed values: multiples of 16 from 16 to 256");
}

bool sm90DefaultFor(int headDim, int valueDim) {
  return headDim == valueDim && isSupportedHeadDim(headDim) && headDim >= 64;
}

int sm90SmemCols(int cols) { return (cols + 63) / 64 * 64; }

std::string defaultTarget(std::string_view deviceArch, int headDim, int valueDim) {
  return computeCapability(deviceArch) == 90 && sm90DefaultFor(headDim, valueDim) ? "sm_90a"
                                                                                    : std::string(deviceArch);
}

std::string compileArch(const Schedule &s, std::string_view deviceArch) {
  if (s.mma != MmaFamily::Wgmma)
    return std::string(deviceArch);
  if (computeCapability(deviceArch) != 90)
    throw ScheduleError("schedule: mma = wgmma needs an sm_90 GPU (wgmma and setmaxnreg are sm_90a "
                        "instructions); this target is " + std::string(deviceArch) +
                        "; allowed there: mma = mma_sync_m16n8k16");
  return "sm_90a";
}

std::string Schedule::toString() const {
  std::ostringstream os;
  os << "BLOCK_M=" << blockM << " BLOCK_N=" << blockN << " warps=" << warps
     << " kv_stages=" << kvStages << " mma=" << spelling(mma) << " q=" << spelling(q)
     << " min_blocks_per_sm=" << minBlocksPerSm << " q_tile_order=" << spelling(qTileOrder);
  if (persistent)
    os << " persistent";
  if (overlap != WarpgroupOverlap::None)
    os << " overlap=" << spelling(overlap);
  if (exp2FmaQuarters != 0)
    os << " exp2_fma=" << exp2FmaQuarters;
  if (compares64)
    os << " compares64";
  if (lazyRescale)
    os << " lazy_rescale";
  if (cluster != 1)
    os << " cluster=" << cluster;
  return os.str();
}

std::string Schedule::toJson() const {
  nlohmann::json j = {{"block_m", blockM},   {"block_n", blockN}, {"warps", warps},
                      {"kv_stages", kvStages}, {"mma", spelling(mma)}, {"q", spelling(q)},
                      {"min_blocks_per_sm", minBlocksPerSm}, {"q_tile_order", spelling(qTileOrder)}};
  if (persistent) // omitted when false: the JSON of every other schedule (and cache entries) is unchanged
    j["persistent"] = true;
  if (overlap != WarpgroupOverlap::None) // likewise
    j["overlap"] = spelling(overlap);
  if (exp2FmaQuarters != 0) // likewise
    j["exp2_fma"] = exp2FmaQuarters;
  if (compares64) // likewise
    j["compares64"] = true;
  if (lazyRescale) // likewise
    j["lazy_rescale"] = true;
  if (cluster != 1) // likewise
    j["cluster"] = cluster;
  return spec::dumpJson(j); // nlohmann::json objects keep keys sorted
}

Schedule scheduleFromJson(std::string_view text) {
  nlohmann::json j;
  try {
    j = spec::parseUntrustedJson(text);
  } catch (const spec::JsonInputError &e) {
    throw ScheduleError(std::string("schedule: malformed JSON: ") + e.what());
  }
  if (!j.is_object())
    throw ScheduleError("schedule: expected a JSON object, got " + spec::dumpJson(j));
  Schedule s;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string &key = it.key();
    const nlohmann::json &v = it.value();
    auto integer = [&](int &field) {
      // Range-checked: 4294967360 must not wrap to 64.
      if (!v.is_number_integer() || (v.is_number_unsigned() && v.get<uint64_t>() > INT32_MAX) ||
          (!v.is_number_unsigned() && (v.get<int64_t>() < INT32_MIN || v.get<int64_t>() > INT32_MAX)))
        throw ScheduleError("schedule: " + key + " must be an integer within int, got " +
                            spec::dumpJson(v));
      field = v.get<int>();
    };
    // An enum field: the value whose spelling() the JSON string is, else an error listing them all.
    auto oneOf = [&]<typename E>(E &field, std::initializer_list<E> values) {
      std::string allowed;
      for (E e : values) {
        if (v.is_string() && v.get_ref<const std::string &>() == spelling(e)) {
          field = e;
          return;
        }
        allowed += (allowed.empty() ? "\"" : ", \"") + std::string(spelling(e)) + "\"";
      }
      throw ScheduleError("schedule: " + key + " = " + spec::dumpJson(v) + " is unknown; allowed values: " + allowed);
    };
    if (key == "block_m")
      integer(s.blockM);
    else if (key == "block_n")
      integer(s.blockN);
    else if (key == "warps")
      integer(s.warps);
    else if (key == "kv_stages")
      integer(s.kvStages);
    else if (key == "min_blocks_per_sm")
      integer(s.minBlocksPerSm);
    else if (key == "exp2_fma")
      integer(s.exp2FmaQuarters);
    else if (key == "cluster")
      integer(s.cluster);
    else if (key == "mma")
      oneOf(s.mma, {MmaFamily::MmaSyncM16N8K16, MmaFamily::Wgmma});
    else if (key == "q")
      oneOf(s.q, {QPlacement::Registers, QPlacement::Smem});
    else if (key == "q_tile_order")
      oneOf(s.qTileOrder, {QTileOrder::Descending, QTileOrder::Ascending, QTileOrder::Paired, QTileOrder::Lpt,
                                          QTileOrder::Snake, QTileOrder::Dynamic});
    else if (key == "persistent" || key == "compares64" || key == "lazy_rescale") {
      if (!v.is_boolean())
        throw ScheduleError("schedule: " + key + " = " + spec::dumpJson(v) + " is not a boolean; allowed values: "
                            "true, false");
      (key == "persistent" ? s.persistent : key == "compares64" ? s.compares64 : s.lazyRescale) = v.get<bool>();
    } else if (key == "overlap") {
      oneOf(s.overlap, {WarpgroupOverlap::None, WarpgroupOverlap::Pingpong, WarpgroupOverlap::Intra,
                         WarpgroupOverlap::PingpongIntra});
    } else {
      throw ScheduleError("schedule: unknown key \"" + key +
                          "\"; allowed keys: block_m, block_n, cluster, compares64, exp2_fma, kv_stages, lazy_rescale, "
                          "min_blocks_per_sm, mma, overlap, persistent, q, q_tile_order, warps");
    }
  }
  return s;
}

int computeCapability(std::string_view arch) {
  std::string_view digits = arch;
  if (digits.substr(0, 3) == "sm_")
    digits.remove_prefix(3);
  else
    throw ScheduleError("arch = \"" + std::string(arch) + "\" is not an sm_XY target (e.g. sm_80)");
  if (!digits.empty() && digits.back() == 'a')
    digits.remove_suffix(1);
  int cc = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      throw ScheduleError("arch = \"" + std::string(arch) + "\" is not an sm_XY target (e.g. sm_80)");
    cc = cc * 10 + (c - '0');
  }
  if (digits.size() < 2 || digits.size() > 3 || cc < 80)
    throw ScheduleError("arch = \"" + std::string(arch) +
                        "\": the mma.sync path needs sm_80 or newer (bf16 m16n8k16)");
  return cc;
}

std::size_t maxDynamicSmemBytes(std::string_view arch) {
  switch (computeCapability(arch)) {
  case 80:
  case 87:
    return 166912;
  case 90:
  case 100:
    return 232448;
  default:
    return 101376;
  }
}

std::size_t smemBytes(const Schedule &s, int headDim) {
  const int cols = s.mma == MmaFamily::Wgmma ? sm90SmemCols(headDim) : headDim;
  const std::size_t tile = static_cast<std::size_t>(cols) * 2;
  const std::size_t tiles = tile * (s.blockM + 2 * static_cast<std::size_t>(s.blockN) * s.kvStages);
  if (s.mma == MmaFamily::Wgmma)
    return 1024 + tiles + 1024; // 1024-byte alignment of the 128B-swizzled tiles; mbarriers
  return tiles;
}

bool maskReadsCapture(const spec::Spec &spec) {
  bool reads = false;
  if (spec.maskMod && spec.layout == spec::Layout::Batched)
    spec::forEachNode(*spec.maskMod, [&](const spec::Expr &e) { reads |= e.kind == spec::ExprKind::TensorRead; });
  return reads;
}

ScheduleHints ScheduleHints::of(const spec::Spec &spec, const spec::Shape &shape) {
  ScheduleHints h;
  h.maskReadsCapture = codegen::maskReadsCapture(spec);
  h.maskFree = !spec.maskMod && spec.layout == spec::Layout::Batched;
  h.balancedMask = spec.maskMod && spec.layout == spec::Layout::Batched && !h.maskReadsCapture &&
                   kvWorkIsBalanced(*spec.maskMod, shape);
  h.plain = h.maskFree && !spec.scoreMod && spec.captures.empty() && !spec.sink &&
            spec.normalizer == spec::Normalizer::Softmax;
  h.sk = shape.Sk;
  h.scans = spec.normalizer == spec::Normalizer::StickBreaking;
  return h;
}

Schedule defaultSchedule(int headDim, spec::DType dtype, std::string_view arch, const ScheduleHints &hints) {
  (void)dtype;
  const int cc = computeCapability(arch);
  checkHeadDim("head_dim", headDim);
  if (arch == "sm_90a" && sm90DefaultFor(headDim, headDim)) {
    // sm90 backend (warp-specialized wgmma + TMA): 2 consumer warpgroups of 64 query rows taking turns
    // at the tensor cores (pingpong: +7% non-causal, +11% causal at B4 H16 S4096 D128 on the H200).
    Schedule s;
    s.mma = MmaFamily::Wgmma, s.q = QPlacement::Smem, s.overlap = WarpgroupOverlap::Pingpong;
    s.blockM = 128, s.warps = 8, s.kvStages = 2;
    s.blockN = headDim <= 128 ? 128 : 64;
    s.persistent = hints.maskFree || hints.maskReadsCapture || hints.balancedMask;
    if (hints.plain && headDim <= 64)
      s.blockM = 192, s.warps = 12;
    else if (hints.plain && headDim <= 128 && hints.sk >= 8192)
      s.blockN = 192;
    if (hints.scans)
      s.blockN = headDim <= 128 ? 64 : 32;
    return s;
  }
  Schedule s;
  if (headDim <= 64) {
    s.blockM = 128, s.blockN = 64, s.warps = 8, s.kvStages = 2;
  } else if (headDim <= 128) {
    if (cc == 80 || cc == 90)
      s.blockM = 128, s.blockN = 64, s.warps = 8, s.kvStages = 2;
    else
      s.blockM = 64, s.blockN = 64, s.warps = 4, s.kvStages = 1, s.minBlocksPerSm = 2;
  } else {
    s.blockM = 64, s.blockN = 32, s.warps = 4, s.kvStages = 1, s.q = QPlacement::Smem;
  }
  if (hints.scans && headDim > 64)
    s.q = QPlacement::Smem; // Q's fragments would be the registers of the scan's two tiles (ptxas: 4 B of spills)
  return s;
}

} // namespace tilefuse::codegen
