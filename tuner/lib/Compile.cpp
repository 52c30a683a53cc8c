//===- Compile.cpp - NVRTC for generated kernels, on a thread pool ---------===//
#include "Compile.h"

#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/runtime/Ptxas.h"

#include <algorithm>

namespace tilefuse::tuner::detail {

PtxasInfo parsePtxasInfo(const std::string &log, const std::string &kernelName) {
  PtxasInfo info;
  const runtime::PtxasReport report = runtime::parsePtxasReport(log);
  if (const runtime::PtxasFunctionReport *f = report.find(kernelName)) {
    info.registers = f->registers;
    info.spillStoreBytes = f->spillStoreBytes;
    info.spillLoadBytes = f->spillLoadBytes;
  }
  return info;
}

Compiled compileKernel(const KernelSource &kernel, const std::string &arch) {
  Compiled c;
  runtime::CompileOptions options;
  options.extraFlags = {"-Xptxas=-v"};
  options.sourceName = kernel.kernelName + ".cu";
  try {
    options.arch = codegen::compileArch(kernel.schedule, arch); // sm_90a for the sm90 backend
    runtime::CompileResult r = runtime::compileCuda(kernel.source, options);
    c.cubin = std::move(r.cubin);
    c.ptx = std::move(r.ptx);
    c.compileMs = r.compileMs;
    c.ptxas = parsePtxasInfo(r.log, kernel.kernelName);
    c.ok = true;
  } catch (const std::exception &e) {
    c.error = e.what();
  }
  return c;
}

CompilePool::CompilePool(const std::vector<const KernelSource *> &kernels, std::string arch, int threads)
    : kernels_(kernels), arch_(std::move(arch)), promises_(kernels.size()) {
  for (auto &p : promises_)
    futures_.push_back(p.get_future());
  if (threads <= 0)
    threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  threads = std::min<int>(threads, static_cast<int>(std::max<std::size_t>(1, kernels.size())));
  for (int t = 0; t < threads; ++t)
    workers_.emplace_back([this] {
      for (std::size_t i = next_++; i < kernels_.size(); i = next_++) {
        if (stop_) {
          Compiled skipped;
          skipped.error = "skipped (tuning stopped)";
          promises_[i].set_value(std::move(skipped));
          continue;
        }
        promises_[i].set_value(compileKernel(*kernels_[i], arch_));
      }
    });
}

CompilePool::~CompilePool() { stop(); }

Compiled CompilePool::take(std::size_t i) { return futures_.at(i).get(); }

void CompilePool::stop() {
  stop_ = true;
  for (std::thread &t : workers_)
    if (t.joinable())
      t.join();
}

} // namespace tilefuse::tuner::detail
