//===- LoweredSpecsTest.cpp - every shipped spec, lowered and interpreted ---===//
//
// For each specs/*.json: lower it to the unfused block program (tilefuse/lowering), run that
// through the interpreter on fresh random inputs, and compare O (and LSE when the spec writes it)
// with the naive fp64 attention of TestSupport.h, whose score_mod / mask_mod are the spec
// library's fp64 spec::evaluate. The softmax scale is rounded to fp32 on both sides: the lowering
// holds it as an f32 constant.
//
#include "TestSupport.h"

#include "tilefuse/interp/Interpreter.h"
#include "tilefuse/lowering/Lowering.h"
#include "tilefuse/spec/Eval.h"
#include "tilefuse/spec/Spec.h"

#include "mlir/IR/Verifier.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>

using tilefuse::interp::DType;
using tilefuse::interp::HostTensor;
using namespace tilefuse::test;
namespace spec = tilefuse::spec;

namespace {

DType dtypeOf(spec::ElementType t) {
  switch (t) {
  case spec::ElementType::F32:
    return DType::F32;
  case spec::ElementType::F16:
    return DType::F16;
  case spec::ElementType::BF16:
    return DType::BF16;
  case spec::ElementType::I32:
    return DType::I32;
  case spec::ElementType::I64:
    return DType::I64;
  }
  return DType::F32;
}

/// Float tables ~ U(-1, 1). Integer tables: non-decreasing along the last dim from 0, stepping
/// by 1 with probability 1/16 (document ids of packed sequences).
void fillCapture(HostTensor &t, spec::ElementType type) {
  if (spec::scalarTypeOf(type) == spec::ScalarType::Float) {
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    for (double &x : t.data)
      x = u(rng());
    return;
  }
  std::bernoulli_distribution step(1.0 / 16.0);
  const int64_t last = t.shape.back();
  for (size_t k = 0; k < t.data.size(); ++k)
    t.data[k] = (k % last == 0) ? 0.0 : t.data[k - 1] + (step(rng()) ? 1.0 : 0.0);
}

std::vector<std::string> shippedSpecs() {
  std::vector<std::string> files;
  for (const auto &e : std::filesystem::directory_iterator(sourcePath("specs")))
    if (e.path().extension() == ".json")
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  return files;
}

} // namespace

