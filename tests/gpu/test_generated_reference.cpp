#include "test_generated_reference.h"

#include "tilefuse/spec/StickBreaking.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <exception>
#include <limits>
#include <mutex>
#include <thread>

#include "GpuTest.h"
#include "tilefuse/spec/Eval.h"

#ifndef TILEFUSE_SPECS_DIR
#error "TILEFUSE_SPECS_DIR must be defined by the build (runtime/EngineTests.cmake)"
#endif

namespace tilefuse::test {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

Dtype dtypeOf(spec::DType t) { return t == spec::DType::BF16 ? Dtype::bf16 : Dtype::fp16; }

/// `x` as the kernel reads it from a capture of element type `t`, and its bytes.
double encodeCapture(spec::ElementType t, double x, std::vector<std::byte> &out, std::size_t i) {
  auto put = [&](const void *p, std::size_t n) { std::memcpy(out.data() + i * n, p, n); };
  switch (t) {
  case spec::ElementType::F32: {
    const float f = static_cast<float>(x);
    put(&f, 4);
    return f;
  }
  case spec::ElementType::F16:
  case spec::ElementType::BF16: {
    const Dtype d = t == spec::ElementType::F16 ? Dtype::fp16 : Dtype::bf16;
    const std::uint16_t b = encode(d, static_cast<float>(x));
    put(&b, 2);
    return decode(d, b);
  }
  case spec::ElementType::I32: {
    const std::int32_t v = static_cast<std::int32_t>(x);
    put(&v, 4);
    return v;
  }
  case spec::ElementType::I64: {
    const std::int64_t v = static_cast<std::int64_t>(x);
    put(&v, 8);
    return static_cast<double>(v);
  }
  }
  return x;
}

std::size_t elementBytes(spec::ElementType t) {
  switch (t) {
  case spec::ElementType::F16:
  case spec::ElementType::BF16: return 2;
  case spec::ElementType::I64: return 8;
  default: return 4;
  }
}

/// Per-row results, reduced after the parallel loop.
struct RowStats {
  double maxErr = 0, maxNaiveErr = 0, lseErr = 0;
  long unwritten = 0, lseBad = 0, maskedNonZero = 0;
  bool fullyMasked = false;
};

} // namespace

void parallelFor(std::size_t n, const std::function<void(std::size_t)> &fn) {
  const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  std::atomic<std::size_t> next{0};
  std::mutex mutex;
  std::exception_ptr error;
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      try {
        for (std::size_t i = next++; i < n; i = next++)
          fn(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error)
          error = std::current_exception();
        next = n; // stop the others early
      }
    });
  for (auto &t : pool)
    t.join();
  if (error)
    std::rethrow_exception(error);
}

std::string specsDir() {
  const char *env = std::getenv("TILEFUSE_SPECS_DIR");
  return env && *env ? env : TILEFUSE_SPECS_DIR;
}

