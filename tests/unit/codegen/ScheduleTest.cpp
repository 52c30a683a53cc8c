// Schedule: validation messages name field, value and allowed values; printing and JSON round trip;
// the default heuristic fits each arch's shared memory.
#include "tilefuse/codegen/Schedule.h"

#include <catch2/catch.hpp>

using namespace tilefuse::codegen;

namespace {

std::string errorOf(const Schedule &s) {
  try {
    s.validate();
  } catch (const ScheduleError &e) {
    return e.what();
  }
  return "";
}

} // namespace

TEST_CASE("Schedule validate names the field the value and the allowed values", "[schedule]") {
  Schedule ok;
  CHECK(errorOf(ok).empty());

  Schedule s;
  s.blockM = 48;
  CHECK(errorOf(s) == "schedule: block_m = 48 is not allowed; allowed values: 16, 32, 64, 128, 256");
  s = {};
  s.blockN = 96;
  CHECK(errorOf(s) == "schedule: block_n = 96 is not allowed; allowed values: 16, 32, 64, 128, 256");
  s = {};
  s.warps = 3;
  CHECK(errorOf(s) == "schedule: warps = 3 is not allowed; allowed values: 1, 2, 4, 8, 16");
  s = {};
  s.kvStages = 0;
  CHECK(errorOf(s) == "schedule: kv_stages = 0 is not allowed; allowed values: 1, 2, 3, 4");
  s = {};
  s.warps = 8; // 64 rows / 8 warps = 8 rows per warp
  CHECK(errorOf(s) == "schedule: warps = 8 with block_m = 64 leaves a warp a number of rows that is not a multiple "
                      "of 16 (the mma.sync M); allowed values for this block_m: 1, 2, 4");
  s = {};
  s.minBlocksPerSm = 0;
  CHECK(errorOf(s) == "schedule: min_blocks_per_sm = 0 is not allowed; allowed values: 1, 2, 3, 4");
  // sm90 backend.
  s = {};
  s.mma = MmaFamily::Wgmma;
  CHECK(errorOf(s).empty()); // q = registers: S = Q K^T as wgmma RS
  s.q = QPlacement::Smem;
  CHECK(errorOf(s).empty()); // 64 x 64, 4 consumer warps, 2 stages
  CHECK(s.threadsPerBlock() == 256);
  CHECK(s.target() == "sm90");
  s.blockM = 32;
  CHECK(errorOf(s) == "schedule: block_m = 32 is not allowed; allowed values: 64, 128, 192");
  s.blockM = 128;
  CHECK(errorOf(s) == "schedule: warps = 4 with mma = wgmma and block_m = 128 must be 8 (the consumer warps: 16 "
                      "query rows each; the producer warpgroup comes on top)");
  s.warps = 8, s.blockN = 72;
  CHECK(errorOf(s) == "schedule: block_n = 72 is not allowed with mma = wgmma; allowed values: multiples of 16 "
                      "from 32 to 256");
  s.blockN = 176, s.kvStages = 1;
  CHECK(errorOf(s) == "schedule: kv_stages = 1 is not allowed; allowed values: 2, 3, 4");
  s.kvStages = 3;
  CHECK(errorOf(s).empty());
  CHECK(s.threadsPerBlock() == 384);
  CHECK(compileArch(s, "sm_90") == "sm_90a");
  CHECK_THROWS_AS(compileArch(s, "sm_80"), ScheduleError);
  CHECK(compileArch(Schedule{}, "sm_89") == "sm_89");
  CHECK(scheduleFromJson(s.toJson()) == s);
}

