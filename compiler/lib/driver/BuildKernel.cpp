//===- BuildKernel.cpp - spec + shape + schedule -> CUDA kernel, the one entry point -===//
#include "tilefuse/driver/BuildKernel.h"
#include "tilefuse/driver/FusedProgram.h"

#include "tilefuse/codegen/CodeGen.h"
#include "tilefuse/compiler/Passes.h"
#include "tilefuse/lowering/Lowering.h"

#include "blk/BlkDialect.h"
#include "blk/SpecLocation.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <cstdint>

namespace tilefuse::driver {
namespace {

double msSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

std::string withSchedule(const std::string &subject, const codegen::Schedule &schedule) {
  return subject + ", schedule " + schedule.toString();
}

/// The first func.func of `m` (null when there is none).
mlir::func::FuncOp firstFunc(mlir::ModuleOp m) {
  mlir::func::FuncOp fn;
  m->walk([&](mlir::func::FuncOp f) {
    if (!fn)
      fn = f;
  });
  return fn;
}

} // namespace

std::string_view spelling(BuildStage stage) {
  switch (stage) {
  case BuildStage::Schedule:
    return "schedule";
  case BuildStage::Lowering:
    return "lowering";
  case BuildStage::Fusion:
    return "fusion";
  case BuildStage::CodeGeneration:
    return "code generation";
  }
  return "?";
}

KernelBuildError::KernelBuildError(BuildStage stage, const std::string &message)
    : std::runtime_error(message), stage_(stage) {}

KernelBuildError KernelBuildError::at(BuildStage stage, const std::string &subject, const std::string &detail,
                                      const std::string &stageLabel) {
  return KernelBuildError(stage, subject + ": " + (stageLabel.empty() ? std::string(spelling(stage)) : stageLabel) +
                                     ": " + detail);
}

codegen::LaunchDescription BuiltKernel::launch() const {
  return {kernelName, threadsPerBlock, dynamicSmemBytes, grid, params};
}

std::string describe(const spec::Spec &spec, const spec::Shape &shape) {
  std::string s = "spec '" + spec.name + "' (D=" + std::to_string(shape.D);
  if (shape.Dv != shape.D)
    s += ", Dv=" + std::to_string(shape.Dv);
  s += ", " + std::string(spec::spelling(spec.dtype));
  if (shape.Hkv > 0 && shape.groupSize() > 1)
    s += ", group " + std::to_string(shape.groupSize());
  return s + ")";
}

FusionOutcome runFusion(mlir::ModuleOp module, int64_t blockN) {
  FusionOutcome r;
  llvm::raw_string_ostream diag(r.diagnostics);
  mlir::ScopedDiagnosticHandler handler(module.getContext(), [&](mlir::Diagnostic &d) {
    // An op lowered from a spec expression is named by its place in the spec (blk/SpecLocation.h).
    std::optional<blk::SpecPosition> place = blk::findSpecPosition(d.getLocation());
    if (place)
      diag << blk::positionString(*place);
    else
      diag << d.getLocation();
    diag << ": "
         << (d.getSeverity() == mlir::DiagnosticSeverity::Error     ? "error"
             : d.getSeverity() == mlir::DiagnosticSeverity::Warning ? "warning"
                                                                    : "remark")
         << ": ";
    if (place)
      diag << blk::specContext(d.getLocation()) << ": ";
    diag << d.str() << "\n";
    return mlir::success();
  });
  mlir::PassManager pm(module.getContext());
  FusePipelineOptions options;
  options.blockN = blockN;
  buildFusePipeline(pm, options);
  r.pipelineSucceeded = mlir::succeeded(pm.run(module));
  auto untiledTile = [](mlir::Type t) {
    auto tile = mlir::dyn_cast<blk::TileType>(t);
    return tile && tile.getNumDynamicDims() > 0;
  };
  module->walk([&](mlir::Operation *op) {
    if (op->getName().getStringRef() == "blk.kernel")
      ++r.kernels;
    if (op->getName().getStringRef() == "blk.alloc")
      ++r.hbmScratch;
    if (op->getParentOfType<blk::KernelOp>() &&
        (llvm::any_of(op->getOperandTypes(), untiledTile) || llvm::any_of(op->getResultTypes(), untiledTile)))
      ++r.untiled;
  });
  return r;
}

namespace {

/// runFusion with BLOCK_N = blockN, for code generation: throws KernelBuildError (stage Fusion, `subject`,
/// `stageLabel`) for a BLOCK_N <= 0, a pipeline that fails, or a program left with more than one kernel,
/// HBM scratch or ops on `?` tiles (with the fusion diagnostics).
FusionOutcome fuseForCodegen(mlir::ModuleOp module, int64_t blockN, const std::string &subject,
                             const std::string &stageLabel) {
  if (blockN <= 0)
    throw KernelBuildError::at(BuildStage::Fusion, subject, "BLOCK_N must be positive", stageLabel);
  FusionOutcome fusion = runFusion(module, blockN);
  if (!fusion.pipelineSucceeded)
    throw KernelBuildError::at(BuildStage::Fusion, subject, "the pipeline failed:\n" + fusion.diagnostics, stageLabel);
  if (!fusion.fullyFused())
    throw KernelBuildError::at(BuildStage::Fusion, subject,
                               "the rules left " + std::to_string(fusion.kernels) + " kernels, " +
                                   std::to_string(fusion.hbmScratch) + " HBM scratch buffers and " +
                                   std::to_string(fusion.untiled) +
                                   " ops on untiled `?` tiles; code generation needs one fused, tiled kernel. "
                                   "Fusion diagnostics:\n" + fusion.diagnostics,
                               stageLabel);
  return fusion;
}

} // namespace

FusedProgram fuseSpec(mlir::MLIRContext &context, const spec::Spec &spec, const spec::Shape &shape, int64_t blockM,
                      int64_t blockN) {
  const std::string subject = describe(spec, shape);
  const std::string fusionStage = "fusion (BLOCK_N=" + std::to_string(blockN) + ")";
  lowering::loadDialects(context);
  FusedProgram p;
  // 1. Lower: the unfused three-kernel program, S and P through HBM.
  p.module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
  try {
    p.func = lowering::lowerToUnfused(*p.module, spec, shape, {blockM});
  } catch (const std::exception &e) {
    throw KernelBuildError::at(BuildStage::Lowering, subject, e.what(),
                               "lowering (BLOCK_M=" + std::to_string(blockM) + ")");
  }
  // 2. Fuse with the rules; code generation needs exactly one kernel and no HBM scratch.
  p.fusion = fuseForCodegen(*p.module, blockN, subject, fusionStage);
  // The passes may replace the function; look it up again.
  p.func = firstFunc(*p.module);
  if (!p.func)
    throw KernelBuildError::at(BuildStage::Fusion, subject, "the fused module has no function", fusionStage);
  return p;
}

BuiltKernel buildKernel(mlir::func::FuncOp fused, const codegen::KernelSignature &signature,
                        const codegen::Schedule &schedule, const std::string &subject) {
  const auto start = std::chrono::steady_clock::now();
  try {
    schedule.validate();
  } catch (const codegen::ScheduleError &e) {
    throw KernelBuildError::at(BuildStage::Schedule, withSchedule(subject, schedule), e.what());
  }
  codegen::GeneratedKernel k;
  try {
    k = codegen::generateKernel(fused, schedule, signature);
  } catch (const codegen::ScheduleError &e) {
    throw KernelBuildError::at(BuildStage::Schedule, withSchedule(subject, schedule), e.what());
  } catch (const std::exception &e) {
    throw KernelBuildError::at(BuildStage::CodeGeneration, withSchedule(subject, schedule), e.what());
  }
  BuiltKernel out;
  out.source = std::move(k.source);
  out.kernelName = std::move(k.kernelName);
  out.threadsPerBlock = k.threadsPerBlock;
  out.dynamicSmemBytes = k.dynamicSmemBytes;
  out.grid = std::move(k.grid);
  out.params = std::move(k.params);
  out.schedule = k.schedule;
  out.generateMs = msSince(start);
  return out;
}

BuiltKernel buildKernel(const spec::Spec &spec, const spec::Shape &shape, const codegen::Schedule &schedule) {
  const auto start = std::chrono::steady_clock::now();
  const std::string subject = describe(spec, shape);
  try {
    schedule.validate();
    codegen::checkHeadDim("head_dim", static_cast<int>(std::min<int64_t>(shape.D, INT32_MAX)));
    codegen::checkHeadDim("value_dim", static_cast<int>(std::min<int64_t>(shape.Dv, INT32_MAX)));
  } catch (const codegen::ScheduleError &e) {
    throw KernelBuildError::at(BuildStage::Schedule, withSchedule(subject, schedule), e.what());
  }
  // Its own context: the Engine builds kernels on many threads at once.
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  FusedProgram program = fuseSpec(context, spec, shape, schedule.blockM, schedule.blockN);
  BuiltKernel k = buildKernel(program.func, codegen::KernelSignature::fromSpec(spec), schedule, subject);
  k.generateMs = msSince(start);
  return k;
}

ProgramFile loadProgramFile(const std::string &path, int64_t blockN) {
  const std::string stage = "fusion (BLOCK_N=" + std::to_string(blockN) + ")";
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in || in.bad())
    throw KernelBuildError::at(BuildStage::Fusion, path, "cannot read the block program", stage);
  ProgramFile p;
  p.context = std::make_unique<mlir::MLIRContext>();
  lowering::loadDialects(*p.context);
  p.original = mlir::parseSourceString<mlir::ModuleOp>(text.str(), p.context.get(), path);
  if (!p.original || mlir::failed(mlir::verify(*p.original)))
    throw KernelBuildError::at(BuildStage::Fusion, path,
                               "the block program does not parse or verify (the errors above say where)", stage);
  p.originalFunc = firstFunc(*p.original);
  if (!p.originalFunc)
    throw KernelBuildError::at(BuildStage::Fusion, path, "the file has no func.func", stage);
  p.fused = mlir::OwningOpRef<mlir::ModuleOp>(p.original->clone());
  p.fusion = fuseForCodegen(*p.fused, blockN, path, stage);
  p.fusedFunc = firstFunc(*p.fused);
  return p;
}

} // namespace tilefuse::driver
