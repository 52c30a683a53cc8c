// Packed variable-length sequences (spec/Packed.h): the "layout" field of a spec and the checks on
// cu_seqlens, each error naming the field, the value and what is allowed.
#include "tilefuse/spec/Packed.h"
#include "tilefuse/spec/Spec.h"

#include <catch2/catch.hpp>

#include <limits>
#include <random>
#include <string>

using namespace tilefuse::spec;

namespace {

/// The message of the PackedError `f` throws (fails the test when it throws nothing).
template <typename F> std::string errorOf(F &&f) {
  try {
    f();
  } catch (const PackedError &e) {
    return e.what();
  }
  FAIL("no PackedError");
  return "";
}

const char *kPackedSpec = R"({"name": "v", "dtype": "bf16", "head_dim": 64, "heads": {"q": 4, "kv": 2},
  "mask_mod": "q_idx + (Sk - Sq) >= kv_idx", "layout": "packed", "shape": {"B": 3, "Sq": 100, "Sk": 100}})";

} // namespace

TEST_CASE("layout packed parses and changes the content hash, batched keeps the old hash", "[spec][varlen]") {
  const Spec packed = parseSpecString(kPackedSpec, "v.json");
  CHECK(packed.layout == Layout::Packed);
  std::string batchedText = kPackedSpec;
  batchedText.replace(batchedText.find("\"layout\": \"packed\", "), 20, "");
  const Spec batched = parseSpecString(batchedText, "v.json");
  CHECK(batched.layout == Layout::Batched);
  CHECK(contentHash(packed) != contentHash(batched));
  CHECK(canonicalJson(batched).find("layout") == std::string::npos);
  CHECK(canonicalJson(packed).find("\"layout\":\"packed\"") != std::string::npos);
  std::string explicitBatched = kPackedSpec;
  explicitBatched.replace(explicitBatched.find("packed"), 6, "batched");
  CHECK(contentHash(parseSpecString(explicitBatched, "v.json")) == contentHash(batched));
}

TEST_CASE("an unknown layout names the field, the value and the choices", "[spec][varlen]") {
  std::string text = kPackedSpec;
  text.replace(text.find("packed"), 6, "pakced");
  try {
    parseSpecString(text, "v.json");
    FAIL("no SpecError");
  } catch (const SpecError &e) {
    const std::string m = e.what();
    CHECK(m.find("field 'layout'") != std::string::npos);
    CHECK(m.find("\"pakced\"") != std::string::npos);
    CHECK(m.find("did you mean 'packed'") != std::string::npos);
    CHECK(m.find("\"batched\"") != std::string::npos);
  }
}

TEST_CASE("cu_seqlens errors name the field, the value and what is allowed", "[spec][varlen]") {
  CHECK(errorOf([] { checkCuSeqlens("cu_seqlens_q", {0, 5, 3, 9}); }) ==
        "cu_seqlens_q[2] = 3 is less than cu_seqlens_q[1] = 5: offsets must be non-decreasing (sequence 1 would "
        "have length -2)");
  CHECK(errorOf([] { checkCuSeqlens("cu_seqlens_q", {1, 5}); }) ==
        "cu_seqlens_q[0] = 1; the first offset must be 0");
  CHECK(errorOf([] { checkCuSeqlens("cu_seqlens_k", {0, 5, 9}, std::nullopt, 10); }) ==
        "cu_seqlens_k[2] = 9; the last offset must equal the tensor's token count 10");
  CHECK(errorOf([] { checkCuSeqlens("cu_seqlens_k", {0, 5, 9}, 4); }) ==
        "cu_seqlens_k has 3 entries, expected B + 1 = 4");
  CHECK(errorOf([] { checkCuSeqlens("cu_seqlens_q", {0}); }).find("B + 1 >= 2") != std::string::npos);
  std::vector<int64_t> huge{0}; // 128 sequences of 2^24 tokens: 2^31 in all, one past int32
  for (int b = 0; b < 128; ++b)
    huge.push_back(huge.back() + (int64_t{1} << 24));
  CHECK(errorOf([&] { checkCuSeqlens("cu_seqlens_q", huge); }) ==
        "cu_seqlens_q[128] = 2147483648 does not fit the int32 offsets kernels read (at most 2147483647 tokens in all)");
  CHECK(errorOf([] { checkCuSeqlens("cu_seqlens_q", {0, (int64_t{1} << 24) + 1}); }).find("at most 16777216") !=
        std::string::npos);
  CHECK(errorOf([] { makePackedSeqs({0, 4, 8}, {0, 4}); }) == "cu_seqlens_k has 2 entries, expected B + 1 = 3");
  CHECK(errorOf([] { makePackedSeqs({0, 4, 8}, {}, 3); }).find("max_seqlen_q = 3 is less than") != std::string::npos);
  CHECK(errorOf([] { cuFromLengths("lengths", {3, -1}); }) == "lengths[1] = -1; a sequence length must be >= 0");
  CHECK(errorOf([] {
          cuFromLengths("lengths", {std::numeric_limits<int64_t>::max(), 1});
        }).find("overflows") != std::string::npos);
}

