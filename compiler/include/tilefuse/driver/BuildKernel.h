//===- BuildKernel.h - THE entry point: spec + shape + schedule -> CUDA kernel -*- C++ -*-===//
//
// The one place that turns an attention spec into a kernel. The CLI (`tilefuse emit / bench /
// tune`), the tuner (tuner::KernelBuilder) and the runtime (Engine::getKernel) all call it:
//
//   spec + shape (D, Dv, GQA group) + schedule
//     -> validate the schedule                                           stage "schedule"
//     -> lower to the unfused block program, BLOCK_M = schedule.blockM   stage "lowering"
//     -> fuse (`--tilefuse-fuse`), BLOCK_N = schedule.blockN; require one blk.kernel and no HBM
//        scratch                                                          stage "fusion"
//     -> codegen::generateKernel for the schedule's backend              stage "code generation"
//        (schedule.mma: mma_sync_m16n8k16 = sm80, wgmma = sm90; Schedule::target())
//
// Programs that are already fused (a `.mlir` file, the tuner's per-(BLOCK_M, BLOCK_N) cache) enter
// at the last stage through the overload in FusedProgram.h. No MLIR type appears in this header.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/codegen/KernelAbi.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/spec/Spec.h"

#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

namespace tilefuse::driver {

/// The stage of buildKernel that failed.
enum class BuildStage { Schedule, Lowering, Fusion, CodeGeneration };
std::string_view spelling(BuildStage stage); ///< "schedule", "lowering", "fusion", "code generation"

/// buildKernel rejected the spec, shape or schedule. what() names the spec (and schedule when there
/// is one), the stage and the reason, e.g. "spec 'gemma2_9b' (D=256, bf16), schedule BLOCK_M=64 ...:
/// schedule: value_dim = 40 is not supported; allowed values: multiples of 16 from 16 to 256".
class KernelBuildError : public std::runtime_error {
public:
  /// what() = message, as given (for callers that phrase it themselves).
  KernelBuildError(BuildStage stage, const std::string &message);
  /// what() = "<subject>: <stage>: <detail>" (stageLabel overrides the stage's spelling, e.g.
  /// "fusion (BLOCK_N=64)").
  static KernelBuildError at(BuildStage stage, const std::string &subject, const std::string &detail,
                             const std::string &stageLabel = {});
  BuildStage stage() const noexcept { return stage_; }

private:
  BuildStage stage_;
};

/// A generated kernel: CUDA source plus everything needed to compile and launch it.
struct BuiltKernel {
  std::string source;     ///< CUDA C++ for NVRTC (includes <tilefuse/device.cuh>; runtime/device on the path)
  std::string kernelName; ///< extern "C" __global__ void <kernelName>(const Params p)
  int threadsPerBlock = 0;
  std::size_t dynamicSmemBytes = 0; ///< bytes per block; > 48 KB needs the opt-in attribute
  codegen::GridRule grid;
  codegen::ParamLayout params;
  codegen::Schedule schedule; ///< the schedule it was generated for
  double generateMs = 0;      ///< wall time of buildKernel, ms (lowering + fusion + generation)

  /// How to launch it (what the tuner's cache stores next to the CUBIN).
  codegen::LaunchDescription launch() const;
  /// The backend that generated it: "sm80" (mma.sync, cp.async) or "sm90" (wgmma, TMA).
  std::string_view target() const { return schedule.target(); }
};

/// "spec 'causal' (D=128, bf16)", with ", Dv=.." when Dv != D and ", group G" when G > 1: how every
/// build message names what it was building.
std::string describe(const spec::Spec &spec, const spec::Shape &shape);

/// Builds the kernel of `spec` at `shape`'s static sizes (D, Dv, GQA group Hq / Hkv; B, Hq, Hkv, Sq,
/// Sk stay run-time parameters of the kernel) for `schedule`: the stages listed at the top of this
/// file, in a fresh MLIR context (safe to call from several threads at once). Throws
/// KernelBuildError naming the stage and the spec: stage Schedule when schedule.validate() fails or D
/// or Dv is not a head dim the code generator takes (codegen::checkHeadDim),
/// Lowering when the spec cannot be lowered at this shape, Fusion when the pipeline fails or leaves
/// more than one kernel or any HBM scratch buffer (the fusion diagnostics are in what()),
/// CodeGeneration when the generator cannot translate the fused program.
BuiltKernel buildKernel(const spec::Spec &spec, const spec::Shape &shape, const codegen::Schedule &schedule);

} // namespace tilefuse::driver
