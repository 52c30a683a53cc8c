// The accuracy rule: inputs, the row reference against reference::attention, pass and fail cases.
#include "tilefuse/reference/Attention.h"
#include "tilefuse/tuner/Check.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <utility>

using namespace tilefuse;
using namespace tilefuse::tuner;

#ifndef TILEFUSE_SPECS_DIR
#error "TILEFUSE_SPECS_DIR must be defined by tests/unit/tuner/CMakeLists.txt"
#endif

namespace {

spec::Spec loadSpec(const std::string &name) { return spec::parseSpecFile(std::string(TILEFUSE_SPECS_DIR) + "/" + name); }

/// The fp64 reference of every row, as reference::attention computes it on the rounded inputs.
reference::Outputs fullReference(const spec::Spec &s, const HostInputs &in) {
  reference::Inputs ref;
  const spec::Shape &sh = in.shape;
  ref.Q = reference::Tensor({sh.B, sh.Hq, sh.Sq, sh.D});
  ref.K = reference::Tensor({sh.B, sh.Hkv, sh.Sk, sh.D});
  ref.V = reference::Tensor({sh.B, sh.Hkv, sh.Sk, sh.Dv});
  for (size_t i = 0; i < in.Q.size(); ++i)
    ref.Q.data[i] = fromBits(in.dtype, in.Q[i]);
  for (size_t i = 0; i < in.K.size(); ++i)
    ref.K.data[i] = fromBits(in.dtype, in.K[i]);
  for (size_t i = 0; i < in.V.size(); ++i)
    ref.V.data[i] = fromBits(in.dtype, in.V[i]);
  for (size_t c = 0; c < in.captures.values.size(); ++c) {
    reference::Tensor t(in.captures.shapes[c]);
    t.data = in.captures.values[c];
    ref.captures.push_back(std::move(t));
  }
  return reference::attention(s, sh, ref);
}

/// Kernel-like outputs: the reference rounded to the dtype (or the naive result), for `rows`.
void fakeKernel(const spec::Spec &s, const HostInputs &in, const std::vector<RowIndex> &rows, bool naive,
                std::vector<uint16_t> &O, std::vector<float> &LSE) {
  O.clear();
  LSE.clear();
  for (const RowIndex &r : rows) {
    ReferenceRow ref = referenceRow(s, in, r);
    for (double x : naive ? ref.Onaive : ref.O)
      O.push_back(toBits(in.dtype, static_cast<float>(x)));
    if (s.lse)
      LSE.push_back(static_cast<float>(ref.lse));
  }
}

} // namespace

TEST_CASE("bf16 and fp16 rounding is round-to-nearest-even", "[check]") {
  CHECK(fromBits(spec::DType::BF16, toBits(spec::DType::BF16, 1.0f)) == 1.0f);
  CHECK(toBits(spec::DType::BF16, 1.0f) == 0x3f80);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7 in bf16: ties to even (1).
  CHECK(fromBits(spec::DType::BF16, toBits(spec::DType::BF16, 1.00390625f)) == 1.0f);
  CHECK(fromBits(spec::DType::BF16, toBits(spec::DType::BF16, 1.01171875f)) == 1.015625f);
  CHECK(toBits(spec::DType::FP16, 1.0f) == 0x3c00);
  CHECK(fromBits(spec::DType::FP16, toBits(spec::DType::FP16, 65504.0f)) == 65504.0f);
  CHECK(std::isnan(fromBits(spec::DType::BF16, toBits(spec::DType::BF16, std::nanf("")))));
}

TEST_CASE("inputs are deterministic per seed and roughly standard normal", "[check]") {
  spec::Spec s = loadSpec("causal.json");
  spec::Shape sh = spec::resolveShape(s, {1, 2, 2, 64, 64, {}, {}});
  HostInputs a = makeInputs(s, sh, 42), b = makeInputs(s, sh, 42), c = makeInputs(s, sh, 43);
  CHECK(a.Q == b.Q);
  CHECK(a.Q != c.Q);
  double sum = 0, sq = 0;
  for (uint16_t x : a.Q) {
    double v = fromBits(a.dtype, x);
    sum += v, sq += v * v;
  }
  const double n = static_cast<double>(a.Q.size());
  CHECK(std::abs(sum / n) < 0.05);
  CHECK(std::abs(sq / n - 1.0) < 0.1);
}

TEST_CASE("sampled rows: all when few - else the corners plus distinct random rows", "[check]") {
  spec::Shape small{1, 2, 2, 10, 10, 64, 64};
  CHECK(sampleRows(small, 1000, 1).size() == 20);
  spec::Shape big{2, 32, 8, 8192, 8192, 128, 128};
  std::vector<RowIndex> rows = sampleRows(big, 64, 7);
  REQUIRE(rows.size() == 64);
  CHECK((rows[0].b == 0 && rows[0].h == 0 && rows[0].q == 0));
  CHECK(rows[1].q == 8191);
  CHECK((rows[3].b == 1 && rows[3].h == 31 && rows[3].q == 8191));
  for (const RowIndex &r : rows)
    CHECK((r.b < 2 && r.h < 32 && r.q < 8192));
}

