// Helpers for the GPU tests: visible skipping without a GPU, the device under test, run-time
// compilation of test kernels against the device library, launching, fresh random inputs.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "HostFloat.h"
#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/runtime/Resources.h"

namespace tilefuse::test {

/// False, after WARN("SKIPPED: no GPU (<reason>)"), when no GPU is usable; gpu_main.cpp then exits
/// 77, which ctest reports as Skipped (SKIP_RETURN_CODE). True otherwise, with the primary context
/// of device 0 current on this thread.
bool gpuOrSkip();
#define TF_REQUIRE_GPU()                                                                                         \
  do {                                                                                                           \
    if (!::tilefuse::test::gpuOrSkip()) return;                                                                  \
  } while (0)
/// Number of tests that skipped in this process.
int skippedTests();

/// Device 0 (call after gpuOrSkip()).
const runtime::DeviceInfo &testDevice();

/// Compiles `source` for the test device (its exact sm_XY), with tests/gpu on the include path,
/// and loads it into the current context.
runtime::Module loadTestModule(const std::string &source, const std::vector<std::string> &defines = {});

/// Launches with arguments passed by value (each becomes one kernel parameter), then synchronizes
/// and so surfaces launch and execution errors as CudaError.
template <typename... Args>
void launchSync(CUfunction f, runtime::Dim3 grid, runtime::Dim3 block, unsigned sharedBytes, Args... args) {
  void *params[] = {static_cast<void *>(&args)...};
  if (sharedBytes > 48 * 1024)
    runtime::funcSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(sharedBytes));
  runtime::launchKernel(f, grid, block, sharedBytes, nullptr, params);
  runtime::contextSynchronize();
}

/// The process's generator, seeded once from std::random_device (the seed is printed).
std::mt19937_64 &rng();
/// n values ~ N(0, sigma^2) rounded to `t`, as bits.
std::vector<std::uint16_t> randomHalves(Dtype t, std::size_t n, float sigma = 1.0f);
std::vector<float> decodeAll(Dtype t, const std::vector<std::uint16_t> &bits);

} // namespace tilefuse::test
