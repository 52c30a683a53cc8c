//===- CommandSupport.h - what the CLI commands share -----------------*- C++ -*-===//
#pragma once

#include "tilefuse/driver/BuildKernel.h"
#include "tilefuse/tuner/Commands.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>

namespace tilefuse::tuner::cli::detail {

struct Loaded {
  spec::Spec spec;
  spec::Shape shape;
};
/// Parses the spec file and resolves the shape. Throws spec::SpecError.
Loaded load(const ProblemArgs &args);

/// For a spec whose mask reads captures (codegen::maskReadsCapture), prints to stderr the mask density of
/// `captures` (null: the synthetic ones tune and bench use) and its class, which the cache key holds:
/// "tilefuse tune: mask density 0.1249 (class 1/8, 65536 samples) on the --capture captures".
void printMaskDensity(const char *command, const Loaded &l, const std::optional<HostCaptures> &captures);

std::string shapeText(const spec::Shape &s); ///< "B=1 Hq=32 Hkv=8 Sq=8192 Sk=8192 D=128 Dv=128"
nlohmann::json shapeJson(const spec::Shape &s);
nlohmann::json scheduleJson(const codegen::Schedule &s);
nlohmann::json accuracyJson(const Accuracy &a);
nlohmann::json deviceJson(const DeviceIdentity &d);
/// "BLOCK_M=128 BLOCK_N=64 warps=8 stages=2 q=registers" (mma left out: one family today;
/// " min_blocks_per_sm=2" when the hint is set).
std::string scheduleText(const codegen::Schedule &s);

/// The schedule given on the command line (validated), or nullopt for "". Throws ScheduleError.
std::optional<codegen::Schedule> parseSchedule(const std::string &json);

/// A nlohmann exception's message without its "[json.exception.type_error.302] " prefix.
std::string describeJsonException(const std::exception &e);

/// The text `tilefuse emit` prints for kernel `k` in format a.format ("cuda": the source; "ptx" or "cubin":
/// compiled by NVRTC for `arch`), with the launch fields (and, compiled, registers, spill bytes, compile ms)
/// added to `out`. Throws std::runtime_error when NVRTC rejects the kernel.
std::string emitKernelText(const driver::BuiltKernel &k, const EmitArgs &a, const std::string &arch,
                           nlohmann::json &out);
/// Writes emit's `text`: to a.output atomically (with "output" and "bytes" in `out`, and a note on stderr
/// without --json), else to stdout, or into `out` with --json; then prints `out` with --json. Returns 0.
int finishEmit(const EmitArgs &a, const std::string &text, nlohmann::json &out);

/// Runs `body`, turning exceptions into the exit status and messages of Commands.h.
int guarded(const char *command, bool json, const std::function<int()> &body);

} // namespace tilefuse::tuner::cli::detail
