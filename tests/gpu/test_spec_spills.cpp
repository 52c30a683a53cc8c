// CPU test (runs in CI, no GPU needed): every shipped spec, specs/*.json and specs/models/*.json, builds
// for both code generator backends with the schedule the Engine's Policy::Heuristic picks, compiles with
// NVRTC to a CUBIN, and ptxas reports 0 bytes of spill stores, spill loads and stack frame:
//   sm80 backend (mma.sync, cp.async): codegen::defaultSchedule(D, dtype, "sm_80"), CUBIN for sm_80
//     (an A100 running the Engine);
//   sm90 backend (wgmma, TMA):         codegen::defaultSchedule(D, dtype, "sm_90a"), CUBIN for sm_90a
//     (an H100 / H200 running the Engine).
// D: each spec at its own head_dim and at the other head dims of {64, 128, 256}, which both backends
// support. Each kernel prints one row of the spill table ("spills <spec> D=.. <arch> <schedule> ...").
// The path is the Engine's: detail::heuristicSchedule -> detail::buildSource (driver::buildKernel)
// -> runtime::compileCuda with detail::compileOptions, plus "-Xptxas=-v"; the numbers come from the
// NVRTC program log (runtime::parsePtxasReport).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <vector>

#include "EngineBuild.h"
#include "test_generated_reference.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/runtime/Ptxas.h"

using namespace tilefuse;

namespace {

/// The head dims every spec is checked at (its own head_dim first). Measured on 2 cores without a GPU
/// (`taskset -c 0,1 ctest -j2 -R spills:`): 14 specs x 3 head dims x 2 backends = 84 kernels, 107 s of
/// CPU in all (about 1.3 s per kernel: lowering, fusion, generation, NVRTC), split over the two test
/// cases below, which ctest runs side by side: about a minute of CI wall time.
const int kHeadDims[] = {64, 128, 256};

/// specs/*.json and specs/models/*.json, sorted.
std::vector<std::string> everySpecFile() {
  std::vector<std::string> files = test::shippedSpecs();
  for (const auto &e : std::filesystem::directory_iterator(test::specsDir() + "/models"))
    if (e.path().extension() == ".json")
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

/// The head dims `s` is checked at: its own, then the others of kHeadDims.
std::vector<int> headDimsOf(const spec::Spec &s) {
  std::vector<int> dims = {static_cast<int>(s.headDim)};
  for (int d : kHeadDims)
    if (d != s.headDim)
      dims.push_back(d);
  return dims;
}

/// NVRTC with -Xptxas=-v, as the engine compiles for `arch`: the result and its parsed ptxas report.
std::pair<runtime::CompileResult, runtime::PtxasReport> compileVerbose(const std::string &source,
                                                                       const std::string &arch) {
  runtime::CompileOptions options = detail::compileOptions(arch, EngineOptions{});
  options.extraFlags.push_back("-Xptxas=-v");
  runtime::CompileResult c = runtime::compileCuda(source, options);
  runtime::PtxasReport report = runtime::parsePtxasReport(c.log);
  return {std::move(c), std::move(report)};
}

/// Lines "N bytes stack frame, N bytes spill stores, N bytes spill loads" in a ptxas report (one per
/// function, entry or not) and how many of them are all zero.
std::pair<int, int> frameLines(const std::string &log) {
  static const std::regex frame(R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  int all = 0, zero = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), frame); it != std::sregex_iterator(); ++it) {
    ++all;
    zero += (*it)[1] == "0" && (*it)[2] == "0" && (*it)[3] == "0";
  }
  return {all, zero};
}

