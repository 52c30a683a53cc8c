// q_tile_order = "lpt": the block-to-tile map of codegen_support/tile_order.h, the header that generated
// kernels include, compiled here for the CPU.
#include "tilefuse/codegen_support/tile_order.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <vector>

namespace tfcg = tilefuse::codegen_support;

TEST_CASE("lpt_block_tile maps the grid one to one, the heaviest Q tiles of a section first", "[lpt]") {
  std::mt19937 rng(20261205);
  std::uniform_int_distribution<long long> tilesOf(1, 40), pairsOf(1, 70);
  for (int trial = 0; trial < 300; ++trial) {
    const long long tilesX = tilesOf(rng), pairs = pairsOf(rng);
    const long long section = std::uniform_int_distribution<long long>(1, pairs)(rng);
    std::vector<int> seen(static_cast<std::size_t>(tilesX * pairs), 0);
    long long lastQ = tilesX, lastSection = -1;
    for (long long block = 0; block < tilesX * pairs; ++block) {
      const tfcg::lpt_tile t = tfcg::lpt_block_tile(block, tilesX, pairs, section);
      REQUIRE(t.q_tile >= 0);
      REQUIRE(t.q_tile < tilesX);
      REQUIRE(t.pair >= 0);
      REQUIRE(t.pair < pairs);
      ++seen[static_cast<std::size_t>(t.pair * tilesX + t.q_tile)];
      // Within a section the Q tiles never grow along the dispatch order, and its pairs are consecutive.
      const long long s = t.pair / section;
      if (s == lastSection)
        CHECK(t.q_tile <= lastQ);
      else
        CHECK(s == lastSection + 1);
      lastSection = s, lastQ = t.q_tile;
    }
    CHECK(std::all_of(seen.begin(), seen.end(), [](int n) { return n == 1; }));
  }
  // A section of 3 pairs and 4 Q tiles: every pair's Q tile 3, then every pair's 2, ...; the last section of 2.
  const long long expect[][2] = {{3, 0}, {3, 1}, {3, 2}, {2, 0}, {2, 1}, {2, 2}};
  for (long long b = 0; b < 6; ++b) {
    const tfcg::lpt_tile t = tfcg::lpt_block_tile(b, 4, 5, 3);
    CHECK(t.q_tile == expect[b][0]);
    CHECK(t.pair == expect[b][1]);
  }
  CHECK(tfcg::lpt_block_tile(12, 4, 5, 3).q_tile == 3);
  CHECK(tfcg::lpt_block_tile(12, 4, 5, 3).pair == 3);
  CHECK(tfcg::lpt_block_tile(13, 4, 5, 3).pair == 4);
  CHECK(tfcg::lpt_block_tile(14, 4, 5, 3).q_tile == 2);
}

TEST_CASE("lpt_section_pairs: the heads whose K and V fit the L2 budget, within [1, pairs]", "[lpt]") {
  // K and V of one head at S 4096, D 128, bf16: 2 MiB; 16 of them fit 32 MiB.
  const long long head = 4096ll * (128 + 128) * 2;
  CHECK(tfcg::lpt_section_pairs(head, 1, 64) == 16);
  CHECK(tfcg::lpt_section_pairs(head, 1, 8) == 8);
  CHECK(tfcg::lpt_section_pairs(head, 4, 64) == 64); // GQA 4: 16 KV heads, 64 Q heads
  CHECK(tfcg::lpt_section_pairs(4 * head * 16, 1, 64) == 1); // one head beyond the budget
  CHECK(tfcg::lpt_section_pairs(0, 0, 5) == 5);
  CHECK(tfcg::lpt_section_pairs(head, 1, 0) == 1);
}
