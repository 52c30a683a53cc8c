//===- InterpAttentionTest.cpp - interpreter vs naive fp64 attention --------===//
//
// Runs block programs through the interpreter on fresh random inputs and compares O and LSE with
// the naive attention of TestSupport.h (relative error <= 1e-12: both are fp64, they differ only
// in summation order).
//
#include "TestSupport.h"

#include "tilefuse/interp/Interpreter.h"

#include <chrono>
#include <cstdio>

using tilefuse::interp::DType;
using tilefuse::interp::HostTensor;
using namespace tilefuse::test;

namespace {

struct Dims {
  int64_t B, Hq, Hkv, Sq, Sk, D;
};

std::string str(const Dims &d) {
  return "B=" + std::to_string(d.B) + " Hq=" + std::to_string(d.Hq) +
         " Hkv=" + std::to_string(d.Hkv) + " Sq=" + std::to_string(d.Sq) +
         " Sk=" + std::to_string(d.Sk) + " D=" + std::to_string(d.D);
}

struct Problem {
  HostTensor Q, K, V, O, LSE, Oref, LSEref;
  explicit Problem(const Dims &d)
      : Q(HostTensor::contiguous(DType::BF16, {d.B, d.Hq, d.Sq, d.D}, "Q")),
        K(HostTensor::contiguous(DType::BF16, {d.B, d.Hkv, d.Sk, d.D}, "K")),
        V(HostTensor::contiguous(DType::BF16, {d.B, d.Hkv, d.Sk, d.D}, "V")),
        O(HostTensor::contiguous(DType::BF16, {d.B, d.Hq, d.Sq, d.D}, "O", std::nan(""))),
        LSE(HostTensor::contiguous(DType::F32, {d.B, d.Hq, d.Sq}, "LSE", std::nan(""))), Oref(O),
        LSEref(LSE) {
    fillRandom(Q);
    fillRandom(K);
    fillRandom(V);
  }
};

double timedRun(mlir::func::FuncOp fn, std::vector<HostTensor *> args) {
  auto t0 = std::chrono::steady_clock::now();
  tilefuse::interp::run(fn, args);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void checkClose(Problem &p, const std::string &what) {
  double eo = relError(p.O, p.Oref), el = relError(p.LSE, p.LSEref);
  INFO(what << ": rel. error O " << eo << ", LSE " << el << " (seed " << testSeed() << ")");
  CHECK(eo <= 1e-12);
  CHECK(el <= 1e-12);
}

/// Rows every key of which is masked must give exactly O = 0 and LSE = -inf.
int64_t checkMaskedRows(Problem &p, const Dims &d) {
  int64_t masked = 0;
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.Hq; ++h)
      for (int64_t i = 0; i < d.Sq; ++i) {
        if (!std::isinf(p.LSEref.at({b, h, i})))
          continue;
        ++masked;
        REQUIRE(p.LSE.at({b, h, i}) == -std::numeric_limits<double>::infinity());
        for (int64_t k = 0; k < d.D; ++k)
          REQUIRE(p.O.at({b, h, i, k}) == 0.0);
      }
  return masked;
}

} // namespace

TEST_CASE("vanilla_attention from roundtrip.mlir matches naive attention", "[interp]") {
  Program prog(sourcePath("tests/lit/dialect/roundtrip.mlir"));
  mlir::func::FuncOp fn = prog.fn("vanilla_attention");
  // The program hard-codes D = 128, BLOCK_M = 64, GQA group 4 (%c4), scale 0.0883883461 as f32,
  // ALiBi bias slope[h] * (kv_idx - q_idx) and a top-left causal mask q_idx >= kv_idx.
  const double scale = static_cast<double>(0.0883883461f);
  for (Dims d : {Dims{1, 4, 1, 100, 100, 128}, Dims{2, 8, 2, 130, 257, 128},
                 Dims{1, 4, 1, 300, 64, 128}, Dims{2, 4, 1, 64, 200, 128}}) {
    Problem p(d);
    HostTensor slopes = HostTensor::contiguous(DType::F32, {d.Hq}, "slopes");
    for (double &s : slopes.data)
      s = std::uniform_real_distribution<double>(0.01, 0.5)(rng());
    NaiveAttention ref;
    ref.group = 4;
    ref.mask = [](int64_t, int64_t, int64_t i, int64_t j) { return i >= j; };
    ref.scoreMod = [&](double dot, int64_t, int64_t h, int64_t i, int64_t j) {
      return dot * scale + slopes.data[h] * static_cast<double>(j - i);
    };
    ref.run(p.Q, p.K, p.V, p.Oref, p.LSEref);
    double ms = timedRun(fn, {&p.Q, &p.K, &p.V, &p.O, &p.LSE, &slopes});
    std::printf("vanilla_attention %s: %.1f ms\n", str(d).c_str(), ms);
    checkClose(p, "vanilla_attention " + str(d));
  }
}

