// The random inputs of the fp64 check (reference::randomInputs): integer captures are drawn over the
// range they are used in, so a [B] prefix length or a bucket index exercises every part of a variant
// (issue 12: counting up from 0 left a per-batch prefix at about 0).
#include "tilefuse/driver/Driver.h"
#include "tilefuse/reference/Attention.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <random>
#include <set>

#ifndef TILEFUSE_CLI_INPUTS
#error "TILEFUSE_CLI_INPUTS must be defined by tests/unit/driver/CMakeLists.txt"
#endif

using namespace tilefuse;

namespace {

driver::Loaded loadInput(const std::string &name) {
  driver::Problem p;
  p.specPath = std::string(TILEFUSE_CLI_INPUTS) + "/" + name;
  return driver::load(p);
}

} // namespace

TEST_CASE("a per-batch int capture is drawn over 0 to max(Sq Sk)", "[check]") {
  const driver::Loaded l = loadInput("prefix_lm.json");
  spec::Shape shape = l.shape;
  shape.B = 64, shape.Sq = 157, shape.Sk = 203;
  const reference::Inputs in = reference::randomInputs(l.spec, shape, std::random_device{}());
  REQUIRE(in.captures.size() == 1);
  const std::vector<double> &prefix = in.captures[0].data;
  REQUIRE(prefix.size() == 64);
  CHECK(*std::min_element(prefix.begin(), prefix.end()) >= 0);
  CHECK(*std::max_element(prefix.begin(), prefix.end()) <= 203);
  // 64 draws over 204 values: the largest is below 102 with probability 2^-64.
  CHECK(*std::max_element(prefix.begin(), prefix.end()) > 101);
}

TEST_CASE("an int capture that indexes another capture covers that dim", "[check]") {
  const driver::Loaded l = loadInput("bucket_bias.json");
  spec::Shape shape = l.shape;
  shape.Sq = 113, shape.Sk = 4096;
  const reference::Inputs in = reference::randomInputs(l.spec, shape, std::random_device{}());
  REQUIRE(in.captures.size() == 2); // bias [Hq, 32], bucket [Sk] (sorted by name)
  const std::vector<double> &bucket = in.captures[1].data;
  REQUIRE(bucket.size() == 4096);
  const std::set<double> seen(bucket.begin(), bucket.end());
  CHECK(*seen.begin() >= 0);
  CHECK(*seen.rbegin() <= 31);
  CHECK(seen.size() == 32); // 4096 draws over 32 values: a value is missed with probability < 1e-50
}

TEST_CASE("document ids along a sequence stay non-decreasing runs from 0", "[check]") {
  driver::Problem p;
  p.specPath = std::string(TILEFUSE_SPECS_DIR) + "/document_mask.json";
  const driver::Loaded l = driver::load(p);
  spec::Shape shape = l.shape;
  shape.B = 2, shape.Sq = 113, shape.Sk = 2048;
  const reference::Inputs in = reference::randomInputs(l.spec, shape, std::random_device{}());
  const std::vector<double> &ids = in.captures[0].data;
  REQUIRE(ids.size() == 2 * 2048);
  for (int64_t b = 0; b < 2; ++b) {
    CHECK(ids[static_cast<size_t>(b * 2048)] == 0);
    for (int64_t j = 1; j < 2048; ++j) {
      const double step = ids[static_cast<size_t>(b * 2048 + j)] - ids[static_cast<size_t>(b * 2048 + j - 1)];
      CHECK((step == 0 || step == 1));
    }
    CHECK(ids[static_cast<size_t>(b * 2048 + 2047)] > 8); // about 64 documents expected
  }
}
