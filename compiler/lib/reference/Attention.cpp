//===- Attention.cpp - fp64 naive attention for a spec --------------------===//
#include "tilefuse/reference/Attention.h"
#include "tilefuse/spec/StickBreaking.h"

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

namespace {

/// spec::evaluate of the expression of spec field `field`; an error is located in the spec file at
/// the node's column of that field (or of the let it was inlined from).
spec::Value evaluateField(const spec::Spec &s, std::string_view field, const spec::Expr &e, const spec::EvalEnv &env) {
  try {
    return spec::evaluate(e, env);
  } catch (const spec::SpecError &err) {
    if (!err.file().empty())
      throw;
    throw s.errorAt(err.field().empty() ? field : std::string_view(err.field()), err.message(), err.exprColumn());
  }
}

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
        if (s.maskMod && !evaluateField(s, "mask_mod", *s.maskMod, env).asBool()) {
          row[j] = ninf;
          continue;
        }
        const double *k = k_at(hk, j);
        double dot = 0.0;
        for (int64_t d = 0; d < sh.D; ++d)
          dot += q[d] * k[d];
        env.score = scale * dot;
        row[j] = s.scoreMod ? evaluateField(s, "score_mod", *s.scoreMod, env).asFloat() : env.score;
        m = std::max(m, row[j]);
      }
      double *o = o_at(h, i);
      if (s.normalizer == spec::Normalizer::None) {
        // O = sum_j w_j V_j, masked w_j = 0; no LSE (NaN marks it undefined).
        for (int64_t j = 0; j < sh.Sk; ++j) {
          if (row[j] == ninf)
            continue;
          const double *v = v_at(hk, j);
          for (int64_t d = 0; d < sh.Dv; ++d)
            o[d] += row[j] * v[d];
        }
        *lse_at(h, i) = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      if (s.normalizer == spec::Normalizer::StickBreaking) {
        // O = sum_j A_j V_j with A_j = beta_j prod_{kept k > j} (1 - beta_k) (spec/StickBreaking.h); no LSE.
        const std::vector<double> a = spec::stickBreakingWeights(row);
        for (int64_t j = 0; j < sh.Sk; ++j) {
          if (a[j] == 0.0)
            continue;
          const double *v = v_at(hk, j);
          for (int64_t d = 0; d < sh.Dv; ++d)
            o[d] += a[j] * v[d];
        }
        *lse_at(h, i) = std::numeric_limits<double>::quiet_NaN();
        continue;
      }
      // A sink is one more logit in the denominator that has no value row: max over it too.
      double sink = ninf;
      if (s.sink) {
        env.b = b, env.h = h;
        sink = evaluateField(s, "sink", *s.sink, env).asFloat();
      }
      const double top = std::max(m, sink);
      double l = top == ninf ? 0.0 : std::exp(sink - top);
      if (m != ninf) {
        for (int64_t j = 0; j < sh.Sk; ++j) {
          const double p = std::exp(row[j] - top);
          l += p;
          const double *v = v_at(hk, j);
          for (int64_t d = 0; d < sh.Dv; ++d)
            o[d] += p * v[d];
        }
        for (int64_t d = 0; d < sh.Dv; ++d)
          o[d] /= l;
      }
      *lse_at(h, i) = top == ninf ? ninf : top + std::log(l);
    }
  }
}

/// Upper bounds (exclusive) of the int captures that index another tensor directly
/// (`bias[h, bucket[kv_idx - q_idx]]`): the extent of the dim they index, the smallest over all
/// uses; -1 for a capture never used so. `extents[slot]` are the captures' shapes at this size.
void indexBounds(const spec::Expr &e, const std::vector<std::vector<int64_t>> &extents, std::vector<int64_t> &bound,
                 int depth = 0) {
  if (depth > 10000) // the checker bounds expression depth far below this
    return;
  if (e.kind == spec::ExprKind::TensorRead && e.captureSlot >= 0 &&
      static_cast<size_t>(e.captureSlot) < extents.size())
    for (size_t k = 0; k < e.operands.size(); ++k) {
      const spec::Expr &index = e.operands[k];
      if (index.kind != spec::ExprKind::TensorRead || index.captureSlot < 0 ||
          static_cast<size_t>(index.captureSlot) >= bound.size() ||
          k >= extents[static_cast<size_t>(e.captureSlot)].size())
        continue;
      int64_t &b = bound[static_cast<size_t>(index.captureSlot)];
      const int64_t extent = extents[static_cast<size_t>(e.captureSlot)][k];
      b = b < 0 ? extent : std::min(b, extent);
    }
  for (const spec::Expr &x : e.operands)
    indexBounds(x, extents, bound, depth + 1);
}

void fillRandom(const spec::Spec &s, const spec::Shape &sh, std::mt19937_64 &rng, Tensor &Q, Tensor &K, Tensor &V,
                std::vector<Tensor> &captures) {
  std::normal_distribution<double> normal(0.0, 1.0);
  std::uniform_real_distribution<double> uniform(-1.0, 1.0);
  for (Tensor *t : {&Q, &K, &V})
    for (double &x : t->data)
      x = normal(rng);
  std::vector<std::vector<int64_t>> extents;
  for (size_t slot = 0; slot < s.captures.size(); ++slot)
    extents.push_back(spec::captureShape(s, slot, sh));
  std::vector<int64_t> bound(s.captures.size(), -1);
  for (const std::optional<spec::Expr> *e : {&s.scoreMod, &s.maskMod, &s.sink})
    if (*e)
      indexBounds(**e, extents, bound);
  for (size_t slot = 0; slot < s.captures.size(); ++slot) {
    Tensor t(extents[slot]);
    const spec::Capture &c = s.captures[slot];
    const spec::Expr &last = c.shape.back();
    const bool alongSequence = last.kind == spec::ExprKind::Variable &&
                               (last.variable == spec::Variable::Sq || last.variable == spec::Variable::Sk);
    if (spec::scalarTypeOf(c.dtype) == spec::ScalarType::Float) {
      for (double &x : t.data)
        x = uniform(rng);
    } else if (bound[slot] > 0) {
      // An index into another capture: anywhere in the dim it indexes.
      std::uniform_int_distribution<int64_t> index(0, bound[slot] - 1);
      for (double &x : t.data)
        x = static_cast<double>(index(rng));
    } else if (alongSequence) {
      // Along a sequence (document ids): non-decreasing runs from 0, a new id with probability 1/32.
      int64_t row = t.shape.back();
      std::bernoulli_distribution step(1.0 / 32);
      for (int64_t i = 0; i < t.numel(); ++i)
        t.data[i] = (i % row == 0) ? 0.0 : t.data[i - 1] + (step(rng) ? 1.0 : 0.0);
    } else {
      // Per batch or per head (a prefix length, an offset, a position): anywhere in [0, max(Sq, Sk)].
      std::uniform_int_distribution<int64_t> position(0, std::max(sh.Sq, sh.Sk));
      for (double &x : t.data)
        x = static_cast<double>(position(rng));
    }
    captures.push_back(std::move(t));
  }
}

} // namespace

Inputs randomInputs(const spec::Spec &s, const spec::Shape &sh, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Inputs in;
  in.Q = Tensor({sh.B, sh.Hq, sh.Sq, sh.D});
  in.K = Tensor({sh.B, sh.Hkv, sh.Sk, sh.D});
  in.V = Tensor({sh.B, sh.Hkv, sh.Sk, sh.Dv});
  fillRandom(s, sh, rng, in.Q, in.K, in.V, in.captures);
  return in;
}

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
