//===- CommandEmit.cpp - tilefuse emit: CUDA / PTX / CUBIN / fused IR, no GPU needed -===//
#include "CommandSupport.h"
#include "tilefuse/spec/Json.h"

#include "Compile.h"

#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/spec/FileIO.h"
#include "tilefuse/tuner/KernelBuild.h"

#include <fmt/core.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace tilefuse::tuner::cli {
namespace {

/// Writes `bytes` to `path` through a temporary file and rename, so no partial file is left.
void writeAtomically(const std::string &path, const std::string &bytes) {
  spec::writeFileAtomically(path, bytes);
}

} // namespace

namespace detail {

std::string emitKernelText(const driver::BuiltKernel &k, const EmitArgs &a, const std::string &arch,
                           nlohmann::json &out) {
  out["kernel_name"] = k.kernelName;
  out["threads_per_block"] = k.threadsPerBlock;
  out["dynamic_smem_bytes"] = k.dynamicSmemBytes;
  out["grid"] = k.grid.toString();
  out["param_bytes"] = k.params.bytes;
  if (a.format == "cuda")
    return k.source;
  tuner::detail::Compiled c = tuner::detail::compileKernel(k, arch);
  if (!c.ok)
    throw std::runtime_error("NVRTC rejected the generated kernel: " + c.error);
  out["registers"] = c.ptxas.registers;
  out["spill_bytes"] = c.ptxas.spillStoreBytes + c.ptxas.spillLoadBytes;
  out["compile_ms"] = c.compileMs;
  return a.format == "ptx" ? c.ptx : std::string(c.cubin.begin(), c.cubin.end());
}

int finishEmit(const EmitArgs &a, const std::string &text, nlohmann::json &out) {
  if (!a.output.empty()) {
    writeAtomically(a.output, text);
    out["output"] = a.output;
    out["bytes"] = text.size();
    if (!a.json)
      fmt::print(stderr, "tilefuse emit: wrote {} ({} bytes)\n", a.output, text.size());
  } else if (!a.json) {
    fmt::print("{}", text);
  } else {
    out["text"] = text;
  }
  if (a.json)
    fmt::print("{}\n", tilefuse::spec::dumpJson(out, 2));
  return 0;
}

} // namespace detail

int runEmit(const EmitArgs &a) {
  if (std::filesystem::path(a.problem.specPath).extension() == ".mlir")
    return runEmitChain(a);
  return detail::guarded("emit", a.json, [&] {
    if (a.format != "cuda" && a.format != "ptx" && a.format != "cubin" && a.format != "mlir")
      throw std::invalid_argument("--format " + a.format + " is not supported; use cuda, ptx, cubin or mlir");
    if (a.format == "cubin" && a.output.empty())
      throw std::invalid_argument("--format cubin writes a binary file: give -o FILE");
    detail::Loaded l = detail::load(a.problem);

    // The target: --arch, else this machine's GPU, else sm_90. A GPU is never required.
    std::optional<DeviceIdentity> device;
    if (runtime::gpuAvailable())
      device = currentDevice();
    const std::string arch = !a.arch.empty() ? a.arch : device ? device->arch() : "sm_90";
    codegen::computeCapability(arch); // rejects anything but sm_80 and newer, naming the arch
    Cache cache = Cache::openDefault();
    std::optional<HostCaptures> captures;
    if (!a.captureFiles.empty())
      captures = readCaptureFiles(l.spec, l.shape, a.captureFiles);
    detail::printMaskDensity("emit", l, captures);
    ScheduleChoice choice = chooseSchedule(l.spec, l.shape, arch, cache, device ? &*device : nullptr,
                                           detail::parseSchedule(a.scheduleJson), captures ? &*captures : nullptr);
    std::string from = choice.source == "default"   ? "the heuristic default (" + choice.note + ")"
                       : choice.source == "cache"   ? "the tuning cache (this GPU)"
                       : choice.source == "--schedule" ? "--schedule"
                                                      : "the tuning cache (" + choice.source.substr(6) + ")";
    fmt::print(stderr, "tilefuse emit: {} for {}: schedule {} from {}\n", l.spec.name, arch,
               detail::scheduleText(choice.schedule), from);

    KernelBuilder builder(l.spec, l.shape);
    std::string text;
    nlohmann::json out = {{"spec", l.spec.name},
                          {"file", a.problem.specPath},
                          {"shape", detail::shapeJson(l.shape)},
                          {"arch", arch},
                          {"format", a.format},
                          {"schedule", detail::scheduleJson(choice.schedule)},
                          {"schedule_source", choice.source},
                          {"note", choice.note}};
    if (a.format == "mlir") {
      text = builder.fusedIR(choice.schedule.blockM, choice.schedule.blockN);
    } else {
      text = detail::emitKernelText(builder.generate(choice.schedule), a, arch, out);
    }
    return detail::finishEmit(a, text, out);
  });
}

} // namespace tilefuse::tuner::cli
