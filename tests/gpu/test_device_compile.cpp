// CPU tests (no GPU needed, run in CI): the device library, the primitive test kernels and the
// reference FA2 kernel compile with NVRTC for sm_80/86/89/90 and their PTX assembles with ptxas
// (registers / spills printed); NVRTC and driver errors are reported as documented.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "Fa2Launch.h"
#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/runtime/Ptxas.h"

using namespace tilefuse;
using namespace tilefuse::runtime;

namespace {

CompileOptions optionsFor(const std::string &arch, std::vector<std::string> defines = {}) {
  CompileOptions o;
  o.arch = arch;
  o.includeDirs = {TILEFUSE_TESTS_GPU_DIR};
  o.defines = std::move(defines);
  return o;
}

void printReport(const std::string &what, const std::string &arch, const CompileResult &c, const PtxasReport &r) {
  std::printf("%s %s: NVRTC %.0f ms, CUBIN %zu bytes, ptxas %.0f ms\n", what.c_str(), arch.c_str(), c.compileMs,
              c.cubin.size(), r.ms);
  for (const auto &f : r.functions)
    std::printf("  %-28s %3d registers  %4d B spill stores  %4d B spill loads  %5d B smem\n", f.name.c_str(),
                f.registers, f.spillStoreBytes, f.spillLoadBytes, f.sharedBytes);
}

} // namespace

TEST_CASE("reference FA2 kernel compiles with NVRTC and assembles with ptxas without spills", "[nvrtc][ptxas]") {
  for (const std::string arch : {"sm_80", "sm_86", "sm_89", "sm_90"}) {
    INFO(arch);
    const CompileResult c = compileCuda(test::fa2Source(), optionsFor(arch));
    REQUIRE(!c.cubin.empty());
    REQUIRE(c.ptx.find(".entry fa2_bf16_d128_causal") != std::string::npos);
    const PtxasReport r = runPtxas(c.ptx, arch);
    printReport("fa2 reference", arch, c, r);
    REQUIRE(r.functions.size() == 2 * 2 * std::size(test::kFa2HeadDims));
    for (const auto &f : r.functions) {
      INFO(f.name);
      CHECK(f.registers > 0);
      CHECK(f.registers <= 255);
      CHECK(f.spillStoreBytes == 0);
      CHECK(f.spillLoadBytes == 0);
    }
  }
}

TEST_CASE("device-library primitive kernels compile for every arch and dtype and head dim", "[nvrtc][ptxas]") {
  for (const std::string arch : {"sm_80", "sm_86", "sm_89", "sm_90"})
    for (const char *type : {"__nv_bfloat16", "__half"})
      for (int d : {32, 64, 128}) {
        INFO(arch << " " << type << " D=" << d);
        const CompileResult c = compileCuda("#include \"primitive_kernels.cuh\"\n",
                                            optionsFor(arch, {std::string("TF_T=") + type, "TF_D=" + std::to_string(d)}));
        CHECK(!c.cubin.empty());
        const PtxasReport r = runPtxas(c.ptx, arch);
        CHECK(r.functions.size() == 4);
        if (d == 128 && std::string(type) == "__half") printReport("primitives fp16 D=128", arch, c, r);
      }
}

TEST_CASE("NVRTC errors carry the log and the dumped source", "[nvrtc]") {
  try {
    compileCuda("extern \"C\" __global__ void k() { this is not cuda; }", optionsFor("sm_80"));
    FAIL("expected CompileError");
  } catch (const CompileError &e) {
    CHECK(e.log().find("error") != std::string::npos);
    REQUIRE(!e.dumpedSource().empty());
    std::ifstream dumped(e.dumpedSource());
    std::string text((std::istreambuf_iterator<char>(dumped)), std::istreambuf_iterator<char>());
    CHECK(text.find("this is not cuda") != std::string::npos);
    std::remove(e.dumpedSource().c_str());
  }
  // A compute_XY target compiles but yields no CUBIN: reported, not returned empty.
  CHECK_THROWS_AS(compileCuda("extern \"C\" __global__ void k() {}", optionsFor("compute_80")), CompileError);
}

TEST_CASE("ptxas rejects bad PTX with CompileError", "[ptxas]") {
  CHECK_THROWS_AS(runPtxas(".version 8.0\n.target sm_80\nthis is not ptx\n", "sm_80"), CompileError);
}

TEST_CASE("the driver loads lazily and reports a missing GPU clearly", "[driver]") {
  std::string reason;
  const bool available = gpuAvailable(&reason); // never throws
  if (!available) {
    WARN("no GPU here: " << reason);
    CHECK(!reason.empty());
    try {
      deviceInfo(0);
      FAIL("expected NoGpuError or CudaError");
    } catch (const NoGpuError &e) {
      CHECK(std::string(e.what()).find("no CUDA driver") != std::string::npos);
    } catch (const CudaError &e) { // a driver without devices
      CHECK(!e.name().empty());
    }
  } else {
    const DeviceInfo info = deviceInfo(0);
    std::printf("GPU 0: %s %s, %d SMs, %d B smem optin, %d B L2, driver %d\n", info.name.c_str(), info.arch().c_str(),
                info.smCount, info.maxSharedPerBlockOptin, info.l2CacheBytes, driverVersion());
    CHECK(info.ccMajor >= 7);
    CHECK(info.smCount > 0);
    // A failing call names the call and the CUresult.
    try {
      getDevice(deviceCount() + 7);
      FAIL("expected CudaError");
    } catch (const CudaError &e) {
      CHECK(e.call() == "cuDeviceGet");
      CHECK(e.name() == "CUDA_ERROR_INVALID_DEVICE");
    }
  }
}