TEST_CASE("Schedule prints and round-trips through JSON", "[schedule]") {
  Schedule s;
  s.blockM = 128, s.blockN = 32, s.warps = 8, s.kvStages = 3, s.q = QPlacement::Smem, s.minBlocksPerSm = 2;
  s.qTileOrder = QTileOrder::Ascending;
  CHECK(s.toString() == "BLOCK_M=128 BLOCK_N=32 warps=8 kv_stages=3 mma=mma_sync_m16n8k16 q=smem min_blocks_per_sm=2 "
                        "q_tile_order=ascending");
  CHECK(s.toJson() == R"({"block_m":128,"block_n":32,"kv_stages":3,"min_blocks_per_sm":2,"mma":"mma_sync_m16n8k16",)"
                      R"("q":"smem","q_tile_order":"ascending","warps":8})");
  CHECK(scheduleFromJson(s.toJson()) == s);
  CHECK(Schedule{}.qTileOrder == QTileOrder::Descending);
  CHECK_THROWS_WITH(scheduleFromJson(R"({"q_tile_order":"random"})"),
                    "schedule: q_tile_order = \"random\" is unknown; allowed values: \"descending\", \"ascending\", \"paired\", "
                    "\"lpt\", \"snake\", \"dynamic\"");
  CHECK(scheduleFromJson("{}") == Schedule{});
  CHECK(s.rowsPerWarp() == 16);
  CHECK(s.threadsPerBlock() == 256);
}

TEST_CASE("persistent: wgmma only, round-trips, written only when true", "[schedule]") {
  Schedule s = scheduleFromJson(R"({"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"smem","persistent":true})");
  CHECK(s.persistent);
  CHECK_NOTHROW(s.validate());
  CHECK(scheduleFromJson(s.toJson()) == s);
  CHECK(s.toJson().find("\"persistent\":true") != std::string::npos);
  s.persistent = false;
  CHECK(s.toJson().find("persistent") == std::string::npos);
  Schedule sm80;
  sm80.persistent = true;
  CHECK_THROWS_WITH(sm80.validate(), Catch::Contains("persistent = true is not allowed with mma = mma_sync_m16n8k16"));
}

TEST_CASE("overlap = pingpong: wgmma with 2 or 3 consumer warpgroups, round-trips, written only when set",
          "[schedule]") {
  Schedule s = scheduleFromJson(R"({"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"smem","overlap":"pingpong"})");
  CHECK(s.overlap == WarpgroupOverlap::Pingpong);
  CHECK_NOTHROW(s.validate());
  CHECK(scheduleFromJson(s.toJson()) == s);
  CHECK(s.toJson().find("\"overlap\":\"pingpong\"") != std::string::npos);
  CHECK(s.toString().find("overlap=pingpong") != std::string::npos);
  s.blockM = 64, s.warps = 4;
  CHECK_THROWS_WITH(s.validate(), Catch::Contains("overlap = \"pingpong\" with block_m = 64 is not allowed"));
  s.overlap = WarpgroupOverlap::None;
  CHECK_NOTHROW(s.validate());
  CHECK(s.toJson().find("overlap") == std::string::npos);
  Schedule sm80;
  sm80.overlap = WarpgroupOverlap::Pingpong;
  CHECK_THROWS_WITH(sm80.validate(), Catch::Contains("overlap = \"pingpong\" is not allowed with mma = mma_sync_m16n8k16"));
  CHECK_THROWS_WITH(scheduleFromJson(R"({"overlap":"pipelined"})"),
                    "schedule: overlap = \"pipelined\" is unknown; allowed values: \"none\", \"pingpong\", "
                    "\"intra\", \"pingpong_intra\"");
}

TEST_CASE("overlap = intra / pingpong_intra: wgmma only, pingpong_intra needs 2 or 3 consumer warpgroups",
          "[schedule]") {
  Schedule s = scheduleFromJson(
      R"({"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"smem","overlap":"pingpong_intra"})");
  CHECK(s.overlap == WarpgroupOverlap::PingpongIntra);
  CHECK(takesTurns(s.overlap));
  CHECK(overlapsWithinWarpgroup(s.overlap));
  CHECK(scheduleFromJson(s.toJson()) == s);
  CHECK(s.toString().find("overlap=pingpong_intra") != std::string::npos);
  s.blockM = 64, s.warps = 4;
  CHECK_THROWS_WITH(s.validate(), Catch::Contains("overlap = \"pingpong_intra\" with block_m = 64 is not allowed"));
  s.overlap = WarpgroupOverlap::Intra; // one warpgroup overlaps its own softmax: no turns needed
  CHECK_NOTHROW(s.validate());
  CHECK_FALSE(takesTurns(s.overlap));
  CHECK(scheduleFromJson(s.toJson()) == s);
  Schedule sm80;
  sm80.overlap = WarpgroupOverlap::Intra;
  CHECK_THROWS_WITH(sm80.validate(), Catch::Contains("overlap = \"intra\" is not allowed with mma = mma_sync_m16n8k16"));
}

