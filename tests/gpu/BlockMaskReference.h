// Host reference of a run-time block mask (FlexAttention's BlockMask, as codegen::BlockMaskAbi lays it
// out): mask_mod evaluated in fp64 / int64 (spec::evaluate) at every real position of every
// (Q tile, K/V tile) pair, for the tests of the block-classification kernel.
#pragma once

#include <cstdint>
#include <vector>

#include "test_generated_reference.h"

namespace tilefuse::test {

/// Lists of one problem: rows = B * (perHead ? Hq : 1) * ceil(Sq / blockM), row = (b * heads + h) *
/// q_tiles + q_tile; kvTiles = ceil(Sk / blockN) entries per index-list row (the unused ones -1).
struct HostBlockMask {
  int64_t rows = 0, kvTiles = 0;
  std::vector<int32_t> kvNumBlocks, kvIndices, fullKvNumBlocks, fullKvIndices;
};

/// The classification of the real positions (q_idx < Sq, kv_idx < Sk): a tile is empty when mask_mod is
/// false at all of them, full when it is true at all and the tile has no padded column (kv_idx >= Sk),
/// partial otherwise. With perHead false the head is 0 (the mask must not read it).
HostBlockMask hostBlockMask(const SpecProblem &p, int blockM, int blockN, bool perHead);

/// Tile classes of one list row: 0 empty, 1 partial, 2 full, one per K/V tile.
std::vector<int> tileClasses(const std::vector<int32_t> &num, const std::vector<int32_t> &idx,
                             const std::vector<int32_t> &fullNum, const std::vector<int32_t> &fullIdx, int64_t row,
                             int64_t kvTiles);

} // namespace tilefuse::test
