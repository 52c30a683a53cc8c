//===- Attention.cpp - fp64 naive attention for a spec --------------------===//
#include "tilefuse/reference/Attention.h"

#include "tilefuse/spec/Eval.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

namespace tilefuse::reference {

Tensor::Tensor(std::vector<int64_t> s) : shape(std::move(s)), data(numel(), 0.0) {}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Inputs randomInputs(const spec::Spec &s, const spec::Shape &sh, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  Inputs in;
  in.Q = Tensor({sh.B, sh.Hq, sh.Sq, sh.D});
  in.K = Tensor({sh.B, sh.Hkv, sh.Sk, sh.D});
  in.V = Tensor({sh.B, sh.Hkv, sh.Sk, sh.Dv});
  for (Tensor *t : {&in.Q, &in.K, &in.V})
    for (double &x : t->data)
      x = normal(rng);
  for (size_t slot = 0; slot < s.captures.size(); ++slot) {
    Tensor t(spec::captureShape(s, slot, sh));
    if (spec::scalarTypeOf(s.captures[slot].dtype) == spec::ScalarType::Float) {
      for (double &x : t.data)
        x = uniform(rng);
    } else {
      int64_t row = t.shape.back();
      std::bernoulli_distribution step(1.0 / 32);
      for (int64_t i = 0; i < t.numel(); ++i)
        t.data[i] = (i % row == 0) ? 0.0 : t.data[i - 1] + (step(rng) ? 1.0 : 0.0);
    }
    in.captures.push_back(std::move(t));
  }
  return in;
}

Outputs attention(const spec::Spec &s, const spec::Shape &sh, const Inputs &in) {
  Outputs out;
  out.O = Tensor({sh.B, sh.Hq, sh.Sq, sh.Dv});
  out.LSE = Tensor({sh.B, sh.Hq, sh.Sq});
  // The kernels (and the block programs) hold the scale as an fp32 constant.
  const double scale = static_cast<float>(spec::softmaxScale(s, sh));
  const double ninf = -std::numeric_limits<double>::infinity();
  spec::EvalEnv env;
  env.shape = sh;
  for (const Tensor &t : in.captures)
    env.captures.push_back({t.shape, t.data});
  std::vector<double> row(sh.Sk);
  for (int64_t b = 0; b < sh.B; ++b)
    for (int64_t h = 0; h < sh.Hq; ++h) {
      const int64_t hk = h / sh.groupSize();
      for (int64_t i = 0; i < sh.Sq; ++i) {
        const double *q = &in.Q.data[((b * sh.Hq + h) * sh.Sq + i) * sh.D];
        double m = ninf;
        for (int64_t j = 0; j < sh.Sk; ++j) {
          env.b = b, env.h = h, env.q_idx = i, env.kv_idx = j;
          if (s.maskMod && !spec::evaluate(*s.maskMod, env).asBool()) {
            row[j] = ninf;
            continue;
          }
          const double *k = &in.K.data[((b * sh.Hkv + hk) * sh.Sk + j) * sh.D];
          double dot = 0.0;
          for (int64_t d = 0; d < sh.D; ++d)
            dot += q[d] * k[d];
          env.score = scale * dot;
          row[j] = s.scoreMod ? spec::evaluate(*s.scoreMod, env).asFloat() : env.score;
          m = std::max(m, row[j]);
        }
        double *o = &out.O.data[((b * sh.Hq + h) * sh.Sq + i) * sh.Dv];
        double l = 0.0;
        if (m != ninf) {
          for (int64_t j = 0; j < sh.Sk; ++j) {
            const double p = std::exp(row[j] - m);
            l += p;
            const double *v = &in.V.data[((b * sh.Hkv + hk) * sh.Sk + j) * sh.Dv];
            for (int64_t d = 0; d < sh.Dv; ++d)
              o[d] += p * v[d];
          }
          for (int64_t d = 0; d < sh.Dv; ++d)
            o[d] /= l;
        }
        out.LSE.data[(b * sh.Hq + h) * sh.Sq + i] = m == ninf ? ninf : m + std::log(l);
      }
    }
  return out;
}

double maxAbsDiff(const Tensor &a, const Tensor &b) {
  double worst = 0.0;
  for (size_t i = 0; i < a.data.size() && i < b.data.size(); ++i) {
    double x = a.data[i], y = b.data[i];
    if (std::isnan(x) || std::isnan(y))
      return std::numeric_limits<double>::quiet_NaN();
    if (x == y)
      continue; // equal infinities included
    worst = std::max(worst, std::abs(x - y));
  }
  if (a.data.size() != b.data.size())
    return std::numeric_limits<double>::infinity();
  return worst;
}

double maxRelDiff(const Tensor &a, const Tensor &b) {
  double scale = 0.0;
  for (double y : b.data)
    if (std::isfinite(y))
      scale = std::max(scale, std::abs(y));
  return maxAbsDiff(a, b) / std::max(scale, 1e-300);
}

} // namespace tilefuse::reference