TEST_CASE("exp2_fma: 0 to 2 quarters of the score columns on the FMA pipe, round-trips, written only when set",
          "[schedule]") {
  Schedule s = scheduleFromJson(
      R"({"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"smem","overlap":"pingpong","exp2_fma":2})");
  CHECK(s.exp2FmaQuarters == 2);
  CHECK_NOTHROW(s.validate());
  CHECK(scheduleFromJson(s.toJson()) == s);
  CHECK(s.toString().find("exp2_fma=2") != std::string::npos);
  s.exp2FmaQuarters = 3;
  CHECK_THROWS_WITH(s.validate(), Catch::Contains("exp2_fma = 3 is not allowed; allowed values: 0, 1, 2"));
  s.exp2FmaQuarters = 0;
  CHECK(s.toJson().find("exp2_fma") == std::string::npos);
  Schedule sm80 = scheduleFromJson(R"({"exp2_fma":1})");
  CHECK_THROWS_WITH(sm80.validate(), Catch::Contains("exp2_fma = 1 is not allowed with mma = mma_sync_m16n8k16"));
}

TEST_CASE("compares64: wgmma only, round-trips, written only when true", "[schedule]") {
  Schedule s = scheduleFromJson(
      R"({"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"smem","overlap":"pingpong","compares64":true})");
  CHECK(s.compares64);
  CHECK_NOTHROW(s.validate());
  CHECK(scheduleFromJson(s.toJson()) == s);
  CHECK(s.toJson().find("\"compares64\":true") != std::string::npos);
  CHECK(s.toString().find(" compares64") != std::string::npos);
  s.compares64 = false;
  CHECK(s.toJson().find("compares64") == std::string::npos);
  CHECK(s.toString().find("compares64") == std::string::npos);
  Schedule sm80 = scheduleFromJson(R"({"compares64":true})");
  CHECK_THROWS_WITH(sm80.validate(), Catch::Contains("compares64 = true is not allowed with mma = mma_sync_m16n8k16"));
  CHECK_THROWS_WITH(scheduleFromJson(R"({"compares64":"yes"})"),
                    "schedule: compares64 = \"yes\" is not a boolean; allowed values: true, false");
}

TEST_CASE("q_tile_order paired, snake and dynamic: a persistent sm90 grid of single blocks only, round-trip",
          "[schedule]") {
  for (const char *order : {"paired", "snake", "dynamic"}) {
    INFO(order);
    const std::string quoted = std::string("q_tile_order = \"") + order + "\"";
    Schedule s = scheduleFromJson(std::string(R"({"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"overlap":)") +
                                  R"("pingpong","persistent":true,"q_tile_order":")" + order + "\"}");
    CHECK(spelling(s.qTileOrder) == order);
    CHECK_NOTHROW(s.validate());
    CHECK(scheduleFromJson(s.toJson()) == s);
    CHECK(s.toString().find(std::string("q_tile_order=") + order) != std::string::npos);
    Schedule notPersistent = s;
    notPersistent.persistent = false;
    CHECK_THROWS_WITH(notPersistent.validate(), Catch::Contains(quoted + " with persistent = false is not allowed") &&
                                                    Catch::Contains("allowed: persistent = true and cluster = 1"));
    Schedule clustered = s;
    clustered.cluster = 2;
    CHECK_THROWS_WITH(clustered.validate(), Catch::Contains(quoted + " with cluster = 2 is not allowed"));
    CHECK_THROWS_WITH(scheduleFromJson(std::string(R"({"q_tile_order":")") + order + "\"}").validate(),
                      Catch::Contains(quoted + " is not allowed with mma = mma_sync_m16n8k16"));
  }
  CHECK_THROWS_WITH(scheduleFromJson(R"({"q_tile_order":"zigzag"})"),
                    Catch::Contains("\"descending\", \"ascending\", \"paired\", \"lpt\", \"snake\", \"dynamic\""));
}

