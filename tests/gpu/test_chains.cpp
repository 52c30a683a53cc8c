// The fused chain kernels of examples/chains (block programs that are not attention: RMSNorm + matmul,
// LayerNorm + matmul, RMSNorm + SwiGLU FFN; docs/FUSION.md, "Non-attention chains"), built the way `tilefuse bench FILE.mlir`
// builds them (tuner/lib/CommandChain.cpp): driver::loadProgramFile -> codegen::matchProgram ->
// driver::buildKernel on the sm80 backend (mma.sync, cp.async), operands bound by codegen::packParams.
//
// [gpu][chains] each chain at BLOCK_N 64 and 32, (T, D, F) in {(1, 8, 1), (64, 64, 64), (65, 72, 63),
//   (200, 200, 130), (130, 520, 257)} (tails in every dim), on fresh random inputs (seed printed; env
//   TILEFUSE_TEST_SEED replays one), outputs poisoned with NaN bytes, in two layouts:
//     padded  every [rows, cols] operand with row stride roundup(cols, 8) + 8 elements, the padding NaN:
//             a load that reads past D gives NaN in Y, a store past F shows in Y's padding;
//     dense   row stride = cols (what PyTorch binds), for even F (an odd F's dense rows are refused, [chains]).
//   The reference is the fp64 interpreter running the file's program as written (UNFUSED: N through HBM,
//   nothing rounded). Pass: no NaN in Y, Y's padding untouched and FlashAttention's rule, max|Y - ref| <=
//   2 max|naive - ref| + 1e-5, where naive is a bf16 framework's computation (statistics and N in fp32
//   rounded to bf16, fp32-accumulated matmul rounded to bf16). Reported beside it: the rule of `tilefuse
//   bench`, 2^-7 * max|ref| (CommandChain.cpp), which the FFN at T=1 D=8 F=8 can miss for the naive
//   computation too (v0.20 call 1: 0.607 > 0.361 with the naive error 0.607, cancellation in Y's 8 terms).
// [chains] (CPU) both chains build at BLOCK_N 64 and 32 and compile with NVRTC for sm_80 and sm_90;
//   packParams binds them with the named sizes alone (a chain has no heads) and refuses a D that is not a
//   multiple of 8 (loads move 16-byte chunks) and dense rows of Y with an odd F (outputs are stored in
//   4-byte pairs). The host half of the [gpu] cases: the naive bf16 computation is within the bench rule
//   of the interpreter.
// Without a GPU the [gpu] cases WARN "SKIPPED: no GPU (<reason>)" and the binary exits 77 (ctest: Skipped).
#include "GpuTest.h"
#include "HostFloat.h"

#include "tilefuse/codegen/CodeGen.h"
#include "tilefuse/codegen/KernelAbi.h"
#include "tilefuse/driver/FusedProgram.h"
#include "tilefuse/interp/Interpreter.h"
#include "tilefuse/runtime/Nvrtc.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#ifndef TILEFUSE_EXAMPLES_DIR
#error "TILEFUSE_EXAMPLES_DIR must be defined by tests/gpu/CMakeLists.txt"
#endif

using namespace tilefuse;
using namespace tilefuse::test;

