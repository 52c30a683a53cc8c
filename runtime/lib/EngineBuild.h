//===- EngineBuild.h - spec -> CUDA source -> CUBIN, for the engine --*- C++ -*-===//
//
// Internal to the runtime library (exported for its tests): the compile-time half of getKernel,
// with no GPU needed. No MLIR type appears here.
//
//   spec + shape (D, Dv, GQA group) + schedule
//     -> lowering (BLOCK_M = schedule.blockM) -> fusion (BLOCK_N = schedule.blockN)   driver/Driver.h
//     -> codegen::generateKernel                                                     codegen/CodeGen.h
//     -> NVRTC (CUBIN for the exact sm_XY, PTX kept)                                 runtime/Nvrtc.h
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/tilefuse.h"

#include "tilefuse/codegen/KernelAbi.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/spec/Spec.h"

#include <memory>
#include <string>

namespace tilefuse::detail {

/// A generated kernel (codegen::GeneratedKernel without the MLIR-heavy header).
struct GeneratedSource {
  std::string source;
  std::string kernelName;
  int threadsPerBlock = 0;
  std::size_t dynamicSmemBytes = 0;
  codegen::GridRule grid;
  codegen::ParamLayout params;
  codegen::Schedule schedule;
  std::string fusedIR; ///< the fused block program the kernel was generated from
  double generateMs = 0;
};

/// Lowers, fuses and generates. Throws spec::SpecError for a bad spec or shape and UnsupportedError
/// (naming the spec, D and schedule) when fusion leaves more than one kernel or HBM scratch, or the
/// generator or the schedule check rejects the program.
GeneratedSource generateSource(const spec::Spec &spec, const spec::Shape &shape, const codegen::Schedule &schedule);

/// The schedule of Policy::Heuristic: codegen::defaultSchedule(shape.D, spec.dtype, arch).
codegen::Schedule heuristicSchedule(const spec::Spec &spec, const spec::Shape &shape, const std::string &arch,
                                    const std::string &backend = "auto");

/// NVRTC options for `arch` with the device library found as EngineOptions::deviceIncludeDir says.
runtime::CompileOptions compileOptions(const std::string &arch, const EngineOptions &options);

/// Memo key of a kernel: spec content hash, D, Dv, GQA group, schedule JSON.
std::string kernelKey(const std::string &specHash, const spec::Shape &shape, const codegen::Schedule &schedule);

/// The ScheduleSource of Policy::TuneOnMiss / FailOnMiss when EngineOptions::schedules is null: the
/// tuner's on-disk cache (tuner::CacheScheduleSource), or null in a build without the tuner. Throws
/// CacheMissError when the cache directory cannot be determined.
std::shared_ptr<ScheduleSource> defaultScheduleSource();

/// Checks what getKernel needs of a shape (sizes > 0, Hq % Hkv == 0); throws std::invalid_argument.
void checkShape(const spec::Shape &shape);

} // namespace tilefuse::detail