/// Builds and compiles every spec for one backend ("sm80" on an sm_80 device, "sm90" on sm_90) and
/// checks the ptxas report of each kernel; prints one row of the spill table per kernel. `pingpong`: the
/// sm90 schedule with overlap = pingpong and a persistent grid instead of the default.
void checkSpills(const std::string &backend, const std::string &deviceArch, bool pingpong = false) {
  const std::vector<std::string> files = everySpecFile();
  REQUIRE(files.size() >= 14); // 8 in specs/, 6 in specs/models/
  int kernels = 0;
  for (const std::string &file : files) {
    const spec::Spec s = spec::parseSpecFile(file);
    for (int d : headDimsOf(s)) {
      spec::ShapeOverrides o;
      o.D = d;
      const spec::Shape shape = spec::resolveShape(s, o);
      codegen::Schedule schedule = detail::heuristicSchedule(s, shape, deviceArch, backend);
      if (pingpong)
        schedule.overlap = codegen::WarpgroupOverlap::Pingpong, schedule.persistent = true;
      const std::string arch = codegen::compileArch(schedule, deviceArch);
      const std::string what = "spec '" + s.name + "' D=" + std::to_string(d) + " arch " + arch + " (" +
                               backend + " backend), schedule " + schedule.toString();
      INFO(what);
      const driver::BuiltKernel k = detail::buildSource(s, shape, schedule);
      const auto [c, report] = compileVerbose(k.source, arch);
      const runtime::PtxasFunctionReport *f = report.find(k.kernelName);
      INFO("NVRTC log:\n" << c.log);
      REQUIRE(f != nullptr);
      REQUIRE(f->registers > 0); // the report was read for this kernel
      const auto [frames, zeroFrames] = frameLines(c.log);
      REQUIRE(frames >= 1);
      std::printf("spills %-20s D=%-3d %-6s %-96s %3d registers, %4d B spill stores, %4d B spill loads, "
                  "%4d B stack frame, NVRTC %5.0f ms\n",
                  s.name.c_str(), d, arch.c_str(), schedule.toString().c_str(), f->registers, f->spillStoreBytes,
                  f->spillLoadBytes, f->stackFrameBytes, c.compileMs);
      INFO("spill stores " << f->spillStoreBytes << " B, spill loads " << f->spillLoadBytes << " B, stack frame "
                           << f->stackFrameBytes << " B, " << f->registers << " registers");
      // One exception, this test's forced persistent grid for stick-breaking at D 256 (not its default,
      // which is not persistent): the O accumulator is 128 of the consumers' 240 registers, S, the scan
      // and P take 40 at BLOCK_N 32 (the smallest wgmma tile of the sm90 backend), and the persistent tile
      // loop's state tips it over: 28 B of spills (v0.17). It is held to that, so a regression still fails.
      // document_mask at D=128 under pingpong + persistent spilled 4-56 B in its masked K/V path at the
      // 240-register cap (v0.7-v0.12) until its K/V tail compare became 32-bit (v0.13: ElementCode's
      // position comparisons); it now has none.
      const bool stickD256 = pingpong && s.normalizer == spec::Normalizer::StickBreaking && d > 128;
      const int allowed = stickD256 ? 32 : 0;
      CHECK(f->spillStoreBytes <= allowed);
      CHECK(f->spillLoadBytes <= allowed);
      CHECK(f->stackFrameBytes <= allowed);
      if (!stickD256)
        CHECK(zeroFrames == frames); // no function of the CUBIN (entry or not) has a stack frame or spills
      ++kernels;
      // A run-time block mask's classification kernel, in the same CUBIN (document_mask): compiled, and
      // covered by the frame lines above.
      if (const codegen::LaunchDescription launch = k.launch(); launch.params.blockMask.present) {
        const runtime::PtxasFunctionReport *bm = report.find(launch.params.blockMask.kernelName(k.kernelName));
        REQUIRE(bm != nullptr);
        CHECK(bm->registers > 0);
        CHECK(bm->spillStoreBytes + bm->spillLoadBytes + bm->stackFrameBytes == 0);
        std::printf("spills %-20s D=%-3d %-6s block-mask classification kernel: %3d registers, %4d B spill stores, "
                    "%4d B spill loads, %4d B stack frame\n",
                    s.name.c_str(), d, arch.c_str(), bm->registers, bm->spillStoreBytes, bm->spillLoadBytes,
                    bm->stackFrameBytes);
        ++kernels;
      }
    }
  }
  std::printf("spills: %d kernels for the %s backend, all checked\n", kernels, backend.c_str());
}

} // namespace

