// The mask density class of specs whose mask reads captured tensors (tuner/Captures.h): documents of
// 512 and of 64 tokens get different cache keys, a lookup with another class misses, specs without
// such captures keep their keys, and bad caller captures are clear errors.
#include "TunerTestSupport.h"
#include "tilefuse/codegen/Schedule.h"

#include "tilefuse/spec/Spec.h"
#include "tilefuse/tuner/Cache.h"
#include "tilefuse/tuner/Captures.h"
#include "tilefuse/tuner/Check.h"
#include "tilefuse/tuner/Version.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

using namespace tilefuse::tuner;
using namespace tilefuse::tuner::test;
namespace fs = std::filesystem;
using tilefuse::spec::Shape;
using tilefuse::spec::Spec;

namespace {

Spec loadSpec(const std::string &name) { return tilefuse::spec::parseSpecFile(std::string(TILEFUSE_SPECS_DIR) + "/" + name); }

/// Document ids [B, S] with documents of exactly `length` tokens (the last one cut by S), each document a
/// fresh random id above the previous one (never all zeros).
std::vector<int32_t> documents(int64_t B, int64_t S, int64_t length, std::mt19937_64 &rng) {
  std::vector<int32_t> ids(static_cast<size_t>(B * S));
  std::uniform_int_distribution<int32_t> start(1, 1000), step(1, 50);
  for (int64_t b = 0; b < B; ++b) {
    int32_t id = start(rng);
    for (int64_t j = 0; j < S; ++j) {
      if (j > 0 && j % length == 0)
        id += step(rng);
      ids[static_cast<size_t>(b * S + j)] = id;
    }
  }
  return ids;
}

HostCaptures fromIds(const Spec &spec, const Shape &shape, const std::vector<int32_t> &ids) {
  const std::span<const unsigned char> bytes(reinterpret_cast<const unsigned char *>(ids.data()), ids.size() * 4);
  return capturesFromBytes(spec, shape, std::span(&bytes, 1));
}

/// The error message of `f`, which must throw CaptureError.
template <typename F> std::string captureError(F &&f) {
  try {
    f();
  } catch (const CaptureError &e) {
    return e.what();
  }
  FAIL("no CaptureError was thrown");
  return "";
}

} // namespace

TEST_CASE("mask density: documents of 512 and of 64 tokens at S 4096 get different classes and keys",
          "[captures]") {
  const Spec spec = loadSpec("document_mask.json");
  REQUIRE(tilefuse::codegen::maskReadsCapture(spec));
  std::mt19937_64 rng(std::random_device{}());
  const int64_t B = std::uniform_int_distribution<int64_t>(1, 4)(rng);
  const Shape shape{B, 16, 16, 4096, 4096, 128, 128};
  const HostCaptures long512 = fromIds(spec, shape, documents(B, 4096, 512, rng));
  const HostCaptures short64 = fromIds(spec, shape, documents(B, 4096, 64, rng));
  const MaskDensity d512 = maskDensity(spec, shape, long512), d64 = maskDensity(spec, shape, short64);
  // Exact densities 1/8 and 1/64; the sampled estimate is within 4 standard errors.
  CHECK(d512.samples == kMaskDensitySamples);
  CHECK(std::abs(d512.fraction - 0.125) < 4 * std::sqrt(0.125 * 0.875 / kMaskDensitySamples));
  CHECK(std::abs(d64.fraction - 1.0 / 64) < 4 * std::sqrt((1.0 / 64) * (63.0 / 64) / kMaskDensitySamples));
  CHECK(d512.denominator == 8);
  CHECK(d64.denominator == 64);
  // Deterministic: the same captures give the same estimate.
  CHECK(maskDensity(spec, shape, long512).fraction == d512.fraction);

  const CacheKey k512 = makeKey(h100(), "13.0", spec, shape, Objective::Time, &long512);
  const CacheKey k64 = makeKey(h100(), "13.0", spec, shape, Objective::Time, &short64);
  CHECK(k512.maskDensity == 8);
  CHECK(k64.maskDensity == 64);
  CHECK_FALSE(k512 == k64);
  CHECK(k512.fileName().find("-Dv128-density8.json") != std::string::npos);
  CHECK(k64.fileName().find("-Dv128-density64.json") != std::string::npos);
  CHECK(k512.toJson().find("\"mask_density\":8") != std::string::npos);
  // Without captures the key holds the class of the synthetic ones (geometric runs of mean 32 tokens:
  // about 1/64 at S 4096), the ones tune() times on.
  const CacheKey synthetic = makeKey(h100(), "13.0", spec, shape);
  const HostCaptures syn = syntheticCaptures(spec, shape, kSyntheticCaptureSeed);
  CHECK(synthetic.maskDensity == maskDensity(spec, shape, syn).denominator);
  CHECK(synthetic.maskDensity >= 32);
  CHECK(synthetic.maskDensity <= 128);
}

