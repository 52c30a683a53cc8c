//===- FuseProgramsTest.cpp - hand-written unfused programs, unfused vs fused ===//
#include "FuseSupport.h"

#include "blk/BlkDialect.h"

#include "mlir/Parser/Parser.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <utility>
#include <vector>

using namespace tilefuse;
using namespace tilefuse::test;

namespace {

/// Fuses the program at `path` (relative to the repository root) at BLOCK_N = blockN, checks one kernel, no
/// HBM scratch, no `?` tile left and `wantLoops` loops at the top of the kernel, and compares every argument
/// after the fused program with the unfused program's, in the fp64 interpreter on fresh random inputs
/// (relative error <= 1e-12). Returns what the pipeline left (its warnings, for callers that want none).
FuseReport checkProgramAt(const std::string &path, const std::map<std::string, int64_t> &dims, int64_t blockN,
                          int wantLoops) {
  INFO(path << " BLOCK_N=" << blockN << " (seed " << testSeed() << ")");
  mlir::MLIRContext ctx;
  ctx.loadDialect<blk::BlkDialect>();
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(TILEFUSE_SOURCE_DIR "/" + path, &ctx);
  REQUIRE(module);
  mlir::OwningOpRef<mlir::ModuleOp> fusedModule = module->clone();
  FuseReport report = fuse(*fusedModule, blockN);
  CHECK(report.kernels == 1);
  CHECK(report.allocs == 0);
  CHECK(report.untiled == 0);
  CHECK(report.topLevelLoops == wantLoops);
  auto unfused = *module->getOps<mlir::func::FuncOp>().begin();
  auto fused = *fusedModule->getOps<mlir::func::FuncOp>().begin();
  auto args = randomArguments(unfused, dims, testSeed());
  auto before = interpret(unfused, args);
  auto after = interpret(fused, args);
  for (size_t k = 0; k < before.size(); ++k) {
    double err = relError(after[k], before[k]);
    std::printf("%s BLOCK_N=%lld: argument %zu rel. error %.2e\n", path.c_str(),
                static_cast<long long>(blockN), k, err);
    CHECK(err <= 1e-12);
  }
  return report;
}

/// A program of tests/lit/fusion/Inputs/.
void checkProgram(const std::string &file, const std::map<std::string, int64_t> &dims,
                  int64_t blockN, int wantLoops) {
  checkProgramAt("tests/lit/fusion/Inputs/" + file, dims, blockN, wantLoops);
}

/// A row-major fp64 matrix for the references of the non-attention chains.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;
  Matrix(int64_t r, int64_t c) : rows(r), cols(c), v(static_cast<size_t>(r * c), 0.0) {}
  double &operator()(int64_t i, int64_t j) { return v[static_cast<size_t>(i * cols + j)]; }
  double operator()(int64_t i, int64_t j) const { return v[static_cast<size_t>(i * cols + j)]; }
};

Matrix matrixOf(const interp::HostTensor &t) {
  Matrix m(t.shape[0], t.shape[1]);
  for (int64_t i = 0; i < m.rows; ++i)
    for (int64_t j = 0; j < m.cols; ++j)
      m(i, j) = t.at({i, j});
  return m;
}

const double kNormEps = static_cast<double>(1.0e-5f); // the programs' f32 eps

/// RMSNorm(X; G)_tj = x_tj g_j / sqrt(sum_k x_tk^2 / D + eps), X [T, D], G [D].
Matrix rmsNorm(const Matrix &x, const interp::HostTensor &g) {
  Matrix n(x.rows, x.cols);
  for (int64_t t = 0; t < x.rows; ++t) {
    double ss = 0;
    for (int64_t j = 0; j < x.cols; ++j)
      ss += x(t, j) * x(t, j);
    const double r = 1 / std::sqrt(ss / static_cast<double>(x.cols) + kNormEps);
    for (int64_t j = 0; j < x.cols; ++j)
      n(t, j) = x(t, j) * g.at({j}) * r;
  }
  return n;
}

