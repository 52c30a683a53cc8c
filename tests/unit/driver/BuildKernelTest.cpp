// driver::buildKernel, the one way from a spec to a kernel (CLI, tuner and runtime all call it):
// the stages it names in its errors, the two backends a schedule selects, and the overload for a
// program that is already fused.
#include "tilefuse/driver/BuildKernel.h"
#include "tilefuse/driver/FusedProgram.h"

#include "tilefuse/codegen/CodeGen.h"
#include "tilefuse/lowering/Lowering.h"

#include "mlir/Parser/Parser.h"

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#ifndef TILEFUSE_SPECS_DIR
#error "TILEFUSE_SPECS_DIR must be defined by tests/unit/driver/CMakeLists.txt"
#endif

using namespace tilefuse;
using driver::BuildStage;
using driver::KernelBuildError;

namespace {

spec::Spec loadSpec(const std::string &name) { return spec::parseSpecFile(std::string(TILEFUSE_SPECS_DIR) + "/" + name); }

/// The module of the .mlir file at `path`, parsed in `context` (the project's dialects loaded); fails the
/// test when the file is missing or does not parse.
mlir::OwningOpRef<mlir::ModuleOp> parseFile(mlir::MLIRContext &context, const std::string &path) {
  std::ifstream in(path);
  REQUIRE(in);
  std::stringstream text;
  text << in.rdbuf();
  lowering::loadDialects(context);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceString<mlir::ModuleOp>(text.str(), &context);
  REQUIRE(module);
  return module;
}

/// The stage of the KernelBuildError `f` throws; fails the test when it throws nothing or another type.
template <typename F> BuildStage stageOf(F &&f, std::string *message = nullptr) {
  try {
    f();
  } catch (const KernelBuildError &e) {
    if (message)
      *message = e.what();
    return e.stage();
  }
  FAIL("no KernelBuildError");
  return BuildStage::Schedule;
}

} // namespace

TEST_CASE("buildKernel turns a spec into one sm80 kernel for an mma.sync schedule", "[driver]") {
  const spec::Spec s = loadSpec("causal.json");
  const spec::Shape shape = spec::resolveShape(s, {1, 4, 4, 1000, 1000, {}, {}});
  codegen::Schedule schedule; // mma.sync, BLOCK_M = BLOCK_N = 64, 4 warps
  const driver::BuiltKernel k = driver::buildKernel(s, shape, schedule);
  CHECK(k.kernelName == "tilefuse_causal");
  CHECK(k.target() == "sm80");
  CHECK(k.schedule == schedule);
  CHECK(k.threadsPerBlock == 128);
  CHECK(k.grid.toString() == "x = ceil(Sq / 64), y = Hq, z = B");
  CHECK(k.source.find("extern \"C\" __global__") != std::string::npos);
  CHECK(k.source.find("wgmma") == std::string::npos);
  CHECK(k.generateMs > 0);
  const codegen::LaunchDescription launch = k.launch();
  CHECK(launch.kernelName == k.kernelName);
  CHECK(launch.dynamicSmemBytes == k.dynamicSmemBytes);
  CHECK(launch.params.bytes == k.params.bytes);
}

TEST_CASE("buildKernel generates the sm90 backend for a wgmma schedule", "[driver]") {
  const spec::Spec s = loadSpec("mha.json");
  const spec::Shape shape = spec::resolveShape(s, {});
  const codegen::Schedule schedule = codegen::defaultSchedule(static_cast<int>(shape.D), s.dtype, "sm_90a");
  REQUIRE(schedule.mma == codegen::MmaFamily::Wgmma);
  const driver::BuiltKernel k = driver::buildKernel(s, shape, schedule);
  CHECK(k.target() == "sm90");
  CHECK(k.threadsPerBlock == schedule.threadsPerBlock());
  CHECK(k.source.find("wgmma") != std::string::npos);
}

