//===- TestSupport.h - programs, random inputs, naive attention for tests ---===//
//
// The naive attention here is written from the definition, independently of the interpreter and
// of the IR: for every (b, h, q_idx)
//   s[j]   = mask(b, h, i, j) ? score(scale * (q_i . k_j), b, h, i, j) : -inf
//   O[i]   = sum_j softmax(s)[j] * v_j          (0 when every s[j] is -inf)
//   LSE[i] = log(sum_j exp(s[j]))               (-inf when every s[j] is -inf)
// with K/V head h / group (GQA).
//
#pragma once

#include "tilefuse/interp/HostTensor.h"

#include "blk/BlkDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/Parser/Parser.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace tilefuse::test {

/// A parsed .mlir file with its context.
struct Program {
  std::unique_ptr<mlir::MLIRContext> ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;

  explicit Program(const std::string &path) : ctx(std::make_unique<mlir::MLIRContext>()) {
    ctx->loadDialect<tilefuse::blk::BlkDialect, mlir::func::FuncDialect, mlir::scf::SCFDialect,
                     mlir::arith::ArithDialect, mlir::math::MathDialect>();
    module = mlir::parseSourceFile<mlir::ModuleOp>(path, ctx.get());
    if (!module)
      FAIL("cannot parse " << path);
  }
  mlir::func::FuncOp fn(const std::string &name) {
    auto f = module->lookupSymbol<mlir::func::FuncOp>(name);
    if (!f)
      FAIL("no function @" << name);
    return f;
  }
};

inline std::string sourcePath(const std::string &rel) {
  return std::string(TILEFUSE_SOURCE_DIR) + "/" + rel;
}

/// One seed per test process: from std::random_device, or TILEFUSE_SEED to replay a failure.
inline uint32_t testSeed() {
  static const uint32_t seed = [] {
    uint32_t s = std::random_device{}();
    if (const char *env = std::getenv("TILEFUSE_SEED"))
      s = static_cast<uint32_t>(std::strtoul(env, nullptr, 10));
    std::cout << "random seed " << s << " (replay with TILEFUSE_SEED=" << s << ")\n";
    return s;
  }();
  return seed;
}

inline std::mt19937_64 &rng() {
  static std::mt19937_64 gen(testSeed());
  return gen;
}

/// Fills with N(0, sigma) values, never exactly 0.
inline void fillRandom(interp::HostTensor &t, double sigma = 1.0) {
  std::normal_distribution<double> dist(0.0, sigma);
  for (double &x : t.data) {
    do
      x = dist(rng());
    while (x == 0.0);
  }
}

struct NaiveAttention {
  double scale = 1.0;
  int64_t group = 1; ///< Hq / Hkv
  std::function<bool(int64_t b, int64_t h, int64_t i, int64_t j)> mask;
  std::function<double(double s, int64_t b, int64_t h, int64_t i, int64_t j)> scoreMod;
  /// Normalizer "none": O = sum_j s_j V_j over unmasked keys; LSE is left alone.
  bool weightsOnly = false;
  /// Normalizer "stick_breaking" (Tan et al. 2024, Sec. 2): O = sum_j beta_j prod_{k > j} (1 - beta_k) V_j
  /// over unmasked j, k, beta = sigmoid(s), as the product written out; LSE is left alone.
  bool stickBreaking = false;
  /// A sink logit per (b, h): exp(sink) joins the softmax denominator (and LSE).
  std::function<double(int64_t b, int64_t h)> sink;

  /// Q [B, Hq, Sq, D], K [B, Hkv, Sk, D], V [B, Hkv, Sk, Dv] -> O [B, Hq, Sq, Dv], LSE [B, Hq, Sq].
  void run(const interp::HostTensor &Q, const interp::HostTensor &K, const interp::HostTensor &V,
           interp::HostTensor &O, interp::HostTensor &LSE) const {
    const int64_t B = Q.shape[0], Hq = Q.shape[1], Sq = Q.shape[2], D = Q.shape[3];
    const int64_t Sk = K.shape[2], Dv = V.shape[3];
    const double ninf = -std::numeric_limits<double>::infinity();
    std::vector<double> s(Sk);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t i = 0; i < Sq; ++i) {
          const int64_t hk = h / group;
          double m = ninf;
          for (int64_t j = 0; j < Sk; ++j) {
            if (mask && !mask(b, h, i, j)) {
              s[j] = ninf;
              continue;
            }
            double dot = 0.0;
            for (int64_t d = 0; d < D; ++d)
              dot += Q.at({b, h, i, d}) * K.at({b, hk, j, d});
            s[j] = scoreMod ? scoreMod(dot, b, h, i, j) : scale * dot;
            m = std::max(m, s[j]);
          }
          if (stickBreaking) {
            std::vector<double> a(Sk, 0.0); // a_j = beta_j prod_{unmasked k > j} (1 - beta_k)
            for (int64_t j = 0; j < Sk; ++j) {
              if (s[j] == ninf)
                continue;
              a[j] = 1.0 / (1.0 + std::exp(-s[j]));
              for (int64_t k = j + 1; k < Sk; ++k)
                if (s[k] != ninf)
                  a[j] *= 1.0 - 1.0 / (1.0 + std::exp(-s[k]));
            }
            for (int64_t d = 0; d < Dv; ++d) {
              double acc = 0.0;
              for (int64_t j = 0; j < Sk; ++j)
                acc += a[j] * V.at({b, hk, j, d});
              O.at({b, h, i, d}) = acc;
            }
            continue;
          }
          if (weightsOnly) {
            for (int64_t d = 0; d < Dv; ++d) {
              double acc = 0.0;
              for (int64_t j = 0; j < Sk; ++j)
                if (s[j] != ninf)
                  acc += s[j] * V.at({b, hk, j, d});
              O.at({b, h, i, d}) = acc;
            }
            continue;
          }
          const double sk = sink ? sink(b, h) : ninf;
          if (m == ninf) {
            for (int64_t d = 0; d < Dv; ++d)
              O.at({b, h, i, d}) = 0.0;
            LSE.at({b, h, i}) = sk;
            continue;
          }
          m = std::max(m, sk); // the sink is one more logit (with no value row)
          double l = sink ? std::exp(sk - m) : 0.0;
          for (int64_t j = 0; j < Sk; ++j)
            l += (s[j] = std::exp(s[j] - m));
          for (int64_t d = 0; d < Dv; ++d) {
            double acc = 0.0;
            for (int64_t j = 0; j < Sk; ++j)
              acc += s[j] * V.at({b, hk, j, d});
            O.at({b, h, i, d}) = acc / l;
          }
          LSE.at({b, h, i}) = m + std::log(l);
        }
  }
};

/// max |got - want| / max |want| over finite entries; infinities must match exactly and any NaN
/// in `got` gives +inf.
inline double relError(const interp::HostTensor &got, const interp::HostTensor &want) {
  double err = 0.0, scale = 0.0;
  for (size_t k = 0; k < want.data.size(); ++k) {
    double g = got.data[k], w = want.data[k];
    if (std::isnan(g) || std::isnan(w))
      return std::numeric_limits<double>::infinity();
    if (std::isinf(w) || std::isinf(g)) {
      if (g != w)
        return std::numeric_limits<double>::infinity();
      continue;
    }
    err = std::max(err, std::fabs(g - w));
    scale = std::max(scale, std::fabs(w));
  }
  return scale == 0.0 ? err : err / scale;
}

} // namespace tilefuse::test