namespace {

const char *const kChains[] = {"rmsnorm_matmul", "layernorm_matmul", "rmsnorm_swiglu"};

struct ChainSize {
  int64_t T, D, F;
};
const ChainSize kSizes[] = {{1, 8, 1}, {64, 64, 64}, {65, 72, 63}, {200, 200, 130}, {130, 520, 257}};

/// `s` for chain `name`: the FFN loads W2 [D, F], whose run-time last dim F must then be whole 16-byte chunks
/// (a multiple of 8; packParams refuses others, tested below), so its F is rounded up to one.
ChainSize sizeFor(const std::string &name, ChainSize s) {
  if (name == "rmsnorm_swiglu")
    s.F = (s.F + 7) / 8 * 8;
  return s;
}

/// examples/chains/<name>.mlir: env TILEFUSE_EXAMPLES_DIR (the device machine's copy of the repository),
/// else the repository's examples/ at build time.
std::string chainPath(const std::string &name) {
  const char *dir = std::getenv("TILEFUSE_EXAMPLES_DIR");
  return std::string(dir && *dir ? dir : TILEFUSE_EXAMPLES_DIR) + "/chains/" + name + ".mlir";
}

/// The sizes of one launch: T, D, F by name (ProblemSizes::named, as `tilefuse bench` passes them).
codegen::ProblemSizes chainSizes(const ChainSize &s) {
  codegen::ProblemSizes p;
  p.named = {{"T", s.T}, {"D", s.D}, {"F", s.F}};
  return p;
}

/// A chain file fused with BLOCK_N = blockN and its kernel, generated for the schedule `tilefuse bench`
/// uses (CommandChain.cpp chainSchedule: the sm80 defaults, BLOCK_M / BLOCK_N / warps from the program).
struct BuiltChain {
  std::string name;
  driver::ProgramFile program; ///< owns the MLIR context of both functions
  codegen::Schedule schedule;
  driver::BuiltKernel kernel;
};

BuiltChain buildChain(const std::string &name, int blockN) {
  BuiltChain c;
  c.name = name;
  c.program = driver::loadProgramFile(chainPath(name), blockN);
  const codegen::KernelSignature sig = codegen::inferSignature(c.program.fusedFunc);
  REQUIRE(sig.isChain());
  codegen::Schedule base;
  base.blockN = blockN;
  base.persistent = false;
  base.cluster = 1;
  c.schedule = codegen::matchProgram(c.program.fusedFunc, base);
  REQUIRE(c.schedule.blockN == blockN);
  c.kernel = driver::buildKernel(c.program.fusedFunc, sig, c.schedule, chainPath(name));
  return c;
}

/// The extents of a chain operand's dims at `s` (dims named T, D, F, or static).
std::vector<int64_t> shapeOf(const codegen::TensorAbi &t, const ChainSize &s) {
  std::vector<int64_t> shape;
  for (const std::string &d : t.dimNames) {
    if (!d.empty() && std::isdigit(static_cast<unsigned char>(d[0])))
      shape.push_back(std::stoll(d));
    else
      shape.push_back(chainSizes(s).get(d));
  }
  return shape;
}

/// One operand: dense values (the interpreter's), the device buffer (its rows `rowStride` apart, the
/// padding NaN) and the bf16 bits that were uploaded or read back.
struct Operand {
  const codegen::TensorAbi *abi = nullptr;
  std::vector<int64_t> shape;
  int64_t rows = 1, cols = 1, rowStride = 1; ///< a rank-1 operand is one row
  std::vector<double> values;                ///< dense [rows, cols]: inputs as uploaded; outputs from the interpreter
  std::vector<std::uint16_t> bits;           ///< [rows, rowStride]
  runtime::DeviceBuffer buffer;
};

/// Values of a named operand, as bench_chains_peers.py draws them, so every output is O(1): X ~ N(0, 1),
/// G ~ 1 + 0.1 N(0, 1), Bn ~ 0.1 N(0, 1), W ~ N(0, 1) / sqrt(D); rounded to bf16 (exact zeros are
/// possible, but no operand is zero).
double draw(const std::string &name, int64_t D, std::mt19937_64 &gen) {
  std::normal_distribution<double> n01(0.0, 1.0);
  const double z = n01(gen);
  double v = z;
  if (name == "G")
    v = 1.0 + 0.1 * z;
  else if (name == "Bn")
    v = 0.1 * z;
  else if (name == "W")
    v = z / std::sqrt(static_cast<double>(D));
  return bf16Value(bf16Bits(static_cast<float>(v)));
}

/// Operands of `k` at `s`: inputs random (seed), outputs NaN; padded or dense rows.
std::vector<Operand> makeOperands(const driver::BuiltKernel &k, const ChainSize &s, bool padded,
                                  std::uint64_t seed, bool device) {
  std::mt19937_64 gen(seed);
  std::vector<Operand> ops;
  for (const codegen::TensorAbi &t : k.params.tensors) {
    REQUIRE(t.elementType == "bf16"); // the chains of examples/chains are bf16 in and out
    REQUIRE(t.rank >= 1);
    REQUIRE(t.rank <= 2);
    Operand o;
    o.abi = &t;
    o.shape = shapeOf(t, s);
    o.rows = t.rank == 2 ? o.shape[0] : 1;
    o.cols = o.shape.back();
    o.rowStride = t.rank == 2 && padded ? (o.cols + 7) / 8 * 8 + 8 : o.cols;
    o.bits.assign(static_cast<size_t>(o.rows * o.rowStride), 0xFFFF); // NaN
    o.values.assign(static_cast<size_t>(o.rows * o.cols), 0.0);
    if (!t.written)
      for (int64_t r = 0; r < o.rows; ++r)
        for (int64_t c = 0; c < o.cols; ++c) {
          const double v = draw(t.arg.name, s.D, gen);
          o.values[r * o.cols + c] = v;
          o.bits[r * o.rowStride + c] = bf16Bits(static_cast<float>(v));
        }
    if (device) {
      o.buffer = runtime::DeviceBuffer(o.bits.size() * 2);
      o.buffer.upload(o.bits);
    }
    ops.push_back(std::move(o));
  }
  return ops;
}

codegen::TensorBinding bindingOf(const Operand &o) {
  codegen::TensorBinding b;
  b.address = o.buffer.get();
  b.shape = o.shape;
  b.strides = o.shape.size() == 2 ? std::vector<int64_t>{o.rowStride, 1} : std::vector<int64_t>{1};
  return b;
}

/// Runs the UNFUSED program (`original`) in the fp64 interpreter on the inputs' values; fills the
/// outputs' `values`.
void interpret(mlir::func::FuncOp original, std::vector<Operand> &ops) {
  std::vector<interp::HostTensor> tensors;
  for (const Operand &o : ops) {
    interp::HostTensor h = interp::HostTensor::contiguous(interp::DType::BF16, o.shape, o.abi->arg.name);
    h.data = o.values;
    tensors.push_back(std::move(h));
  }
  std::vector<interp::HostTensor *> args;
  for (interp::HostTensor &h : tensors)
    args.push_back(&h);
  interp::run(original, args);
  for (size_t i = 0; i < ops.size(); ++i)
    if (ops[i].abi->written)
      ops[i].values = tensors[i].data;
}

/// What a bf16 framework computes (eager PyTorch, bench_chains_peers.py): the row statistics and N in
/// fp32, N rounded to bf16, Y = N W^T accumulated in fp32 and rounded to bf16, [T, F] row-major; for the
/// SwiGLU FFN, H1 = N W1^T and H3 = N W3^T rounded to bf16, A = bf16(silu(H1) H3), Y = bf16(A W2^T), [T, D].
std::vector<double> naiveChain(const std::string &chain, const std::map<std::string, const Operand *> &in,
                               const ChainSize &s) {
  const std::vector<double> &X = in.at("X")->values, &G = in.at("G")->values;
  const std::vector<double> *Bn = in.count("Bn") ? &in.at("Bn")->values : nullptr;
  const float eps = 1e-5f, d = static_cast<float>(s.D);
  std::vector<float> N(static_cast<size_t>(s.T * s.D));
  for (int64_t t = 0; t < s.T; ++t) {
    const double *x = &X[t * s.D];
    float *n = &N[t * s.D];
    if (chain == "rmsnorm_matmul" || chain == "rmsnorm_swiglu") { // x * rsqrt(mean(x^2) + eps) * g
      float ss = 0;
      for (int64_t j = 0; j < s.D; ++j)
        ss += static_cast<float>(x[j]) * static_cast<float>(x[j]);
      const float r = 1.0f / std::sqrt(ss / d + eps);
      for (int64_t j = 0; j < s.D; ++j)
        n[j] = bf16Value(bf16Bits(static_cast<float>(x[j]) * r * static_cast<float>(G[j])));
    } else { // layer_norm: (x - mu) * rsqrt(var + eps) * g + b, var biased (two passes)
      float sum = 0, sq = 0;
      for (int64_t j = 0; j < s.D; ++j)
        sum += static_cast<float>(x[j]);
      const float mu = sum / d;
      for (int64_t j = 0; j < s.D; ++j)
        sq += (static_cast<float>(x[j]) - mu) * (static_cast<float>(x[j]) - mu);
      const float r = 1.0f / std::sqrt(sq / d + eps);
      for (int64_t j = 0; j < s.D; ++j)
        n[j] = bf16Value(bf16Bits((static_cast<float>(x[j]) - mu) * r * static_cast<float>(G[j]) +
                                  static_cast<float>((*Bn)[j])));
    }
  }
  // rows x cols = A B^T for A [rows, k] (fp32 values) and B [cols, k], accumulated in fp32, rounded to bf16.
  auto matmulBt = [](const std::vector<float> &A, const std::vector<double> &B, int64_t rows, int64_t cols, int64_t k) {
    std::vector<float> out(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float acc = 0;
        for (int64_t j = 0; j < k; ++j)
          acc += A[r * k + j] * static_cast<float>(B[c * k + j]);
        out[r * cols + c] = bf16Value(bf16Bits(acc));
      }
    return out;
  };
  std::vector<float> Yf;
  if (chain == "rmsnorm_swiglu") {
    const std::vector<float> H1 = matmulBt(N, in.at("W1")->values, s.T, s.F, s.D),
                             H3 = matmulBt(N, in.at("W3")->values, s.T, s.F, s.D);
    std::vector<float> A(H1.size());
    for (size_t i = 0; i < A.size(); ++i)
      A[i] = bf16Value(bf16Bits(H1[i] / (1.0f + std::exp(-H1[i])) * H3[i]));
    Yf = matmulBt(A, in.at("W2")->values, s.T, s.D, s.F);
  } else {
    Yf = matmulBt(N, in.at("W")->values, s.T, s.F, s.D);
  }
  return std::vector<double>(Yf.begin(), Yf.end());
}

/// A kernel compiled for the test device.
struct LoadedChain {
  BuiltChain built;
  runtime::Module module;
  CUfunction function = nullptr;
};

LoadedChain loadChain(const std::string &name, int blockN) {
  LoadedChain l;
  l.built = buildChain(name, blockN);
  l.module = loadTestModule(l.built.kernel.source); // NVRTC for the device's exact sm_XY
  l.function = l.module.function(l.built.kernel.kernelName.c_str());
  if (l.built.kernel.dynamicSmemBytes > 48 * 1024)
    runtime::funcSetAttribute(l.function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                              static_cast<int>(l.built.kernel.dynamicSmemBytes));
  return l;
}

/// The seed of the next case: env TILEFUSE_TEST_SEED, else drawn from the tests' generator (whose own
/// seed is printed once).
std::uint64_t nextSeed() {
  if (const char *s = std::getenv("TILEFUSE_TEST_SEED"); s && *s)
    return std::strtoull(s, nullptr, 0);
  return rng()();
}

struct Outcome {
  double maxErr = 0, maxRef = 0, maxNaiveErr = 0;
  long nan = 0, paddingTouched = 0;
  /// FlashAttention's rule: no worse than twice a bf16 framework's error (the naive computation).
  bool passed() const { return nan == 0 && paddingTouched == 0 && maxErr <= 2 * maxNaiveErr + 1e-5; }
};

/// One launch of `l` at `s` against the fp64 interpreter; prints one line.
Outcome runCase(const LoadedChain &l, const ChainSize &s, bool padded) {
  const driver::BuiltKernel &k = l.built.kernel;
  const std::uint64_t seed = nextSeed();
  std::vector<Operand> ops = makeOperands(k, s, padded, seed, /*device=*/true);
  std::vector<codegen::TensorBinding> bindings;
  for (const Operand &o : ops)
    bindings.push_back(bindingOf(o));
  const codegen::ProblemSizes sizes = chainSizes(s);
  std::vector<std::byte> params = codegen::packParams(k.params, sizes, bindings);
  const std::array<int64_t, 3> grid = k.grid.evaluate(sizes);
  REQUIRE(grid[0] >= 1);
  REQUIRE(grid[1] >= 1);
  REQUIRE(grid[1] <= 65535);
  REQUIRE(grid[2] == 1);
  void *args[] = {params.data()};
  runtime::launchKernel(l.function,
                        {static_cast<unsigned>(grid[0]), static_cast<unsigned>(grid[1]), static_cast<unsigned>(grid[2])},
                        {static_cast<unsigned>(k.threadsPerBlock), 1, 1}, static_cast<unsigned>(k.dynamicSmemBytes),
                        nullptr, args);
  runtime::contextSynchronize();

  interpret(l.built.program.originalFunc, ops);
  std::map<std::string, const Operand *> byName;
  for (const Operand &o : ops)
    byName[o.abi->arg.name] = &o;
  const std::vector<double> naive = naiveChain(l.built.name, byName, s);

  Outcome out;
  for (Operand &o : ops) {
    if (!o.abi->written)
      continue;
    REQUIRE(o.abi->arg.name == "Y");
    const std::vector<std::uint16_t> got = o.buffer.download<std::uint16_t>();
    for (int64_t r = 0; r < o.rows; ++r)
      for (int64_t c = 0; c < o.rowStride; ++c) {
        const std::uint16_t b = got[r * o.rowStride + c];
        if (c >= o.cols) {
          out.paddingTouched += b != 0xFFFF;
          continue;
        }
        const double y = bf16Value(b), ref = o.values[r * o.cols + c];
        if (std::isnan(y)) {
          ++out.nan;
          continue;
        }
        out.maxErr = std::max(out.maxErr, std::abs(y - ref));
        out.maxRef = std::max(out.maxRef, std::abs(ref));
        out.maxNaiveErr = std::max(out.maxNaiveErr, std::abs(naive[r * o.cols + c] - ref));
      }
  }
  const double ratio = out.maxNaiveErr > 0 ? out.maxErr / out.maxNaiveErr : std::numeric_limits<double>::infinity();
  std::printf("chain %-16s BLOCK_N %2d %-6s T=%-3lld D=%-3lld F=%-3lld grid %lldx%lld: max|Y-ref| %.3e (bound "
              "2^-7 * max|ref| = %.3e), naive bf16 %.3e (ratio %.2f), NaN %ld, padding written %ld, seed %llu -> %s\n",
              l.built.name.c_str(), l.built.schedule.blockN, padded ? "padded" : "dense", static_cast<long long>(s.T),
              static_cast<long long>(s.D), static_cast<long long>(s.F), static_cast<long long>(grid[0]),
              static_cast<long long>(grid[1]), out.maxErr, std::ldexp(out.maxRef, -7), out.maxNaiveErr, ratio, out.nan,
              out.paddingTouched, static_cast<unsigned long long>(seed), out.passed() ? "PASS" : "FAIL");
  std::fflush(stdout);
  return out;
}

void checkCase(const LoadedChain &l, const ChainSize &s, bool padded) {
  INFO(l.built.name << " BLOCK_N " << l.built.schedule.blockN << (padded ? " padded" : " dense") << " T=" << s.T
                    << " D=" << s.D << " F=" << s.F);
  const Outcome o = runCase(l, s, padded);
  CHECK(o.nan == 0);
  CHECK(o.paddingTouched == 0);
  CHECK(o.maxErr <= 2 * o.maxNaiveErr + 1e-5); // FlashAttention's rule
  CHECK(o.maxRef > 0);                           // the inputs are not zeros
}

} // namespace