/// LayerNorm(X; G, Bn)_tj = (x_tj - mu_t) g_j / sqrt(var_t + eps) + b_j, with the biased variance
/// var_t = sum_k (x_tk - mu_t)^2 / D (torch.nn.functional.layer_norm), computed here in two passes.
Matrix layerNorm(const Matrix &x, const interp::HostTensor &g, const interp::HostTensor &b) {
  Matrix n(x.rows, x.cols);
  const double d = static_cast<double>(x.cols);
  for (int64_t t = 0; t < x.rows; ++t) {
    double mu = 0, var = 0;
    for (int64_t j = 0; j < x.cols; ++j)
      mu += x(t, j);
    mu /= d;
    for (int64_t j = 0; j < x.cols; ++j)
      var += (x(t, j) - mu) * (x(t, j) - mu);
    const double r = 1 / std::sqrt(var / d + kNormEps);
    for (int64_t j = 0; j < x.cols; ++j)
      n(t, j) = (x(t, j) - mu) * r * g.at({j}) + b.at({j});
  }
  return n;
}

/// A W^T for A [T, K] and an nn.Linear weight W [N, K].
Matrix linear(const Matrix &a, const Matrix &w) {
  Matrix y(a.rows, w.rows);
  for (int64_t t = 0; t < a.rows; ++t)
    for (int64_t n = 0; n < w.rows; ++n) {
      double s = 0;
      for (int64_t k = 0; k < a.cols; ++k)
        s += a(t, k) * w(n, k);
      y(t, n) = s;
    }
  return y;
}

/// Interprets the unfused program at `path` on fresh random inputs and compares its output (the last
/// argument) with `reference`, computed in fp64 from the same inputs: relative error <= 1e-12.
void checkReference(const std::string &path, const std::map<std::string, int64_t> &dims,
                    const std::function<Matrix(const std::vector<interp::HostTensor> &)> &reference) {
  INFO(path << " (seed " << testSeed() << ")");
  mlir::MLIRContext ctx;
  ctx.loadDialect<blk::BlkDialect>();
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(TILEFUSE_SOURCE_DIR "/" + path, &ctx);
  REQUIRE(module);
  auto fn = *module->getOps<mlir::func::FuncOp>().begin();
  auto args = randomArguments(fn, dims, testSeed());
  const std::vector<interp::HostTensor> out = interpret(fn, args);
  const Matrix y = reference(args);
  interp::HostTensor want = out.back();
  REQUIRE(want.rank() == 2);
  REQUIRE(want.shape[0] == y.rows);
  REQUIRE(want.shape[1] == y.cols);
  for (int64_t i = 0; i < y.rows; ++i)
    for (int64_t j = 0; j < y.cols; ++j)
      want.at({i, j}) = y(i, j);
  double scale = 0;
  for (double x : y.v)
    scale = std::max(scale, std::abs(x));
  const double err = relError(out.back(), want);
  std::printf("%s against the fp64 reference: rel. error %.2e of max |Y| %.2e\n", path.c_str(), err, scale);
  CHECK(scale > 0.1);
  CHECK(err <= 1e-12);
}

/// The sizes of the chain tests: T = 70 rows (a partial last row tile), hidden D and output / intermediate
/// F off the chunk sizes (both tails), equal to one chunk, and F below one chunk.
const std::pair<int64_t, int64_t> kChainWidths[] = {{200, 130}, {64, 64}, {100, 17}};

} // namespace

TEST_CASE("safe-softmax vanilla attention fuses into one loop and computes the same O and LSE",
          "[fusion]") {
  for (int64_t bn : {64, 48, 16})
    for (auto [sq, sk] : {std::pair<int64_t, int64_t>{113, 203}, {77, 50}})
      checkProgram("vanilla_attention.mlir",
                   {{"B", 1}, {"Hq", 4}, {"Hkv", 1}, {"Sq", sq}, {"Sk", sk}}, bn, 1);
}

