// [gpu] Generated kernels of the fused inputs launched through the runtime on fresh random inputs and
// compared with the fp64 reference of their spec (compiler/include/tilefuse/reference/Attention.h) by
// FlashAttention's rule  max|out - ref| <= 2 * max|naive - ref| + 1e-5, where `naive` is the same
// attention computed the way a bf16 / fp16 framework does (S and P rounded to the input type).
// Programs: the hand-written fused inputs (tests/lit/codegen/Inputs) and every shipped spec lowered and
// fused by --tilefuse-fuse at the test's shape (what the tuner generates from).
// Covers tails (Sq, Sk not multiples of 64), fully masked rows (causal with Sq > Sk: O = 0, LSE = -inf),
// GQA, LSE, captured tables, strided Q / O (BSHD, padded rows), D = 64 / 128, bf16 / fp16, and the
// schedules (BLOCK_N 32 / 64 / 128; 1, 2, 3 stages; Q in registers or SMEM; the per-arch default).
// Skips (exit 77) without a GPU.
#include "CodegenTestSupport.h"
#include "FuseSupport.h"

#include "GpuTest.h"
#include "tilefuse/reference/Attention.h"
#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/spec/Eval.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <limits>

using namespace tilefuse;
using namespace tilefuse::codegen;
using namespace tilefuse::codegen::test;
using tilefuse::test::Dtype;

#ifndef TILEFUSE_SPECS_DIR
#error "TILEFUSE_SPECS_DIR must be defined by tests/unit/codegen/CMakeLists.txt"
#endif

namespace {

struct Input {
  const char *file;  ///< tests/lit/codegen/Inputs/<file>; null: lower and fuse the spec (--tilefuse-fuse)
  const char *spec;  ///< specs/<spec>.json
  int64_t D;         ///< head dim of the program
  int64_t group;     ///< GQA group size baked into the program
  Dtype dtype;
  bool needsSqLeSk;  ///< the mask_mod reads key position q_idx + Sk - Sq (document_mask)
};

const Input kInputs[] = {
    {"alibi.mlir", "alibi", 128, 1, Dtype::bf16, false},
    {"causal.mlir", "causal", 128, 1, Dtype::bf16, false},
    {"causal_classified.mlir", "causal", 128, 1, Dtype::bf16, false},
    {"document_mask.mlir", "document_mask", 128, 1, Dtype::bf16, true},
    {"gqa.mlir", "gqa", 128, 4, Dtype::bf16, false},
    {"mha.mlir", "mha", 128, 1, Dtype::bf16, false},
    {"mha_d64_fp16.mlir", "mha", 64, 1, Dtype::fp16, false},
    {"mha_two_pass.mlir", "mha", 128, 1, Dtype::bf16, false},
    {"relative_bias.mlir", "relative_bias", 128, 1, Dtype::bf16, false},
    {"sliding_window.mlir", "sliding_window", 128, 4, Dtype::bf16, false},
    {"softcap.mlir", "softcap", 128, 1, Dtype::bf16, false},
};

/// The shipped specs through the real pipeline (lowered at the test's shape, fused, default schedule).
const Input kPipeline[] = {
    {nullptr, "alibi", 128, 1, Dtype::bf16, false},
    {nullptr, "causal", 128, 1, Dtype::bf16, false},
    {nullptr, "causal", 64, 2, Dtype::bf16, false},
    {nullptr, "document_mask", 128, 1, Dtype::bf16, true},
    {nullptr, "gqa", 128, 4, Dtype::bf16, false},
    {nullptr, "mha", 64, 1, Dtype::bf16, false},
    {nullptr, "mha", 128, 1, Dtype::bf16, false},
    {nullptr, "relative_bias", 128, 1, Dtype::bf16, false},
    {nullptr, "sliding_window", 128, 4, Dtype::bf16, false},
    {nullptr, "softcap", 128, 1, Dtype::bf16, false},
    {nullptr, "sigmoid_attention", 128, 1, Dtype::bf16, false},
    {nullptr, "attention_sink", 64, 8, Dtype::bf16, false},
};

struct Size {
  int64_t B, Hkv, Sq, Sk;
};
const Size kSizes[] = {{2, 2, 200, 333}, {1, 2, 333, 200}, {1, 1, 64, 64}, {1, 2, 7, 130}};

/// A device tensor with its host copy's layout.
struct DeviceTensor {
  runtime::DeviceBuffer buffer;
  TensorBinding binding;
};

/// Uploads `values` (logical shape `shape`, row-major) to a buffer laid out with `strides` (elements) and
/// `capacity` elements, other elements poisoned with 0xFF bytes.
template <typename T>
DeviceTensor upload(const std::vector<T> &values, const std::vector<int64_t> &shape,
                    const std::vector<int64_t> &strides, std::size_t capacity) {
  std::vector<T> host(capacity);
  std::memset(host.data(), 0xFF, capacity * sizeof(T));
  const int rank = static_cast<int>(shape.size());
  std::vector<int64_t> idx(rank, 0);
  for (std::size_t n = 0; n < values.size(); ++n) {
    int64_t off = 0;
    for (int d = 0; d < rank; ++d)
      off += idx[d] * strides[d];
    host[off] = values[n];
    for (int d = rank - 1; d >= 0; --d)
      if (++idx[d] < shape[d])
        break;
      else
        idx[d] = 0;
  }
  DeviceTensor t{runtime::DeviceBuffer(capacity * sizeof(T)), {}};
  t.buffer.upload(host);
  t.binding = {t.buffer.get(), shape, strides};
  return t;
}

std::vector<int64_t> dense(const std::vector<int64_t> &shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d)
    s[d] = s[d + 1] * shape[d + 1];
  return s;
}

