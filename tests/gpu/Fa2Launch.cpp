#include "Fa2Launch.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <stdexcept>

#include "GpuTest.h"

namespace tilefuse::test {

namespace {

/// Sets the attributes a launch with `smem` bytes of dynamic shared memory needs: the opt-in above
/// 48 KiB, and the largest shared-memory carveout so that several such blocks fit on one SM.
void setSharedAttributes(CUfunction f, unsigned smem) {
  if (smem > 48 * 1024)
    runtime::funcSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(smem));
  runtime::funcSetAttribute(f, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, CU_SHAREDMEM_CARVEOUT_MAX_SHARED);
}

runtime::Dim3 gridFor(const AttentionProblem &p, const Fa2Schedule &s) {
  return {static_cast<unsigned>((p.seqQ + s.block_m - 1) / s.block_m), static_cast<unsigned>(p.headsQ),
          static_cast<unsigned>(p.batch)};
}

std::string variantKey(const Fa2Variant &v) {
  std::string key = fa2Source(v);
  for (const auto &f : v.flags) key += "\n" + f;
  return key;
}

/// Compiled variants of this process, by variantKey.
std::map<std::string, runtime::Module> &variantModules() {
  static std::map<std::string, runtime::Module> modules;
  return modules;
}

runtime::CompileResult compileVariant(const Fa2Variant &v, const std::string &arch) {
  runtime::CompileOptions options;
  options.arch = arch;
  options.includeDirs = {TILEFUSE_TESTS_GPU_DIR};
  options.extraFlags = v.flags;
  return runtime::compileCuda(fa2Source(v), options);
}

/// Writes the CUBIN for SASS checks when TILEFUSE_TEST_DUMP_DIR is set (as loadTestModule does).
void dumpCubin(const Fa2Variant &v, const std::vector<char> &cubin, const std::string &arch) {
  const char *dir = std::getenv("TILEFUSE_TEST_DUMP_DIR");
  if (!dir) return;
  std::string flags;
  for (const auto &f : v.flags) flags += f;
  const std::string path = std::string(dir) + "/fa2-" + dtypeName(v.dtype) + "-d" + std::to_string(v.headDim) + "-" +
                           fa2ScheduleName(v.schedule) + "-" + std::to_string(std::hash<std::string>{}(flags)) + "-" +
                           arch + ".cubin";
  std::ofstream(path, std::ios::binary).write(cubin.data(), std::streamsize(cubin.size()));
}

} // namespace

std::string fa2KernelName(Dtype dtype, int headDim, bool causal) {
  return "fa2_" + dtypeName(dtype) + "_d" + std::to_string(headDim) + (causal ? "_causal" : "");
}

std::string fa2Source() {
  std::string src = "#include \"fa2_reference_kernel.cuh\"\n";
  for (Dtype t : {Dtype::bf16, Dtype::fp16})
    for (int d : kFa2HeadDims)
      for (bool causal : {false, true})
        src += "TILEFUSE_FA2_KERNEL(" + fa2KernelName(t, d, causal) + ", " + cudaType(t) + ", " + std::to_string(d) +
               ", " + (causal ? "true" : "false") + ")\n";
  return src;
}

Fa2Schedule fa2DeviceDefaultSchedule(int headDim) {
  const runtime::DeviceInfo &dev = testDevice();
  return fa2DefaultSchedule(headDim, 10 * dev.ccMajor + dev.ccMinor);
}

unsigned fa2SharedBytes(int headDim) { return fa2SharedBytes(headDim, fa2DeviceDefaultSchedule(headDim)); }

CUfunction fa2Function(const AttentionProblem &p) {
  static const runtime::Module module = loadTestModule(fa2Source());
  CUfunction f = module.function(fa2KernelName(p.dtype, p.headDim, p.causal).c_str());
  setSharedAttributes(f, fa2SharedBytes(p.headDim));
  return f;
}

void fa2Launch(const AttentionProblem &p, const Fa2Params &params, CUstream stream) {
  const Fa2Schedule s = fa2DeviceDefaultSchedule(p.headDim);
  Fa2Params copy = params;
  void *args[] = {&copy};
  runtime::launchKernel(fa2Function(p), gridFor(p, s), runtime::Dim3{static_cast<unsigned>(32 * s.warps), 1, 1},
                        fa2SharedBytes(p.headDim), stream, args);
}

// ---------------------------------------------------------------------------------------------------