TEST_CASE("parseIntList and parseSeqlensFile read offsets and report bad text", "[spec][varlen]") {
  CHECK(parseIntList("--cu-seqlens", "0,5, 12 20") == std::vector<int64_t>{0, 5, 12, 20});
  CHECK(errorOf([] { parseIntList("--cu-seqlens", "0,5x,7"); }).find("'5x' (entry 1) is not an integer") !=
        std::string::npos);
  CHECK(errorOf([] { parseIntList("--cu-seqlens", " , "); }).find("is empty") != std::string::npos);
  CHECK(errorOf([] { parseIntList("--cu-seqlens", "0,99999999999999999999"); }).find("outside int64") !=
        std::string::npos);
  const PackedSeqs both = parseSeqlensFile("f", "# lengths 1, 63\n0,1,64\n");
  CHECK(both.cuQ == std::vector<int64_t>{0, 1, 64});
  CHECK(both.cuK == both.cuQ);
  const PackedSeqs qk = parseSeqlensFile("f", "q: 0,1,64\nk: 0,10,20\n");
  CHECK(qk.cuK == std::vector<int64_t>{0, 10, 20});
  CHECK(qk.maxLenQ() == 63);
  CHECK(qk.maxLenK() == 10);
  CHECK(qk.pairs() == 1 * 10 + 63 * 10);
  CHECK(errorOf([] { parseSeqlensFile("f", "0,1\n0,2\n"); }).find("f:2: a second list") != std::string::npos);
  CHECK(errorOf([] { parseSeqlensFile("f", "q: 0,1\nk: 0,1,2\n"); }) ==
        "cu_seqlens_k has 3 entries, expected B + 1 = 2");
  CHECK(errorOf([] { parseSeqlensFile("f", "# nothing\n"); }).find("no cu_seqlens") != std::string::npos);
}

TEST_CASE("random valid offsets pass and every corruption of them is caught", "[spec][varlen]") {
  std::mt19937_64 rng(std::random_device{}());
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<int64_t> lengths(1 + rng() % 8);
    for (int64_t &l : lengths)
      l = static_cast<int64_t>(rng() % 300);
    const std::vector<int64_t> cu = cuFromLengths("lengths", lengths);
    const PackedSeqs s = makePackedSeqs(cu);
    REQUIRE(s.batch() == static_cast<int64_t>(lengths.size()));
    for (size_t b = 0; b < lengths.size(); ++b)
      REQUIRE(s.lenQ(static_cast<int64_t>(b)) == lengths[b]);
    // Lower one inner offset below its predecessor: the non-decreasing rule must fire.
    if (cu.size() > 2) {
      std::vector<int64_t> bad = cu;
      const size_t i = 1 + rng() % (cu.size() - 2);
      bad[i] = bad[i - 1] - 1;
      REQUIRE_THROWS_AS(checkCuSeqlens("cu_seqlens_q", bad), PackedError);
    }
  }
}

TEST_CASE("randomLengths draws lengths in [MIN, MAX] summing to TOTAL and --seqlens-random errors name the field",
          "[spec][varlen]") {
  for (uint64_t seed : {0ull, 1ull, 42ull}) {
    const std::vector<int64_t> lengths = randomLengths(128, 4096, 65536, seed);
    int64_t sum = 0;
    for (size_t i = 0; i < lengths.size(); ++i) {
      sum += lengths[i];
      if (i + 1 < lengths.size()) { // the last one is cut to the total
        CHECK(lengths[i] >= 128);
        CHECK(lengths[i] <= 4096);
      }
    }
    CHECK(sum == 65536);
    CHECK(lengths.size() >= 16); // 65536 / 4096
    CHECK(randomLengths(128, 4096, 65536, seed) == lengths); // deterministic
  }
  CHECK(randomLengths(128, 4096, 65536, 1) != randomLengths(128, 4096, 65536, 2));
  const std::vector<int64_t> cu = parseRandomSeqlens("--seqlens-random", "64,64,640,7");
  CHECK(cu == std::vector<int64_t>{0, 64, 128, 192, 256, 320, 384, 448, 512, 576, 640});
  CHECK_THAT(errorOf([] { parseRandomSeqlens("--seqlens-random", "128,4096"); }),
             Catch::Contains("--seqlens-random") && Catch::Contains("MIN,MAX,TOTAL"));
  CHECK_THAT(errorOf([] { randomLengths(0, 10, 100, 0); }), Catch::Contains("MIN = 0"));
  CHECK_THAT(errorOf([] { randomLengths(10, 5, 100, 0); }), Catch::Contains("MAX = 5"));
  CHECK_THAT(errorOf([] { randomLengths(1, 5, int64_t(1) << 31, 0); }), Catch::Contains("TOTAL = 2147483648"));
  // More sequences than a shape's B allows: refused while drawing, not after 16 GiB of lengths (fuzz
  // target seqlens, input "1,1,2147483647"). kMaxBatch sequences of one token are still allowed.
  CHECK_THAT(errorOf([] { randomLengths(1, 1, std::numeric_limits<int32_t>::max(), 0); }),
             Catch::Contains("more than 1048576 sequences") && Catch::Contains("raise MIN"));
  CHECK(randomLengths(1, 1, kMaxBatch, 0).size() == size_t(kMaxBatch));
  CHECK_THAT(errorOf([] { randomLengths(1, 1, kMaxBatch + 1, 0); }), Catch::Contains("more than"));
}
