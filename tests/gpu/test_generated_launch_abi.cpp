// CPU tests of the runtime library (run in CI, no GPU needed):
//  - the launch path packs Params on the stack with the bytes codegen::packParams gives, for every
//    shipped spec, and allocates nothing doing so;
//  - bad launch arguments are rejected with LaunchError naming the tensor and dim;
//  - every shipped spec goes spec -> lowering -> fusion -> CUDA -> NVRTC CUBIN (sm_90) through the
//    engine's build path;
//  - without a GPU, Engine throws NoGpuError and the C API returns TILEFUSE_ERROR_NO_GPU with a message.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "EngineBuild.h"
#include "Launch.h"
#include "test_generated_reference.h"
#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/tilefuse.h"
#include "tilefuse/tilefuse_c.h"

// Counts this program's heap allocations while `counting` is set (for "launch allocates nothing").
namespace {
std::atomic<bool> counting{false};
std::atomic<long> allocations{0};
} // namespace
void *operator new(std::size_t n) {
  if (counting)
    ++allocations;
  if (void *p = std::malloc(n ? n : 1))
    return p;
  throw std::bad_alloc();
}
// The nothrow form too: MLIR's folders allocate with it, and under AddressSanitizer (which replaces every
// form this file does not) a block from ASan's nothrow new freed by the delete above is an
// alloc-dealloc mismatch (tools/sanitize.sh).
void *operator new(std::size_t n, const std::nothrow_t &) noexcept {
  if (counting)
    ++allocations;
  return std::malloc(n ? n : 1);
}
// GCC 12 inlines these into std::allocator and then sees free() of a block that `new` returned, not knowing
// that the `new` above is malloc (-Wmismatched-new-delete's false positive on replaced operators).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void operator delete(void *p) noexcept { std::free(p); }
void operator delete(void *p, std::size_t) noexcept { std::free(p); }
void operator delete(void *p, const std::nothrow_t &) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

using namespace tilefuse;

