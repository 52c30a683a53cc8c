// Host side of the hand-written Hopper wgmma attention kernel (wgmma_attention_kernel.cuh): variants,
// the NVRTC source that instantiates them, launch geometry. Compiled for sm_90a only (wgmma).
#pragma once

#include <string>
#include <vector>

namespace tilefuse::test {

/// One instantiation: bf16, HEAD_DIM 64 or 128, BLOCK_N 64 or 128, __launch_bounds__(256, minBlocks),
/// overlap 0 (simple loop: S wgmma, wait, softmax, P V wgmma, wait) or 1 (FA3 Sec. 3.2: the softmax of
/// S_j runs while P_{j-1} V_{j-1} is in flight).
struct WgmmaVariant {
  int headDim = 128;
  int blockN = 128;
  int minBlocks = 1;
  int overlap = 0;
  int lateCopy = 0; // 1: the next K/V cp.async are issued after this step's wgmma, not before
};

/// The variants the tests and the benchmark use, all without spills with ptxas 13.0 for sm_90a (checked
/// by test_wgmma_compile.cpp): D=128 with BLOCK_N 128 and 64, D=64 with BLOCK_N 64 at 2 blocks/SM; each
/// with and without the overlap; D=128 BLOCK_N 128 also with the late copies.
inline std::vector<WgmmaVariant> wgmmaVariants() {
  return {{128, 128, 1, 0, 0}, {128, 128, 1, 1, 0}, {128, 128, 1, 0, 1}, {128, 128, 1, 1, 1},
          {128, 64, 1, 0, 0},  {128, 64, 1, 1, 0},  {64, 64, 2, 0, 0},   {64, 64, 2, 1, 0}};
}

inline std::string wgmmaKernelName(const WgmmaVariant &v, bool causal) {
  return "wgmma_attn_d" + std::to_string(v.headDim) + "_n" + std::to_string(v.blockN) + "_b" +
         std::to_string(v.minBlocks) + "_o" + std::to_string(v.overlap) + "_l" + std::to_string(v.lateCopy) +
         (causal ? "_causal" : "");
}

/// NVRTC source defining the causal and non-causal kernel of every variant (needs -I tests/gpu).
inline std::string wgmmaSource(const std::vector<WgmmaVariant> &variants) {
  std::string src = "#include \"wgmma_attention_kernel.cuh\"\n";
  for (const WgmmaVariant &v : variants)
    for (bool causal : {false, true})
      src += "TILEFUSE_WGMMA_ATTENTION_KERNEL(" + wgmmaKernelName(v, causal) + ", " + std::to_string(v.headDim) +
             ", " + std::to_string(v.blockN) + ", " + (causal ? "true" : "false") + ", " +
             std::to_string(v.minBlocks) + ", " + std::to_string(v.overlap) + ", " + std::to_string(v.lateCopy) + ")\n";
  return src;
}

/// Dynamic shared memory of one block (bytes): 1024 + (128 + 4 BLOCK_N) HEAD_DIM 2.
inline unsigned wgmmaSharedBytes(const WgmmaVariant &v) {
  return static_cast<unsigned>(1024 + (128 + 4 * v.blockN) * v.headDim * 2);
}

constexpr int kWgmmaBlockM = 128;   // query rows per block
constexpr int kWgmmaThreads = 256;  // 2 consumer warpgroups

} // namespace tilefuse::test