TEST_CASE("RMSNorm followed by a matmul fuses into one loop and computes the same output",
          "[fusion]") {
  for (int64_t bn : {64, 48, 16})
    for (int64_t hidden : {200, 64})
      checkProgram("rmsnorm_matmul.mlir", {{"T", 70}, {"D", hidden}}, bn, 1);
}

TEST_CASE("a score_mod dividing by the row mean stays two passes and computes the same O",
          "[fusion]") {
  for (int64_t bn : {64, 40})
    checkProgram("row_mean_score.mlir",
                 {{"B", 1}, {"Hq", 2}, {"Hkv", 1}, {"Sq", 70}, {"Sk", 130}}, bn, 2);
}

TEST_CASE("RMSNorm followed by a matmul with a run-time output width tiles both matmul dims and computes the "
          "same output",
          "[fusion]") {
  // Y[:, F] with F and the contraction D both `?`: the store's loop over F chunks holds the contraction's
  // loop over D chunks (nested tiling); the sum of squares keeps its own loop. Widths off the chunk size
  // exercise both tails.
  for (int64_t bn : {64, 48})
    for (auto [hidden, width] : {std::pair<int64_t, int64_t>{200, 90}, {64, 64}, {100, 17}})
      checkProgram("rmsnorm_matmul_dynamic_f.mlir", {{"T", 70}, {"D", hidden}, {"F", width}}, bn, 2);
}

TEST_CASE("stick-breaking attention fuses into one loop over the K/V tiles last to first, carrying the suffix sum, "
          "and computes the same O",
          "[fusion]") {
  // A_ij = sigmoid(s_ij) prod_{j < k < i} (1 - sigmoid(s_ik)): the reverse exclusive scan of softplus(s)
  // along the row becomes a sum carried across the tiled loop (docs/FUSION.md, rule 3). Sk off the chunk
  // size exercises the partial last chunk, which the loop visits first; Sq != Sk the rows past Sk.
  for (int64_t bn : {64, 48, 16})
    for (auto [sq, sk] : {std::pair<int64_t, int64_t>{113, 203}, {77, 50}, {96, 96}})
      checkProgram("stick_breaking.mlir", {{"B", 1}, {"Hq", 4}, {"Hkv", 1}, {"Sq", sq}, {"Sk", sk}}, bn, 1);
}

TEST_CASE("the stick-breaking program computes Tan et al.'s weights: an fp64 reference in product form",
          "[fusion]") {
  // The program's log-space form against the definition itself, on the same random inputs:
  // O_i = sum_{j < i} sigmoid(s_ij) prod_{j < k < i} (1 - sigmoid(s_ik)) V_j, s = Q K^T / sqrt(128), GQA 4.
  INFO("seed " << testSeed());
  mlir::MLIRContext ctx;
  ctx.loadDialect<blk::BlkDialect>();
  auto module = mlir::parseSourceFile<mlir::ModuleOp>(
      TILEFUSE_SOURCE_DIR "/tests/lit/fusion/Inputs/stick_breaking.mlir", &ctx);
  REQUIRE(module);
  auto fn = *module->getOps<mlir::func::FuncOp>().begin();
  const int64_t Hq = 4, Sq = 77, Sk = 90, D = 128;
  const double kScale = static_cast<double>(0.0883883461f); // the program's f32 1 / sqrt(128)
  auto args = randomArguments(fn, {{"B", 1}, {"Hq", Hq}, {"Hkv", 1}, {"Sq", Sq}, {"Sk", Sk}}, testSeed());
  const std::vector<interp::HostTensor> out = interpret(fn, args);
  const interp::HostTensor &Q = args[0], &K = args[1], &V = args[2];
  interp::HostTensor ref = out[3];
  double worst = 0, scale = 0;
  for (int64_t h = 0; h < Hq; ++h)
    for (int64_t i = 0; i < Sq; ++i) {
      std::vector<double> beta(static_cast<size_t>(Sk));
      for (int64_t j = 0; j < Sk; ++j) {
        double s = 0;
        for (int64_t d = 0; d < D; ++d)
          s += Q.at({0, h, i, d}) * K.at({0, 0, j, d});
        beta[static_cast<size_t>(j)] = 1 / (1 + std::exp(-s * kScale));
      }
      for (int64_t d = 0; d < D; ++d) {
        double o = 0, survive = 1; // prod_{j < k < i} (1 - beta_ik), built from k = i - 1 down
        for (int64_t j = std::min(i, Sk) - 1; j >= 0; --j) {
          o += beta[static_cast<size_t>(j)] * survive * V.at({0, 0, j, d});
          survive *= 1 - beta[static_cast<size_t>(j)];
        }
        worst = std::max(worst, std::abs(out[3].at({0, h, i, d}) - o));
        scale = std::max(scale, std::abs(o));
      }
    }
  std::printf("stick_breaking.mlir against the product form: max |error| %.2e of max |O| %.2e\n", worst, scale);
  CHECK(scale > 0.1);
  CHECK(worst <= 1e-12 * scale);
}

