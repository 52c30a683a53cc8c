//===- Compile.h - NVRTC for generated kernels, on a thread pool -----*- C++ -*-===//
#pragma once

#include "tilefuse/tuner/KernelBuild.h"

#include <atomic>
#include <functional>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace tilefuse::tuner::detail {

/// Registers and spills of one kernel from NVRTC's log when compiled with -Xptxas=-v; -1 when the
/// log has no report for it.
struct PtxasInfo {
  int registers = -1;
  int spillStoreBytes = -1, spillLoadBytes = -1;
};
/// The report of entry function `kernelName` in `log` (runtime::parsePtxasReport). A module can hold
/// more than one entry (a run-time block mask's classification kernel comes first): the first
/// report in the log is not necessarily the attention kernel's.
PtxasInfo parsePtxasInfo(const std::string &log, const std::string &kernelName);

struct Compiled {
  bool ok = false;
  std::string error; ///< NVRTC's message and log when !ok
  std::vector<char> cubin;
  std::string ptx;
  double compileMs = 0;
  PtxasInfo ptxas;
};

/// NVRTC (runtime::compileCuda) for `arch` with -Xptxas=-v. Never throws: failures are in `error`.
Compiled compileKernel(const KernelSource &kernel, const std::string &arch);

/// Compiles `kernels` on `threads` std::threads; result i becomes ready when kernel i is done.
/// `stop()` (or the destructor) makes workers skip what they have not started (those results say
/// "skipped") and joins them.
class CompilePool {
public:
  CompilePool(const std::vector<const KernelSource *> &kernels, std::string arch, int threads);
  ~CompilePool();
  CompilePool(const CompilePool &) = delete;
  CompilePool &operator=(const CompilePool &) = delete;
  /// Waits for kernel i.
  Compiled take(std::size_t i);
  void stop();

private:
  std::vector<const KernelSource *> kernels_;
  std::string arch_;
  std::vector<std::promise<Compiled>> promises_;
  std::vector<std::future<Compiled>> futures_;
  std::atomic<std::size_t> next_{0};
  std::atomic<bool> stop_{false};
  std::vector<std::thread> workers_;
};

} // namespace tilefuse::tuner::detail