TEST_CASE("q_tile_order lpt: one block per Q tile on either backend, round-trips", "[schedule]") {
  Schedule s = scheduleFromJson(
      R"({"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"overlap":"pingpong","q_tile_order":"lpt"})");
  CHECK(s.qTileOrder == QTileOrder::Lpt);
  CHECK_NOTHROW(s.validate());
  CHECK(scheduleFromJson(s.toJson()) == s);
  CHECK(s.toJson().find("\"q_tile_order\":\"lpt\"") != std::string::npos);
  CHECK(s.toString().find("q_tile_order=lpt") != std::string::npos);
  Schedule persistent = s;
  persistent.persistent = true;
  CHECK_THROWS_WITH(persistent.validate(),
                    Catch::Contains("q_tile_order = \"lpt\" with persistent = true is not allowed") &&
                        Catch::Contains("allowed: persistent = false and cluster = 1"));
  Schedule clustered = s;
  clustered.cluster = 2;
  CHECK_THROWS_WITH(clustered.validate(), Catch::Contains("q_tile_order = \"lpt\" with cluster = 2 is not allowed"));
  const Schedule sm80 = scheduleFromJson(R"({"q_tile_order":"lpt"})");
  CHECK(sm80.qTileOrder == QTileOrder::Lpt);
  CHECK_NOTHROW(sm80.validate());
  CHECK_THROWS_WITH(scheduleFromJson(R"({"q_tile_order":"paired"})").validate(),
                    Catch::Contains("allowed there: \"descending\", \"ascending\", \"lpt\""));
}

TEST_CASE("lazy_rescale: wgmma only, round-trips, written only when true", "[schedule]") {
  Schedule s = scheduleFromJson(
      R"({"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"registers","overlap":"pingpong","lazy_rescale":true})");
  CHECK(s.lazyRescale);
  CHECK_NOTHROW(s.validate());
  CHECK(scheduleFromJson(s.toJson()) == s);
  CHECK(s.toJson().find("\"lazy_rescale\":true") != std::string::npos);
  CHECK(s.toString().find(" lazy_rescale") != std::string::npos);
  s.lazyRescale = false;
  CHECK(s.toJson().find("lazy_rescale") == std::string::npos);
  CHECK(s.toString().find("lazy_rescale") == std::string::npos);
  Schedule sm80 = scheduleFromJson(R"({"lazy_rescale":true})");
  CHECK_THROWS_WITH(sm80.validate(), Catch::Contains("lazy_rescale = true is not allowed with mma = mma_sync_m16n8k16"));
  CHECK_THROWS_WITH(scheduleFromJson(R"({"lazy_rescale":1})"),
                    "schedule: lazy_rescale = 1 is not a boolean; allowed values: true, false");
}

TEST_CASE("cluster: 1 or 2 with wgmma, 1 with mma.sync, round-trips, written only when not 1", "[schedule]") {
  Schedule s = scheduleFromJson(
      R"({"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"q":"smem","overlap":"pingpong","cluster":2})");
  CHECK(s.cluster == 2);
  CHECK_NOTHROW(s.validate());
  CHECK(scheduleFromJson(s.toJson()) == s);
  CHECK(s.toJson().find("\"cluster\":2") != std::string::npos);
  CHECK(s.toString().find(" cluster=2") != std::string::npos);
  s.cluster = 4;
  CHECK_THROWS_WITH(s.validate(), Catch::Contains("cluster = 4 is not allowed; allowed values: 1, 2"));
  s.cluster = 1;
  CHECK(s.toJson().find("cluster") == std::string::npos);
  CHECK(s.toString().find("cluster") == std::string::npos);
  Schedule sm80 = scheduleFromJson(R"({"cluster":2})");
  CHECK_THROWS_WITH(sm80.validate(), Catch::Contains("cluster = 2 is not allowed with mma = mma_sync_m16n8k16"));
  CHECK_THROWS_WITH(scheduleFromJson(R"({"cluster":"two"})"), Catch::Contains("cluster must be an integer"));
}

