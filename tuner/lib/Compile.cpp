//===- Compile.cpp - NVRTC for generated kernels, on a thread pool ---------===//
#include "Compile.h"

#include "tilefuse/runtime/Nvrtc.h"

#include <algorithm>
#include <regex>

namespace tilefuse::tuner::detail {

PtxasInfo parsePtxasInfo(const std::string &log) {
  PtxasInfo info;
  static const std::regex regs(R"(Used (\d+) registers)");
  static const std::regex spills(R"((\d+) bytes spill stores, (\d+) bytes spill loads)");
  std::smatch m;
  if (std::regex_search(log, m, regs))
    info.registers = std::stoi(m[1]);
  if (std::regex_search(log, m, spills)) {
    info.spillStoreBytes = std::stoi(m[1]);
    info.spillLoadBytes = std::stoi(m[2]);
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
    c.ptxas = parsePtxasInfo(r.log);
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