std::vector<std::string> shippedSpecs() {
  std::vector<std::string> out;
  for (const auto &e : std::filesystem::directory_iterator(specsDir()))
    if (e.path().extension() == ".json")
      out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

SpecProblem makeProblem(const spec::Spec &s, const spec::Shape &shape) {
  SpecProblem p;
  p.spec = &s;
  p.shape = shape;
  p.dtype = dtypeOf(s.dtype);
  const long long B = shape.B, Hq = shape.Hq, Hkv = shape.Hkv, Sq = shape.Sq, Sk = shape.Sk, D = shape.D,
                  Dv = shape.Dv;
  p.qs = {Sq * Hq * D, D, Hq * D}; // BSHD
  p.ks = {Hkv * Sk * D, Sk * D, D}; // BHSD
  p.vs = {Hkv * Sk * Dv, Sk * Dv, Dv};
  p.q = randomHalves(p.dtype, std::size_t(B * Sq * Hq * D));
  p.k = randomHalves(p.dtype, std::size_t(B * Hkv * Sk * D));
  p.v = randomHalves(p.dtype, std::size_t(B * Hkv * Sk * Dv));
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  std::bernoulli_distribution step(1.0 / 32);
  for (std::size_t slot = 0; slot < s.captures.size(); ++slot) {
    const spec::Capture &c = s.captures[slot];
    HostCapture h;
    h.shape = spec::captureShape(s, slot, shape);
    std::size_t n = 1;
    for (int64_t d : h.shape)
      n *= std::size_t(d);
    h.values.resize(n);
    h.bytes.resize(n * elementBytes(c.dtype));
    const std::size_t row = std::size_t(h.shape.back());
    const bool isFloat = spec::scalarTypeOf(c.dtype) == spec::ScalarType::Float;
    for (std::size_t i = 0; i < n; ++i) {
      const double x = isFloat ? uniform(rng()) : (i % row == 0 ? 0.0 : h.values[i - 1] + (step(rng()) ? 1 : 0));
      h.values[i] = encodeCapture(c.dtype, x, h.bytes, i);
    }
    p.captures.push_back(std::move(h));
  }
  return p;
}

Comparison compareWithReference(const SpecProblem &p, const std::vector<std::uint16_t> &o, const Strides &os,
                                int padding, const std::vector<float> &lse) {
  const spec::Spec &s = *p.spec;
  const spec::Shape &sh = p.shape;
  const Dtype t = p.dtype;
  const int D = int(sh.D), Dv = int(sh.Dv);
  const float scale32 = static_cast<float>(spec::softmaxScale(s, sh)); // kernels hold the scale in fp32
  const std::size_t rows = std::size_t(sh.B * sh.Hq * sh.Sq);
  std::vector<RowStats> stats(rows);

  parallelFor(rows, [&](std::size_t r) {
    const int b = int(r / (sh.Hq * sh.Sq)), h = int((r / sh.Sq) % sh.Hq), i = int(r % sh.Sq);
    const int hk = int(h / sh.groupSize());
    spec::EvalEnv env;
    env.shape = sh;
    for (const HostCapture &c : p.captures)
      env.captures.push_back({c.shape, c.values});
    env.b = b, env.h = h, env.q_idx = i;

    const std::uint16_t *q = &p.q[p.qs.at(b, h, i)];
    std::vector<double> q64(D);
    std::vector<float> qScaled(D); // naive: q * scale rounded to the dtype, as q / sqrt(d) in bf16
    for (int d = 0; d < D; ++d) {
      q64[d] = decode(t, q[d]);
      qScaled[d] = roundTo(t, decode(t, q[d]) * scale32);
    }
    std::vector<double> s64(sh.Sk, kNegInf);
    std::vector<float> s32(sh.Sk, -std::numeric_limits<float>::infinity());
    double m64 = kNegInf;
    float m32 = -std::numeric_limits<float>::infinity();
    for (int j = 0; j < sh.Sk; ++j) {
      env.kv_idx = j;
      if (s.maskMod && !spec::evaluate(*s.maskMod, env).asBool())
        continue;
      const std::uint16_t *k = &p.k[p.ks.at(b, hk, j)];
      double dot64 = 0;
      float dot32 = 0;
      for (int d = 0; d < D; ++d) {
        const float kd = decode(t, k[d]);
        dot64 += q64[d] * kd;
        dot32 += qScaled[d] * kd;
      }
      double x64 = double(scale32) * dot64;
      float x32 = roundTo(t, dot32);
      if (s.scoreMod) {
        env.score = x64;
        x64 = spec::evaluate(*s.scoreMod, env).asFloat();
        env.score = x32; // score_mod in fp32 on the rounded S (bf16 S + fp32 bias promotes to fp32)
        x32 = static_cast<float>(spec::evaluate(*s.scoreMod, env).asFloat());
      }
      s64[j] = x64, s32[j] = x32;
      m64 = std::max(m64, x64);
      m32 = std::max(m32, x32);
    }

    // fp64: softmax(s) V and LSE; naive: P and O rounded to the dtype. A sink is one more logit
    // in the denominator with no value row; normalizer "none" weighs V by the scores themselves, and
    // "stick_breaking" by its stick-breaking weights.
    std::vector<double> ref(Dv, 0.0);
    std::vector<float> naive(Dv, 0.0f);
    double lseRef = kNegInf;
    const bool none = s.normalizer == spec::Normalizer::None;
    const bool stick = s.normalizer == spec::Normalizer::StickBreaking;
    const double sink64 = s.sink ? spec::evaluate(*s.sink, env).asFloat() : kNegInf;
    const float sink32 = static_cast<float>(sink64);
    if (stick && m64 != kNegInf) {
      // Stick-breaking (Tan et al. 2024, Sec. 2): fp64 weights in the product form (spec/StickBreaking.h);
      // the naive emulation takes the same product in fp32, accumulated from the row's end.
      const std::vector<double> w64 = spec::stickBreakingWeights(s64);
      std::vector<float> acc(Dv, 0.0f);
      float rest32 = 1.0f;
      for (int j = sh.Sk - 1; j >= 0; --j) {
        if (s64[j] == kNegInf)
          continue;
        const float beta32 = 1.0f / (1.0f + std::exp(-s32[j]));
        const double a64 = w64[j];
        const float pj = roundTo(t, beta32 * rest32);
        rest32 *= 1.0f - beta32;
        const std::uint16_t *v = &p.v[p.vs.at(b, hk, j)];
        for (int d = 0; d < Dv; ++d) {
          const float vd = decode(t, v[d]);
          ref[d] += a64 * vd;
          acc[d] += pj * vd;
        }
      }
      for (int d = 0; d < Dv; ++d)
        naive[d] = roundTo(t, acc[d]);
    } else if (stick) {
    } else if (none && m64 != kNegInf) {
      std::vector<float> acc(Dv, 0.0f);
      for (int j = 0; j < sh.Sk; ++j) {
        if (s64[j] == kNegInf)
          continue;
        const float pj = roundTo(t, s32[j]);
        const std::uint16_t *v = &p.v[p.vs.at(b, hk, j)];
        for (int d = 0; d < Dv; ++d) {
          const float vd = decode(t, v[d]);
          ref[d] += s64[j] * vd;
          acc[d] += pj * vd;
        }
      }
      for (int d = 0; d < Dv; ++d)
        naive[d] = roundTo(t, acc[d]);
    } else if (!none && m64 != kNegInf) {
      const double top64 = std::max(m64, sink64);
      const float top32 = std::max(m32, sink32);
      double l64 = s.sink ? std::exp(sink64 - top64) : 0.0;
      float l32 = s.sink ? std::exp(sink32 - top32) : 0.0f;
      for (int j = 0; j < sh.Sk; ++j)
        if (s64[j] != kNegInf)
          l32 += std::exp(s32[j] - top32);
      std::vector<float> acc(Dv, 0.0f);
      for (int j = 0; j < sh.Sk; ++j) {
        if (s64[j] == kNegInf)
          continue;
        const double e = std::exp(s64[j] - top64);
        l64 += e;
        const float pj = roundTo(t, std::exp(s32[j] - top32) / l32);
        const std::uint16_t *v = &p.v[p.vs.at(b, hk, j)];
        for (int d = 0; d < Dv; ++d) {
          const float vd = decode(t, v[d]);
          ref[d] += e * vd;
          acc[d] += pj * vd;
        }
      }
      for (int d = 0; d < Dv; ++d) {
        ref[d] /= l64;
        naive[d] = roundTo(t, acc[d]);
      }
      lseRef = top64 + std::log(l64);
    } else if (!none) {
      lseRef = sink64; // an empty row's denominator is the sink's alone (-inf without one)
    }

    RowStats &st = stats[r];
    st.fullyMasked = m64 == kNegInf;
    const std::uint16_t *got = &o[os.at(b, h, i)];
    for (int d = 0; d < Dv; ++d) {
      const float x = decode(t, got[d]);
      if (std::isnan(x)) {
        ++st.unwritten;
        continue;
      }
      if (st.fullyMasked && x != 0.0f)
        ++st.maskedNonZero;
      st.maxErr = std::max(st.maxErr, std::fabs(x - ref[d]));
      st.maxNaiveErr = std::max(st.maxNaiveErr, std::fabs(naive[d] - ref[d]));
    }
    if (!lse.empty()) {
      const float l = lse[(std::size_t(b) * sh.Hq + h) * sh.Sq + i];
      const bool refInf = lseRef == kNegInf; // a fully masked row without a sink
      if (std::isnan(l) || (refInf != (std::isinf(l) && l < 0)))
        ++st.lseBad;
      else if (!refInf)
        st.lseErr = std::fabs(l - lseRef) / std::max(1.0, std::fabs(lseRef));
    }
  });

  Comparison c;
  c.rows = long(rows);
  for (const RowStats &st : stats) {
    c.maxErr = std::max(c.maxErr, st.maxErr);
    c.maxNaiveErr = std::max(c.maxNaiveErr, st.maxNaiveErr);
    c.maxLseErr = std::max(c.maxLseErr, st.lseErr);
    c.unwritten += st.unwritten;
    c.lseBad += st.lseBad;
    c.maskedNonZero += st.maskedNonZero;
    c.fullyMaskedRows += st.fullyMasked;
  }
  for (int b = 0; b < sh.B; ++b) // the padding after each row of all heads keeps its poison (0xFFFF)
    for (int i = 0; i < sh.Sq; ++i)
      for (int d = 0; d < padding; ++d)
        c.paddingTouched += o[std::size_t(b * os.batch + i * os.row + sh.Hq * Dv + d)] != 0xFFFF;
  return c;
}

} // namespace tilefuse::test