TEST_CASE("chain kernels of examples/chains against the fp64 interpreter", "[gpu][chains]") {
  TF_REQUIRE_GPU();
  for (const char *name : kChains)
    for (int blockN : {64, 32}) {
      const LoadedChain l = loadChain(name, blockN);
      for (const ChainSize &size : kSizes) {
        const ChainSize s = sizeFor(name, size);
        checkCase(l, s, /*padded=*/true);
        if (s.F % 2 == 0)
          checkCase(l, s, /*padded=*/false);
      }
    }
}

TEST_CASE("chain kernels build and compile - and a loaded last dim that is not a multiple of 8 is refused", "[chains]") {
  for (const char *name : kChains)
    for (int blockN : {64, 32}) {
      INFO(name << " BLOCK_N " << blockN);
      const BuiltChain c = buildChain(name, blockN);
      const codegen::ParamLayout &p = c.kernel.params;
      std::vector<std::string> sizes;
      for (const codegen::ParamField &f : p.fields)
        if (f.source == codegen::ParamSource::Size)
          sizes.push_back(f.size);
      CHECK(sizes == std::vector<std::string>{"T", "D", "F"});
      // The loop over output chunks went onto the grid: Y's F for the matmul chains, Y's D for the FFN.
      const std::string out = std::string(name) == "rmsnorm_swiglu" ? "D" : "F";
      CHECK(c.kernel.grid.toString() == "x = ceil(T / 64), y = ceil(" + out + " / " + std::to_string(blockN) + "), z = 1");
      for (const char *arch : {"sm_80", "sm_90"}) {
        runtime::CompileOptions options;
        options.arch = arch;
        CHECK_NOTHROW(runtime::compileCuda(c.kernel.source, options));
      }
      // Bindings of host operands at `s` (16-byte aligned addresses, never dereferenced).
      auto bindAt = [&](const ChainSize &s) {
        std::vector<codegen::TensorBinding> bindings;
        for (const Operand &o : makeOperands(c.kernel, s, /*padded=*/false, 1, /*device=*/false)) {
          bindings.push_back(bindingOf(o));
          bindings.back().address = 256 * bindings.size();
        }
        return bindings;
      };
      // D = 12: X's rows (24 bytes) are not whole 16-byte chunks, which cp.async moves.
      const ChainSize s{65, 12, 64};
      CHECK_THROWS_AS(codegen::packParams(p, chainSizes(s), bindAt(s)), codegen::AbiError);
      CHECK_THROWS_WITH(codegen::packParams(p, chainSizes(s), bindAt(s)),
                        Catch::Matchers::Contains("tensor X: dim 1 (D) is 12; the last dim of a loaded tensor must be "
                                                  "a multiple of 8 elements"));
      // The FFN loads W2 [D, F]: F = 63 is refused the same way (the [gpu] cases round F up: sizeFor).
      if (std::string(name) == "rmsnorm_swiglu") {
        const ChainSize oddF{65, 16, 63};
        CHECK_THROWS_WITH(codegen::packParams(p, chainSizes(oddF), bindAt(oddF)),
                          Catch::Matchers::Contains("tensor W2: dim 1 (F) is 63; the last dim of a loaded tensor must "
                                                    "be a multiple of 8 elements"));
      }
      // D = 16 binds.
      const ChainSize ok{65, 16, 64};
      CHECK(codegen::packParams(p, chainSizes(ok), bindAt(ok)).size() == p.bytes);
    }
}

