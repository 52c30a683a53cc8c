// CPU tests (no GPU needed, run in CI): the wgmma device header (runtime/device/tilefuse/device/wgmma.cuh),
// its primitive check kernel and the hand-written wgmma attention kernel compile with NVRTC for sm_90a;
// the PTX holds wgmma.mma_async and assembles with ptxas -arch=sm_90a without spills and without any
// (C75xx) performance note (injected warpgroup.arrive/wait, serialized wgmma). When cuobjdump is on
// PATH (the GPU machines), the SASS is checked for HGMMA.
#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "WgmmaAttention.h"
#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/runtime/Ptxas.h"

using namespace tilefuse;
using namespace tilefuse::runtime;

namespace {

CompileResult compileSm90a(const std::string &source) {
  CompileOptions o;
  o.arch = "sm_90a";
  o.includeDirs = {TILEFUSE_TESTS_GPU_DIR};
  return compileCuda(source, o);
}

std::size_t count(const std::string &text, const std::string &what) {
  std::size_t n = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

/// `cuobjdump -sass` of `cubin`, or "" when no cuobjdump runs here (the CPU machines have none).
std::string sassOf(const std::vector<char> &cubin) {
  if (std::system("cuobjdump --version >/dev/null 2>&1") != 0) return "";
  const std::string path = "/tmp/tilefuse-wgmma-check-" + std::to_string(std::rand()) + ".cubin";
  std::ofstream(path, std::ios::binary).write(cubin.data(), std::streamsize(cubin.size()));
  std::string sass;
  if (FILE *pipe = popen(("cuobjdump -sass " + path + " 2>&1").c_str(), "r")) {
    std::array<char, 4096> buf{};
    while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) sass.append(buf.data(), n);
    pclose(pipe);
  }
  std::remove(path.c_str());
  return sass;
}

void checkWgmmaModule(const std::string &what, const std::string &source, std::size_t kernels,
                      const std::vector<std::string> &ptxMust = {"fence.proxy.async.shared::cta"}) {
  const CompileResult c = compileSm90a(source);
  REQUIRE(!c.cubin.empty());
  CHECK(c.ptx.find("wgmma.mma_async.sync.aligned.m64n") != std::string::npos);
  for (const std::string &s : ptxMust) {
    INFO("PTX holds " << s);
    CHECK(c.ptx.find(s) != std::string::npos);
  }
  const PtxasReport r = runPtxas(c.ptx, "sm_90a");
  std::printf("%s sm_90a: NVRTC %.0f ms, CUBIN %zu bytes, ptxas %.0f ms\n", what.c_str(), c.compileMs, c.cubin.size(),
              r.ms);
  for (const auto &f : r.functions)
    std::printf("  %-32s %3d registers  %4d B spill stores  %4d B spill loads  %4d B stack\n", f.name.c_str(),
                f.registers, f.spillStoreBytes, f.spillLoadBytes, f.stackFrameBytes);
  REQUIRE(r.functions.size() == kernels);
  for (const auto &f : r.functions) {
    INFO(f.name);
    CHECK(f.registers <= 255);
    CHECK(f.spillStoreBytes == 0);
    CHECK(f.spillLoadBytes == 0);
    CHECK(f.stackFrameBytes == 0);
  }
  INFO(r.output);
  CHECK(r.output.find("(C75") == std::string::npos); // C7508/C7512/C7517/C7519: wgmma serialized or fenced
  const std::string sass = sassOf(c.cubin);
  if (sass.empty()) {
    WARN("no cuobjdump here: SASS not checked for HGMMA (PTX wgmma + ptxas report checked)");
  } else {
    std::printf("  SASS: %zu HGMMA, %zu HMMA, %zu LDL/STL\n", count(sass, "HGMMA"), count(sass, "HMMA"),
                count(sass, "LDL") + count(sass, "STL"));
    CHECK(count(sass, "HGMMA") > 0);
    CHECK(count(sass, "LDL") + count(sass, "STL") == 0);
  }
}

} // namespace

TEST_CASE("wgmma primitive check kernel compiles for sm_90a to wgmma without spills", "[nvrtc][ptxas][wgmma]") {
  checkWgmmaModule("wgmma gemm check", "#include \"wgmma_gemm_kernel.cuh\"\n", 1);
}

TEST_CASE("wgmma partial-panel check kernel (head dim 80) compiles for sm_90a to wgmma without spills",
          "[nvrtc][ptxas][wgmma]") {
  checkWgmmaModule("wgmma partial-panel check", "#include \"wgmma_partial_panel_kernel.cuh\"\n", 1,
                   {"wgmma.mma_async.sync.aligned.m64n80k16.f32.bf16.bf16"});
}

TEST_CASE("wgmma attention kernel compiles for sm_90a to wgmma without spills", "[nvrtc][ptxas][wgmma]") {
  const auto variants = test::wgmmaVariants();
  checkWgmmaModule("wgmma attention", test::wgmmaSource(variants), 2 * variants.size());
}

TEST_CASE("warp-specialized wgmma attention kernel (TMA, mbarrier, setmaxnreg) compiles for sm_90a without spills",
          "[nvrtc][ptxas][wgmma]") {
  // ptxas reports the registers at entry (the __launch_bounds__(384, 1) cap, 168); setmaxnreg moves the
  // consumers to 240 and the producer to 24. A C7508 note (setmaxnreg ignored) fails the (C75 check.
  const auto variants = test::wgmmaWsVariants();
  checkWgmmaModule("wgmma warp-specialized attention", test::wgmmaWsSource(variants), 2 * variants.size(),
                   {"cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes",
                    "mbarrier.try_wait.parity", "setmaxnreg.inc.sync.aligned.u32 240",
                    "setmaxnreg.dec.sync.aligned.u32 24"});
}

TEST_CASE("plain sm_90 rejects the wgmma attention kernel with a clear error", "[nvrtc][wgmma]") {
  CompileOptions o;
  o.arch = "sm_90";
  o.includeDirs = {TILEFUSE_TESTS_GPU_DIR};
  try {
    compileCuda(test::wgmmaSource(test::wgmmaVariants()), o);
    FAIL("expected CompileError");
  } catch (const CompileError &e) {
    CHECK(e.log().find("needs sm_90a") != std::string::npos);
    std::remove(e.dumpedSource().c_str());
  }
}
