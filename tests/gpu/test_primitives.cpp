// [gpu] Each device-library primitive against a host reference, on fresh random inputs
// (kernels in primitive_kernels.cuh, compiled with NVRTC for the device under test).
#include <cmath>
#include <limits>

#include "GpuTest.h"

using namespace tilefuse;
using namespace tilefuse::test;
using runtime::DeviceBuffer;

namespace {

runtime::Module primitiveModule(Dtype t, int D) {
  return loadTestModule("#include \"primitive_kernels.cuh\"\n", {"TF_T=" + cudaType(t), "TF_D=" + std::to_string(D)});
}

template <typename T> DeviceBuffer toDevice(const std::vector<T> &host) {
  DeviceBuffer b(host.size() * sizeof(T));
  b.upload(host);
  return b;
}

DeviceBuffer poisoned(std::size_t bytes) { // 0xFF bytes: NaN in f32, bf16, fp16
  DeviceBuffer b(bytes);
  b.fill(0xFF);
  return b;
}

/// Counts elements with |got - want| > tol(want); reports the first one.
template <typename Tol>
int countMismatches(const char *what, const std::vector<float> &got, const std::vector<double> &want, Tol tol) {
  int bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    const bool both_ninf = std::isinf(want[i]) && want[i] < 0 && std::isinf(got[i]) && got[i] < 0;
    if (both_ninf) continue;
    if (!(std::fabs(double(got[i]) - want[i]) <= tol(want[i]))) {
      if (bad == 0) UNSCOPED_INFO(what << ": first mismatch at " << i << ": got " << got[i] << ", want " << want[i]);
      ++bad;
    }
  }
  return bad;
}

} // namespace

TEST_CASE("tile copy: group::load_async zero-filled strided tail then warp::load ldmatrix row and col layouts and for_each",
          "[gpu][primitives]") {
  TF_REQUIRE_GPU();
  for (Dtype t : {Dtype::bf16, Dtype::fp16}) {
    for (int D : {32, 64, 128}) {
      INFO(dtypeName(t) << " D=" << D);
      const int rowsValid = 50, row0 = 8, stride = D + 8; // rows 8..71 loaded, 58.. past the end
      const auto x = randomHalves(t, std::size_t(rowsValid) * stride);
      const auto module = primitiveModule(t, D);
      DeviceBuffer xd = toDevice(x), outRow = poisoned(64 * D * 4), outCol = poisoned(64 * D * 4);
      launchSync(module.function("tf_copy_ldmatrix"), {1, 1, 1}, {128, 1, 1}, 0, xd.get(), rowsValid,
                 static_cast<long long>(stride), row0, outRow.get(), outCol.get());
      std::vector<double> want(64 * D);
      for (int r = 0; r < 64; ++r)
        for (int c = 0; c < D; ++c)
          want[r * D + c] = row0 + r < rowsValid ? decode(t, x[(row0 + r) * stride + c]) : 0.0;
      const auto exact = [](double) { return 0.0; };
      CHECK(countMismatches("row layout", outRow.download<float>(), want, exact) == 0);
      CHECK(countMismatches("col layout", outCol.download<float>(), want, exact) == 0);
    }
  }
}