TEST_CASE("referenceRow equals reference::attention on the rounded inputs", "[check]") {
  for (const char *file : {"causal.json", "alibi.json", "softcap.json", "document_mask.json", "gqa.json",
                           "relative_bias.json", "sliding_window.json"}) {
    INFO(file);
    spec::Spec s = loadSpec(file);
    spec::Shape sh = spec::resolveShape(s, {1, {}, {}, 37, 53, 64, {}});
    sh.Hkv = std::min<int64_t>(sh.Hkv, 2);
    sh.Hq = sh.Hkv * (s.headsQ / s.headsKv);
    HostInputs in = makeInputs(s, sh, 5);
    reference::Outputs ref = fullReference(s, in);
    double worst = 0, worstLse = 0;
    for (const RowIndex &r : sampleRows(sh, 1 << 30, 0)) {
      ReferenceRow row = referenceRow(s, in, r);
      const int64_t flat = (r.b * sh.Hq + r.h) * sh.Sq + r.q;
      for (int64_t d = 0; d < sh.Dv; ++d)
        worst = std::max(worst, std::abs(row.O[d] - ref.O.data[flat * sh.Dv + d]));
      const double l = ref.LSE.data[flat];
      if (std::isinf(l))
        CHECK(row.lse == l);
      else
        worstLse = std::max(worstLse, std::abs(row.lse - l));
    }
    CHECK(worst < 1e-12);
    CHECK(worstLse < 1e-12);
  }
}

TEST_CASE("the rule: the rounded reference passes - a perturbed or NaN output fails", "[check]") {
  spec::Spec s = loadSpec("causal.json"); // writes LSE
  spec::Shape sh = spec::resolveShape(s, {1, 2, 2, 113, 203, 64, {}});
  HostInputs in = makeInputs(s, sh, 11);
  std::vector<RowIndex> rows = sampleRows(sh, 1 << 30, 0);
  std::vector<uint16_t> O;
  std::vector<float> LSE;

  fakeKernel(s, in, rows, false, O, LSE);
  Accuracy good = checkRows(s, in, rows, O, LSE);
  CHECK(good.passed);
  CHECK(good.naiveErr > 0);
  CHECK(good.maxErr <= good.bound);
  CHECK(good.rows == static_cast<int64_t>(rows.size()));

  fakeKernel(s, in, rows, true, O, LSE); // the naive result itself: within 2x its own error
  CHECK(checkRows(s, in, rows, O, LSE).passed);

  std::vector<uint16_t> bad = O;
  bad[17] = toBits(in.dtype, fromBits(in.dtype, bad[17]) + 0.25f);
  Accuracy wrong = checkRows(s, in, rows, bad, LSE);
  CHECK_FALSE(wrong.passed);
  CHECK(wrong.maxErr > wrong.bound);
  CHECK_THAT(wrong.detail, Catch::Contains("O[0,0,0,17]"));

  bad = O;
  bad[3] = 0xFFFF; // NaN (a poisoned, unwritten element)
  CHECK_FALSE(checkRows(s, in, rows, bad, LSE).passed);

  std::vector<float> badLse = LSE;
  badLse[5] += 0.1f;
  Accuracy lse = checkRows(s, in, rows, O, badLse);
  CHECK_FALSE(lse.passed);
  CHECK_THAT(lse.detail, Catch::Contains("LSE[0,0,5]"));
}

TEST_CASE("fully masked rows: O = 0 and LSE = -inf must match exactly", "[check]") {
  // Sq > Sk with a bottom-right causal mask: the first Sq - Sk queries see no key.
  spec::Spec s = loadSpec("causal.json");
  spec::Shape sh = spec::resolveShape(s, {1, 1, 1, 40, 16, 64, {}});
  HostInputs in = makeInputs(s, sh, 3);
  std::vector<RowIndex> rows = sampleRows(sh, 1 << 30, 0);
  std::vector<uint16_t> O;
  std::vector<float> LSE;
  fakeKernel(s, in, rows, false, O, LSE);
  CHECK(std::isinf(LSE[0]));
  CHECK(checkRows(s, in, rows, O, LSE).passed);
  LSE[0] = 0.0f;
  Accuracy a = checkRows(s, in, rows, O, LSE);
  CHECK_FALSE(a.passed);
  CHECK_FALSE(a.lseInfMatch);
}

TEST_CASE("stick-breaking rows: referenceRow equals reference::attention and the rule takes the rounded weights",
          "[check][stick_breaking]") {
  // Tan et al. 2024 under the strict causal mask, GQA 2, Sq > Sk (the first rows see no key: O = 0) and
  // Sq < Sk. No LSE: referenceRow gives NaN, as for normalizer none.
  spec::Spec s = loadSpec("stick_breaking.json");
  REQUIRE(s.normalizer == spec::Normalizer::StickBreaking);
  for (auto [sq, sk] : {std::pair<int64_t, int64_t>{61, 37}, {37, 90}}) {
    INFO("Sq=" << sq << " Sk=" << sk);
    spec::Shape sh = spec::resolveShape(s, {1, 4, 2, sq, sk, 64, {}});
    HostInputs in = makeInputs(s, sh, 17);
    reference::Outputs ref = fullReference(s, in);
    std::vector<RowIndex> rows = sampleRows(sh, 1 << 30, 0);
    double worst = 0, naive = 0;
    for (const RowIndex &r : rows) {
      ReferenceRow row = referenceRow(s, in, r);
      CHECK(std::isnan(row.lse));
      const int64_t flat = (r.b * sh.Hq + r.h) * sh.Sq + r.q;
      for (int64_t d = 0; d < sh.Dv; ++d) {
        worst = std::max(worst, std::abs(row.O[d] - ref.O.data[flat * sh.Dv + d]));
        naive = std::max(naive, std::abs(row.Onaive[d] - row.O[d]));
        if (r.q + (sk - sq) <= 0) // no key before the query
          CHECK((row.O[d] == 0.0 && row.Onaive[d] == 0.0));
      }
    }
    CHECK(worst < 1e-12);
    CHECK(naive > 0);    // the weights and O rounded to bf16
    CHECK(naive < 0.05); // but not far off
    std::vector<uint16_t> O;
    std::vector<float> LSE;
    fakeKernel(s, in, rows, true, O, LSE);
    CHECK(checkRows(s, in, rows, O, LSE).passed);
  }
}
