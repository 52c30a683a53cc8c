#include "AttentionReference.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tilefuse::test {

double AttentionProblem::scale() const { return softmaxScale != 0 ? softmaxScale : 1.0 / std::sqrt(double(headDim)); }

double referenceRow(const AttentionProblem &p, const AttentionInputs &in, int b, int h, int i, double *out) {
  const int D = p.headDim, hk = p.kvHead(h);
  const std::uint16_t *q = &in.q[in.qs.at(b, h, i)];
  std::vector<double> s(p.seqK, -std::numeric_limits<double>::infinity());
  double m = -std::numeric_limits<double>::infinity();
  for (int j = 0; j < p.seqK; ++j) {
    if (!p.visible(i, j)) continue;
    const std::uint16_t *k = &in.k[in.ks.at(b, hk, j)];
    double dot = 0;
    for (int d = 0; d < D; ++d) dot += double(decode(p.dtype, q[d])) * double(decode(p.dtype, k[d]));
    s[j] = dot * p.scale();
    m = std::max(m, s[j]);
  }
  std::fill(out, out + D, 0.0);
  if (m == -std::numeric_limits<double>::infinity()) return m;
  double l = 0;
  for (int j = 0; j < p.seqK; ++j) {
    if (!p.visible(i, j)) continue;
    const double e = std::exp(s[j] - m);
    l += e;
    const std::uint16_t *v = &in.v[in.vs.at(b, hk, j)];
    for (int d = 0; d < D; ++d) out[d] += e * double(decode(p.dtype, v[d]));
  }
  for (int d = 0; d < D; ++d) out[d] /= l;
  return m + std::log(l);
}

void naiveRow(const AttentionProblem &p, const AttentionInputs &in, int b, int h, int i, float *out) {
  const int D = p.headDim, hk = p.kvHead(h);
  const Dtype t = p.dtype;
  std::vector<float> qs(D);
  for (int d = 0; d < D; ++d) qs[d] = roundTo(t, decode(t, in.q[in.qs.at(b, h, i) + d]) * float(p.scale()));
  std::vector<float> s(p.seqK, -std::numeric_limits<float>::infinity());
  float m = -std::numeric_limits<float>::infinity();
  for (int j = 0; j < p.seqK; ++j) {
    if (!p.visible(i, j)) continue;
    const std::uint16_t *k = &in.k[in.ks.at(b, hk, j)];
    float dot = 0;
    for (int d = 0; d < D; ++d) dot += qs[d] * decode(t, k[d]);
    s[j] = roundTo(t, dot);
    m = std::max(m, s[j]);
  }
  std::fill(out, out + D, 0.0f);
  if (m == -std::numeric_limits<float>::infinity()) return;
  float l = 0;
  for (int j = 0; j < p.seqK; ++j)
    if (p.visible(i, j)) l += std::exp(s[j] - m);
  std::vector<float> acc(D, 0.0f);
  for (int j = 0; j < p.seqK; ++j) {
    if (!p.visible(i, j)) continue;
    const float pj = roundTo(t, std::exp(s[j] - m) / l);
    const std::uint16_t *v = &in.v[in.vs.at(b, hk, j)];
    for (int d = 0; d < D; ++d) acc[d] += pj * decode(t, v[d]);
  }
  for (int d = 0; d < D; ++d) out[d] = roundTo(t, acc[d]);
}

void compareRow(const AttentionProblem &p, const AttentionInputs &in, const Strides &os,
                const std::vector<std::uint16_t> &o, const std::vector<float> &lse, int b, int h, int i,
                RowErrors &e) {
  std::vector<double> ref(p.headDim);
  std::vector<float> naive(p.headDim);
  const double lseRef = referenceRow(p, in, b, h, i, ref.data());
  naiveRow(p, in, b, h, i, naive.data());
  const std::uint16_t *got = &o[os.at(b, h, i)];
  for (int d = 0; d < p.headDim; ++d) {
    const float x = decode(p.dtype, got[d]);
    if (std::isnan(x))
      ++e.unwritten;
    e.maxErr = std::max(e.maxErr, std::fabs(x - ref[d]));
    e.maxNaiveErr = std::max(e.maxNaiveErr, std::fabs(naive[d] - ref[d]));
  }
  const float l = lse[(std::size_t(b) * p.headsQ + h) * p.seqQ + i];
  if (std::isinf(lseRef))
    e.lseBad += !(std::isinf(l) && l < 0);
  else if (std::isnan(l))
    ++e.lseBad;
  else
    e.maxLseErr = std::max(e.maxLseErr, std::fabs(l - lseRef));
  ++e.rows;
}

} // namespace tilefuse::test