namespace {

/// A spec resolved with Hkv = 2, Hq = 2 * group, B = 2, Sq = 113, Sk = 203, its heuristic kernel for
/// sm_90, and the kernel's pack plan.
struct Generated {
  spec::Spec spec;
  spec::Shape shape;
  driver::BuiltKernel source;
  detail::PackPlan plan;
};

Generated generate(const std::string &file, int64_t D = 0, const std::string &backend = "sm80") {
  Generated g;
  g.spec = spec::parseSpecFile(file);
  spec::ShapeOverrides o;
  o.B = 2, o.Hkv = 2, o.Hq = 2 * (g.spec.headsQ / g.spec.headsKv), o.Sq = 113, o.Sk = 203;
  if (D)
    o.D = D;
  g.shape = spec::resolveShape(g.spec, o);
  g.source = detail::buildSource(g.spec, g.shape, detail::heuristicSchedule(g.spec, g.shape, "sm_90", backend));
  g.plan = detail::makePackPlan(g.source.params, g.spec, g.shape.groupSize(), g.source.kernelName);
  g.plan.headDim = g.shape.D, g.plan.valueDim = g.shape.Dv; // as Engine::load sets them
  return g;
}

/// generate(file), or nothing after FAIL_CHECK with the reason (the loop goes on with the next spec).
std::optional<Generated> tryGenerate(const std::string &file, const std::string &backend = "sm80") {
  try {
    return generate(file, 0, backend);
  } catch (const std::exception &e) {
    FAIL_CHECK(e.what());
  }
  return std::nullopt;
}

/// Arguments with made-up (aligned) device addresses: Q BSHD, K/V BHSD, O BSHD with padded rows.
struct FakeArgs {
  AttentionArgs args;
  std::vector<CaptureRef> captures;
  explicit FakeArgs(const Generated &g) {
    const spec::Shape &s = g.shape;
    args.B = s.B, args.Hq = s.Hq, args.Hkv = s.Hkv, args.Sq = s.Sq, args.Sk = s.Sk;
    args.q = TensorRef::bshd(reinterpret_cast<const void *>(0x100000), s.Hq, s.Sq, s.D);
    args.k = TensorRef::bhsd(reinterpret_cast<const void *>(0x200000), s.Hkv, s.Sk, s.D);
    args.v = TensorRef::bhsd(reinterpret_cast<const void *>(0x300000), s.Hkv, s.Sk, s.Dv);
    args.o = {reinterpret_cast<const void *>(0x400000), s.Sq * (s.Hq * s.Dv + 8), s.Dv, s.Hq * s.Dv + 8};
    args.lse = LseRef::dense(reinterpret_cast<float *>(0x500000), s.Hq, s.Sq);
    for (size_t i = 0; i < g.spec.captures.size(); ++i)
      captures.push_back({reinterpret_cast<const void *>(0x600000 + 0x10000 * i), nullptr});
    args.captures = captures;
  }
};

std::string launchError(const Generated &g, const AttentionArgs &a) {
  try {
    alignas(16) std::byte buf[detail::kMaxParamBytes];
    detail::pack(g.plan, a, buf);
  } catch (const LaunchError &e) {
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST_CASE("Params packed on the stack equal codegen packParams for every shipped spec and allocate nothing",
          "[cpu][runtime]") {
  for (const std::string backend : {"sm80", "sm90"})
  for (const std::string &file : test::shippedSpecs()) {
    INFO(backend << " " << file);
    const std::optional<Generated> generated = tryGenerate(file, backend);
    if (!generated)
      continue;
    const Generated &g = *generated;
    FakeArgs fake(g);
    detail::Bindings bindings;
    alignas(16) std::byte packed[detail::kMaxParamBytes];
    allocations = 0;
    counting = true;
    detail::bind(g.plan, fake.args, bindings);
    detail::packInto(g.plan, fake.args, bindings, packed);
    counting = false;
    CHECK(allocations == 0);
    const std::vector<std::byte> expected =
        codegen::packParams(g.source.params, detail::problemSizes(fake.args), detail::toTensorBindings(bindings));
    REQUIRE(expected.size() == g.plan.bytes);
    CHECK(std::equal(expected.begin(), expected.end(), packed));
    std::printf("%-16s %s: Params %zu bytes, %zu tensors, grid %s\n", g.spec.name.c_str(),
                g.source.kernelName.c_str(), g.plan.bytes, g.plan.tensors.size(), g.source.grid.toString().c_str());
  }
}

TEST_CASE("bad launch arguments throw LaunchError naming the tensor and dim", "[cpu][runtime]") {
  const std::string dir = test::specsDir() + "/";
  const Generated causal = generate(dir + "causal.json", 64); // writes LSE
  const Generated alibi = generate(dir + "alibi.json", 64);   // one capture
  {
    FakeArgs f(causal);
    f.args.q.rowStride = 100; // 200 bytes: not a multiple of 16
    const std::string e = launchError(causal, f.args);
    CHECK_THAT(e, Catch::Contains("tensor Q") && Catch::Contains("dim 2 (Sq)") && Catch::Contains("16 bytes"));
  }
  {
    FakeArgs f(causal);
    f.args.k.data = reinterpret_cast<const void *>(0x200008);
    CHECK_THAT(launchError(causal, f.args), Catch::Contains("tensor K") && Catch::Contains("16-byte aligned"));
  }
  {
    FakeArgs f(causal);
    f.args.v.data = nullptr;
    CHECK_THAT(launchError(causal, f.args), Catch::Contains("tensor V: null pointer"));
  }
  {
    FakeArgs f(causal);
    f.args.lse.data = nullptr;
    CHECK_THAT(launchError(causal, f.args), Catch::Contains("tensor LSE: null pointer"));
  }
  {
    FakeArgs f(causal);
    f.args.Hkv = 1; // group 2 * 1 / 1 = 2 != 1
    CHECK_THAT(launchError(causal, f.args), Catch::Contains("GQA group size"));
  }
  {
    FakeArgs f(causal);
    f.args.Sq = 0;
    CHECK_THAT(launchError(causal, f.args),
               Catch::Contains("Sq = 0 is not allowed; expected an integer from 1 to 16777216"));
  }
  {
    // Issue 14: launch checks sizes with the same limits as getKernel (spec::checkShapeLimits), so
    // a size no kernel could index (here 2^40 tokens) is refused before capture extents or the grid
    // are computed from it.
    FakeArgs f(causal);
    f.args.Sk = int64_t{1} << 40;
    CHECK_THAT(launchError(causal, f.args),
               Catch::Contains("Sk = 1099511627776 is not allowed; expected an integer from 1 to 16777216"));
    FakeArgs g(causal);
    g.args.B = 1 << 20, g.args.Hq = 1 << 10, g.args.Hkv = 1 << 10, g.args.Sq = 1 << 20, g.args.Sk = 1 << 20;
    CHECK_THAT(launchError(causal, g.args), Catch::Contains("the score matrix S of the unfused program is too large"));
  }
  {
    FakeArgs f(alibi);
    f.args.captures = {};
    CHECK_THAT(launchError(alibi, f.args), Catch::Contains("0 captured tensors given, the spec has 1"));
  }
  {
    FakeArgs f(alibi);
    f.captures[0].data = nullptr;
    CHECK_THAT(launchError(alibi, f.args), Catch::Contains("tensor slopes: null pointer"));
  }
}

TEST_CASE("every shipped spec compiles to a CUBIN for sm_90 through the engine build path", "[cpu][runtime]") {
  for (const std::string backend : {"sm80", "sm90"})
  for (const std::string &file : test::shippedSpecs()) {
    INFO(backend << " " << file);
    const std::optional<Generated> generated = tryGenerate(file, backend);
    if (!generated)
      continue;
    const Generated &g = *generated;
    runtime::CompileOptions o = detail::compileOptions("sm_90", EngineOptions{});
    o.arch = codegen::compileArch(g.source.schedule, "sm_90"); // sm_90a for the sm90 backend
    const runtime::CompileResult c = runtime::compileCuda(g.source.source, o);
    CHECK(!c.cubin.empty());
    CHECK(c.ptx.find(".entry " + g.source.kernelName) != std::string::npos);
    std::printf("%-16s %s %zu B smem, generate %.0f ms, NVRTC %.0f ms, CUBIN %zu B\n", g.spec.name.c_str(),
                g.source.schedule.toJson().c_str(), g.source.dynamicSmemBytes, g.source.generateMs, c.compileMs,
                c.cubin.size());
  }
}

TEST_CASE("without a GPU Engine throws NoGpuError and the C API returns TILEFUSE_ERROR_NO_GPU", "[cpu][runtime]") {
  CHECK(std::string(tilefuse_status_string(TILEFUSE_ERROR_CACHE_MISS)) == "TILEFUSE_ERROR_CACHE_MISS");
  CHECK(std::string(tilefuse_version()) == version());
  CHECK(tilefuse_engine_create(0, nullptr) == TILEFUSE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(tilefuse_last_error(), Catch::Contains("out is NULL"));
  tilefuse_kernel_t k = nullptr;
  CHECK(tilefuse_get_kernel(nullptr, "x.json", nullptr, TILEFUSE_POLICY_HEURISTIC, &k) ==
        TILEFUSE_ERROR_INVALID_ARGUMENT);
  int has = -1;
  CHECK(tilefuse_kernel_block_mask(nullptr, &has) == TILEFUSE_ERROR_INVALID_ARGUMENT);
  CHECK(has == -1);
  CHECK_THAT(tilefuse_last_error(), Catch::Contains("tilefuse_kernel_block_mask"));
  CHECK(tilefuse_clear_block_masks(nullptr) == TILEFUSE_ERROR_INVALID_ARGUMENT);
  CHECK_THAT(tilefuse_last_error(), Catch::Contains("engine must not be NULL"));
  std::string reason;
  if (runtime::gpuAvailable(&reason)) {
    WARN("a GPU is present: the no-GPU checks do not apply here");
    return;
  }
  CHECK_THROWS_AS(Engine(0), NoGpuError);
  tilefuse_engine_t e = nullptr;
  CHECK(tilefuse_engine_create(0, &e) == TILEFUSE_ERROR_NO_GPU);
  CHECK(e == nullptr);
  CHECK_THAT(tilefuse_last_error(), Catch::Contains("no GPU"));
  std::printf("without a GPU: %s\n", tilefuse_last_error());
}

TEST_CASE("getKernel checks a shape with spec::checkShapeLimits before building or bucketing it", "[cpu][runtime]") {
  // Engine::getKernel calls detail::checkShape first (an Engine needs a GPU; the check does not).
  // Issue 14: B > 2^62 once hung spec::bucketBatch inside getKernel; D = 2^32 + 128 was truncated.
  auto rejects = [](spec::Shape s, const std::string &what) {
    try {
      detail::checkShape(s);
    } catch (const std::invalid_argument &e) {
      CHECK_THAT(e.what(), Catch::StartsWith("getKernel: shape: ") && Catch::Contains(what));
      return;
    }
    FAIL_CHECK("checkShape accepted a shape it should reject: " << what);
  };
  const spec::Shape ok{2, 8, 2, 113, 203, 128, 128};
  CHECK_NOTHROW(detail::checkShape(ok));
  spec::Shape s = ok;
  s.B = (int64_t{1} << 62) + 1;
  rejects(s, "B = 4611686018427387905 is not allowed; expected an integer from 1 to 1048576");
  s = ok, s.Hq = 0;
  rejects(s, "Hq = 0 is not allowed; expected an integer from 1 to 65536");
  s = ok, s.D = (int64_t{1} << 32) + 128;
  rejects(s, "D = 4294967424 is not allowed; expected an integer from 1 to 1024");
  s = ok, s.Sq = s.Sk = 1 << 24, s.B = 1 << 12, s.Hq = s.Hkv = 1 << 8; // each size allowed, S is 2^66 bytes
  rejects(s, "the score matrix S of the unfused program is too large");
  s = ok, s.Hkv = 3;
  rejects(s, "Hq = 8 is not a multiple of Hkv = 3");
  // The build path (buildSource) refuses the same shapes.
  const spec::Spec causal = spec::parseSpecFile(test::specsDir() + "/causal.json");
  s = ok, s.Sk = int64_t{1} << 40;
  CHECK_THROWS_WITH(detail::buildSource(causal, s, detail::heuristicSchedule(causal, ok, "sm_90")),
                    Catch::Contains("Sk = 1099511627776 is not allowed"));
}

TEST_CASE("the engine decides per shape bucket with the tuner cache's bucketing rule", "[cpu][runtime]") {
  using tilefuse::ShapeBucket;
  auto shape = [](int64_t B, int64_t Hq, int64_t Hkv, int64_t Sq, int64_t Sk) {
    return tilefuse::spec::Shape{B, Hq, Hkv, Sq, Sk, 128, 128};
  };
  // Same bucket as the cache key: B to a power of two, S <= 4096 to a power of two, above to 1024s.
  const ShapeBucket b = ShapeBucket::of(shape(3, 32, 8, 8000, 197));
  CHECK(b == ShapeBucket{4, 32, 8, 8192, 256, 128, 128});
  CHECK(b.toString() == "B<=4 Hq=32 Hkv=8 Sq<=8192 Sk<=256 D=128 Dv=128");
  CHECK(ShapeBucket::of(shape(4, 32, 8, 8192, 200)) == b);
  // Shapes with their own cache entries get their own decisions.
  CHECK_FALSE(ShapeBucket::of(shape(4, 32, 8, 5000, 256)) == ShapeBucket::of(shape(4, 32, 8, 6000, 256)));
  CHECK_FALSE(ShapeBucket::of(shape(4, 32, 8, 8192, 256)) == ShapeBucket::of(shape(4, 64, 16, 8192, 256)));
  CHECK_FALSE(ShapeBucket::of(shape(4, 32, 8, 8192, 256)) == ShapeBucket::of(shape(5, 32, 8, 8192, 256)));
}

/// What codegen::packParams hands its TensorMapEncoder (the packed test below records it).
std::vector<codegen::TensorBinding> encodedMaps;
void recordMap(std::byte *, const codegen::ParamField &, const codegen::TensorAbi &, const codegen::TensorBinding &t) {
  encodedMaps.push_back(t);
}

// Packed specs (specs/varlen): the launch path binds cu_seqlens and the packed [total, H, D] / [Hq, total_q]
// tensors with the bytes codegen::packParams gives for the same PackedBinding, allocating nothing; a batched
// launch of a packed kernel, or a packed one of a batched kernel, is refused naming the field. On both
// backends: the sm90 one's TMA maps cover the whole packed tensors, [1, H, total, D], in the runtime
// (detail::tmaMapOf) and in codegen::packParams' encoder alike.
TEST_CASE("packed Params packed on the stack equal codegen packParams with a PackedBinding", "[cpu][runtime][varlen]") {
  int kernels = 0;
  for (const char *backend : {"sm80", "sm90"})
  for (const char *name : {"causal.json", "sliding_window.json", "alibi.json"}) {
    INFO(name << ", backend " << backend);
    Generated g = generate(test::specsDir() + "/varlen/" + name, 0, backend);
    REQUIRE(g.plan.packed);
    const spec::Shape &s = g.shape;
    const int64_t totalQ = 300, totalK = 410;
    std::vector<CaptureRef> captures;
    for (size_t i = 0; i < g.spec.captures.size(); ++i)
      captures.push_back({reinterpret_cast<const void *>(0x600000 + 0x10000 * i), nullptr});
    AttentionArgs a;
    a.B = s.B, a.Hq = s.Hq, a.Hkv = s.Hkv;
    a.q = TensorRef::packed(reinterpret_cast<const void *>(0x100000), s.Hq, s.D);
    a.k = TensorRef::packed(reinterpret_cast<const void *>(0x200000), s.Hkv, s.D);
    a.v = TensorRef::packed(reinterpret_cast<const void *>(0x300000), s.Hkv, s.Dv);
    a.o = TensorRef::packed(reinterpret_cast<const void *>(0x400000), s.Hq, s.Dv);
    a.lse = LseRef::packed(reinterpret_cast<float *>(0x500000), totalQ);
    a.captures = captures;
    a.cuSeqlensQ = reinterpret_cast<const int32_t *>(0x700000);
    a.cuSeqlensK = reinterpret_cast<const int32_t *>(0x700100);
    a.totalQ = totalQ, a.totalK = totalK, a.maxSeqlenQ = s.Sq, a.maxSeqlenK = s.Sk;
    alignas(16) std::byte packed[detail::kMaxParamBytes];
    detail::Bindings bindings;
    allocations = 0;
    counting = true;
    const AttentionArgs r = detail::resolveArgs(g.plan, a);
    detail::bind(g.plan, r, bindings);
    detail::packInto(g.plan, r, bindings, packed);
    counting = false;
    CHECK(allocations == 0);
    // codegen's packed bindings: Q, O [total_q, H, D], K, V [total_k, Hkv, D], LSE [Hq, total_q], dense.
    std::vector<codegen::TensorBinding> given;
    size_t capture = 0;
    for (const codegen::TensorAbi &t : g.source.params.tensors) {
      switch (t.arg.role) {
      case codegen::TensorRole::Q: given.push_back({0x100000, {totalQ, s.Hq, s.D}, {s.Hq * s.D, s.D, 1}}); break;
      case codegen::TensorRole::K: given.push_back({0x200000, {totalK, s.Hkv, s.D}, {s.Hkv * s.D, s.D, 1}}); break;
      case codegen::TensorRole::V: given.push_back({0x300000, {totalK, s.Hkv, s.Dv}, {s.Hkv * s.Dv, s.Dv, 1}}); break;
      case codegen::TensorRole::O: given.push_back({0x400000, {totalQ, s.Hq, s.Dv}, {s.Hq * s.Dv, s.Dv, 1}}); break;
      case codegen::TensorRole::LSE: given.push_back({0x500000, {s.Hq, totalQ}, {totalQ, 1}}); break;
      case codegen::TensorRole::Capture: {
        const detail::Binding &b = bindings.tensors[given.size()];
        given.push_back({0x600000 + 0x10000 * capture++, std::vector<int64_t>(b.shape.begin(), b.shape.begin() + b.rank),
                         std::vector<int64_t>(b.strides.begin(), b.strides.begin() + b.rank)});
        break;
      }
      case codegen::TensorRole::Operand:
        FAIL("a spec's kernel has no chain operands");
      }
    }
    const codegen::PackedBinding pk{0x700000, 0x700100, totalQ, totalK};
    const std::vector<std::byte> expected =
        codegen::packParams(g.source.params, detail::problemSizes(r), given, nullptr, &pk);
    REQUIRE(expected.size() == g.plan.bytes);
    CHECK(std::equal(expected.begin(), expected.end(), packed));
    // The TMA maps (sm90): Q [1, Hq, total_q, D], K / V [1, Hkv, total_k, D], O [1, Hq, total_q, Dv] (its
    // warpgroups whose rows are all in the sequence store by TMA), token stride on the batch dim.
    encodedMaps.clear();
    codegen::packParams(g.source.params, detail::problemSizes(r), given, recordMap, &pk);
    int maps = 0;
    for (const detail::PackField &f : g.plan.fields) {
      if (f.source != codegen::ParamSource::TensorMap)
        continue;
      const codegen::TensorRole role = g.plan.tensors[f.tensor].role;
      const bool keys = role == codegen::TensorRole::K || role == codegen::TensorRole::V;
      const int64_t H = keys ? s.Hkv : s.Hq;
      const int64_t D = role == codegen::TensorRole::V || role == codegen::TensorRole::O ? s.Dv : s.D;
      const detail::TmaMap m = detail::tmaMapOf(g.plan, r, bindings, f);
      CHECK(m.rank == 4);
      CHECK(std::vector<int64_t>(m.shape.begin(), m.shape.end()) ==
            std::vector<int64_t>{1, H, keys ? totalK : totalQ, D});
      CHECK(std::vector<int64_t>(m.strides.begin(), m.strides.end()) == std::vector<int64_t>{H * D, D, H * D, 1});
      REQUIRE(maps < static_cast<int>(encodedMaps.size()));
      CHECK(encodedMaps[maps].shape == std::vector<int64_t>(m.shape.begin(), m.shape.end()));
      CHECK(encodedMaps[maps].strides == std::vector<int64_t>(m.strides.begin(), m.strides.end()));
      ++maps;
    }
    CHECK(maps == (std::string(backend) == "sm90" ? 4 : 0));
    CHECK(encodedMaps.size() == static_cast<size_t>(maps));
    if (maps) {
      // All sequences empty (total 0): extent 1, nothing is loaded; a token stride of 2^40 bytes: refused.
      detail::PackField qMap;
      for (const detail::PackField &f : g.plan.fields)
        if (f.source == codegen::ParamSource::TensorMap && g.plan.tensors[f.tensor].role == codegen::TensorRole::Q)
          qMap = f;
      AttentionArgs empty = r;
      empty.totalQ = 0;
      CHECK(detail::tmaMapOf(g.plan, empty, bindings, qMap).shape[2] == 1);
      detail::Bindings huge = bindings;
      huge.tensors[qMap.tensor].strides[2] = int64_t(1) << 39;
      try {
        detail::tmaMapOf(g.plan, r, huge, qMap);
        FAIL("a 2^40-byte token stride was mapped");
      } catch (const LaunchError &e) {
        CHECK_THAT(std::string(e.what()), Catch::Contains("tensor Q: stride of dim 2 (Sq) is 549755813888 elements"));
      }
    }

    // A packed kernel launched without offsets, with Sq disagreeing with max_seqlen, with a dense LSE.
    AttentionArgs bad = a;
    bad.cuSeqlensQ = nullptr;
    CHECK_THAT(launchError(g, bad), Catch::Contains("cuSeqlensQ is null"));
    bad = a, bad.Sq = s.Sq + 1;
    CHECK_THAT(launchError(g, bad), Catch::Contains("Sq = " + std::to_string(s.Sq + 1) + " but maxSeqlenQ"));
    bad = a, bad.totalK = int64_t(1) << 31;
    CHECK_THAT(launchError(g, bad), Catch::Contains("totalK = 2147483648"));
    if (g.plan.writesLse) {
      bad = a, bad.lse = LseRef::dense(reinterpret_cast<float *>(0x500000), s.Hq, s.Sq);
      CHECK_THAT(launchError(g, bad), Catch::Contains("lse.headStride"));
    }
    ++kernels;
  }
  CHECK(kernels == 6);
  // A batched kernel refuses packed fields.
  Generated batched = generate(test::specsDir() + "/causal.json");
  FakeArgs fake(batched);
  fake.args.cuSeqlensQ = reinterpret_cast<const int32_t *>(0x700000);
  CHECK_THAT(launchError(batched, fake.args), Catch::Contains("the kernel's spec is batched"));
}

// A dynamic tile scheduler (q_tile_order = "dynamic"): the pack plan records where its tile counter goes, which the
// launch fills with its stream's counter (detail::TileCounters; packInto leaves it), and refuses a layout with two.
TEST_CASE("the pack plan of a dynamic tile scheduler records its tile counter's offset", "[cpu][runtime]") {
  const spec::Spec s = spec::parseSpecFile(test::specsDir() + "/varlen/causal.json");
  const spec::Shape shape = spec::resolveShape(s, {});
  const codegen::Schedule dynamic = codegen::scheduleFromJson(
      R"({"mma":"wgmma","block_m":128,"block_n":128,"warps":8,"overlap":"pingpong","persistent":true,)"
      R"("q_tile_order":"dynamic"})");
  const driver::BuiltKernel k = detail::buildSource(s, shape, dynamic);
  const int64_t at = k.params.tileCounterOffset();
  REQUIRE(at >= 0);
  const detail::PackPlan plan = detail::makePackPlan(k.params, s, shape.groupSize(), k.kernelName);
  CHECK(plan.tileCounterOffset == at);
  codegen::Schedule snake = dynamic;
  snake.qTileOrder = codegen::QTileOrder::Snake;
  const driver::BuiltKernel other = detail::buildSource(s, shape, snake);
  CHECK(detail::makePackPlan(other.params, s, shape.groupSize(), other.kernelName).tileCounterOffset == -1);
  codegen::ParamLayout twice = k.params;
  codegen::ParamField second = twice.fields.back();
  second.offset = twice.bytes;
  twice.fields.push_back(second);
  twice.bytes += 8;
  CHECK_THROWS_WITH(detail::makePackPlan(twice, s, shape.groupSize(), k.kernelName),
                    Catch::Contains("field tile_counter is a second tile counter"));
}