TEST_CASE("the non-attention chains of examples/chains fuse fully and compute the same output", "[fusion]") {
  // RMSNorm + matmul, LayerNorm + matmul and RMSNorm + SwiGLU FFN (docs/FUSION.md, "Non-attention chains"):
  // one kernel, no scratch, no `?` tile, no warning; two loops at the top of the kernel (the norm's
  // statistics over D, then the output's column chunks holding the contractions).
  for (const char *file : {"rmsnorm_matmul.mlir", "layernorm_matmul.mlir", "rmsnorm_swiglu.mlir"})
    for (int64_t bn : {64, 48, 16})
      for (auto [hidden, width] : kChainWidths) {
        FuseReport report =
            checkProgramAt(std::string("examples/chains/") + file, {{"T", 70}, {"D", hidden}, {"F", width}}, bn, 2);
        INFO(file << " BLOCK_N=" << bn << " D=" << hidden << " F=" << width);
        CHECK(report.warnings.empty());
      }
}

TEST_CASE("the unfused chain programs of examples/chains compute RMSNorm and LayerNorm with a matmul and the "
          "SwiGLU FFN: fp64 references",
          "[fusion]") {
  // The programs' own math against a direct fp64 computation on the same inputs (X [T, D], norm weights [D],
  // nn.Linear weights [out, in]); LayerNorm's reference takes the variance in two passes, the program in one.
  for (auto [hidden, width] : kChainWidths) {
    const std::map<std::string, int64_t> dims{{"T", 70}, {"D", hidden}, {"F", width}};
    checkReference("examples/chains/rmsnorm_matmul.mlir", dims, [](const std::vector<interp::HostTensor> &a) {
      return linear(rmsNorm(matrixOf(a[0]), a[1]), matrixOf(a[2]));
    });
    checkReference("examples/chains/layernorm_matmul.mlir", dims, [](const std::vector<interp::HostTensor> &a) {
      return linear(layerNorm(matrixOf(a[0]), a[1], a[2]), matrixOf(a[3]));
    });
    checkReference("examples/chains/rmsnorm_swiglu.mlir", dims, [](const std::vector<interp::HostTensor> &a) {
      const Matrix n = rmsNorm(matrixOf(a[0]), a[1]);
      const Matrix h1 = linear(n, matrixOf(a[2])), h3 = linear(n, matrixOf(a[3]));
      Matrix act(h1.rows, h1.cols);
      for (int64_t t = 0; t < act.rows; ++t)
        for (int64_t f = 0; f < act.cols; ++f)
          act(t, f) = h1(t, f) / (1 + std::exp(-h1(t, f))) * h3(t, f); // silu(h1) * h3
      return linear(act, matrixOf(a[4]));
    });
  }
}