std::string fa2ScheduleName(const Fa2Schedule &s) {
  char buf[96];
  std::snprintf(buf, sizeof(buf), "m%dn%dw%ds%dq%db%d", s.block_m, s.block_n, s.warps, s.stages, s.q_in_regs,
                s.min_blocks);
  return buf;
}

Fa2Schedule fa2ParseSchedule(const std::string &name) {
  Fa2Schedule s{};
  int consumed = 0;
  if (std::sscanf(name.c_str(), "m%dn%dw%ds%dq%db%d%n", &s.block_m, &s.block_n, &s.warps, &s.stages, &s.q_in_regs,
                  &s.min_blocks, &consumed) != 6 ||
      consumed != static_cast<int>(name.size()))
    throw std::invalid_argument("not an FA2 schedule name (m<BM>n<BN>w<W>s<S>q<0|1>b<B>): '" + name + "'");
  return s;
}

unsigned fa2SharedBytes(int headDim, const Fa2Schedule &s) {
  return static_cast<unsigned>((s.block_m + 2 * s.stages * s.block_n) * headDim * 2);
}

int fa2BlocksPerSm(const Fa2Schedule &s, int registers, unsigned sharedBytes, int smemPerSm) {
  const int regsPerWarp = ((registers + 7) / 8) * 8 * 32; // allocated per warp in units of 256 registers
  const int byRegs = 65536 / (regsPerWarp * s.warps);
  const int bySmem = smemPerSm / static_cast<int>(sharedBytes + 1024);
  const int byWarps = 64 / s.warps;
  return std::min({byRegs, bySmem, byWarps, 32});
}

std::string fa2KernelName(const Fa2Variant &v, bool causal) {
  return fa2KernelName(v.dtype, v.headDim, causal) + "_" + fa2ScheduleName(v.schedule);
}

std::string fa2Source(const Fa2Variant &v) {
  const Fa2Schedule &s = v.schedule;
  std::string src = "#include \"fa2_reference_kernel.cuh\"\n";
  for (bool causal : {false, true}) {
    char line[512];
    std::snprintf(line, sizeof(line), "TILEFUSE_FA2_KERNEL_SCHEDULE(%s, %s, %d, %s, %d, %d, %d, %d, %d, %d)\n",
                  fa2KernelName(v, causal).c_str(), cudaType(v.dtype).c_str(), v.headDim, causal ? "true" : "false",
                  s.block_m, s.block_n, s.warps, s.stages, s.q_in_regs, s.min_blocks);
    src += line;
  }
  return src;
}

void fa2Prepare(const std::vector<Fa2Variant> &variants) {
  const std::string arch = testDevice().arch();
  auto &modules = variantModules();
  std::map<std::string, std::pair<Fa2Variant, std::future<runtime::CompileResult>>> pending;
  for (const Fa2Variant &v : variants) {
    const std::string key = variantKey(v);
    if (modules.count(key) || pending.count(key)) continue;
    pending.emplace(key, std::make_pair(v, std::async(std::launch::async, compileVariant, v, arch)));
  }
  for (auto &[key, job] : pending) { // loaded on this thread: the one whose context is current
    const runtime::CompileResult compiled = job.second.get();
    dumpCubin(job.first, compiled.cubin, arch);
    modules.emplace(key, runtime::Module(compiled.cubin));
  }
}

CUfunction fa2Function(const Fa2Variant &v, bool causal) {
  const std::string key = variantKey(v);
  auto &modules = variantModules();
  if (!modules.count(key)) fa2Prepare({v});
  CUfunction f = modules.at(key).function(fa2KernelName(v, causal).c_str());
  setSharedAttributes(f, fa2SharedBytes(v.headDim, v.schedule));
  return f;
}

void fa2Launch(const AttentionProblem &p, const Fa2Params &params, const Fa2Variant &v, CUstream stream) {
  if (p.dtype != v.dtype || p.headDim != v.headDim)
    throw std::invalid_argument("fa2Launch: the variant's dtype / head dim differ from the problem's");
  fa2LaunchFunction(fa2Function(v, p.causal), p, params, v.schedule, stream);
}

void fa2LaunchFunction(CUfunction f, const AttentionProblem &p, const Fa2Params &params, const Fa2Schedule &s,
                       CUstream stream) {
  Fa2Params copy = params;
  void *args[] = {&copy};
  runtime::launchKernel(f, gridFor(p, s), runtime::Dim3{static_cast<unsigned>(32 * s.warps), 1, 1},
                        fa2SharedBytes(p.headDim, s), stream, args);
}

} // namespace tilefuse::test