TEST_CASE("scheduleFromJson rejects unknown keys and bad values", "[schedule]") {
  CHECK_THROWS_WITH(scheduleFromJson(R"({"block_k":64})"),
                    "schedule: unknown key \"block_k\"; allowed keys: block_m, block_n, cluster, compares64, exp2_fma, kv_stages, "
                    "lazy_rescale, min_blocks_per_sm, mma, overlap, persistent, q, q_tile_order, warps");
  CHECK_THROWS_WITH(scheduleFromJson(R"({"persistent":1})"),
                    "schedule: persistent = 1 is not a boolean; allowed values: true, false");
  CHECK_THROWS_WITH(scheduleFromJson(R"({"warps":"four"})"), "schedule: warps must be an integer within int, got \"four\"");
  CHECK_THROWS_WITH(scheduleFromJson(R"({"q":"hbm"})"),
                    "schedule: q = \"hbm\" is unknown; allowed values: \"registers\", \"smem\"");
  CHECK_THROWS_AS(scheduleFromJson("{"), ScheduleError);
  CHECK_THROWS_AS(scheduleFromJson("[1]"), ScheduleError);
}

TEST_CASE("Head dims are multiples of 16 up to 256 and the sm90 backend is the default from 64 with D = Dv", "[schedule]") {
  for (int d = -16; d <= 288; d += 8)
    CHECK(isSupportedHeadDim(d) == (d >= 16 && d <= 256 && d % 16 == 0));
  CHECK_NOTHROW(checkHeadDim("value_dim", 208));
  CHECK_THROWS_WITH(checkHeadDim("value_dim", 200),
                    "value_dim = 200 is not supported; allowed values: multiples of 16 from 16 to 256");
  CHECK(defaultTarget("sm_90", 96, 96) == "sm_90a");
  CHECK(defaultTarget("sm_90", 80, 80) == "sm_90a");
  CHECK(defaultTarget("sm_90", 256, 256) == "sm_90a");
  CHECK(defaultTarget("sm_90", 48, 48) == "sm_90");   // below one panel: the sm80 backend
  CHECK(defaultTarget("sm_90", 192, 128) == "sm_90"); // D != Dv: the sm80 backend
  CHECK(defaultTarget("sm_90", 40, 40) == "sm_90");
  CHECK(defaultTarget("sm_80", 96, 96) == "sm_80");
  CHECK(sm90SmemCols(16) == 64);
  CHECK(sm90SmemCols(64) == 64);
  CHECK(sm90SmemCols(80) == 128);
  CHECK(sm90SmemCols(192) == 192);
  CHECK(sm90SmemCols(208) == 256);
}

