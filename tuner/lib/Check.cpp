//===- Check.cpp - host inputs, row references, the accuracy rule ----------===//
#include "tilefuse/tuner/Check.h"
#include "Random.h"

#include "tilefuse/spec/Eval.h"
#include "tilefuse/spec/StickBreaking.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>

namespace tilefuse::tuner {
namespace {

using detail::SplitMix;

uint16_t bf16Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return 0x7fc0; // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float bf16Value(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

double roundTo(spec::DType t, double x) { return fromBits(t, toBits(t, static_cast<float>(x))); }


} // namespace

uint16_t toBits(spec::DType t, float f) {
  if (t == spec::DType::BF16)
    return bf16Bits(f);
  _Float16 h = static_cast<_Float16>(f);
  uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}

float fromBits(spec::DType t, uint16_t bits) {
  if (t == spec::DType::BF16)
    return bf16Value(bits);
  _Float16 h;
  std::memcpy(&h, &bits, 2);
  return static_cast<float>(h);
}

HostInputs makeInputs(const spec::Spec &spec, const spec::Shape &s, uint64_t seed, const spec::PackedSeqs *packed,
                      const HostCaptures *captures) {
  HostInputs in;
  in.shape = s;
  if (packed) {
    if (packed->batch() != s.B || std::max<int64_t>(packed->maxLenQ(), 1) != s.Sq ||
        std::max<int64_t>(packed->maxLenK(), 1) != s.Sk)
      throw std::invalid_argument("makeInputs: packed sequences (B = " + std::to_string(packed->batch()) +
                                  ", max lengths " + std::to_string(packed->maxLenQ()) + ", " +
                                  std::to_string(packed->maxLenK()) + ") disagree with the shape's B, Sq, Sk");
    in.cuQ = packed->cuQ, in.cuK = packed->cuK;
  }
  // Rows of Q (and O) and of K / V: B * Sq and B * Sk, or the packed totals.
  const int64_t rowsQ = packed ? packed->totalQ() : s.B * s.Sq, rowsK = packed ? packed->totalK() : s.B * s.Sk;
  in.dtype = spec.dtype;
  SplitMix rng{seed};
  auto fill = [&](std::vector<uint16_t> &t, int64_t n) {
    t.resize(static_cast<size_t>(n));
    for (uint16_t &x : t)
      x = toBits(spec.dtype, rng.normal());
  };
  fill(in.Q, rowsQ * s.Hq * s.D);
  fill(in.K, rowsK * s.Hkv * s.D);
  fill(in.V, rowsK * s.Hkv * s.Dv);
  if (captures) {
    if (captures->shapes.size() != spec.captures.size())
      throw std::invalid_argument("makeInputs: " + std::to_string(captures->shapes.size()) + " captures given, spec '" +
                                  spec.name + "' has " + std::to_string(spec.captures.size()));
    for (std::size_t slot = 0; slot < spec.captures.size(); ++slot)
      if (captures->shapes[slot] != spec::captureShape(spec, slot, s))
        throw std::invalid_argument("makeInputs: capture '" + spec.captures[slot].name +
                                    "' was made for other sizes than the shape's");
    in.captures = *captures;
  } else {
    in.captures = syntheticCaptures(spec, s, rng.next());
  }
  return in;
}

namespace {

/// The rule of sampleRows over `count` batch entries, the i-th being batch batchAt(i) with lenOf(batch)
/// > 0 query rows: every row when there are at most maxRows, else the first and last row of the first
/// and last entry and uniform draws (distinct) up to maxRows.
template <typename BatchAt, typename LenOf>
std::vector<RowIndex> sampleRowsOf(int64_t count, BatchAt batchAt, LenOf lenOf, int64_t Hq, int64_t maxRows,
                                   uint64_t seed) {
  std::vector<RowIndex> rows;
  if (count == 0)
    return rows;
  int64_t total = 0;
  for (int64_t i = 0; i < count && total <= maxRows; ++i)
    total += Hq * lenOf(batchAt(i));
  if (total <= maxRows) {
    for (int64_t i = 0; i < count; ++i)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t q = 0; q < lenOf(batchAt(i)); ++q)
          rows.push_back({batchAt(i), h, q});
    return rows;
  }
  std::set<std::tuple<int64_t, int64_t, int64_t>> seen;
  auto add = [&](int64_t b, int64_t h, int64_t q) {
    if (static_cast<int64_t>(rows.size()) < maxRows && seen.insert({b, h, q}).second)
      rows.push_back({b, h, q});
  };
  const int64_t first = batchAt(0), last = batchAt(count - 1);
  add(first, 0, 0);
  add(first, 0, lenOf(first) - 1);
  add(last, Hq - 1, 0);
  add(last, Hq - 1, lenOf(last) - 1);
  SplitMix rng{seed ^ 0x5eed};
  while (static_cast<int64_t>(rows.size()) < maxRows) {
    const int64_t b = batchAt(static_cast<int64_t>(rng.next() % static_cast<uint64_t>(count)));
    add(b, static_cast<int64_t>(rng.next() % static_cast<uint64_t>(Hq)),
        static_cast<int64_t>(rng.next() % static_cast<uint64_t>(lenOf(b))));
  }
  return rows;
}

} // namespace