/// The attention of `spec` as a bf16 / fp16 framework computes it: S = round(round(q * scale) . k) in
/// f32, score_mod in double rounded to the type, P = round(softmax_f32(S)) (with a sink in the
/// denominator; P = the rounded score under normalizer "none"), O = round(P . V in f32).
reference::Tensor naiveAttention(const spec::Spec &s, const spec::Shape &sh, const reference::Inputs &in, Dtype t) {
  reference::Tensor O({sh.B, sh.Hq, sh.Sq, sh.Dv});
  const float scale = static_cast<float>(spec::softmaxScale(s, sh));
  spec::EvalEnv env;
  env.shape = sh;
  for (const reference::Tensor &c : in.captures)
    env.captures.push_back({c.shape, c.data});
  std::vector<float> row(sh.Sk), qs(sh.D);
  for (int64_t b = 0; b < sh.B; ++b)
    for (int64_t h = 0; h < sh.Hq; ++h)
      for (int64_t i = 0; i < sh.Sq; ++i) {
        const double *q = &in.Q.data[((b * sh.Hq + h) * sh.Sq + i) * sh.D];
        for (int64_t d = 0; d < sh.D; ++d)
          qs[d] = tilefuse::test::roundTo(t, static_cast<float>(q[d]) * scale);
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < sh.Sk; ++j) {
          env.b = b, env.h = h, env.q_idx = i, env.kv_idx = j;
          if (s.maskMod && !spec::evaluate(*s.maskMod, env).asBool()) {
            row[j] = -std::numeric_limits<float>::infinity();
            continue;
          }
          const double *k = &in.K.data[((b * sh.Hkv + h / sh.groupSize()) * sh.Sk + j) * sh.D];
          float dot = 0;
          for (int64_t d = 0; d < sh.D; ++d)
            dot += qs[d] * static_cast<float>(k[d]);
          env.score = tilefuse::test::roundTo(t, dot);
          row[j] = tilefuse::test::roundTo(
              t, static_cast<float>(s.scoreMod ? spec::evaluate(*s.scoreMod, env).asFloat() : env.score));
          m = std::max(m, row[j]);
        }
        // A sink is one more logit in the denominator (no value row); normalizer "none" takes
        // the rounded score itself as the weight.
        const bool none = s.normalizer == spec::Normalizer::None;
        const float sink = s.sink ? static_cast<float>(spec::evaluate(*s.sink, env).asFloat())
                                  : -std::numeric_limits<float>::infinity();
        const float top = std::max(m, sink);
        float l = s.sink ? std::exp(sink - top) : 0.0f;
        for (int64_t j = 0; j < sh.Sk; ++j)
          l += std::isinf(row[j]) ? 0.0f : std::exp(row[j] - top);
        for (int64_t d = 0; d < sh.Dv; ++d) {
          float acc = 0;
          for (int64_t j = 0; j < sh.Sk; ++j) {
            if (std::isinf(row[j]))
              continue;
            const float p = none ? row[j] : tilefuse::test::roundTo(t, std::exp(row[j] - top) / l);
            acc += p * static_cast<float>(in.V.data[((b * sh.Hkv + h / sh.groupSize()) * sh.Sk + j) * sh.Dv + d]);
          }
          O.data[((b * sh.Hq + h) * sh.Sq + i) * sh.Dv + d] = tilefuse::test::roundTo(t, acc);
        }
      }
  return O;
}