TEST_CASE("every shipped spec lowered to the unfused program matches the naive attention",
          "[interp][lowering]") {
  std::vector<std::string> files = shippedSpecs();
  REQUIRE(files.size() >= 8);
  for (const std::string &file : files) {
    spec::Spec s = spec::parseSpecFile(file);
    const int64_t group = s.headsQ / s.headsKv;
    int ran = 0;
    // (B, Sq, Sk, D): square, Sq < Sk, Sq > Sk (fully masked rows under bottom-right causal
    // masks); none a multiple of 64 but the first's D.
    for (auto [B, Sq, Sk, D] :
         {std::array<int64_t, 4>{1, 100, 100, s.headDim}, std::array<int64_t, 4>{2, 77, 150, 64},
          std::array<int64_t, 4>{1, 130, 64, 32}}) {
      spec::ShapeOverrides ov;
      ov.B = B;
      ov.Hkv = group == 1 ? 2 : 1;
      ov.Hq = group == 1 ? 2 : group;
      ov.Sq = Sq;
      ov.Sk = Sk;
      ov.D = D;
      if (s.valueDim)
        ov.Dv = D;
      spec::Shape shape = spec::resolveShape(s, ov);
      const std::string what = s.name + " at B=" + std::to_string(B) +
                               " Hq=" + std::to_string(shape.Hq) +
                               " Hkv=" + std::to_string(shape.Hkv) + " Sq=" + std::to_string(Sq) +
                               " Sk=" + std::to_string(Sk) + " D=" + std::to_string(D);
      INFO(what << " (seed " << testSeed() << ")");

      mlir::MLIRContext ctx;
      tilefuse::lowering::loadDialects(ctx);
      mlir::OwningOpRef<mlir::ModuleOp> module =
          mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx));
      mlir::func::FuncOp fn = tilefuse::lowering::lowerToUnfused(*module, s, shape);
      REQUIRE(mlir::succeeded(mlir::verify(*module)));

      const DType io = s.dtype == spec::DType::BF16 ? DType::BF16 : DType::F16;
      HostTensor Q = HostTensor::contiguous(io, {B, shape.Hq, Sq, shape.D}, "Q");
      HostTensor K = HostTensor::contiguous(io, {B, shape.Hkv, Sk, shape.D}, "K");
      HostTensor V = HostTensor::contiguous(io, {B, shape.Hkv, Sk, shape.Dv}, "V");
      HostTensor O = HostTensor::contiguous(io, {B, shape.Hq, Sq, shape.Dv}, "O", std::nan(""));
      HostTensor LSE = HostTensor::contiguous(DType::F32, {B, shape.Hq, Sq}, "LSE", std::nan(""));
      HostTensor Oref = O, LSEref = LSE;
      fillRandom(Q);
      fillRandom(K);
      fillRandom(V);
      std::vector<HostTensor> captures;
      for (size_t c = 0; c < s.captures.size(); ++c) {
        captures.push_back(HostTensor::contiguous(
            dtypeOf(s.captures[c].dtype), spec::captureShape(s, c, shape), s.captures[c].name));
        fillCapture(captures.back(), s.captures[c].dtype);
      }

      // The oracle: spec semantics (Spec.h) through spec::evaluate, scale rounded to fp32.
      spec::EvalEnv env;
      env.shape = shape;
      for (const HostTensor &t : captures)
        env.captures.push_back({t.shape, t.data});
      NaiveAttention ref;
      ref.group = shape.groupSize();
      const double scale = static_cast<float>(spec::softmaxScale(s, shape));
      ref.scoreMod = [&](double dot, int64_t b, int64_t h, int64_t i, int64_t j) {
        if (!s.scoreMod)
          return scale * dot;
        env.score = scale * dot;
        env.b = b, env.h = h, env.q_idx = i, env.kv_idx = j;
        return spec::evaluate(*s.scoreMod, env).asFloat();
      };
      if (s.maskMod)
        ref.mask = [&](int64_t b, int64_t h, int64_t i, int64_t j) {
          env.b = b, env.h = h, env.q_idx = i, env.kv_idx = j;
          return spec::evaluate(*s.maskMod, env).asBool();
        };
      ref.weightsOnly = s.normalizer == spec::Normalizer::None;
      ref.stickBreaking = s.normalizer == spec::Normalizer::StickBreaking;
      if (s.sink)
        ref.sink = [&](int64_t b, int64_t h) {
          env.b = b, env.h = h;
          return spec::evaluate(*s.sink, env).asFloat();
        };
      try {
        ref.run(Q, K, V, Oref, LSEref);
      } catch (const spec::SpecError &e) {
        // A shape the spec does not support (document_mask needs Sq <= Sk).
        std::printf("%s: skipped, the spec cannot be evaluated there: %s\n", what.c_str(),
                    e.what());
        continue;
      }

      std::vector<HostTensor *> args{&Q, &K, &V, &O};
      if (s.lse)
        args.push_back(&LSE);
      for (HostTensor &t : captures)
        args.push_back(&t);
      auto t0 = std::chrono::steady_clock::now();
      tilefuse::interp::run(fn, args);
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      double eo = relError(O, Oref);
      double el = s.lse ? relError(LSE, LSEref) : 0.0;
      std::printf("%s: %.1f ms, rel. error O %.2e LSE %.2e\n", what.c_str(), ms, eo, el);
      CHECK(eo <= 1e-12);
      CHECK(el <= 1e-12);
      ++ran;
    }
    INFO(s.name);
    CHECK(ran >= 2);
  }
}