std::vector<RowIndex> sampleRows(const spec::Shape &s, int64_t maxRows, uint64_t seed) {
  return sampleRowsOf(s.B, [](int64_t i) { return i; }, [&](int64_t) { return s.Sq; }, s.Hq, maxRows, seed);
}

std::vector<RowIndex> samplePackedRows(const spec::PackedSeqs &seqs, int64_t Hq, int64_t maxRows, uint64_t seed) {
  std::vector<int64_t> nonEmpty;
  for (int64_t b = 0; b < seqs.batch(); ++b)
    if (seqs.lenQ(b) > 0)
      nonEmpty.push_back(b);
  return sampleRowsOf(static_cast<int64_t>(nonEmpty.size()), [&](int64_t i) { return nonEmpty[static_cast<size_t>(i)]; },
                      [&](int64_t b) { return seqs.lenQ(b); }, Hq, maxRows, seed);
}

ReferenceRow referenceRow(const spec::Spec &spec, const HostInputs &in, const RowIndex &row) {
  // Packed: the row's sequence alone (its lengths as Sq, Sk; rows of the tensors from cu_seqlens).
  const bool packed = !in.cuQ.empty();
  spec::Shape s = in.shape;
  if (packed) {
    s.Sq = in.cuQ[row.b + 1] - in.cuQ[row.b];
    s.Sk = in.cuK[row.b + 1] - in.cuK[row.b];
  }
  // Element offsets of (q row, head) of Q and of (key row j, kv head) of K / V.
  auto qAt = [&](int64_t h, int64_t q) {
    return packed ? ((in.cuQ[row.b] + q) * s.Hq + h) * s.D : ((row.b * s.Hq + h) * s.Sq + q) * s.D;
  };
  auto kvRow = [&](int64_t hk, int64_t j) {
    return packed ? (in.cuK[row.b] + j) * s.Hkv + hk : (row.b * s.Hkv + hk) * s.Sk + j;
  };
  const double ninf = -std::numeric_limits<double>::infinity();
  // Kernels (and reference::attention) hold the scale as an fp32 constant.
  const double scale = static_cast<float>(spec::softmaxScale(spec, s));
  spec::EvalEnv env;
  env.shape = s;
  for (size_t i = 0; i < in.captures.values.size(); ++i)
    env.captures.push_back({in.captures.shapes[i], in.captures.values[i]});
  env.b = row.b, env.h = row.h, env.q_idx = row.q;
  const int64_t hk = row.h / s.groupSize();
  std::vector<double> q(static_cast<size_t>(s.D));
  for (int64_t d = 0; d < s.D; ++d)
    q[d] = fromBits(in.dtype, in.Q[qAt(row.h, row.q) + d]);
  std::vector<double> score(static_cast<size_t>(s.Sk));
  double m = ninf;
  for (int64_t j = 0; j < s.Sk; ++j) {
    env.kv_idx = j;
    if (spec.maskMod && !spec::evaluate(*spec.maskMod, env).asBool()) {
      score[j] = ninf;
      continue;
    }
    const uint16_t *k = &in.K[kvRow(hk, j) * s.D];
    double dot = 0;
    for (int64_t d = 0; d < s.D; ++d)
      dot += q[d] * fromBits(in.dtype, k[d]);
    env.score = scale * dot;
    score[j] = spec.scoreMod ? spec::evaluate(*spec.scoreMod, env).asFloat() : env.score;
    m = std::max(m, score[j]);
  }
  ReferenceRow r;
  r.O.assign(static_cast<size_t>(s.Dv), 0.0);
  r.Onaive.assign(static_cast<size_t>(s.Dv), 0.0);
  auto addRow = [&](int64_t j, double p) { // O += p V_j; Onaive += round(p) V_j (P rounded as a kernel does)
    const double pNaive = roundTo(in.dtype, p);
    const uint16_t *v = &in.V[kvRow(hk, j) * s.Dv];
    for (int64_t d = 0; d < s.Dv; ++d) {
      const double vd = fromBits(in.dtype, v[d]);
      r.O[d] += p * vd;
      r.Onaive[d] += pNaive * vd;
    }
  };
  if (spec.normalizer == spec::Normalizer::StickBreaking) {
    // The weight of key j is beta_j prod_{kept k > j} (1 - beta_k) (spec/StickBreaking.h). No LSE.
    const std::vector<double> w = spec::stickBreakingWeights(score);
    for (int64_t j = 0; j < s.Sk; ++j)
      if (score[j] != ninf)
        addRow(j, w[j]);
    for (double &x : r.Onaive)
      x = roundTo(in.dtype, x);
    r.lse = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  // The weight of key j: exp(s_j - top) / l under softmax (a sink's exp(sink - top) joins l and
  // the max), s_j itself under "normalizer": "none" (no LSE then).
  const bool none = spec.normalizer == spec::Normalizer::None;
  double sink = ninf;
  if (spec.sink)
    sink = spec::evaluate(*spec.sink, env).asFloat();
  const double top = std::max(m, sink);
  if (m == ninf) {
    r.lse = none ? std::numeric_limits<double>::quiet_NaN() : top == ninf ? ninf : sink;
    return r;
  }
  double l = std::exp(sink - top);
  for (int64_t j = 0; j < s.Sk; ++j)
    l += std::exp(score[j] - top);
  for (int64_t j = 0; j < s.Sk; ++j) {
    if (score[j] == ninf)
      continue;
    addRow(j, none ? score[j] : std::exp(score[j] - top) / l);
  }
  for (double &x : r.Onaive)
    x = roundTo(in.dtype, x);
  r.lse = none ? std::numeric_limits<double>::quiet_NaN() : top + std::log(l);
  return r;
}

Accuracy checkRows(const spec::Spec &spec, const HostInputs &in, const std::vector<RowIndex> &rows,
                   const std::vector<uint16_t> &O, const std::vector<float> &LSE) {
  const int64_t dv = in.shape.Dv;
  Accuracy a;
  a.rows = static_cast<int64_t>(rows.size());
  std::ostringstream worst;
  double worstErr = -1;
  bool lseOk = true;
  std::string lseDetail;
  for (size_t r = 0; r < rows.size(); ++r) {
    ReferenceRow ref = referenceRow(spec, in, rows[r]);
    for (int64_t d = 0; d < dv; ++d) {
      const double got = fromBits(in.dtype, O[r * dv + d]);
      if (!std::isfinite(got)) {
        a.finite = false;
        worst.str("");
        worst << "O[" << rows[r].b << "," << rows[r].h << "," << rows[r].q << "," << d << "] = " << got;
        worstErr = std::numeric_limits<double>::infinity();
        continue;
      }
      const double err = std::abs(got - ref.O[d]);
      a.naiveErr = std::max(a.naiveErr, std::abs(ref.Onaive[d] - ref.O[d]));
      a.maxErr = std::max(a.maxErr, err);
      if (err > worstErr) {
        worstErr = err;
        worst.str("");
        worst << "O[" << rows[r].b << "," << rows[r].h << "," << rows[r].q << "," << d << "] = " << got
              << " vs " << ref.O[d];
      }
    }
    if (!LSE.empty()) {
      const double got = LSE[r];
      if (std::isnan(got)) {
        a.finite = false;
      } else if (std::isinf(ref.lse) || std::isinf(got)) {
        if (got != ref.lse)
          a.lseInfMatch = false;
      } else {
        const double err = std::abs(got - ref.lse);
        a.maxLseErr = std::max(a.maxLseErr, err);
        if (err > 1e-3 * std::max(1.0, std::abs(ref.lse)) && lseOk) {
          lseOk = false;
          lseDetail = "LSE[" + std::to_string(rows[r].b) + "," + std::to_string(rows[r].h) + "," +
                      std::to_string(rows[r].q) + "] = " + std::to_string(got) + " vs " +
                      std::to_string(ref.lse);
        }
      }
    }
  }
  a.bound = 2 * a.naiveErr + 1e-5;
  a.detail = lseOk ? worst.str() : lseDetail;
  a.passed = a.finite && a.lseInfMatch && lseOk && a.maxErr <= a.bound;
  return a;
}

} // namespace tilefuse::tuner