TEST_CASE("safe unfused attention with GQA and any D and fully masked rows", "[interp]") {
  Program prog(sourcePath("tests/unit/interp/inputs/attention_variants.mlir"));
  mlir::func::FuncOp fn = prog.fn("safe_attention");
  for (Dims d : {Dims{2, 4, 2, 200, 77, 64}, Dims{1, 2, 2, 100, 150, 32},
                 Dims{1, 4, 1, 129, 129, 128}, Dims{2, 3, 3, 65, 300, 96}}) {
    Problem p(d);
    NaiveAttention ref;
    ref.scale = 1.0 / std::sqrt(static_cast<double>(d.D));
    ref.group = d.Hq / d.Hkv;
    ref.mask = [&](int64_t, int64_t, int64_t i, int64_t j) { return j <= i + d.Sk - d.Sq; };
    ref.run(p.Q, p.K, p.V, p.Oref, p.LSEref);
    double ms = timedRun(fn, {&p.Q, &p.K, &p.V, &p.O, &p.LSE});
    std::printf("safe_attention %s: %.1f ms\n", str(d).c_str(), ms);
    checkClose(p, "safe_attention " + str(d));
    int64_t masked = checkMaskedRows(p, d);
    if (d.Sq > d.Sk)
      CHECK(masked == d.B * d.Hq * (d.Sq - d.Sk));
  }
}

TEST_CASE("fused flash attention with scf.for over K/V tiles carrying tiles", "[interp]") {
  Program prog(sourcePath("tests/unit/interp/inputs/attention_variants.mlir"));
  mlir::func::FuncOp fn = prog.fn("flash_attention");
  const double cap = 20.0;
  for (Dims d :
       {Dims{2, 4, 2, 200, 77, 64}, Dims{1, 2, 1, 100, 150, 32}, Dims{1, 4, 4, 128, 256, 128}}) {
    Problem p(d);
    const double scale = 1.0 / std::sqrt(static_cast<double>(d.D));
    NaiveAttention ref;
    ref.group = d.Hq / d.Hkv;
    ref.mask = [&](int64_t, int64_t, int64_t i, int64_t j) { return j <= i + d.Sk - d.Sq; };
    ref.scoreMod = [&](double dot, int64_t, int64_t, int64_t, int64_t) {
      return std::tanh(dot * scale / cap) * cap;
    };
    ref.run(p.Q, p.K, p.V, p.Oref, p.LSEref);
    double ms = timedRun(fn, {&p.Q, &p.K, &p.V, &p.O, &p.LSE});
    std::printf("flash_attention %s: %.1f ms\n", str(d).c_str(), ms);
    checkClose(p, "flash_attention " + str(d));
    checkMaskedRows(p, d);
  }
}

TEST_CASE("strided inputs where Q is a view into a padded buffer", "[interp]") {
  Program prog(sourcePath("tests/unit/interp/inputs/attention_variants.mlir"));
  mlir::func::FuncOp fn = prog.fn("safe_attention");
  Dims d{2, 2, 1, 90, 90, 32};
  Problem p(d);
  // Layout (Sq, B, Hq, D) with 8 elements of padding after each row, seen as [B, Hq, Sq, D].
  HostTensor Qs = HostTensor::contiguous(DType::BF16, {d.Sq, d.B, d.Hq, d.D + 8}, "Q_strided");
  fillRandom(Qs);
  Qs.shape = {d.B, d.Hq, d.Sq, d.D};
  Qs.strides = {d.Hq * (d.D + 8), d.D + 8, d.B * d.Hq * (d.D + 8), 1};
  Qs.offset = 4;
  for (int64_t b = 0; b < d.B; ++b)
    for (int64_t h = 0; h < d.Hq; ++h)
      for (int64_t i = 0; i < d.Sq; ++i)
        for (int64_t k = 0; k < d.D; ++k)
          p.Q.at({b, h, i, k}) = Qs.at({b, h, i, k});
  NaiveAttention ref;
  ref.scale = 1.0 / std::sqrt(static_cast<double>(d.D));
  ref.group = 2;
  ref.mask = [&](int64_t, int64_t, int64_t i, int64_t j) { return j <= i; };
  ref.run(p.Q, p.K, p.V, p.Oref, p.LSEref);
  std::vector<HostTensor *> args{&Qs, &p.K, &p.V, &p.O, &p.LSE};
  tilefuse::interp::run(fn, args);
  checkClose(p, "strided Q");
}
