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

namespace {

/// Attention of the rows of batch `b` at `sh` (its Sq, Sk are this batch's lengths), element pointers
/// from the accessors: q(h, i), k(hk, j), v(hk, j), o(h, i) (zeroed by the caller), lse(h, i).
template <class QAt, class KAt, class VAt, class OAt, class LseAt>
void attendBatch(const spec::Spec &s, const spec::Shape &sh, spec::EvalEnv &env, int64_t b, QAt q_at, KAt k_at,
                 VAt v_at, OAt o_at, LseAt lse_at) {
  // The kernels (and the block programs) hold the scale as an fp32 constant.
  const double scale = static_cast<float>(spec::softmaxScale(s, sh));
  const double ninf = -std::numeric_limits<double>::infinity();
  env.shape = sh;
  std::vector<double> row(sh.Sk);
  for (int64_t h = 0; h < sh.Hq; ++h) {
    const int64_t hk = h / sh.groupSize();
    for (int64_t i = 0; i < sh.Sq; ++i) {
      const double *q = q_at(h, i);
      double m = ninf;
      for (int64_t j = 0; j < sh.Sk; ++j) {
        env.b = b, env.h = h, env.q_idx = i, env.kv_idx = j;
        if (s.maskMod && !spec::evaluate(*s.maskMod, env).asBool()) {
          row[j] = ninf;
          continue;
        }
        const double *k = k_at(hk, j);
        double dot = 0.0;
        for (int64_t d = 0; d < sh.D; ++d)
          dot += q[d] * k[d];
        env.score = scale * dot;
        row[j] = s.scoreMod ? spec::evaluate(*s.scoreMod, env).asFloat() : env.score;
        m = std::max(m, row[j]);
      }
      double *o = o_at(h, i);
      double l = 0.0;
      if (m != ninf) {
        for (int64_t j = 0; j < sh.Sk; ++j) {
          const double p = std::exp(row[j] - m);
          l += p;
          const double *v = v_at(hk, j);
          for (int64_t d = 0; d < sh.Dv; ++d)
            o[d] += p * v[d];
        }
        for (int64_t d = 0; d < sh.Dv; ++d)
          o[d] /= l;
      }
      *lse_at(h, i) = m == ninf ? ninf : m + std::log(l);
    }
  }
}

void fillRandom(const spec::Spec &s, const spec::Shape &sh, std::mt19937_64 &rng, Tensor &Q, Tensor &K, Tensor &V,
                std::vector<Tensor> &captures) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (Tensor *t : {&Q, &K, &V})
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
    captures.push_back(std::move(t));
  }
}

} // namespace

Outputs attention(const spec::Spec &s, const spec::Shape &sh, const Inputs &in) {
  Outputs out;
  out.O = Tensor({sh.B, sh.Hq, sh.Sq, sh.Dv});
  out.LSE = Tensor({sh.B, sh.Hq, sh.Sq});
  spec::EvalEnv env;
  for (const Tensor &t : in.captures)
    env.captures.push_back({t.shape, t.data});
  for (int64_t b = 0; b < sh.B; ++b)
    attendBatch(
        s, sh, env, b, [&](int64_t h, int64_t i) { return &in.Q.data[((b * sh.Hq + h) * sh.Sq + i) * sh.D]; },
        [&](int64_t hk, int64_t j) { return &in.K.data[((b * sh.Hkv + hk) * sh.Sk + j) * sh.D]; },
        [&](int64_t hk, int64_t j) { return &in.V.data[((b * sh.Hkv + hk) * sh.Sk + j) * sh.Dv]; },
        [&](int64_t h, int64_t i) { return &out.O.data[((b * sh.Hq + h) * sh.Sq + i) * sh.Dv]; },
        [&](int64_t h, int64_t i) { return &out.LSE.data[(b * sh.Hq + h) * sh.Sq + i]; });
  return out;
}

PackedInputs randomPackedInputs(const spec::Spec &s, const spec::Shape &sh, const spec::PackedSeqs &seqs,
                                uint64_t seed) {
  std::mt19937_64 rng(seed);
  PackedInputs in;
  in.Q = Tensor({seqs.totalQ(), sh.Hq, sh.D});
  in.K = Tensor({seqs.totalK(), sh.Hkv, sh.D});
  in.V = Tensor({seqs.totalK(), sh.Hkv, sh.Dv});
  fillRandom(s, sh, rng, in.Q, in.K, in.V, in.captures);
  return in;
}

PackedOutputs attentionPacked(const spec::Spec &s, const spec::Shape &shape, const spec::PackedSeqs &seqs,
                              const PackedInputs &in) {
  PackedOutputs out;
  out.O = Tensor({seqs.totalQ(), shape.Hq, shape.Dv});
  out.LSE = Tensor({shape.Hq, seqs.totalQ()});
  spec::EvalEnv env;
  for (const Tensor &t : in.captures)
    env.captures.push_back({t.shape, t.data});
  const int64_t Hq = shape.Hq, Hkv = shape.Hkv, D = shape.D, Dv = shape.Dv, totalQ = seqs.totalQ();
  for (int64_t b = 0; b < seqs.batch(); ++b) {
    spec::Shape sh = shape;
    sh.Sq = seqs.lenQ(b);
    sh.Sk = seqs.lenK(b);
    const int64_t q0 = seqs.cuQ[b], k0 = seqs.cuK[b];
    attendBatch(
        s, sh, env, b, [&](int64_t h, int64_t i) { return &in.Q.data[((q0 + i) * Hq + h) * D]; },
        [&](int64_t hk, int64_t j) { return &in.K.data[((k0 + j) * Hkv + hk) * D]; },
        [&](int64_t hk, int64_t j) { return &in.V.data[((k0 + j) * Hkv + hk) * Dv]; },
        [&](int64_t h, int64_t i) { return &out.O.data[((q0 + i) * Hq + h) * Dv]; },
        [&](int64_t h, int64_t i) { return &out.LSE.data[h * totalQ + q0 + i]; });
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
