// Offline PTX assembly with the toolkit's ptxas, for resource reports without a GPU (CI checks).
#pragma once

#include <string>
#include <vector>

#include "tilefuse/runtime/Errors.h"

namespace tilefuse::runtime {

/// One kernel's resources as `ptxas -v` reports them.
struct PtxasFunctionReport {
  std::string name;
  int registers = 0;        // per thread
  int spillStoreBytes = 0;  // per thread
  int spillLoadBytes = 0;   // per thread
  int stackFrameBytes = 0;  // per thread
  int sharedBytes = 0;      // static shared memory per block (dynamic shared memory is not counted)
};

struct PtxasReport {
  std::vector<PtxasFunctionReport> functions; // in the order ptxas printed them
  std::string output;                         // ptxas's full stdout + stderr
  double ms = 0;                              // wall time, milliseconds
  const PtxasFunctionReport *find(const std::string &name) const;
};

/// The ptxas to run: env TILEFUSE_PTXAS, else <CUDA toolkit bin dir found at build time>/ptxas,
/// else "ptxas" from PATH. Throws std::runtime_error if none is executable.
std::string findPtxas();

/// Parses a `ptxas -v` report into one PtxasFunctionReport per entry function (device functions that
/// ptxas did not inline are skipped). Reads runPtxas's output and equally the program log of an NVRTC
/// compile with CompileOptions::extraFlags = {"-Xptxas=-v"}: NVRTC 13.0 passes ptxas's report through
/// unchanged ("Compiling entry function 'k' for 'sm_90a'", "Function properties for k", "0 bytes stack
/// frame, 0 bytes spill stores, 0 bytes spill loads", "Used 168 registers"). NVRTC accepts "-Xptxas=-v"
/// and "--ptxas-options=-v", and rejects "-Xptxas -v" as one argument. Sets `output`; `ms` stays 0.
PtxasReport parsePtxasReport(std::string output);

/// Runs `ptxas -arch=<arch> -v` on `ptx` (arch "sm_80", "sm_90a", ...; output discarded) and parses
/// its report. Throws CompileError with ptxas's output when it rejects the PTX.
PtxasReport runPtxas(const std::string &ptx, const std::string &arch);

} // namespace tilefuse::runtime