/// Generates, compiles and launches the kernel of `input` with `schedule` on one problem size, and
/// checks it against the references.
void runCase(const Input &input, const Size &size, Schedule schedule, bool keepWarps) {
  spec::Spec sp = spec::parseSpecFile(std::string(TILEFUSE_SPECS_DIR) + "/" + input.spec + ".json");
  // A hand-written program may write LSE although its spec does not ask for it: follow the program.
  if (input.file)
    sp.lse = loadInput(input.file).func().getNumArguments() > 4 + sp.captures.size();
  spec::ShapeOverrides ov;
  ov.B = size.B, ov.Hkv = size.Hkv, ov.Hq = size.Hkv * input.group, ov.Sq = size.Sq, ov.Sk = size.Sk, ov.D = input.D;
  const spec::Shape sh = spec::resolveShape(sp, ov);
  const Dtype t = input.dtype;
  char what[200];
  std::snprintf(what, sizeof what, "%s%s D=%lld B=%lld Hq=%lld Hkv=%lld Sq=%lld Sk=%lld",
                input.file ? input.file : "fused ", input.file ? "" : input.spec, (long long)sh.D, (long long)sh.B,
                (long long)sh.Hq, (long long)sh.Hkv, (long long)sh.Sq, (long long)sh.Sk);
  INFO(what << " " << schedule.toString());

  // Inputs rounded to the kernel's type, so the fp64 reference sees exactly what the kernel reads.
  reference::Inputs in = reference::randomInputs(sp, sh, tilefuse::test::rng()());
  for (reference::Tensor *x : {&in.Q, &in.K, &in.V})
    for (double &v : x->data)
      v = tilefuse::test::roundTo(t, static_cast<float>(v));
  const reference::Outputs ref = reference::attention(sp, sh, in);
  const reference::Tensor naive = naiveAttention(sp, sh, in, t);

  // Kernel.
  KernelSignature sig = KernelSignature::fromSpec(sp);
  GeneratedKernel k;
  if (input.file) {
    const Program prog = loadInput(input.file);
    k = generateKernel(prog.func(), scheduleFor(prog, schedule, keepWarps), sig);
  } else {
    const Program prog = fuseSpec(sp, sh, schedule.blockM, schedule.blockN);
    k = generateKernel(prog.func(), schedule, sig);
  }
  runtime::CompileOptions options;
  options.arch = tilefuse::test::testDevice().arch();
  const runtime::CompileResult compiled = runtime::compileCuda(k.source, options);
  runtime::Module module(compiled.cubin);
  CUfunction fn = module.function(k.kernelName.c_str());
  if (k.dynamicSmemBytes > 48 * 1024)
    runtime::funcSetAttribute(fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(k.dynamicSmemBytes));

  // Tensors: Q and O in [B, Sq, Hq, D] memory order (O rows padded by 8), K and V dense [B, Hkv, Sk, D].
  auto halves = [&](const reference::Tensor &x) {
    std::vector<uint16_t> out(x.data.size());
    for (std::size_t n = 0; n < out.size(); ++n)
      out[n] = tilefuse::test::encode(t, static_cast<float>(x.data[n]));
    return out;
  };
  const int64_t D = sh.D, Hq = sh.Hq;
  const std::vector<int64_t> qShape = {sh.B, Hq, sh.Sq, D};
  const std::vector<int64_t> qStrides = {sh.Sq * Hq * D, D, Hq * D, 1};
  const std::vector<int64_t> oStrides = {sh.Sq * (Hq * D + 8), D, Hq * D + 8, 1};
  std::vector<DeviceTensor> tensors;
  tensors.push_back(upload(halves(in.Q), qShape, qStrides, sh.B * sh.Sq * Hq * D));
  tensors.push_back(upload(halves(in.K), in.K.shape, dense(in.K.shape), in.K.data.size()));
  tensors.push_back(upload(halves(in.V), in.V.shape, dense(in.V.shape), in.V.data.size()));
  tensors.push_back(upload(std::vector<uint16_t>{}, qShape, oStrides, sh.B * sh.Sq * (Hq * D + 8)));
  if (sp.lse)
    tensors.push_back(upload(std::vector<float>{}, {sh.B, Hq, sh.Sq}, dense({sh.B, Hq, sh.Sq}), sh.B * Hq * sh.Sq));
  for (std::size_t c = 0; c < sp.captures.size(); ++c) {
    const reference::Tensor &x = in.captures[c];
    if (sp.captures[c].dtype == spec::ElementType::I32) {
      std::vector<int32_t> v(x.data.begin(), x.data.end());
      tensors.push_back(upload(v, x.shape, dense(x.shape), v.size()));
    } else {
      REQUIRE(sp.captures[c].dtype == spec::ElementType::F32);
      std::vector<float> v(x.data.begin(), x.data.end());
      tensors.push_back(upload(v, x.shape, dense(x.shape), v.size()));
    }
  }
  std::vector<TensorBinding> bindings;
  for (const DeviceTensor &x : tensors)
    bindings.push_back(x.binding);
  const ProblemSizes sizes{sh.B, sh.Hq, sh.Hkv, sh.Sq, sh.Sk};
  std::vector<std::byte> params = packParams(k.params, sizes, bindings);
  void *args[] = {params.data()};
  const auto grid = k.grid.evaluate(sizes);
  runtime::launchKernel(fn, {static_cast<unsigned>(grid[0]), static_cast<unsigned>(grid[1]), static_cast<unsigned>(grid[2])},
                        {static_cast<unsigned>(k.threadsPerBlock), 1, 1}, static_cast<unsigned>(k.dynamicSmemBytes),
                        nullptr, args);
  runtime::contextSynchronize();

  // Compare.
  const std::vector<uint16_t> o = tensors[3].buffer.download<uint16_t>();
  double maxErr = 0, maxNaive = 0, maxLse = 0;
  long unwritten = 0, lseBad = 0, padTouched = 0;
  std::vector<float> lse;
  if (sp.lse)
    lse = tensors[4].buffer.download<float>();
  for (int64_t b = 0; b < sh.B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < sh.Sq; ++i) {
        const int64_t at = ((b * Hq + h) * sh.Sq + i) * D;
        for (int64_t d = 0; d < D; ++d) {
          const float x = tilefuse::test::decode(t, o[b * oStrides[0] + h * oStrides[1] + i * oStrides[2] + d]);
          unwritten += std::isnan(x);
          maxErr = std::max(maxErr, std::fabs(x - ref.O.data[at + d]));
          maxNaive = std::max(maxNaive, std::fabs(naive.data[at + d] - ref.O.data[at + d]));
        }
        if (h == 0)
          for (int64_t d = 0; d < 8; ++d)
            padTouched += o[b * oStrides[0] + i * oStrides[2] + Hq * D + d] != 0xFFFF;
        if (sp.lse) {
          const double r = ref.LSE.data[(b * Hq + h) * sh.Sq + i];
          const float x = lse[(b * Hq + h) * sh.Sq + i];
          if (std::isinf(r))
            lseBad += !(std::isinf(x) && x < 0);
          else if (std::isnan(x))
            ++lseBad;
          else
            maxLse = std::max(maxLse, std::fabs(x - r));
        }
      }
  std::printf("codegen-gpu %-62s %-34s max|out-ref| %.3e  max|naive-ref| %.3e  max|lse-ref| %.3e\n", what,
              schedule.toJson().c_str(), maxErr, maxNaive, maxLse);
  CHECK(unwritten == 0);
  CHECK(padTouched == 0);
  CHECK(lseBad == 0);
  CHECK(maxErr <= 2 * maxNaive + 1e-5);
  CHECK(maxLse <= 1e-3);
}

} // namespace