TEST_CASE("mask density: classes are powers of two from 1 to 128 - exact on small shapes", "[captures]") {
  CHECK(densityDenominator(1.0) == 1);
  CHECK(densityDenominator(0.75) == 1);
  CHECK(densityDenominator(0.7) == 2);
  CHECK(densityDenominator(0.5) == 2);
  CHECK(densityDenominator(0.125) == 8);
  CHECK(densityDenominator(1.0 / 128) == 128);
  CHECK(densityDenominator(1e-6) == 128);
  CHECK(densityDenominator(0.0) == 128);
  // B Hq Sq Sk <= kMaskDensitySamples: every point is evaluated, the fraction is exact.
  const Spec spec = loadSpec("document_mask.json");
  const Shape shape{2, 2, 16, 64, 64, 64, 64}; // Sq = 64 <= Sk: query i sits at key i
  std::mt19937_64 rng(std::random_device{}());
  const MaskDensity d = maskDensity(spec, shape, fromIds(spec, shape, documents(2, 64, 16, rng)));
  CHECK(d.samples == 2 * 2 * 64 * 64);
  CHECK(d.fraction == 0.25);
  CHECK(d.denominator == 4);
}

TEST_CASE("mask density: the keys of specs whose mask reads no captures are unchanged", "[captures][cache]") {
  const Shape shape{2, 16, 16, 2048, 2048, 128, 128};
  // Pinned: the spelling of entries made before density classes existed.
  const Spec causal = loadSpec("causal.json");
  const CacheKey k = makeKey(h100(), "13.0", causal, shape);
  CHECK(k.maskDensity == 0);
  CHECK(k.fileName() == "causal-918f62cb14b3c2ff-bf16-B2-Hq16-Hkv16-Sq2048-Sk2048-D128-Dv128.json");
  CHECK(k.toJson() == std::string("{\"bucket_rule\":\"") + kBucketRule +
                          "\",\"cc\":\"9.0\",\"driver\":13000,\"dtype\":\"bf16\",\"gpu\":\"NVIDIA H100 80GB "
                          "HBM3\",\"nvrtc\":\"13.0\",\"shape_bucket\":{\"B\":2,\"D\":128,\"Dv\":128,\"Hkv\":16,"
                          "\"Hq\":16,\"Sk\":2048,\"Sq\":2048},\"sm_count\":132,\"spec\":\"causal\",\"spec_hash\":\"" +
                          "918f62cb14b3c2ff\",\"tilefuse\":\"" + tilefuseVersion() + "\"}");
  // Captures read by score_mod only (ALiBi slopes): no class either, whatever the captures.
  const Spec alibi = loadSpec("alibi.json");
  REQUIRE_FALSE(alibi.captures.empty());
  CHECK_FALSE(tilefuse::codegen::maskReadsCapture(alibi));
  const HostCaptures slopes = syntheticCaptures(alibi, shape, std::random_device{}());
  CHECK(makeKey(h100(), "13.0", alibi, shape).maskDensity == 0);
  CHECK(makeKey(h100(), "13.0", alibi, shape, Objective::Time, &slopes) == makeKey(h100(), "13.0", alibi, shape));
}

