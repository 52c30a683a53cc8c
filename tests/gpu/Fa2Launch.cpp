#include "Fa2Launch.h"

#include "GpuTest.h"

namespace tilefuse::test {

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

unsigned fa2SharedBytes(int headDim) { return (64 + 2 * 64) * headDim * 2; }

CUfunction fa2Function(const AttentionProblem &p) {
  static const runtime::Module module = loadTestModule(fa2Source());
  CUfunction f = module.function(fa2KernelName(p.dtype, p.headDim, p.causal).c_str());
  const unsigned smem = fa2SharedBytes(p.headDim);
  if (smem > 48 * 1024)
    runtime::funcSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(smem));
  return f;
}

void fa2Launch(const AttentionProblem &p, const Fa2Params &params, CUstream stream) {
  Fa2Params copy = params;
  void *args[] = {&copy};
  const runtime::Dim3 grid{static_cast<unsigned>((p.seqQ + 63) / 64), static_cast<unsigned>(p.headsQ),
                           static_cast<unsigned>(p.batch)};
  runtime::launchKernel(fa2Function(p), grid, runtime::Dim3{128, 1, 1}, fa2SharedBytes(p.headDim), stream, args);
}

} // namespace tilefuse::test
