//===- TuneSupport.h - helpers shared by Tuner.cpp and Bench.cpp ------*- C++ -*-===//
#pragma once

#include "GpuRun.h"

#include "tilefuse/tuner/KernelBuild.h"
#include "tilefuse/tuner/Tuner.h"

#include <string>
#include <utility>
#include <vector>

namespace tilefuse::tuner::detail {

/// `seed`, or a random one when 0.
uint64_t freshSeed(uint64_t seed);
/// codegen::defaultSchedule; an unsupported head dim becomes a KernelBuildError naming the spec.
codegen::Schedule defaultFor(const spec::Spec &spec, const spec::Shape &shape, const std::string &arch);
/// FLOPs for TFLOP/s and the rule used: the IO report of `def`'s program ("tiles"), else "dense".
std::pair<double, std::string> usefulFlops(KernelBuilder &builder, const codegen::Schedule &def,
                                           const spec::Shape &shape);
/// Runs `kernel` once on set 0 of `problem` (outputs poisoned first) and checks `rows` (Check.h).
Accuracy runAndCheck(const spec::Spec &spec, const HostInputs &inputs, DeviceProblem &problem,
                     const LoadedKernel &kernel, const std::vector<RowIndex> &rows);
/// Bytes of Q, K, V, O (and LSE) of one copy of the inputs at `shape`.
std::size_t bytesPerSet(const spec::Spec &spec, const spec::Shape &shape);

} // namespace tilefuse::tuner::detail