TEST_CASE("parsePtxasReport reads spills and the stack frame from the NVRTC -Xptxas=-v log", "[cpu][ptxas]") {
  // 64 live floats under a 32-register cap: ptxas spills (measured with NVRTC 13.0: 364 B spill stores,
  // 364 B spill loads, 288 B stack frame), so the checks below can see a spill when there is one.
  const std::string source = "extern \"C\" __global__ void spilled(float *p, int i) {\n"
                             "  float a[64];\n"
                             "  for (int j = 0; j < 64; ++j) a[j] = p[j * i];\n"
                             "  p[0] = a[i & 63];\n"
                             "}\n";
  runtime::CompileOptions options;
  options.arch = "sm_80";
  options.extraFlags = {"-Xptxas=-v", "--maxrregcount=32"};
  const runtime::CompileResult c = runtime::compileCuda(source, options);
  const runtime::PtxasReport r = runtime::parsePtxasReport(c.log);
  INFO(c.log);
  REQUIRE(r.functions.size() == 1);
  const runtime::PtxasFunctionReport *f = r.find("spilled");
  REQUIRE(f != nullptr);
  CHECK(f->registers == 32);
  CHECK(f->spillStoreBytes > 0);
  CHECK(f->spillLoadBytes > 0);
  CHECK(f->stackFrameBytes > 0);
  CHECK(frameLines(c.log) == std::pair<int, int>{1, 0});
}

TEST_CASE("every shipped spec compiles for sm_80 (sm80 backend) with 0 spills", "[cpu][ptxas][spills]") {
  checkSpills("sm80", "sm_80");
}

TEST_CASE("every shipped spec compiles for sm_90a (sm90 backend) with 0 spills", "[cpu][ptxas][spills]") {
  checkSpills("sm90", "sm_90");
}

TEST_CASE("every shipped spec compiles for sm_90a with overlap = pingpong and a persistent grid with 0 spills",
          "[cpu][ptxas][spills]") {
  checkSpills("sm90", "sm_90", true);
}

