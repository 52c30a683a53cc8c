// NVRTC compilation to CUBIN + PTX (see Nvrtc.h).
#include "tilefuse/runtime/Nvrtc.h"

#include <nvrtc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#ifndef TILEFUSE_DEVICE_INCLUDE_DIR
#error "TILEFUSE_DEVICE_INCLUDE_DIR must be defined by the build (runtime/CMakeLists.txt)"
#endif
#ifndef TILEFUSE_CUDA_INCLUDE_DIR
#error "TILEFUSE_CUDA_INCLUDE_DIR must be defined by the build (runtime/CMakeLists.txt)"
#endif

namespace tilefuse::runtime {
namespace {

std::string envOr(const char *name, const char *fallback) {
  const char *v = std::getenv(name);
  return (v && *v) ? v : fallback;
}

void check(nvrtcResult result, const char *call) {
  if (result != NVRTC_SUCCESS) throw std::runtime_error(std::string(call) + " failed: " + nvrtcGetErrorString(result));
}

/// FNV-1a, 64 bit: names the dump file so that the same failure overwrites the same file.
std::uint64_t fnv1a(const std::string &text) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

/// Writes the failing source (with the options as a leading comment) to $TMPDIR; "" on failure.
std::string dumpSource(const std::string &source, const std::vector<std::string> &flags) {
  std::string header = "// NVRTC options:";
  for (const auto &f : flags) header += " " + f;
  char name[64];
  std::snprintf(name, sizeof(name), "/tilefuse-failed-%016llx.cu",
                static_cast<unsigned long long>(fnv1a(header + source)));
  const std::string path = envOr("TMPDIR", "/tmp") + name;
  std::ofstream out(path);
  out << header << "\n" << source;
  return out ? path : std::string();
}

struct Program {
  nvrtcProgram handle = nullptr;
  ~Program() {
    if (handle) nvrtcDestroyProgram(&handle);
  }
};

} // namespace

std::string deviceIncludeDir() { return envOr("TILEFUSE_DEVICE_INCLUDE", TILEFUSE_DEVICE_INCLUDE_DIR); }
std::string cudaIncludeDir() { return envOr("TILEFUSE_CUDA_INCLUDE", TILEFUSE_CUDA_INCLUDE_DIR); }

std::string nvrtcVersion() {
  int major = 0, minor = 0;
  check(::nvrtcVersion(&major, &minor), "nvrtcVersion");
  return std::to_string(major) + "." + std::to_string(minor);
}

CompileResult compileCuda(const std::string &source, const CompileOptions &options) {
  std::vector<std::string> flags = {"--gpu-architecture=" + options.arch, "-std=c++17"};
  for (const auto &dir : options.includeDirs) flags.push_back("-I" + dir);
  flags.push_back("-I" + deviceIncludeDir());
  flags.push_back("-I" + cudaIncludeDir());
  for (const auto &d : options.defines) flags.push_back("-D" + d);
  flags.insert(flags.end(), options.extraFlags.begin(), options.extraFlags.end());
  std::vector<const char *> argv;
  for (const auto &f : flags) argv.push_back(f.c_str());

  Program prog;
  check(nvrtcCreateProgram(&prog.handle, source.c_str(), options.sourceName.c_str(), 0, nullptr, nullptr),
        "nvrtcCreateProgram");
  const auto start = std::chrono::steady_clock::now();
  const nvrtcResult status = nvrtcCompileProgram(prog.handle, static_cast<int>(argv.size()), argv.data());
  CompileResult result;
  result.compileMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  std::size_t logSize = 0;
  check(nvrtcGetProgramLogSize(prog.handle, &logSize), "nvrtcGetProgramLogSize");
  std::string log(logSize, '\0');
  if (logSize) check(nvrtcGetProgramLog(prog.handle, log.data()), "nvrtcGetProgramLog");
  while (!log.empty() && (log.back() == '\0' || log.back() == '\n')) log.pop_back();
  result.log = log;
  if (status != NVRTC_SUCCESS)
    throw CompileError(std::string("NVRTC failed (") + nvrtcGetErrorString(status) + ") for " + options.arch, log,
                       dumpSource(source, flags));

  std::size_t cubinSize = 0;
  check(nvrtcGetCUBINSize(prog.handle, &cubinSize), "nvrtcGetCUBINSize");
  if (cubinSize == 0)
    throw CompileError("NVRTC produced an empty CUBIN for '" + options.arch +
                           "' (a compute_XY target yields PTX only; give an exact sm_XY)",
                       log, dumpSource(source, flags));
  result.cubin.resize(cubinSize);
  check(nvrtcGetCUBIN(prog.handle, result.cubin.data()), "nvrtcGetCUBIN");

  std::size_t ptxSize = 0;
  check(nvrtcGetPTXSize(prog.handle, &ptxSize), "nvrtcGetPTXSize");
  result.ptx.assign(ptxSize, '\0');
  if (ptxSize) check(nvrtcGetPTX(prog.handle, result.ptx.data()), "nvrtcGetPTX");
  while (!result.ptx.empty() && result.ptx.back() == '\0') result.ptx.pop_back();
  return result;
}

} // namespace tilefuse::runtime
