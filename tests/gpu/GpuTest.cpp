#include "GpuTest.h"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>

#ifndef TILEFUSE_TESTS_GPU_DIR
#error "TILEFUSE_TESTS_GPU_DIR must be defined by tests/gpu/CMakeLists.txt"
#endif

namespace tilefuse::test {
namespace {
std::atomic<int> skipped{0};
}

bool gpuOrSkip() {
  std::string reason;
  if (!runtime::gpuAvailable(&reason)) {
    WARN("SKIPPED: no GPU (" << reason << ")");
    ++skipped;
    return false;
  }
  runtime::retainPrimaryContext(0);
  return true;
}

int skippedTests() { return skipped.load(); }

const runtime::DeviceInfo &testDevice() {
  static const runtime::DeviceInfo info = runtime::deviceInfo(0);
  return info;
}

runtime::Module loadTestModule(const std::string &source, const std::vector<std::string> &defines) {
  runtime::CompileOptions options;
  options.arch = testDevice().arch();
  options.includeDirs = {TILEFUSE_TESTS_GPU_DIR};
  options.defines = defines;
  const runtime::CompileResult compiled = runtime::compileCuda(source, options);
  if (const char *dir = std::getenv("TILEFUSE_TEST_DUMP_DIR")) { // CUBINs for cuobjdump (SASS checks)
    std::string defs;
    for (const auto &d : defines) defs += d + ";";
    const std::string path = std::string(dir) + "/module-" + std::to_string(std::hash<std::string>{}(source + defs)) +
                             "-" + options.arch + ".cubin";
    std::ofstream(path, std::ios::binary).write(compiled.cubin.data(), std::streamsize(compiled.cubin.size()));
  }
  return runtime::Module(compiled.cubin);
}

std::mt19937_64 &rng() {
  static std::mt19937_64 gen = [] {
    const std::uint64_t seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
    std::cout << "tilefuse gpu tests: random seed " << seed << "\n";
    return std::mt19937_64(seed);
  }();
  return gen;
}

std::vector<std::uint16_t> randomHalves(Dtype t, std::size_t n, float sigma) {
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<std::uint16_t> out(n);
  for (auto &x : out) x = encode(t, dist(rng()));
  return out;
}

std::vector<float> decodeAll(Dtype t, const std::vector<std::uint16_t> &bits) {
  std::vector<float> out(bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) out[i] = decode(t, bits[i]);
  return out;
}

} // namespace tilefuse::test
