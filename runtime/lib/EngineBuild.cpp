//===- EngineBuild.cpp - what the engine needs around driver::buildKernel -----===//
#include "EngineBuild.h"

#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <stdexcept>

namespace tilefuse::detail {
namespace {

/// <dir of libtilefuse.so>/../share/tilefuse/device when it holds the device library (an install).
std::string installedDeviceDir() {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void *>(&tilefuse::version), &info) || !info.dli_fname)
    return {};
  std::error_code ec;
  const std::filesystem::path lib = std::filesystem::weakly_canonical(info.dli_fname, ec);
  if (ec)
    return {};
  const std::filesystem::path dir = lib.parent_path().parent_path() / "share" / "tilefuse" / "device";
  return std::filesystem::exists(dir / "tilefuse" / "device.cuh", ec) ? dir.string() : std::string();
}

} // namespace

void checkShape(const spec::Shape &shape) {
  // The one size check of the compiler (spec/Shape.h limits, overflow-checked products, Hq % Hkv),
  // so that getKernel accepts exactly the shapes resolveShape and the tuner's cache accept.
  try {
    spec::checkShapeLimits(shape);
  } catch (const spec::SpecError &e) {
    throw std::invalid_argument("getKernel: shape: " + e.message());
  }
}

codegen::Schedule heuristicSchedule(const spec::Spec &spec, const spec::Shape &shape, const std::string &arch,
                                    const std::string &backend) {
  if (backend != "auto" && backend != "sm80" && backend != "sm90")
    throw std::invalid_argument("EngineOptions::backend = \"" + backend + "\"; allowed: \"auto\", \"sm80\", \"sm90\"");
  try {
    if (backend == "sm90" && codegen::computeCapability(arch) != 90)
      throw UnsupportedError("EngineOptions::backend = \"sm90\" needs an sm_90 GPU; this one is " + arch);
    // Packed specs ("layout": "packed") take the same backends as batched ones: the sm90 backend reads
    // each sequence's rows through tensor maps of the whole packed tensor, on its non-persistent grid
    // (ScheduleHints::of gives them neither maskFree nor balancedMask, so their default is never persistent).
    const std::string target = backend == "sm80" ? arch
                               : backend == "sm90" ? std::string("sm_90a")
                                                   : codegen::defaultTarget(arch, static_cast<int>(shape.D),
                                                                            static_cast<int>(shape.Dv));
    return codegen::defaultSchedule(static_cast<int>(shape.D), spec.dtype, target,
                                    codegen::ScheduleHints::of(spec, shape));
  } catch (const codegen::ScheduleError &e) {
    throw UnsupportedError("spec '" + spec.name + "' D=" + std::to_string(shape.D) + " on " + arch +
                           ": no default schedule: " + e.what());
  }
}

driver::BuiltKernel buildSource(const spec::Spec &spec, const spec::Shape &shape,
                                const codegen::Schedule &schedule) {
  checkShape(shape);
  try {
    return driver::buildKernel(spec, shape, schedule);
  } catch (const driver::KernelBuildError &e) {
    throw UnsupportedError(e.what());
  }
}

runtime::CompileOptions compileOptions(const std::string &arch, const EngineOptions &options) {
  runtime::CompileOptions o;
  o.arch = arch;
  // The device library: explicit option, else env TILEFUSE_DEVICE_INCLUDE (runtime::deviceIncludeDir
  // reads it), else an install's share/tilefuse/device, else the source tree (deviceIncludeDir()).
  if (!options.deviceIncludeDir.empty()) {
    o.includeDirs.push_back(options.deviceIncludeDir);
  } else if (const char *env = std::getenv("TILEFUSE_DEVICE_INCLUDE"); !env || !*env) {
    if (std::string dir = installedDeviceDir(); !dir.empty())
      o.includeDirs.push_back(dir);
  }
  o.extraFlags = options.nvrtcFlags;
  o.sourceName = "tilefuse_generated.cu";
  return o;
}

std::string kernelKey(const std::string &specHash, const spec::Shape &shape, const codegen::Schedule &schedule) {
  return specHash + "/D" + std::to_string(shape.D) + "/Dv" + std::to_string(shape.Dv) + "/G" +
         std::to_string(shape.groupSize()) + "/" + schedule.toJson();
}

} // namespace tilefuse::detail