TEST_CASE("mask density: a lookup with another density class misses", "[captures][cache]") {
  TempDir dir;
  Cache cache(dir.path());
  const Spec spec = loadSpec("document_mask.json");
  const Shape shape{4, 16, 16, 4096, 4096, 128, 128};
  std::mt19937_64 rng(std::random_device{}());
  const HostCaptures long512 = fromIds(spec, shape, documents(4, 4096, 512, rng));
  const HostCaptures other512 = fromIds(spec, shape, documents(4, 4096, 512, rng));
  const HostCaptures short64 = fromIds(spec, shape, documents(4, 4096, 64, rng));
  const CacheKey k512 = makeKey(h100(), "13.0", spec, shape, Objective::Time, &long512);
  cache.store(makeTestEntry(k512, 1.25));
  CHECK(cache.lookup(k512).hit());
  // Other documents of the same length: the same class, the same entry.
  CHECK(cache.lookup(makeKey(h100(), "13.0", spec, shape, Objective::Time, &other512)).hit());
  // 64-token documents: another class, a miss (never the 512-token schedule).
  LookupResult miss = cache.lookup(makeKey(h100(), "13.0", spec, shape, Objective::Time, &short64));
  CHECK(miss.status == LookupStatus::Miss);
  // The class travels in the entry: a file whose inner key has another class is corrupt, not a hit.
  CacheKey moved = k512;
  moved.maskDensity = 64;
  fs::copy_file(cache.entryPath(k512), cache.entryPath(moved));
  CHECK(cache.lookup(moved).status == LookupStatus::Corrupt);
  // And it round-trips through the entry's JSON; a bad class is refused.
  CHECK(entryFromJson(entryToJson(makeTestEntry(k512, 1.0))).key == k512);
  CacheKey bad = k512;
  bad.maskDensity = 3;
  CHECK_THROWS_WITH(validateKey(bad), Catch::Contains("mask_density") && Catch::Contains("3"));
}

TEST_CASE("captures: bad caller captures are errors naming the capture - the value - and what is allowed",
          "[captures]") {
  const Spec spec = loadSpec("document_mask.json");
  const Shape shape{2, 16, 16, 64, 64, 128, 128}; // doc_ids [2, 64] of i32
  TempDir dir;
  std::mt19937_64 rng(std::random_device{}());
  std::string good;
  for (int32_t id : documents(2, 64, 16, rng))
    good += std::to_string(id) + (good.size() % 7 ? " " : ",\n");
  writeText(dir.path() / "good.txt", "# document ids\n" + good);
  const HostCaptures read = readCaptureFiles(spec, shape, {"doc_ids=" + (dir.path() / "good.txt").string()});
  REQUIRE(read.values.size() == 1);
  CHECK(read.values[0].size() == 128);
  CHECK(read.bytes[0].size() == 128 * 4);
  CHECK(read.values[0][0] >= 1);

  const std::string file = (dir.path() / "good.txt").string();
  CHECK_THAT(captureError([&] { readCaptureFiles(spec, shape, {"docs=" + file}); }),
             Catch::Contains("no capture named 'docs'") && Catch::Contains("doc_ids"));
  CHECK_THAT(captureError([&] { readCaptureFiles(spec, shape, {file}); }), Catch::Contains("NAME=FILE"));
  CHECK_THAT(captureError([&] { readCaptureFiles(spec, shape, {}); }),
             Catch::Contains("'doc_ids'") && Catch::Contains("not given"));
  CHECK_THAT(captureError([&] { readCaptureFiles(spec, shape, {"doc_ids=" + file, "doc_ids=" + file}); }),
             Catch::Contains("given twice"));
  CHECK_THAT(captureError([&] { readCaptureFiles(spec, shape, {"doc_ids=" + (dir.path() / "none.txt").string()}); }),
             Catch::Contains("cannot open"));
  writeText(dir.path() / "short.txt", "1 2 3");
  CHECK_THAT(captureError([&] { readCaptureFiles(spec, shape, {"doc_ids=" + (dir.path() / "short.txt").string()}); }),
             Catch::Contains("3 values, expected 128") && Catch::Contains("[2, 64]"));
  writeText(dir.path() / "long.txt", good + " 7");
  CHECK_THAT(captureError([&] { readCaptureFiles(spec, shape, {"doc_ids=" + (dir.path() / "long.txt").string()}); }),
             Catch::Contains("more than 128 values"));
  writeText(dir.path() / "float.txt", "1.5 " + good);
  CHECK_THAT(captureError([&] { readCaptureFiles(spec, shape, {"doc_ids=" + (dir.path() / "float.txt").string()}); }),
             Catch::Contains("'1.5'") && Catch::Contains("doc_ids") && Catch::Contains("not an integer"));
  writeText(dir.path() / "big.txt", "3000000000 " + good);
  CHECK_THAT(captureError([&] { readCaptureFiles(spec, shape, {"doc_ids=" + (dir.path() / "big.txt").string()}); }),
             Catch::Contains("3000000000") && Catch::Contains("outside the range of i32"));
  writeText(dir.path() / "odd.bin", std::string(127 * 4 + 2, '\x01'));
  CHECK_THAT(captureError([&] { readCaptureFiles(spec, shape, {"doc_ids=" + (dir.path() / "odd.bin").string()}); }),
             Catch::Contains("510 bytes given, expected 512"));
  // A .bin file of the right size is read as little-endian int32.
  std::vector<int32_t> ids = documents(2, 64, 32, rng);
  std::string raw(ids.size() * 4, '\0');
  std::memcpy(raw.data(), ids.data(), raw.size());
  writeText(dir.path() / "ids.bin", raw);
  const HostCaptures bin = readCaptureFiles(spec, shape, {"doc_ids=" + (dir.path() / "ids.bin").string()});
  CHECK(bin.values[0][77] == ids[77]);

  // Bytes from the runtime: the count of captures and each one's size.
  CHECK_THAT(captureError([&] { capturesFromBytes(spec, shape, {}); }),
             Catch::Contains("0 given") && Catch::Contains("doc_ids"));
  const std::span<const unsigned char> wrong(reinterpret_cast<const unsigned char *>(ids.data()), 100);
  CHECK_THAT(captureError([&] { capturesFromBytes(spec, shape, std::span(&wrong, 1)); }),
             Catch::Contains("capture 'doc_ids': 100 bytes given, expected 512") && Catch::Contains("i32"));

  // Sizes are overflow-checked: [Sk, Sk, Sk, Sk] of i64 at Sk = 2^20 is 2^83 bytes.
  const Spec huge = tilefuse::spec::parseSpecString(
      R"({"name": "huge", "dtype": "bf16", "head_dim": 64, "heads": {"q": 1, "kv": 1},
          "mask_mod": "t[0, 0, 0, kv_idx] > 0",
          "captures": {"t": {"shape": ["Sk", "Sk", "Sk", "Sk"], "dtype": "i64"}},
          "shape": {"B": 1, "Sq": 16, "Sk": 16}})",
      "huge.json");
  const Shape hugeShape{1, 1, 1, 16, int64_t{1} << 20, 64, 64};
  CHECK_THAT(captureError([&] { captureElements(huge, 0, hugeShape); }),
             Catch::Contains("capture 't'") && Catch::Contains("2^53"));
  CHECK_THAT(captureError([&] { makeKey(h100(), "13.0", huge, hugeShape); }), Catch::Contains("2^53"));
}