TEST_CASE("the references: a bf16 framework's chain is within 2^-7 max|ref| of the fp64 interpreter", "[chains]") {
  // The host half of the [gpu] cases (inputs, the unfused program in the interpreter, the naive bf16
  // computation) without a GPU: the naive error shows what the bench rule's 2^-7 leaves to spare.
  for (const char *name : kChains) {
    const BuiltChain c = buildChain(name, 64);
    for (const ChainSize &s : kSizes) {
      INFO(name << " T=" << s.T << " D=" << s.D << " F=" << s.F);
      std::vector<Operand> ops = makeOperands(c.kernel, s, /*padded=*/false, 7, /*device=*/false);
      interpret(c.program.originalFunc, ops);
      std::map<std::string, const Operand *> byName;
      for (const Operand &o : ops)
        byName[o.abi->arg.name] = &o;
      const std::vector<double> naive = naiveChain(name, byName, s);
      const std::vector<double> &ref = byName.at("Y")->values;
      double err = 0, maxRef = 0;
      for (size_t i = 0; i < ref.size(); ++i) {
        err = std::max(err, std::abs(naive[i] - ref[i]));
        maxRef = std::max(maxRef, std::abs(ref[i]));
      }
      std::printf("reference %-16s T=%-3lld D=%-3lld F=%-3lld: max|naive - ref| %.3e, 2^-7 * max|ref| %.3e\n", name,
                  static_cast<long long>(s.T), static_cast<long long>(s.D), static_cast<long long>(s.F), err,
                  std::ldexp(maxRef, -7));
      CHECK(maxRef > 0);
      CHECK(err > 0); // the naive computation rounds
      CHECK(err <= std::ldexp(maxRef, -7));
    }
  }
}

