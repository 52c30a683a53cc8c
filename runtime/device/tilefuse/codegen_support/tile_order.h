// The order in which a grid of one block per Q tile runs its tiles, for q_tile_order = "lpt"
// (codegen::QTileOrder::Lpt): the longest processing time first across the heads of an L2 section.
//
// The hardware dispatches the blocks of a grid in the order of their linear index (x fastest), each to
// the first SM with room: greedy list scheduling, whose makespan is within 4/3 of the optimum when the
// list is sorted by decreasing work (Graham, "Bounds on multiprocessing timing anomalies", SIAM J. Appl. Math. 17, 1969).
// Under a causal mask or a window, Q tile i of a head visits about min(i + 1, window) K/V tiles, so the
// list is sorted when every head's last Q tile comes first, then every head's last but one, and so on.
// Over all heads, that order reads every head's K and V at once; a section of G heads whose K and V fit
// in L2 keeps the reuse (FlashAttention-3's LPT tile scheduler orders sections of heads the same way).
//
// Plain C++ with no headers: generated kernels include it through codegen.cuh (NVRTC), and the CPU tests
// include it alone (tests/unit/codegen/TileOrderTest.cpp).
#pragma once

#if defined(__CUDACC__)
#define TF_HOST_DEVICE __host__ __device__ inline
#else
#define TF_HOST_DEVICE inline
#endif

namespace tilefuse {
namespace codegen_support {

/// The L2 bytes a section of heads may fill with K and V: 32 MiB of the H100's and H200's 50 MiB (the
/// rest holds Q, O and the other section's tail). FlashAttention-3 takes the same figure.
constexpr long long lpt_l2_bytes = 32ll << 20;

/// The (batch, head) pairs per section: as many as lpt_l2_bytes holds of K and V, `kv_head_bytes` per KV
/// head (Sk (D + Dv) times the element size), times `q_heads_per_kv` (GQA: the Q heads of a KV head read
/// the same K and V); at least 1, at most `pairs` (the grid's y z extent).
TF_HOST_DEVICE long long lpt_section_pairs(long long kv_head_bytes, long long q_heads_per_kv, long long pairs) {
  const long long bytes = kv_head_bytes > 0 ? kv_head_bytes : 1;
  const long long per_kv = q_heads_per_kv > 0 ? q_heads_per_kv : 1;
  long long g = lpt_l2_bytes / bytes * per_kv;
  g = g < pairs ? g : pairs;
  return g > 1 ? g : 1;
}

/// A block's Q tile and (batch, head) pair, the pair's linear index y + gridDim.y z.
struct lpt_tile {
  long long q_tile, pair;
};

/// The tile of the block at place `block` (blockIdx.x + gridDim.x (blockIdx.y + gridDim.y blockIdx.z)) of a
/// grid of `tiles_x` Q tiles by `pairs` (batch, head) pairs, in sections of `section` pairs (the last one may
/// be narrower): within a section, place n runs Q tile tiles_x - 1 - n / width of the section's pair n % width.
/// A bijection of [0, tiles_x pairs) onto the tiles; 0 < section <= pairs.
TF_HOST_DEVICE lpt_tile lpt_block_tile(long long block, long long tiles_x, long long pairs, long long section) {
  const long long first = block / (section * tiles_x) * section; // the section's first pair
  const long long width = section < pairs - first ? section : pairs - first;
  const long long rank = block - first * tiles_x; // the place in the section
  return {tiles_x - 1 - rank / width, first + rank % width};
}

} // namespace codegen_support
} // namespace tilefuse