TEST_CASE("captures: float tables from text - and the inputs tune() times use the given captures", "[captures]") {
  const Spec alibi = loadSpec("alibi.json"); // slopes [Hq] of f32
  const Shape shape{1, 8, 8, 100, 100, 128, 128};
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<float> slope(0.01f, 1.0f);
  std::vector<float> slopes(8);
  std::string text;
  for (float &s : slopes) {
    s = slope(rng);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g\n", static_cast<double>(s));
    text += buf;
  }
  TempDir dir;
  writeText(dir.path() / "slopes.txt", text);
  const HostCaptures read = readCaptureFiles(alibi, shape, {"slopes=" + (dir.path() / "slopes.txt").string()});
  for (size_t h = 0; h < slopes.size(); ++h)
    CHECK(read.values[0][h] == static_cast<double>(slopes[h]));
  writeText(dir.path() / "nan.txt", "nan 1 2 3 4 5 6 7");
  CHECK_THAT(captureError([&] { readCaptureFiles(alibi, shape, {"slopes=" + (dir.path() / "nan.txt").string()}); }),
             Catch::Contains("'nan'") && Catch::Contains("not a finite number"));
  const HostInputs in = makeInputs(alibi, shape, rng(), nullptr, &read);
  CHECK(in.captures.values == read.values);
  CHECK(in.captures.bytes == read.bytes);
  // Captures of other sizes are refused.
  const Shape other{1, 16, 16, 100, 100, 128, 128};
  CHECK_THROWS_WITH(makeInputs(alibi, other, rng(), nullptr, &read), Catch::Contains("slopes"));
}

TEST_CASE("mask density: a shape the mask does not define still gets a key", "[captures]") {
  // document_mask at Sq > Sk reads doc_ids[b, q_idx + Sk - Sq] < 0 for the first rows: those points
  // count as masked, and makeKey does not throw.
  const Spec spec = loadSpec("document_mask.json");
  const Shape shape{2, 4, 4, 300, 200, 128, 128};
  std::mt19937_64 rng(std::random_device{}());
  const MaskDensity d = maskDensity(spec, shape, fromIds(spec, shape, documents(2, 200, 50, rng)));
  CHECK(d.undefined > 0);
  CHECK(d.undefined < d.samples);
  CHECK(d.fraction > 0);
  CHECK_NOTHROW(makeKey(h100(), "13.0", spec, shape));
}