TEST_CASE("buildKernel's sm90 backend pads head dims that are not a multiple of 64 to whole panels", "[driver]") {
  const spec::Spec s = loadSpec("causal.json");
  const spec::Shape shape = spec::resolveShape(s, {{}, {}, {}, {}, {}, 80, 80});
  const codegen::Schedule schedule = codegen::defaultSchedule(80, s.dtype, "sm_90a");
  REQUIRE(schedule.mma == codegen::MmaFamily::Wgmma);
  const driver::BuiltKernel k = driver::buildKernel(s, shape, schedule);
  CHECK(k.target() == "sm90");
  // Q [128 x 80] and K, V [128 x 80] tiles stored 128 columns wide: two TMA boxes each, the second one
  // half past the tensor (zero fill); S = Q K^T runs 80 / 16 k-steps and O += P V is one n80 wgmma.
  CHECK_THAT(k.source, Catch::Contains("// sw128<128, 128> (columns 80..127: TMA zero fill)"));
  CHECK_THAT(k.source, Catch::Contains("mbarrier_arrive_expect_tx(bars + 0u, 32768u);"));
  CHECK_THAT(k.source, Catch::Contains("q_smem + 16384u, p.Q_tma, bars + 0u, 64, "));
  CHECK_THAT(k.source, Catch::Contains("warpgroup::mma_ABt_async<T, 128, 128, 80>("));
  CHECK_THAT(k.source, Catch::Contains("warpgroup::mma_AB_async<T, 128, 80>("));
  // O [128 x 80] leaves through a 128-column staging buffer too: two 64-column TMA stores per warpgroup,
  // the second one clipped at column 80 by the tensor map.
  CHECK_THAT(k.source, Catch::Contains("warpgroup::store_sw128<__nv_bfloat16, 128, 80>(store_smem, o_acc, warp_row0);"));
  CHECK_THAT(k.source, Catch::Contains("tma_store_4d(p.O_tma, store_smem + 16384u + wg_row0 * 128u, 64, "));
  CHECK(k.dynamicSmemBytes == 1024 + 2 * (128 * 128 + 2 * 2 * 128 * 128) + 2 * 128 * 128 + 8 * (1 + 2 * 2 * 2));
  CHECK(k.params.fields.front().boxCols == 64);
}

TEST_CASE("buildKernel's errors name the stage and the spec", "[driver]") {
  const spec::Spec s = loadSpec("causal.json");
  const spec::Shape shape = spec::resolveShape(s, {});
  std::string message;

  codegen::Schedule badWarps;
  badWarps.warps = 3;
  CHECK(stageOf([&] { driver::buildKernel(s, shape, badWarps); }, &message) == BuildStage::Schedule);
  CHECK_THAT(message, Catch::StartsWith("spec 'causal' (D=128, bf16), schedule BLOCK_M=64") &&
                          Catch::Contains(": schedule: ") && Catch::Contains("warps"));

  mlir::MLIRContext context;
  CHECK(stageOf([&] { driver::fuseSpec(context, s, shape, 0, 64); }, &message) == BuildStage::Lowering);
  CHECK_THAT(message, Catch::StartsWith("spec 'causal'") && Catch::Contains("lowering (BLOCK_M=0)"));
  CHECK(stageOf([&] { driver::fuseSpec(context, s, shape, 64, 0); }, &message) == BuildStage::Fusion);
  CHECK_THAT(message, Catch::Contains("fusion (BLOCK_N=0)"));

  // Head dims the generator has no tiles for: not a multiple of 16, or above 256 (D and Dv alike).
  const spec::Shape d40 = spec::resolveShape(s, {{}, {}, {}, {}, {}, 40, 40});
  CHECK(stageOf([&] { driver::buildKernel(s, d40, codegen::Schedule{}); }, &message) == BuildStage::Schedule);
  CHECK_THAT(message, Catch::StartsWith("spec 'causal' (D=40") &&
                          Catch::EndsWith(": schedule: head_dim = 40 is not supported; allowed values: multiples "
                                          "of 16 from 16 to 256"));
  const spec::Shape dv272 = spec::resolveShape(s, {{}, {}, {}, {}, {}, 64, 272});
  CHECK(stageOf([&] { driver::buildKernel(s, dv272, codegen::Schedule{}); }, &message) == BuildStage::Schedule);
  CHECK_THAT(message, Catch::Contains("value_dim = 272 is not supported; allowed values: multiples of 16 from 16 to 256"));

  CHECK(driver::spelling(BuildStage::CodeGeneration) == "code generation");
}