TEST_CASE("defaultSchedule validates and fits every arch's shared memory", "[schedule]") {
  for (const char *arch : {"sm_80", "sm_86", "sm_89", "sm_90", "sm_90a"})
    for (int d = 16; d <= 256; d += 16) {
      INFO(arch << " D=" << d);
      const Schedule s = defaultSchedule(d, tilefuse::spec::DType::BF16, arch);
      CHECK_NOTHROW(s.validate());
      CHECK(s.rowsPerWarp() == 16); // the O accumulator is Dv / 2 floats per thread on every branch
      CHECK(smemBytes(s, d) <= maxDynamicSmemBytes(arch));
      CHECK((s.mma == MmaFamily::Wgmma) == (std::string(arch) == "sm_90a" && d >= 64));
    }
  // D = 96 on sm_80: the D = 128 schedule (BLOCK_M 128, 8 warps, 2 stages), 72 KB of 96-column tiles.
  const Schedule d96 = defaultSchedule(96, tilefuse::spec::DType::BF16, "sm_80");
  CHECK(d96 == defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_80"));
  CHECK(smemBytes(d96, 96) == 2 * 96 * (128 + 2 * 2 * 64));
  // sm90 tiles are whole 64-column panels: D = 80 stores 128 columns.
  const Schedule h80 = defaultSchedule(80, tilefuse::spec::DType::BF16, "sm_90a");
  CHECK(h80.blockN == 128);
  CHECK(smemBytes(h80, 80) == 1024 + 2 * 128 * (128 + 2 * 2 * 128) + 1024);
  CHECK(defaultSchedule(160, tilefuse::spec::DType::BF16, "sm_90a").blockN == 64);
  const Schedule a100 = defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_80");
  CHECK(a100.blockM == 128);
  CHECK(a100.warps == 8);
  CHECK(smemBytes(a100, 128) == 98304);
  const Schedule ada = defaultSchedule(128, tilefuse::spec::DType::FP16, "sm_89");
  CHECK(ada.kvStages == 1);
  CHECK(smemBytes(ada, 128) == 49152);
  for (int bad : {0, 8, 40, 100, 272})
    CHECK_THROWS_WITH(defaultSchedule(bad, tilefuse::spec::DType::BF16, "sm_80"),
                      "head_dim = " + std::to_string(bad) +
                          " is not supported; allowed values: multiples of 16 from 16 to 256");
  CHECK_THROWS_WITH(defaultSchedule(40, tilefuse::spec::DType::BF16, "sm_90a"),
                    "head_dim = 40 is not supported; allowed values: multiples of 16 from 16 to 256");
  CHECK_THROWS_WITH(defaultSchedule(128, tilefuse::spec::DType::BF16, "sm_75"),
                    "arch = \"sm_75\": the mma.sync path needs sm_80 or newer (bf16 m16n8k16)");
  CHECK_THROWS_AS(defaultSchedule(128, tilefuse::spec::DType::BF16, "compute_80"), ScheduleError);
  CHECK(computeCapability("sm_90a") == 90);
  CHECK(computeCapability("sm_120") == 120);
}

TEST_CASE("defaultSchedule's sm90 hints: persistent without a mask and bigger tiles for plain attention",
          "[schedule]") {
  using tilefuse::spec::DType;
  const Schedule none = defaultSchedule(128, DType::BF16, "sm_90a");
  CHECK(!none.persistent);
  CHECK(none.blockM == 128);
  CHECK(none.blockN == 128);
  ScheduleHints free;
  free.maskFree = true;
  const Schedule f = defaultSchedule(128, DType::BF16, "sm_90a", free);
  CHECK(f.persistent);
  CHECK(f.blockM == 128);
  CHECK(f.blockN == 128);
  ScheduleHints plain = free;
  plain.plain = true, plain.sk = 4096;
  CHECK(defaultSchedule(128, DType::BF16, "sm_90a", plain).blockN == 128);
  plain.sk = 8192;
  const Schedule longSk = defaultSchedule(128, DType::BF16, "sm_90a", plain);
  CHECK(longSk.blockN == 192);
  CHECK_NOTHROW(longSk.validate());
  const Schedule d64 = defaultSchedule(64, DType::BF16, "sm_90a", plain);
  CHECK(d64.blockM == 192);
  CHECK(d64.warps == 12);
  CHECK(d64.blockN == 128);
  CHECK_NOTHROW(d64.validate());
  CHECK(defaultSchedule(256, DType::BF16, "sm_90a", plain).blockN == 64);
  ScheduleHints sparse;
  sparse.maskReadsCapture = true;
  CHECK(defaultSchedule(128, DType::BF16, "sm_90a", sparse).persistent);
  ScheduleHints scans; // stick_breaking: BLOCK_N 64 keeps its consumers from spilling
  scans.scans = true;
  CHECK(defaultSchedule(128, DType::BF16, "sm_90a", scans).blockN == 64);
  CHECK(defaultSchedule(128, DType::BF16, "sm_90a", scans).blockM == 128);
  CHECK(defaultSchedule(256, DType::BF16, "sm_90a", scans).blockN == 32);
  CHECK(defaultSchedule(128, DType::BF16, "sm_86", scans).q == QPlacement::Smem);
  CHECK(defaultSchedule(64, DType::BF16, "sm_80", scans).q == QPlacement::Registers);
  // The sm80 backend ignores the hints but the scan's.
  CHECK(defaultSchedule(128, DType::BF16, "sm_80", plain) == defaultSchedule(128, DType::BF16, "sm_80"));
}