TEST_CASE("mma: warp::mma_ABt and mma_AB with subtile_cols and copy of f32 accumulators to 16-bit A operands and bounded store",
          "[gpu][primitives]") {
  TF_REQUIRE_GPU();
  for (Dtype t : {Dtype::bf16, Dtype::fp16}) {
    for (int D : {64, 128}) {
      INFO(dtypeName(t) << " D=" << D);
      const int storeRows = 45;
      const auto a = randomHalves(t, 64 * D), bt = randomHalves(t, 64 * D), v = randomHalves(t, 64 * D);
      const auto pm = randomHalves(t, 64 * 64, 0.5f);
      const auto module = primitiveModule(t, D);
      DeviceBuffer ad = toDevice(a), btd = toDevice(bt), vd = toDevice(v), pmd = toDevice(pm);
      DeviceBuffer sOut = poisoned(64 * 64 * 4), sWhole = poisoned(64 * 64 * 4), oOut = poisoned(64 * D * 4),
                   o2Out = poisoned(64 * D * 4), oStore = poisoned(64 * D * 2);
      launchSync(module.function("tf_mma"), {1, 1, 1}, {128, 1, 1}, (3 * 64 * D + 64 * 64) * 2, ad.get(), btd.get(),
                 vd.get(), pmd.get(), sOut.get(), sWhole.get(), oOut.get(), o2Out.get(), oStore.get(), storeRows);

      const auto af = decodeAll(t, a), btf = decodeAll(t, bt), vf = decodeAll(t, v), pf = decodeAll(t, pm);
      const auto s = sOut.download<float>();
      // Reference products in fp64, with tolerance relative to sum |x_k y_k| (f32 accumulation).
      std::vector<double> sRef(64 * 64), sTol(64 * 64), oRef(64 * D), oTol(64 * D), o2Ref(64 * D), o2Tol(64 * D);
      for (int r = 0; r < 64; ++r)
        for (int c = 0; c < 64; ++c)
          for (int k = 0; k < D; ++k) {
            sRef[r * 64 + c] += double(af[r * D + k]) * btf[c * D + k];
            sTol[r * 64 + c] += std::fabs(double(af[r * D + k]) * btf[c * D + k]);
          }
      for (int r = 0; r < 64; ++r)
        for (int c = 0; c < D; ++c)
          for (int k = 0; k < 64; ++k) {
            const double p = pf[r * 64 + k], p2 = roundTo(t, s[r * 64 + k]), x = vf[k * D + c];
            oRef[r * D + c] += p * x;
            oTol[r * D + c] += std::fabs(p * x);
            o2Ref[r * D + c] += p2 * x;
            o2Tol[r * D + c] += std::fabs(p2 * x);
          }
      int bad = 0;
      for (std::size_t i = 0; i < sRef.size(); ++i)
        bad += std::fabs(s[i] - sRef[i]) > 1e-5 * sTol[i] + 1e-6;
      CHECK(bad == 0);
      CHECK(sWhole.download<float>() == s); // whole-K mma_ABt == k-sliced, bit for bit
      const auto o = oOut.download<float>(), o2 = o2Out.download<float>();
      bad = 0;
      for (std::size_t i = 0; i < oRef.size(); ++i) {
        bad += std::fabs(o[i] - oRef[i]) > 1e-5 * oTol[i] + 1e-6;
        bad += std::fabs(o2[i] - o2Ref[i]) > 1e-5 * o2Tol[i] + 1e-6;
      }
      CHECK(bad == 0);
      const auto stored = oStore.download<std::uint16_t>();
      bad = 0;
      for (int r = 0; r < 64; ++r)
        for (int c = 0; c < D; ++c)
          bad += stored[r * D + c] != (r < storeRows ? encode(t, o[r * D + c]) : std::uint16_t(0xFFFF));
      CHECK(bad == 0);
    }
  }
}

