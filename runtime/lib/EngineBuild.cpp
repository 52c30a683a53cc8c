//===- EngineBuild.cpp - spec -> CUDA source -> CUBIN, for the engine ---------===//
#include "EngineBuild.h"

#include "tilefuse/codegen/CodeGen.h"
#include "tilefuse/driver/Driver.h"
#include "tilefuse/lowering/Lowering.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>

namespace tilefuse::detail {
namespace {

std::string describe(const spec::Spec &spec, const spec::Shape &shape, const codegen::Schedule &s) {
  return "spec '" + spec.name + "' (" + std::string(spec::spelling(spec.dtype)) + ", D=" + std::to_string(shape.D) +
         ", Dv=" + std::to_string(shape.Dv) + ", group " + std::to_string(shape.groupSize()) + ", schedule " +
         s.toString() + ")";
}

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

void checkShape(const spec::Shape &s) {
  const std::pair<const char *, int64_t> sizes[] = {{"B", s.B},   {"Hq", s.Hq}, {"Hkv", s.Hkv}, {"Sq", s.Sq},
                                                    {"Sk", s.Sk}, {"D", s.D},   {"Dv", s.Dv}};
  for (const auto &[name, value] : sizes)
    if (value <= 0)
      throw std::invalid_argument(std::string("getKernel: shape.") + name + " = " + std::to_string(value) +
                                  " must be > 0");
  if (s.Hq % s.Hkv != 0)
    throw std::invalid_argument("getKernel: shape.Hq = " + std::to_string(s.Hq) + " is not a multiple of Hkv = " +
                                std::to_string(s.Hkv));
}

codegen::Schedule heuristicSchedule(const spec::Spec &spec, const spec::Shape &shape, const std::string &arch,
                                    const std::string &backend) {
  if (backend != "auto" && backend != "sm80" && backend != "sm90")
    throw std::invalid_argument("EngineOptions::backend = \"" + backend + "\"; allowed: \"auto\", \"sm80\", \"sm90\"");
  try {
    if (backend == "sm90" && codegen::computeCapability(arch) != 90)
      throw UnsupportedError("EngineOptions::backend = \"sm90\" needs an sm_90 GPU; this one is " + arch);
    const std::string target = backend == "sm80"   ? arch
                               : backend == "sm90" ? std::string("sm_90a")
                                                   : codegen::defaultTarget(arch, static_cast<int>(shape.D),
                                                                            static_cast<int>(shape.Dv));
    return codegen::defaultSchedule(static_cast<int>(shape.D), spec.dtype, target);
  } catch (const codegen::ScheduleError &e) {
    throw UnsupportedError("spec '" + spec.name + "' D=" + std::to_string(shape.D) + " on " + arch +
                           ": no default schedule: " + e.what());
  }
}

GeneratedSource generateSource(const spec::Spec &spec, const spec::Shape &shape, const codegen::Schedule &schedule) {
  const auto start = std::chrono::steady_clock::now();
  checkShape(shape);
  try {
    schedule.validate();
    // 1. Lower with BLOCK_M, fuse with BLOCK_N (the schedule's tiles are the program's tiles).
    driver::Loaded loaded{spec, shape, schedule.blockM, schedule.blockN};
    const driver::FuseResult fused = driver::fuse(loaded, driver::unfusedIR(loaded));
    if (fused.kernels != 1 || fused.hbmScratch != 0)
      throw UnsupportedError(describe(spec, shape, schedule) + ": fusion left " + std::to_string(fused.kernels) +
                             " kernels and " + std::to_string(fused.hbmScratch) +
                             " HBM scratch buffers; code generation needs one fused kernel:\n" + fused.diagnostics);

    // 2. Parse the fused program (its own context: getKernel runs on many threads at once).
    mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
    lowering::loadDialects(context);
    std::string diagnostics;
    llvm::raw_string_ostream diag(diagnostics);
    mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
      diag << d.getLocation() << ": " << d.str() << "\n";
      return mlir::success();
    });
    mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceString<mlir::ModuleOp>(fused.ir, &context);
    mlir::func::FuncOp func;
    if (module)
      module->walk([&](mlir::func::FuncOp f) {
        if (!func)
          func = f;
      });
    if (!func)
      throw UnsupportedError(describe(spec, shape, schedule) + ": the fused program does not parse:\n" + diagnostics);

    // 3. Generate CUDA for the schedule, with the spec's argument roles.
    codegen::GeneratedKernel k = codegen::generateKernel(func, schedule, codegen::KernelSignature::fromSpec(spec));
    GeneratedSource out;
    out.source = std::move(k.source);
    out.kernelName = std::move(k.kernelName);
    out.threadsPerBlock = k.threadsPerBlock;
    out.dynamicSmemBytes = k.dynamicSmemBytes;
    out.grid = k.grid;
    out.params = std::move(k.params);
    out.schedule = k.schedule;
    out.fusedIR = fused.ir;
    out.generateMs = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return out;
  } catch (const driver::DriverError &e) {
    throw UnsupportedError(describe(spec, shape, schedule) + ": " + e.what());
  } catch (const codegen::CodegenError &e) {
    throw UnsupportedError(describe(spec, shape, schedule) + ": code generation: " + e.what());
  } catch (const codegen::ScheduleError &e) {
    throw UnsupportedError(describe(spec, shape, schedule) + ": schedule: " + e.what());
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
