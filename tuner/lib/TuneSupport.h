//===- TuneSupport.h - helpers shared by Tuner.cpp and Bench.cpp ------*- C++ -*-===//
#pragma once

#include "GpuRun.h"

#include "tilefuse/runtime/Energy.h"
#include "tilefuse/tuner/KernelBuild.h"
#include "tilefuse/tuner/Tuner.h"

#include <optional>
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
/// Bytes of Q, K, V, O (and LSE) of one copy of the inputs at `shape`; with `packed`, of its packed tensors
/// (Q, O [total_q, Hq, D / Dv], K, V [total_k, Hkv, D / Dv], LSE [Hq, total_q]).
std::size_t bytesPerSet(const spec::Spec &spec, const spec::Shape &shape, const spec::PackedSeqs *packed = nullptr);

/// Packed sequences (spec "layout": "packed", specs/README.md) given to `command` (bench, tune): a packed spec
/// needs them and a batched one refuses them, and the shape's B, Sq, Sk must be their batch and max lengths.
/// Throws std::invalid_argument naming the command, the spec and the flags that give the sequences.
void checkPacked(const char *command, const spec::Spec &spec, const spec::Shape &shape,
                 const std::optional<spec::PackedSeqs> &packed);
/// The small packed batch whose every row the gate (tune) and the small check (bench) compare: lengths
/// {1, 63, 64, 65, 0, 130} around BLOCK_M = 64 with an empty sequence; K / V lengths those of `real`'s kind
/// (the same, or {17, 1, 200, 64, 5, 129} when its K / V lengths differ from its Q lengths).
spec::PackedSeqs smallPackedSeqs(const spec::PackedSeqs &real);
/// `shape` with B, Sq, Sk of `seqs` (its batch and max lengths).
spec::Shape packedShape(spec::Shape shape, const spec::PackedSeqs &seqs);
/// Useful FLOPs of packed sequences and the rule used: per sequence b, the dense count 2 Hq Sq_b Sk_b (D + Dv)
/// over its real tokens, lowered to the tiles rule at B = 1, Sq_b, Sk_b where that is smaller.
std::pair<double, std::string> packedFlops(KernelBuilder &builder, const codegen::Schedule &def,
                                           const spec::Shape &shape, const spec::PackedSeqs &seqs);

/// Untimed launches of `kernel` on `problem` until `ms` (milliseconds of GPU time, by the launches' events)
/// have passed: the board's steady state under sustained load (BenchOptions::warmupMs). Rounds of 1 to 20
/// launches, each sized from the last; at most 100000 rounds. ms <= 0 launches nothing. CUDA errors throw
/// as timeKernel's do.
void warmUpFor(const LoadedKernel &kernel, const DeviceProblem &problem, double ms);

/// timeKernel(kernel, problem, warmup, minReps, maxReps, budgetMs) with NVML's `counter` read before the
/// warmup and after the last run: while less than kEnergyMinSeconds have passed, more loops (no warmup,
/// at least minReps runs each, sized from the median to fill the rest, at most 20000) run between the
/// reads. Returns the first loop's Timing (ms) and fills `energy` (J per call over every launch between
/// the reads, warmup and sizing runs included; W = J / s). A failed counter read sets energy.error
/// instead (the Timing is still returned); CUDA errors throw as timeKernel's do. Used by bench
/// (BenchOptions::energy) and tune (objective energy / edp).
Timing timeWithEnergy(const LoadedKernel &kernel, const DeviceProblem &problem, int warmup, int minReps,
                      int maxReps, double budgetMs, const runtime::EnergyCounter &counter,
                      EnergyMeasurement &energy);

} // namespace tilefuse::tuner::detail
