// Run-time compilation of CUDA C++ (generated kernels) with NVRTC, to CUBIN for one exact GPU.
#pragma once

#include <string>
#include <vector>

#include "tilefuse/runtime/Errors.h"

namespace tilefuse::runtime {

struct CompileOptions {
  /// Exact SASS target: "sm_80", "sm_86", "sm_89", "sm_90", "sm_90a" (wgmma/setmaxnreg), ...
  std::string arch = "sm_80";
  /// Extra include directories, searched before the device library and <cuda>/include.
  std::vector<std::string> includeDirs;
  /// Macro definitions, "NAME" or "NAME=VALUE".
  std::vector<std::string> defines;
  /// Passed verbatim to NVRTC, e.g. "-lineinfo", "--maxrregcount=128".
  std::vector<std::string> extraFlags;
  /// Name NVRTC reports in diagnostics.
  std::string sourceName = "tilefuse_kernel.cu";
};

struct CompileResult {
  std::vector<char> cubin; // ELF for options.arch, for moduleLoadData; never empty
  std::string ptx;         // the PTX of the same compilation (for ptxas reports, inspection)
  std::string log;         // NVRTC warnings (may be empty)
  double compileMs = 0;    // wall time of nvrtcCompileProgram, milliseconds
};

/// Compiles `source` with NVRTC (C++17, -arch=options.arch) against the device library
/// (deviceIncludeDir()) and <cuda>/include (cudaIncludeDir()). One compilation yields both: NVRTC
/// keeps the PTX it assembled into the CUBIN (checked with NVRTC 13.0), so nvrtcGetPTX follows
/// nvrtcGetCUBIN. Throws CompileError (log + source dumped to $TMPDIR/tilefuse-failed-<hash>.cu)
/// when NVRTC rejects the source, and also when the CUBIN is empty (a compute_XY target was given).
CompileResult compileCuda(const std::string &source, const CompileOptions &options = {});

/// runtime/device: env TILEFUSE_DEVICE_INCLUDE, else the source-tree path recorded at build time.
std::string deviceIncludeDir();
/// <cuda>/include (cuda_bf16.h, cuda_fp16.h): env TILEFUSE_CUDA_INCLUDE, else the toolkit found at build time.
std::string cudaIncludeDir();
/// NVRTC version, e.g. "13.0".
std::string nvrtcVersion();

} // namespace tilefuse::runtime