TEST_CASE("online softmax: masks and row_max and rescale_factor and exp2_sub_row and row_sum and the epilogue",
          "[gpu][primitives]") {
  TF_REQUIRE_GPU();
  const double NINF = -std::numeric_limits<double>::infinity();
  for (Dtype t : {Dtype::bf16, Dtype::fp16}) {
    INFO(dtypeName(t));
    const int colEnd = 50, causalOffset = -5, storeRows = 60; // rows 0..4 fully masked
    const float scale = 0.125f, scaleLog2 = scale * float(M_LOG2E);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::uniform_real_distribution<float> uniform(0.5f, 3.0f);
    std::vector<float> sIn(64 * 64), mIn(64), lIn(64);
    for (auto &x : sIn) x = normal(rng());
    for (int r = 0; r < 64; ++r) {
      const bool fresh = r <= 5; // no earlier K/V tile: m = -inf, l = 0 (row 5 sees one column)
      mIn[r] = fresh ? -std::numeric_limits<float>::infinity() : normal(rng());
      lIn[r] = fresh ? 0.0f : uniform(rng());
    }
    const auto module = primitiveModule(t, 64);
    DeviceBuffer sd = toDevice(sIn), md = toDevice(mIn), ld = toDevice(lIn);
    DeviceBuffer pOut = poisoned(64 * 64 * 4), mOut = poisoned(64 * 4), aOut = poisoned(64 * 4),
                 lOut = poisoned(64 * 4), lseOut = poisoned(64 * 4), oStore = poisoned(64 * 64 * 2);
    launchSync(module.function("tf_softmax"), {1, 1, 1}, {128, 1, 1}, 0, sd.get(), md.get(), ld.get(), colEnd,
               causalOffset, scaleLog2, scale, storeRows, pOut.get(), mOut.get(), aOut.get(), lOut.get(),
               lseOut.get(), oStore.get());

    std::vector<double> pRef(64 * 64), mRef(64), aRef(64), lRef(64), lseRef(64);
    for (int r = 0; r < 64; ++r) {
      auto visible = [&](int c) { return c < colEnd && c <= r + causalOffset; };
      double m = mIn[r];
      for (int c = 0; c < 64; ++c)
        if (visible(c)) m = std::max(m, double(sIn[r * 64 + c]));
      mRef[r] = m;
      aRef[r] = mIn[r] == -INFINITY ? 0.0 : std::exp2((double(mIn[r]) - m) * scaleLog2);
      double l = lIn[r] * aRef[r];
      for (int c = 0; c < 64; ++c) {
        pRef[r * 64 + c] = visible(c) ? std::exp2((double(sIn[r * 64 + c]) - m) * scaleLog2) : 0.0;
        l += pRef[r * 64 + c];
      }
      lRef[r] = l;
      lseRef[r] = l > 0 ? m * scale + std::log(l) : NINF;
    }
    const auto rel = [](double tol) { return [tol](double want) { return tol * std::fabs(want) + 1e-7; }; };
    CHECK(countMismatches("p", pOut.download<float>(), pRef, rel(1e-5)) == 0);
    CHECK(countMismatches("m", mOut.download<float>(), mRef, rel(0)) == 0);
    CHECK(countMismatches("alpha", aOut.download<float>(), aRef, rel(1e-5)) == 0);
    CHECK(countMismatches("l", lOut.download<float>(), lRef, rel(1e-5)) == 0);

    const auto lse = lseOut.download<float>();
    const auto stored = oStore.download<std::uint16_t>();
    const double ulp = t == Dtype::bf16 ? 1.0 / 128 : 1.0 / 1024;
    int bad = 0;
    for (int r = 0; r < 64; ++r) {
      if (r >= storeRows) {
        bad += !std::isnan(lse[r]);
        for (int c = 0; c < 64; ++c) bad += stored[r * 64 + c] != 0xFFFF;
        continue;
      }
      if (lseRef[r] == NINF)
        bad += !(std::isinf(lse[r]) && lse[r] < 0);
      else
        bad += !(std::fabs(lse[r] - lseRef[r]) <= 1e-5 + 1e-6 * std::fabs(lseRef[r]));
      for (int c = 0; c < 64; ++c) {
        const double want = lRef[r] > 0 ? pRef[r * 64 + c] / lRef[r] : 0.0;
        bad += !(std::fabs(decode(t, stored[r * 64 + c]) - want) <= ulp * std::fabs(want) + 1e-7);
      }
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("row scans: warp::row_scan_sum prefix and suffix and inclusive and exclusive against an fp64 scan",
          "[gpu][primitives]") {
  TF_REQUIRE_GPU();
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> in(64 * 128);
  for (auto &x : in) x = normal(rng());
  const auto module = primitiveModule(Dtype::bf16, 64);
  DeviceBuffer inD = toDevice(in), outD = poisoned(4 * 64 * 128 * 4);
  launchSync(module.function("tf_row_scan"), {1, 1, 1}, {128, 1, 1}, 0, inD.get(), outD.get());
  std::vector<double> want(4 * 64 * 128);
  double worstAbs = 0; // f32 sums of up to 128 terms of |x| <~ 8: a few ulp of the partial sums
  for (int r = 0; r < 64; ++r) {
    const float *row = &in[r * 128];
    double prefix = 0;
    for (int c = 0; c < 128; ++c) {
      want[0 * 8192 + r * 128 + c] = prefix + row[c];
      want[1 * 8192 + r * 128 + c] = prefix;
      prefix += row[c];
    }
    double suffix = 0;
    for (int c = 127; c >= 0; --c) {
      want[2 * 8192 + r * 128 + c] = suffix + row[c];
      want[3 * 8192 + r * 128 + c] = suffix;
      suffix += row[c];
    }
    for (int c = 0; c < 128; ++c) worstAbs = std::max(worstAbs, std::fabs(double(row[c])));
  }
  const double tol = 128 * worstAbs * 6e-8 * 4; // 4 ulp of the largest possible partial sum
  CHECK(countMismatches("row_scan_sum", outD.download<float>(), want, [tol](double) { return tol; }) == 0);
}
