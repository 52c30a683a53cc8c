// Every fused input in tests/lit/codegen/Inputs, generated with a schedule matched to it, compiles with
// NVRTC for sm_80, sm_86, sm_89 and sm_90 and its PTX assembles with ptxas without spills. Prints the
// ptxas registers / spills line of each. Also the non-default schedules (1 and 3 stages, Q in SMEM,
// 32 rows per warp) on the causal and the D = 64 programs. CPU only: no GPU needed.
#include "CodegenTestSupport.h"

#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/runtime/Ptxas.h"

#include <catch2/catch.hpp>

#include <cstdio>

using namespace tilefuse;
using namespace tilefuse::codegen;
using namespace tilefuse::codegen::test;

namespace {

/// Compiles, assembles, prints the report line and checks the kernel fits and does not spill.
void compileAndCheck(const std::string &what, const GeneratedKernel &k, const std::string &arch) {
  INFO(what << " " << arch << " " << k.schedule.toString());
  REQUIRE(k.dynamicSmemBytes <= maxDynamicSmemBytes(arch));
  runtime::CompileOptions options;
  options.arch = arch;
  options.sourceName = k.kernelName + ".cu";
  const runtime::CompileResult c = runtime::compileCuda(k.source, options);
  REQUIRE(!c.cubin.empty());
  const runtime::PtxasReport r = runtime::runPtxas(c.ptx, arch);
  const runtime::PtxasFunctionReport *f = r.find(k.kernelName);
  REQUIRE(f != nullptr);
  std::printf("codegen %-22s %-6s %-58s %3d registers, %3d B spill stores, %3d B spill loads, %6zu B dynamic smem, "
              "NVRTC %.0f ms\n",
              what.c_str(), arch.c_str(), k.schedule.toString().c_str(), f->registers, f->spillStoreBytes,
              f->spillLoadBytes, k.dynamicSmemBytes, c.compileMs);
  CHECK(f->registers <= 255);
  CHECK(f->spillStoreBytes == 0);
  CHECK(f->spillLoadBytes == 0);
}

void compileAllInputs(const std::string &arch) {
  const std::vector<std::string> files = inputFiles();
  REQUIRE(files.size() >= 8);
  for (const std::string &file : files) {
    const Program prog = loadInput(file);
    compileAndCheck(file, generate(prog), arch);
  }
}

} // namespace

TEST_CASE("Generated kernels of every fused input compile for sm_80", "[nvrtc][ptxas]") { compileAllInputs("sm_80"); }
TEST_CASE("Generated kernels of every fused input compile for sm_86", "[nvrtc][ptxas]") { compileAllInputs("sm_86"); }
TEST_CASE("Generated kernels of every fused input compile for sm_89", "[nvrtc][ptxas]") { compileAllInputs("sm_89"); }
TEST_CASE("Generated kernels of every fused input compile for sm_90", "[nvrtc][ptxas]") { compileAllInputs("sm_90"); }

TEST_CASE("Schedule variants of the causal kernel compile", "[nvrtc][ptxas]") {
  const Program prog = loadInput("causal.mlir");
  Schedule s;
  s.kvStages = 1;
  compileAndCheck("causal.mlir", generate(prog, s), "sm_86");
  s.kvStages = 3;
  compileAndCheck("causal.mlir", generate(prog, s), "sm_80");
  s = {};
  s.q = QPlacement::Smem;
  compileAndCheck("causal.mlir", generate(prog, s), "sm_89");
  s = {};
  s.warps = 4; // 32 query rows per warp: D = 64 keeps the registers in budget
  compileAndCheck("mha_d64_fp16.mlir", generate(loadInput("mha_d64_fp16.mlir"), s, /*keepWarps=*/true), "sm_90");
}