// packParams and a chain: the named sizes alone bind; D = 12 is refused even with rows padded to 16 bytes
// (load_async(gvb) moves whole 16-byte chunks below cols); dense rows of Y with an odd F are refused (rows
// would start at 2-byte aligned addresses, and outputs are stored in 4-byte pairs). (Extents that disagree
// with the named sizes: tests/unit/codegen/ChainAbiTest.cpp.)
TEST_CASE("packParams of a chain: named sizes bind and misaligned rows are refused", "[chains]") {
  const BuiltChain c = buildChain("rmsnorm_matmul", 64);
  const codegen::ParamLayout &p = c.kernel.params;
  auto bind = [&](const ChainSize &s, bool padded) {
    std::vector<Operand> ops = makeOperands(c.kernel, s, padded, 1, /*device=*/false);
    std::vector<codegen::TensorBinding> b;
    for (const Operand &o : ops) {
      b.push_back(bindingOf(o));
      b.back().address = 256 * b.size();
    }
    return b;
  };
  const ChainSize s{65, 64, 64};
  SECTION("the sizes `tilefuse bench` passes (named T, D, F only) bind") {
    codegen::ProblemSizes named;
    named.named = {{"T", s.T}, {"D", s.D}, {"F", s.F}};
    CHECK_NOTHROW(codegen::packParams(p, named, bind(s, false)));
  }
  SECTION("D = 12 is refused when X's and W's row strides are 16-byte multiples") {
    const ChainSize odd{65, 12, 64};
    CHECK_THROWS_WITH(codegen::packParams(p, chainSizes(odd), bind(odd, true)),
                      Catch::Matchers::Contains("dim 1 (D) is 12"));
  }
  SECTION("dense rows of Y with an odd F are refused, padded ones bind") {
    const ChainSize oddF{65, 64, 63};
    CHECK_THROWS_WITH(codegen::packParams(p, chainSizes(oddF), bind(oddF, false)),
                      Catch::Matchers::Contains("tensor Y: stride of dim 0 (63 elements) must be even"));
    CHECK_NOTHROW(codegen::packParams(p, chainSizes(oddF), bind(oddF, true)));
  }
}