TEST_CASE("buildKernel of a fused program gives the spec's kernel and rejects an unfused one", "[driver]") {
  const spec::Spec s = loadSpec("gqa.json");
  const spec::Shape shape = spec::resolveShape(s, {});
  const codegen::Schedule schedule;
  const driver::BuiltKernel fromSpec = driver::buildKernel(s, shape, schedule);

  mlir::MLIRContext context;
  driver::FusedProgram fused = driver::fuseSpec(context, s, shape, schedule.blockM, schedule.blockN);
  CHECK(fused.fusion.fullyFused());
  const driver::BuiltKernel fromProgram =
      driver::buildKernel(fused.func, codegen::KernelSignature::fromSpec(s), schedule, driver::describe(s, shape));
  CHECK(fromProgram.source == fromSpec.source);
  CHECK(fromProgram.kernelName == fromSpec.kernelName);
  CHECK(fromProgram.params.bytes == fromSpec.params.bytes);
  CHECK(driver::describe(s, shape).find("group ") != std::string::npos); // GQA: the group is named

  // The unfused program (three kernels, S and P through HBM) is a code generation error.
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
  mlir::func::FuncOp unfused = lowering::lowerToUnfused(*module, s, shape, {schedule.blockM});
  std::string message;
  CHECK(stageOf([&] { driver::buildKernel(unfused, codegen::KernelSignature::fromSpec(s), schedule, "unfused gqa"); },
                &message) == BuildStage::CodeGeneration);
  CHECK_THAT(message, Catch::StartsWith("unfused gqa, schedule ") && Catch::Contains("code generation: ") &&
                          Catch::Contains("blk.kernel"));
}

TEST_CASE("buildKernel of a program read from a .mlir file infers its signature", "[driver]") {
  mlir::MLIRContext context;
  mlir::OwningOpRef<mlir::ModuleOp> module = parseFile(context, std::string(TILEFUSE_CODEGEN_INPUTS) + "/causal.mlir");
  mlir::func::FuncOp fn;
  module->walk([&](mlir::func::FuncOp f) { fn = f; });
  REQUIRE(fn);
  const codegen::Schedule schedule = codegen::matchProgram(fn, codegen::Schedule{}); // the file's tiles
  const driver::BuiltKernel k = driver::buildKernel(fn, codegen::inferSignature(fn), schedule, "causal.mlir");
  CHECK(k.kernelName == "tilefuse_causal");
  CHECK(k.params.bytes > 0);
}

TEST_CASE("runFusion does not call a program with untiled run-time tiles fully fused", "[driver]") {
  // RMSNorm + matmul fuses into one tiled kernel, with a run-time output width F too (nested tiling); with
  // its weights scaled by a map over the whole [D?, F?] tile, which no rule slices, the matmul stays on `?`
  // tiles: one kernel, no HBM scratch, and still not done.
  auto run = [](const std::string &file) {
    mlir::MLIRContext context;
    mlir::OwningOpRef<mlir::ModuleOp> module = parseFile(context, std::string(TILEFUSE_FUSION_INPUTS) + "/" + file);
    return driver::runFusion(*module, 64);
  };
  const driver::FusionOutcome tiled = run("rmsnorm_matmul.mlir");
  CHECK(tiled.pipelineSucceeded);
  CHECK(tiled.kernels == 1);
  CHECK(tiled.hbmScratch == 0);
  CHECK(tiled.untiled == 0);
  CHECK(tiled.fullyFused());
  const driver::FusionOutcome nested = run("rmsnorm_matmul_dynamic_f.mlir");
  CHECK(nested.untiled == 0);
  CHECK(nested.fullyFused());
  const driver::FusionOutcome untiled = run("rmsnorm_matmul_scaled_w.mlir");
  CHECK(untiled.pipelineSucceeded);
  CHECK(untiled.kernels == 1);
  CHECK(untiled.hbmScratch == 0);
  CHECK(untiled.untiled > 0);
  CHECK_FALSE(untiled.fullyFused());
  CHECK_THAT(untiled.diagnostics, Catch::Contains("cannot tile 'blk.store': a tile with two `?` dims"));
}
