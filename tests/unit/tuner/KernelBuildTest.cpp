// The compiler chain behind tune / emit without a GPU: lower -> fuse -> codegen -> NVRTC, the FLOP
// count, ptxas reports, and which schedule emit picks.
#include "TunerTestSupport.h"

#include "../../../tuner/lib/Compile.h"

#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/tuner/KernelBuild.h"
#include "tilefuse/tuner/Tuner.h"

#include <catch2/catch.hpp>

using namespace tilefuse;
using namespace tilefuse::tuner;

#ifndef TILEFUSE_SPECS_DIR
#error "TILEFUSE_SPECS_DIR must be defined by tests/unit/tuner/CMakeLists.txt"
#endif

namespace {
spec::Spec loadSpec(const std::string &name) { return spec::parseSpecFile(std::string(TILEFUSE_SPECS_DIR) + "/" + name); }
} // namespace

TEST_CASE("ptxas lines in the NVRTC log give the named kernel's registers and spills", "[build]") {
  // Two entries, as in a module with a run-time block mask: the classification kernel comes first.
  const std::string log = "ptxas info    : Compiling entry function 'k_block_mask' for 'sm_90a'\n"
                          "ptxas info    : Function properties for k_block_mask\n"
                          "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
                          "ptxas info    : Used 32 registers, used 1 barriers\n"
                          "ptxas info    : Compiling entry function 'k' for 'sm_90a'\n"
                          "ptxas info    : Function properties for k\n"
                          "ptxas         .     16 bytes stack frame, 8 bytes spill stores, 12 bytes spill loads\n"
                          "ptxas info    : Used 168 registers, used 16 barriers, 16 bytes cumulative stack size\n";
  detail::PtxasInfo info = detail::parsePtxasInfo(log, "k");
  CHECK(info.registers == 168);
  CHECK(info.spillStoreBytes == 8);
  CHECK(info.spillLoadBytes == 12);
  detail::PtxasInfo mask = detail::parsePtxasInfo(log, "k_block_mask");
  CHECK(mask.registers == 32);
  CHECK(mask.spillStoreBytes == 0);
  CHECK(detail::parsePtxasInfo(log, "other").registers == -1);
  CHECK(detail::parsePtxasInfo("", "k").registers == -1);
}

TEST_CASE("the default schedule of causal attention builds and compiles for sm_90", "[build][nvrtc]") {
  spec::Spec s = loadSpec("causal.json");
  spec::Shape shape = spec::resolveShape(s, {1, 4, 4, 1000, 1000, {}, {}});
  KernelBuilder builder(s, shape);
  codegen::Schedule def = codegen::defaultSchedule(static_cast<int>(shape.D), s.dtype, "sm_90");
  KernelSource k = builder.generate(def);
  CHECK(k.kernelName == "tilefuse_causal");
  CHECK(k.schedule == def);
  CHECK(k.threadsPerBlock == def.threadsPerBlock());
  CHECK(k.grid.toString() == "x = ceil(Sq / " + std::to_string(def.blockM) + "), y = Hq, z = B");
  detail::Compiled c = detail::compileKernel(k, "sm_90");
  INFO(c.error);
  REQUIRE(c.ok);
  CHECK_FALSE(c.cubin.empty());
  CHECK(c.ptxas.registers > 0);
  CHECK(c.ptxas.registers <= 255);

  // A second schedule reuses nothing it should not: other tiles, other grid.
  codegen::Schedule other = def;
  other.blockM = 64, other.warps = 4, other.kvStages = 1;
  CHECK(builder.generate(other).grid.toString() == "x = ceil(Sq / 64), y = Hq, z = B");
  CHECK(builder.fusedIR(64, def.blockN).find("blk.kernel") != std::string::npos);
}

TEST_CASE("useful FLOPs of causal attention: about half of dense - counted by tiles", "[build]") {
  spec::Spec s = loadSpec("causal.json");
  spec::Shape shape = spec::resolveShape(s, {1, 2, 2, 2048, 2048, {}, {}});
  KernelBuilder builder(s, shape);
  const double tiles = builder.tileFlops(128, 64, shape);
  const double dense = denseFlops(shape);
  CHECK(dense == 4.0 * 1 * 2 * 2048 * 2048 * 128);
  CHECK(tiles > 0.45 * dense);
  CHECK(tiles < 0.6 * dense);
}

TEST_CASE("an invalid schedule is a build error naming the spec and the field", "[build]") {
  spec::Spec s = loadSpec("causal.json");
  spec::Shape shape = spec::resolveShape(s, {});
  KernelBuilder builder(s, shape);
  codegen::Schedule bad;
  bad.warps = 3;
  CHECK_THROWS_WITH(builder.generate(bad), Catch::Contains("spec 'causal' (D=128, bf16)") && Catch::Contains("warps"));
}

TEST_CASE("emit's schedule: cached for the arch if any - else the heuristic default", "[build]") {
  test::TempDir dir;
  Cache cache(dir.path());
  spec::Spec s = loadSpec("gqa.json");
  spec::Shape shape = spec::resolveShape(s, {});
  ScheduleChoice none = chooseSchedule(s, shape, "sm_90", cache, nullptr);
  CHECK(none.source == "default");
  CHECK(none.schedule == codegen::defaultSchedule(128, s.dtype, codegen::defaultTarget("sm_90", 128, 128)));
  CHECK(none.schedule.mma == codegen::MmaFamily::Wgmma);
  CHECK_THAT(none.note, Catch::Contains("no cache entry for sm_90"));

  CacheKey key = makeKey(test::h100(), runtime::nvrtcVersion(), s, shape);
  CacheEntry e = test::makeTestEntry(key, 1.0);
  e.schedule.blockM = 64, e.schedule.warps = 4;
  cache.store(e);
  ScheduleChoice cached = chooseSchedule(s, shape, "sm_90", cache, nullptr);
  CHECK(cached.source == "cache:NVIDIA-H100-80GB-HBM3_sm90_132sm");
  CHECK(cached.schedule == e.schedule);
  // This machine's GPU, when it is the H100 of the entry.
  DeviceIdentity here = test::h100();
  CHECK(chooseSchedule(s, shape, "sm_90", cache, &here).source == "cache");
  // Another arch does not see it.
  CHECK(chooseSchedule(s, shape, "sm_80", cache, nullptr).source == "default");
  // A given schedule wins.
  codegen::Schedule given;
  CHECK(chooseSchedule(s, shape, "sm_90", cache, nullptr, given).source == "--schedule");
}
