// Compiling and launching the reference FlashAttention-2 kernel (fa2_reference_kernel.cuh) from
// host tests and the benchmark.
#pragma once

#include <string>

#include "AttentionReference.h"
#include "fa2_params.h"
#include "tilefuse/runtime/Driver.h"

namespace tilefuse::test {

/// Head dims the test module instantiates.
constexpr int kFa2HeadDims[] = {32, 64, 128};

/// NVRTC source instantiating every variant fa2_<bf16|fp16>_d<32|64|128>[_causal].
std::string fa2Source();
std::string fa2KernelName(Dtype dtype, int headDim, bool causal);
/// Dynamic shared memory of one block: (BLOCK_M + 2 * BLOCK_N) * headDim * 2 bytes.
unsigned fa2SharedBytes(int headDim);

/// The kernel for `p` from the module compiled once per process for the test device.
CUfunction fa2Function(const AttentionProblem &p);

/// Launches on `stream`: grid (ceil(Sq / 64), Hq, B), 128 threads. Does not synchronize.
void fa2Launch(const AttentionProblem &p, const Fa2Params &params, CUstream stream = nullptr);

} // namespace tilefuse::test
