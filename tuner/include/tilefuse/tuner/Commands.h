//===- Commands.h - the tilefuse CLI's emit, tune, bench and cache commands -*- C++ -*-===//
//
// What `tilefuse emit|tune|bench|cache` do, behind plain option structs, so tools/tilefuse/main.cpp
// only parses flags (CLI11) and includes no MLIR (TOOLCHAIN.md). Each command prints text to stdout
// (progress and notes to stderr), or one JSON object to stdout with `json`, and returns the exit
// status:
//   0  success
//   1  an error (bad spec or shape, unsupported spec, I/O error, a failed accuracy check)
//   2  the command needs a GPU and this machine has none (tune, bench)
// Errors are printed as "tilefuse <command>: error: <what>" on stderr; with `json` also as
// {"error": "<what>"} on stdout.
//
// Spec arguments are spec files (specs/README.md), including the model shape files in specs/models.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Shape.h"
#include "tilefuse/tuner/Tuner.h"

#include <optional>
#include <string>
#include <vector>

namespace tilefuse::tuner::cli {

/// The spec file and size overrides every command that takes a spec shares.
struct ProblemArgs {
  std::string specPath;
  spec::ShapeOverrides overrides;
};

struct EmitArgs {
  /// A spec, or a block program (`.mlir`, e.g. examples/chains): then runEmitChain.
  ProblemArgs problem;
  std::string arch;            ///< empty: this machine's GPU, else sm_90
  std::string format = "cuda"; ///< cuda | ptx | cubin | mlir (the fused block program)
  std::string output;          ///< file; empty: stdout (not allowed for cubin)
  std::string scheduleJson;    ///< empty: cache, else default
  /// `--capture NAME=FILE`: the cache entry looked up is that of their mask density class (readCaptureFiles).
  std::vector<std::string> captureFiles;
  bool json = false;
};
int runEmit(const EmitArgs &args);
/// emit of a `.mlir` block program (runEmit calls it for a path ending in .mlir): fused by the rules, generated
/// by driver::buildKernel; a program that is not attention gets the sm80 backend (mma.sync runs on sm_90 too).
int runEmitChain(const EmitArgs &args);

struct TuneArgs {
  ProblemArgs problem;
  TuneOptions options;
  /// `--capture NAME=FILE` arguments (readCaptureFiles, Captures.h): the captures candidates are timed on
  /// and whose mask density class the cache key holds; empty: synthetic captures.
  std::vector<std::string> captureFiles;
  bool verbose = false; ///< list every pruned schedule with its reason
  bool json = false;
  bool progressBar = true; ///< on stderr when it is a terminal
};
int runTune(const TuneArgs &args);

struct BenchArgs {
  /// A spec, or a block program that is not attention (`.mlir`, examples/chains): then runBenchChain.
  ProblemArgs problem;
  BenchOptions options;
  /// `--size NAME=VALUE` (a `.mlir` program's run-time sizes, e.g. T=4096 D=4096 F=14336).
  std::vector<std::string> sizes;
  std::vector<std::string> captureFiles; ///< `--capture NAME=FILE`, as TuneArgs::captureFiles
  std::string scheduleJson;
  bool json = false;
};
int runBench(const BenchArgs &args);
/// bench of a `.mlir` program that is not attention (runBench calls it for a path ending in .mlir): checks the
/// kernel at small sizes (each min(size, 200)) against the fp64 interpreter running the program as written,
/// then times it at `sizes` (CommandChain.cpp says how). Exit status as runBench.
int runBenchChain(const BenchArgs &args);

struct CacheArgs {
  std::string action;     ///< ls | show | clear | export | import | dir
  std::string target;     ///< show: entry (file name, path or unique substring); clear: filter;
                          ///< export / import: the archive file
  bool onlyInvalid = false; ///< clear: only stale / corrupt entries
  bool keepFaster = false;  ///< import: keep an existing entry when it is faster
  bool json = false;
};
int runCache(const CacheArgs &args);

} // namespace tilefuse::tuner::cli
