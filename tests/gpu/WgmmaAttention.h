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


/// One instantiation of the warp-specialized kernel (wgmma_ws_attention_kernel.cuh): a TMA producer
/// warpgroup and 2 consumer warpgroups, 384 threads, 1 block/SM. loop 0: simple (S gemm, softmax, P V gemm);
/// 1: burst (S_j and P_{j-1} V_{j-1} issued together); intra 1: softmax_j overlaps P_{j-1} V_{j-1} (FA3
/// Sec. 3.2); pingpong 1: the consumers take turns on the tensor cores (FA3 Sec. 3.1, named barriers).
struct WgmmaWsVariant {
  int headDim = 128;
  int blockN = 128;
  int stages = 2;
  int loop = 1;
  int intra = 1;
  int pingpong = 1;
  int fastExp = 0; // 1: softmax exponentials as ex2.approx.ftz.f32 (no exp2f denormal handling)
};

/// The warp-specialized variants the tests and the benchmark use (BLOCK_N 128; 0 spills with ptxas 13.0,
/// checked by test_wgmma_compile.cpp). Fastest on an H100 (RESULTS_WGMMA.md): D=128 s2 burst + intra +
/// pingpong + ex2-ftz, 600 TFLOP/s full / 530 causal; D=64 s2 simple.
inline std::vector<WgmmaWsVariant> wgmmaWsVariants() {
  return {{128, 128, 2, 0, 0, 0, 0}, {128, 128, 2, 1, 0, 0, 0}, {128, 128, 2, 1, 1, 0, 0}, {128, 128, 2, 1, 0, 1, 0},
          {128, 128, 2, 1, 1, 1, 0}, {128, 128, 3, 1, 1, 1, 0}, {128, 128, 3, 0, 0, 0, 0}, {128, 128, 2, 0, 0, 0, 1},
          {128, 128, 2, 1, 1, 1, 1}, {64, 128, 2, 1, 1, 1, 0},  {64, 128, 2, 0, 0, 0, 0}};
}

inline std::string wgmmaWsKernelName(const WgmmaWsVariant &v, bool causal) {
  return "wgmma_ws_d" + std::to_string(v.headDim) + "_n" + std::to_string(v.blockN) + "_s" + std::to_string(v.stages) +
         "_l" + std::to_string(v.loop) + "_i" + std::to_string(v.intra) + "_p" + std::to_string(v.pingpong) +
         "_e" + std::to_string(v.fastExp) + (causal ? "_causal" : "");
}

/// NVRTC source defining the causal and non-causal kernel of every warp-specialized variant.
inline std::string wgmmaWsSource(const std::vector<WgmmaWsVariant> &variants) {
  std::string src = "#include \"wgmma_ws_attention_kernel.cuh\"\n";
  for (const WgmmaWsVariant &v : variants)
    for (bool causal : {false, true})
      src += "TILEFUSE_WGMMA_WS_ATTENTION_KERNEL(" + wgmmaWsKernelName(v, causal) + ", " + std::to_string(v.headDim) +
             ", " + std::to_string(v.blockN) + ", " + std::to_string(v.stages) + ", " + (causal ? "true" : "false") +
             ", " + std::to_string(v.loop) + ", " + std::to_string(v.intra) + ", " + std::to_string(v.pingpong) + ", " + std::to_string(v.fastExp) + ")\n";
  return src;
}

/// Dynamic shared memory of one warp-specialized block (bytes): 1024 + (128 + 2 stages BLOCK_N) HEAD_DIM 2 + 256.
inline unsigned wgmmaWsSharedBytes(const WgmmaWsVariant &v) {
  return static_cast<unsigned>(1024 + (128 + 2 * v.stages * v.blockN) * v.headDim * 2 + 256);
}

constexpr int kWgmmaWsThreads = 384; // producer + 2 consumer warpgroups

} // namespace tilefuse::test