TEST_CASE("Generated kernels match the fp64 reference on every fused input", "[gpu][codegen]") {
  TF_REQUIRE_GPU();
  for (const Input &input : kInputs)
    for (const Size &size : kSizes) {
      if (input.needsSqLeSk && size.Sq > size.Sk)
        continue;
      runCase(input, size, Schedule{}, false);
    }
}

TEST_CASE("Kernels of the fusion pipeline match the fp64 reference on every shipped spec", "[gpu][codegen]") {
  TF_REQUIRE_GPU();
  const std::string arch = tilefuse::test::testDevice().arch();
  for (const Input &input : kPipeline)
    for (const Size &size : kSizes) {
      if (input.needsSqLeSk && size.Sq > size.Sk)
        continue;
      runCase(input, size, defaultSchedule(static_cast<int>(input.D), spec::DType::BF16, arch), true);
    }
  // Other schedules on the fused causal program: BLOCK_N 32 and 128, 1 and 3 stages, Q in SMEM.
  Schedule s;
  for (int blockN : {32, 128})
    for (int stages : {1, 3}) {
      s.blockN = blockN, s.kvStages = stages, s.q = stages == 1 ? QPlacement::Smem : QPlacement::Registers;
      if (smemBytes(s, 128) <= maxDynamicSmemBytes(arch))
        runCase(kPipeline[1], kSizes[0], s, true);
    }
}

TEST_CASE("Generated kernels match the fp64 reference under every pipeline schedule", "[gpu][codegen]") {
  TF_REQUIRE_GPU();
  const Input &causal = kInputs[1];
  const Input &classified = kInputs[2];
  Schedule s;
  for (int stages : {1, 2, 3})
    for (QPlacement q : {QPlacement::Registers, QPlacement::Smem}) {
      s.kvStages = stages;
      s.q = q;
      runCase(causal, kSizes[0], s, false);
      runCase(classified, kSizes[1], s, false);
    }
  Schedule wide; // 32 query rows per warp (D = 64 keeps the registers in budget)
  wide.warps = 4;
  runCase(kInputs[6], kSizes[0], wide, true);
}
