// Compiling and launching the reference FlashAttention-2 kernel (fa2_reference_kernel.cuh) from
// host tests and the benchmark: with the default schedule (fa2DefaultSchedule), or with any
// Fa2Schedule (the knobs a code generator sets), compiled on demand and cached per process.
#pragma once

#include <string>
#include <vector>

#include "AttentionReference.h"
#include "fa2_params.h"
#include "tilefuse/runtime/CudaDriver.h"

namespace tilefuse::test {

/// Head dims the test module instantiates.
constexpr int kFa2HeadDims[] = {32, 64, 128};

/// NVRTC source instantiating every variant fa2_<bf16|fp16>_d<32|64|128>[_causal] with the default schedule.
std::string fa2Source();
std::string fa2KernelName(Dtype dtype, int headDim, bool causal);
/// fa2DefaultSchedule for the test device's compute capability (needs a GPU).
Fa2Schedule fa2DeviceDefaultSchedule(int headDim);
/// Dynamic shared memory of one block under the test device's default schedule (bytes).
unsigned fa2SharedBytes(int headDim);

/// The kernel for `p` from the module compiled once per process for the test device.
CUfunction fa2Function(const AttentionProblem &p);

/// Launches with the test device's default schedule on `stream`: grid (ceil(Sq / BLOCK_M), Hq, B). Does
/// not synchronize.
void fa2Launch(const AttentionProblem &p, const Fa2Params &params, CUstream stream = nullptr);

// ---------------------------------------------------------------------------------------------------
// Any schedule.

/// "m128n64w4s2q0b2": block_m, block_n, warps, stages, q_in_regs, min_blocks.
std::string fa2ScheduleName(const Fa2Schedule &s);
/// Parses fa2ScheduleName's format; throws std::invalid_argument on anything else.
Fa2Schedule fa2ParseSchedule(const std::string &name);
/// (block_m + 2 * stages * block_n) * headDim * 2 bytes (16-bit elements).
unsigned fa2SharedBytes(int headDim, const Fa2Schedule &s);
/// Blocks per SM that registers and shared memory allow on an SM with 64 Ki registers and `smemPerSm`
/// bytes of shared memory (1 KiB reserved per block), for a kernel using `registers` per thread.
int fa2BlocksPerSm(const Fa2Schedule &s, int registers, unsigned sharedBytes, int smemPerSm = 228 * 1024);

/// One compiled configuration: element type, head dim, schedule and extra NVRTC flags (e.g.
/// "-use_fast_math"); its module holds the causal and the non-causal kernel.
struct Fa2Variant {
  Dtype dtype = Dtype::bf16;
  int headDim = 128;
  Fa2Schedule schedule = fa2DefaultSchedule(128);  // sm_90's
  std::vector<std::string> flags;
};
std::string fa2KernelName(const Fa2Variant &v, bool causal);
/// NVRTC source defining both kernels of `v`.
std::string fa2Source(const Fa2Variant &v);

/// Compiles the variants not compiled yet in this process, concurrently (one NVRTC program per
/// thread), then loads them into the current context. Throws CompileError on the first failure.
void fa2Prepare(const std::vector<Fa2Variant> &variants);
/// The kernel of `v` for `causal` (compiled by fa2Prepare when not yet), with its shared-memory
/// attributes set.
CUfunction fa2Function(const Fa2Variant &v, bool causal);
/// Launches `v` (v.dtype and v.headDim must match p) on `stream`. Does not synchronize.
void fa2Launch(const AttentionProblem &p, const Fa2Params &params, const Fa2Variant &v, CUstream stream = nullptr);
/// Launches an already resolved kernel `f` of schedule `s` (no look-up: for timing loops).
void fa2LaunchFunction(CUfunction f, const AttentionProblem &p, const Fa2Params &params, const Fa2Schedule &s,
                       CUstream stream = nullptr);

} // namespace tilefuse::test
