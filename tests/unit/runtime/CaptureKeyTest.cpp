// The runtime's host captures (HostCaptureRef, tilefuse_host_capture_t) choose the tuner cache entry:
// CacheScheduleSource::keyFor gives documents of 512 and of 64 tokens different keys, checks the
// captures against the spec, and a query without captures keeps the synthetic class. No GPU needed.
#include "CacheScheduleSource.h"

#include "tilefuse/spec/Spec.h"
#include "tilefuse/tilefuse_c.h"

#include <catch2/catch.hpp>

#include <random>

using namespace tilefuse;

namespace {

tuner::DeviceIdentity h200() { return {"NVIDIA H200", 9, 0, 132, 13000}; }

/// Document ids [B, S], documents of `length` tokens with increasing random ids.
std::vector<int32_t> documents(int64_t B, int64_t S, int64_t length, std::mt19937_64 &rng) {
  std::vector<int32_t> ids(static_cast<size_t>(B * S));
  for (int64_t b = 0; b < B; ++b) {
    int32_t id = std::uniform_int_distribution<int32_t>(1, 1000)(rng);
    for (int64_t j = 0; j < S; ++j)
      ids[static_cast<size_t>(b * S + j)] = (j > 0 && j % length == 0) ? id += 1 + static_cast<int32_t>(rng() % 9) : id;
  }
  return ids;
}

struct Query {
  spec::Spec spec = spec::parseSpecFile(std::string(TILEFUSE_SPECS_DIR) + "/document_mask.json");
  spec::Shape shape{2, 16, 16, 4096, 4096, 128, 128};
  std::vector<HostCaptureRef> refs;
  ScheduleQuery of(const std::vector<int32_t> *ids) {
    refs.clear();
    if (ids)
      refs.push_back({ids->data(), ids->size() * sizeof(int32_t)});
    ScheduleQuery q{&spec, spec::contentHashHex(spec), shape, ShapeBucket::of(shape), 0, "NVIDIA H200", "sm_90", refs};
    return q;
  }
};

} // namespace

TEST_CASE("host captures: the key holds the caller's mask density class", "[captures]") {
  std::mt19937_64 rng(std::random_device{}());
  tuner::CacheScheduleSource source(tuner::Cache("/nonexistent-tilefuse-cache"));
  Query q;
  const std::vector<int32_t> long512 = documents(2, 4096, 512, rng), short64 = documents(2, 4096, 64, rng);
  const tuner::CacheKey k512 = source.keyFor(q.of(&long512), h200());
  const tuner::CacheKey k64 = source.keyFor(q.of(&short64), h200());
  CHECK(k512.maskDensity == 8);
  CHECK(k64.maskDensity == 64);
  CHECK(k512.fileName() != k64.fileName());
  // Without captures: the class of the synthetic ones, as tune() and makeKey use.
  CHECK(source.keyFor(q.of(nullptr), h200()) == tuner::makeKey(h200(), k512.nvrtcVersion, q.spec, q.shape));
}

TEST_CASE("host captures: bad ones are errors naming the capture", "[captures]") {
  std::mt19937_64 rng(std::random_device{}());
  tuner::CacheScheduleSource source(tuner::Cache("/nonexistent-tilefuse-cache"));
  Query q;
  std::vector<int32_t> ids = documents(2, 4096, 512, rng);
  ScheduleQuery query = q.of(&ids);
  q.refs[0].bytes -= 4;
  CHECK_THROWS_WITH(source.keyFor(query, h200()),
                    Catch::Contains("capture 'doc_ids': 32764 bytes given, expected 32768") && Catch::Contains("[2, 4096]"));
  q.refs[0] = {nullptr, 32768};
  CHECK_THROWS_AS(source.keyFor(query, h200()), tuner::CaptureError);
  CHECK_THROWS_WITH(source.keyFor(query, h200()), Catch::Contains("'doc_ids'") && Catch::Contains("null"));
  q.refs = {{ids.data(), 32768}, {ids.data(), 32768}};
  query.captures = q.refs;
  CHECK_THROWS_WITH(source.keyFor(query, h200()), Catch::Contains("2 given") && Catch::Contains("has 1 (doc_ids"));
  // The C API checks its own arguments before anything else.
  tilefuse_kernel_t k = nullptr;
  const tilefuse_host_capture_t one = {ids.data(), 32768};
  CHECK(tilefuse_get_kernel_captures(nullptr, "x.json", nullptr, nullptr, TILEFUSE_POLICY_TUNE_ON_MISS, &one, 1, &k) ==
        TILEFUSE_ERROR_INVALID_ARGUMENT);
}
