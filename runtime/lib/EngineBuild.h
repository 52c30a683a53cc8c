//===- EngineBuild.h - what the engine needs around driver::buildKernel -*- C++ -*-===//
//
// Internal to the runtime library (exported for its tests): the compile-time half of getKernel,
// with no GPU needed. No MLIR type appears here.
//
//   spec + shape (D, Dv, GQA group) + schedule
//     -> driver::buildKernel: lower, fuse, generate CUDA                  driver/BuildKernel.h
//     -> NVRTC (CUBIN for the exact sm_XY, PTX kept)                       runtime/Nvrtc.h
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/tilefuse.h"

#include "tilefuse/codegen/KernelAbi.h"
#include "tilefuse/driver/BuildKernel.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/spec/Spec.h"

#include <memory>
#include <string>

namespace tilefuse::detail {

/// driver::buildKernel for the engine: the same kernel, with driver::KernelBuildError turned into
/// UnsupportedError (same message: the spec, the schedule, the stage and why) and std::invalid_argument
/// for a shape checkShape rejects.
driver::BuiltKernel buildSource(const spec::Spec &spec, const spec::Shape &shape, const codegen::Schedule &schedule);

/// The schedule of Policy::Heuristic: codegen::defaultSchedule(shape.D, spec.dtype, target,
/// ScheduleHints::of(spec, shape)), target the backend's (codegen::defaultTarget for "auto").
codegen::Schedule heuristicSchedule(const spec::Spec &spec, const spec::Shape &shape, const std::string &arch,
                                    const std::string &backend = "auto");

/// NVRTC options for `arch` with the device library found as EngineOptions::deviceIncludeDir says.
runtime::CompileOptions compileOptions(const std::string &arch, const EngineOptions &options);

/// Memo key of a kernel: spec content hash, D, Dv, GQA group, schedule JSON.
std::string kernelKey(const std::string &specHash, const spec::Shape &shape, const codegen::Schedule &schedule);

/// The ScheduleSource of Policy::TuneOnMiss / FailOnMiss when EngineOptions::schedules is null: the
/// tuner's on-disk cache (tuner::CacheScheduleSource, CacheScheduleSource.h). Throws
/// CacheMissError when the cache directory cannot be determined.
std::shared_ptr<ScheduleSource> defaultScheduleSource();

/// Checks a shape given to getKernel against spec::checkShapeLimits (every size from 1 to its limit in
/// spec/Shape.h, every tensor at most 2^53 bytes, Hq % Hkv == 0) before anything is built or bucketed;
/// throws std::invalid_argument naming the size, its value and the allowed range.
void checkShape(const spec::Shape &shape);

} // namespace tilefuse::detail