// Packed variable-length sequences (specs/varlen/*.json, "layout": "packed") with the schedule
// Policy::Heuristic picks: the sm80 backend on sm_80, the sm90 backend (wgmma + TMA over maps of the whole
// packed tensor) on sm_90 (and the sm80 one there when asked for, backend "sm80"); each with the cu_seqlens
// prologue and the early exit of Q tiles past a sequence's end, at 0 spills. The sm90 backend also with
// overlap = intra at BLOCK_M 64, pingpong_intra, the persistent grid and the dynamic tile scheduler (the
// [varlen] GPU test's variants).
TEST_CASE("every packed spec compiles for sm_80 and sm_90 (both backends) with 0 spills", "[cpu][ptxas][spills][varlen]") {
  int kernels = 0, specs = 0;
  for (const auto &e : std::filesystem::directory_iterator(test::specsDir() + "/varlen")) {
    const spec::Spec s = spec::parseSpecFile(e.path().string());
    ++specs;
    REQUIRE(s.layout == spec::Layout::Packed);
    struct Target {
      const char *deviceArch, *backend;
      codegen::MmaFamily mma;
      int blockM = 0; ///< 0: the heuristic's; else an sm90 variant with `overlap` and `persistent`
      codegen::WarpgroupOverlap overlap = codegen::WarpgroupOverlap::None;
      bool persistent = false;
      codegen::QTileOrder order = codegen::QTileOrder::Descending;
    };
    const Target targets[] = {
        {"sm_80", "auto", codegen::MmaFamily::MmaSyncM16N8K16},
        {"sm_90", "sm80", codegen::MmaFamily::MmaSyncM16N8K16},
        {"sm_90", "auto", codegen::MmaFamily::Wgmma},
        {"sm_90", "sm90", codegen::MmaFamily::Wgmma, 64, codegen::WarpgroupOverlap::Intra},
        {"sm_90", "sm90", codegen::MmaFamily::Wgmma, 128, codegen::WarpgroupOverlap::PingpongIntra},
        {"sm_90", "sm90", codegen::MmaFamily::Wgmma, 128, codegen::WarpgroupOverlap::Pingpong, true},
        {"sm_90", "sm90", codegen::MmaFamily::Wgmma, 128, codegen::WarpgroupOverlap::Pingpong, true,
         codegen::QTileOrder::Dynamic},
    };
    for (const Target &t : targets)
      for (int d : {64, 128}) {
        spec::ShapeOverrides o;
        o.D = d;
        const spec::Shape shape = spec::resolveShape(s, o);
        codegen::Schedule schedule = detail::heuristicSchedule(s, shape, t.deviceArch, t.backend);
        if (t.blockM)
          schedule.blockM = t.blockM, schedule.warps = t.blockM / 16, schedule.overlap = t.overlap,
          schedule.persistent = t.persistent, schedule.qTileOrder = t.order;
        const bool dynamic = t.order == codegen::QTileOrder::Dynamic;
        const std::string arch = codegen::compileArch(schedule, t.deviceArch);
        INFO("spec '" << s.name << "' D=" << d << " " << arch << " schedule " << schedule.toString());
        REQUIRE(schedule.mma == t.mma);
        const driver::BuiltKernel k = detail::buildSource(s, shape, schedule);
        // The sequence's lengths: from the block's packed tile, or on the persistent grid from cu_seqlens per tile.
        CHECK(k.source.find(schedule.persistent ? "p.cu_seqlens_q[batch + 1] - seq_start_q"
                                                : "seqlen_q = packed.len_q;") != std::string::npos);
        // The skip of tiles past a sequence's end: on a grid of blocks the block exits; on the persistent grid
        // each role moves on to its next tile; with the dynamic tile scheduler, the scheduler claims again.
        CHECK(k.source.find(dynamic                ? ") continue; // a Q tile past this sequence's end"
                            : schedule.persistent ? ") { --tile_iter; continue; } // a Q tile past this sequence's end"
                                                  : "if (packed.batch < 0) return; // past its sequence's end") !=
              std::string::npos);
        CHECK(k.grid.packedTiles == !schedule.persistent);
        if (t.mma == codegen::MmaFamily::Wgmma) {
          // The TMA coordinates: the sequence's first row on the token dim, batch 0.
          CHECK(k.source.find("static_cast<int>(seq_start_q + q_row0), static_cast<int>(head), 0);") !=
                std::string::npos);
          CHECK(k.source.find("static_cast<int>(seq_start_k + kv_next), ") != std::string::npos);
          // The early exit comes before the barriers are initialised (both roles skip the tile); on the
          // persistent grid the skip is in each role's tile loop, after them.
          const std::size_t skip =
              k.source.find(schedule.persistent ? "past this sequence's end" : "past its sequence's end");
          CHECK((skip < k.source.find("mbarrier_init(")) != schedule.persistent);
        }
        CHECK(k.launch().params.packed);
        CHECK(!k.launch().params.blockMask.present);
        const auto [c, report] = compileVerbose(k.source, arch);
        const runtime::PtxasFunctionReport *f = report.find(k.kernelName);
        INFO("NVRTC log:\n" << c.log);
        REQUIRE(f != nullptr);
        std::printf("spills %-22s D=%-3d %-6s packed %-96s %3d registers, %d B spill stores, %d B spill loads\n",
                    s.name.c_str(), d, arch.c_str(), schedule.toString().c_str(), f->registers, f->spillStoreBytes,
                    f->spillLoadBytes);
        // One exception: the dynamic tile scheduler of packed sliding_window spills 4 B in the TMA producer
        // thread's K/V loop (24 registers; v0.24), held to that so a regression still fails.
        const bool producerSpill = dynamic && s.name == "varlen_sliding_window";
        CHECK(f->spillStoreBytes <= (producerSpill ? 4 : 0));
        CHECK(f->spillLoadBytes <= (producerSpill ? 4 : 0));
        CHECK(f->stackFrameBytes <= (producerSpill ? 8 : 0));
        CHECK(c.log.find("(C7515)") == std::string::npos); // wgmma serialized
        ++kernels;
      }
  }
  CHECK(specs >= 4); // alibi, causal, mha, sliding_window
  CHECK(kernels == 14 * specs); // 7 targets x D 64, 128
}
