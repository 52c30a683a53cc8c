// [gpu] The runtime library's Engine and C API on a GPU: memoization per (spec, shape bucket,
// schedule), concurrent getKernel from many threads, schedule policies through a ScheduleSource,
// launches on a caller's stream, the C ABI end to end, and launch errors reported without launching.
#include <atomic>
#include <cstdlib>
#include <unistd.h>
#include <cstdio>
#include <thread>
#include <vector>

#include "GpuTest.h"
#include "test_generated_reference.h"
#include "tilefuse/codegen/KernelAbi.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/driver/BuildKernel.h"
#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/spec/Spec.h"
#include "tilefuse/tilefuse.h"
#include "tilefuse/tilefuse_c.h"
#include "CacheScheduleSource.h"

#include <chrono>
#include <filesystem>

using namespace tilefuse;
using namespace tilefuse::test;
using runtime::DeviceBuffer;

namespace {

std::string specFile(const std::string &name) { return specsDir() + "/" + name; }

spec::Shape shapeOf(const spec::Spec &s, int64_t Sq, int64_t Sk, int64_t D = 64) {
  spec::ShapeOverrides o;
  o.B = 1, o.Hkv = 2, o.Hq = 2 * (s.headsQ / s.headsKv), o.Sq = Sq, o.Sk = Sk, o.D = D;
  return spec::resolveShape(s, o);
}

/// Device buffers for `p` with dense layouts matching SpecProblem's strides, O and LSE poisoned.
struct Buffers {
  DeviceBuffer q, k, v, o, lse;
  Strides os;
  explicit Buffers(const SpecProblem &p) : q(p.q.size() * 2), k(p.k.size() * 2), v(p.v.size() * 2) {
    const spec::Shape &s = p.shape;
    os = {s.Sq * s.Hq * s.Dv, s.Dv, s.Hq * s.Dv};
    o = DeviceBuffer(std::size_t(s.B * os.batch) * 2);
    lse = DeviceBuffer(std::size_t(s.B * s.Hq * s.Sq) * 4);
    q.upload(p.q), k.upload(p.k), v.upload(p.v);
    o.fill(0xFF), lse.fill(0xFF);
  }
  AttentionArgs args(const SpecProblem &p) const {
    AttentionArgs a;
    const spec::Shape &s = p.shape;
    a.B = s.B, a.Hq = s.Hq, a.Hkv = s.Hkv, a.Sq = s.Sq, a.Sk = s.Sk;
    a.q = {reinterpret_cast<const void *>(q.get()), p.qs.batch, p.qs.head, p.qs.row};
    a.k = {reinterpret_cast<const void *>(k.get()), p.ks.batch, p.ks.head, p.ks.row};
    a.v = {reinterpret_cast<const void *>(v.get()), p.vs.batch, p.vs.head, p.vs.row};
    a.o = {reinterpret_cast<const void *>(o.get()), os.batch, os.head, os.row};
    a.lse = LseRef::dense(reinterpret_cast<float *>(lse.get()), s.Hq, s.Sq);
    return a;
  }
  Comparison compare(const SpecProblem &p) const {
    return compareWithReference(p, o.download<std::uint16_t>(), os, 0,
                                p.spec->lse ? lse.download<float>() : std::vector<float>());
  }
};

/// A ScheduleSource with one cached entry (any query of spec hash `hash`), counting calls.
struct FakeCache : ScheduleSource {
  std::string hash, json;
  std::atomic<int> lookups{0}, tunes{0};
  std::optional<std::string> lookup(const ScheduleQuery &q) override {
    ++lookups;
    return q.specHash == hash ? std::optional<std::string>(json) : std::nullopt;
  }
  std::string tune(const ScheduleQuery &) override {
    ++tunes;
    return R"({"block_m":64,"block_n":64,"kv_stages":1,"warps":4})";
  }
};

/// A ScheduleSource holding one compiled kernel (any query), as the tuner's cache hands them over.
struct FakeCompiledCache : ScheduleSource {
  CachedKernel kernel;
  std::atomic<int> kernelLookups{0}, lookups{0};
  std::optional<CachedKernel> lookupKernel(const ScheduleQuery &) override {
    ++kernelLookups;
    return kernel;
  }
  std::optional<std::string> lookup(const ScheduleQuery &) override {
    ++lookups;
    return kernel.scheduleJson;
  }
  std::string tune(const ScheduleQuery &) override { throw std::logic_error("FakeCompiledCache::tune"); }
};

/// Generates and compiles `schedule` for `spec` at `shape` the way the tuner does (driver::buildKernel,
/// then NVRTC for this GPU's arch).
struct Compiled {
  driver::BuiltKernel source;
  runtime::CompileResult cubin;
};
Compiled compileForThisGpu(const spec::Spec &spec, const spec::Shape &shape, const codegen::Schedule &schedule,
                           const std::string &arch) {
  Compiled c{driver::buildKernel(spec, shape, schedule), {}};
  runtime::CompileOptions o;
  o.arch = arch;
  c.cubin = runtime::compileCuda(c.source.source, o);
  return c;
}

} // namespace

TEST_CASE("engine loads a ScheduleSource's CUBIN without compiling, and compiles when it cannot be used",
          "[gpu][engine]") {
  TF_REQUIRE_GPU();
  const spec::Spec causal = spec::parseSpecFile(specFile("causal.json"));
  const spec::Shape shape = shapeOf(causal, 333, 517, 128);
  const SpecProblem p = makeProblem(causal, shape);
  const codegen::Schedule schedule = codegen::scheduleFromJson(R"({"block_m":64,"block_n":64,"kv_stages":2,"warps":4})");
  auto cache = std::make_shared<FakeCompiledCache>();
  {
    Engine probe(0); // only for the device's arch
    const Compiled c = compileForThisGpu(causal, shape, schedule, probe.device().arch);
    cache->kernel.scheduleJson = schedule.toJson();
    cache->kernel.cubin = c.cubin.cubin;
    cache->kernel.launch = std::make_shared<const codegen::LaunchDescription>(c.source.launch());
    cache->kernel.origin = "test: precompiled";
  }
  EngineOptions options;
  options.schedules = cache;
  Engine engine(0, options);
  const auto start = std::chrono::steady_clock::now();
  const KernelHandle k = engine.getKernel(causal, shape, Policy::FailOnMiss);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  CHECK(k.info().origin == "test: precompiled");
  CHECK(k.info().compileMs == 0);
  CHECK(k.info().source.empty());
  CHECK(k.info().scheduleJson == schedule.toJson());
  CHECK(cache->kernelLookups == 1);
  CHECK(cache->lookups == 0); // the compiled kernel answered; no schedule lookup, no compile
  {
    Buffers b(p);
    engine.launch(k, b.args(p));
    runtime::contextSynchronize();
    const Comparison c = b.compare(p);
    CHECK(c.passed());
    std::printf("cached CUBIN loaded in %.2f ms (getKernel %.2f ms wall): max|out-ref| %.2e, max|naive-ref| %.2e\n",
                k.info().loadMs, ms, c.maxErr, c.maxNaiveErr);
  }

  // A CUBIN the driver refuses: getKernel compiles the same schedule and says why.
  auto broken = std::make_shared<FakeCompiledCache>();
  broken->kernel = cache->kernel;
  broken->kernel.cubin.assign(4096, '\x5a');
  EngineOptions brokenOptions;
  brokenOptions.schedules = broken;
  Engine engine2(0, brokenOptions);
  const KernelHandle k2 = engine2.getKernel(causal, shape, Policy::FailOnMiss);
  CHECK_THAT(k2.info().origin, Catch::StartsWith("compiled (the cached CUBIN could not be used"));
  CHECK(k2.info().compileMs > 0);
  CHECK(k2.info().scheduleJson == schedule.toJson());
  Buffers b2(p);
  engine2.launch(k2, b2.args(p));
  runtime::contextSynchronize();
  CHECK(b2.compare(p).passed());
}

TEST_CASE("engine loads the tuner cache's CUBIN for a stored entry (Policy::FailOnMiss)", "[gpu][engine]") {
  TF_REQUIRE_GPU();
  const spec::Spec mha = spec::parseSpecFile(specFile("mha.json"));
  const spec::Shape shape = shapeOf(mha, 700, 300, 64);
  const SpecProblem p = makeProblem(mha, shape);
  const codegen::Schedule schedule = codegen::scheduleFromJson(R"({"block_m":64,"block_n":32,"kv_stages":2,"warps":4})");
  const std::filesystem::path dir = "/tmp/tilefuse-engine-cubin-test-" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  tuner::Cache cache(dir);
  tuner::CacheEntry e;
  const tuner::DeviceIdentity device = tuner::currentDevice(0);
  const Compiled c = compileForThisGpu(mha, shape, schedule, device.arch());
  e.key = tuner::makeKey(device, runtime::nvrtcVersion(), mha, shape);
  e.schedule = schedule;
  e.launch = c.source.launch();
  e.cubin = c.cubin.cubin;
  e.tuning.tunedShape = shape;
  e.tuning.medianMs = 1.0;
  e.tuning.defaultSchedule = schedule;
  const tuner::StoreResult stored = cache.store(e);

  EngineOptions options;
  options.schedules = std::make_shared<tuner::CacheScheduleSource>(cache);
  Engine engine(0, options);
  const KernelHandle k = engine.getKernel(mha, shape, Policy::FailOnMiss);
  CHECK(k.info().origin == "cache: " + stored.path.string());
  CHECK(k.info().compileMs == 0);
  CHECK(k.info().scheduleJson == schedule.toJson());
  Buffers b(p);
  engine.launch(k, b.args(p));
  runtime::contextSynchronize();
  const Comparison cmp = b.compare(p);
  CHECK(cmp.passed());
  std::printf("tuner cache entry %s: loaded in %.2f ms, max|out-ref| %.2e\n", stored.path.filename().c_str(),
              k.info().loadMs, cmp.maxErr);
  std::filesystem::remove_all(dir);
}

TEST_CASE("engine memoizes kernels per spec and shape bucket and builds one kernel for concurrent requests",
          "[gpu][engine]") {
  TF_REQUIRE_GPU();
  Engine engine(0);
  const spec::Spec mha = spec::parseSpecFile(specFile("mha.json"));
  const KernelHandle a = engine.getKernel(mha, shapeOf(mha, 1000, 1000));
  CHECK(engine.kernelCount() == 1);
  CHECK(engine.getKernel(mha, shapeOf(mha, 1000, 1000)) == a);
  CHECK(engine.getKernel(mha, shapeOf(mha, 4096, 64)) == a); // other bucket, same heuristic schedule
  CHECK(engine.getKernel(specFile("mha.json"), shapeOf(mha, 77, 99)) == a);
  CHECK(engine.kernelCount() == 1);
  // KernelInfo::arch is the NVRTC target: the device's arch, sm_90a for the sm90 (wgmma) backend.
  CHECK(a.info().arch == codegen::compileArch(codegen::scheduleFromJson(a.info().scheduleJson), engine.device().arch));

  // 16 threads ask for the same new kernel (causal, D=128) at once: one build, one handle.
  const spec::Spec causal = spec::parseSpecFile(specFile("causal.json"));
  std::vector<KernelHandle> got(16);
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i)
    threads.emplace_back([&, i] { got[i] = engine.getKernel(causal, shapeOf(causal, 256 + i, 256, 128)); });
  for (auto &t : threads)
    t.join();
  for (const KernelHandle &h : got)
    CHECK(h == got[0]);
  CHECK(engine.kernelCount() == 2);
  std::printf("engine: %s on %s, %zu kernels; causal D=128: %s, %d regs, NVRTC %.0f ms\n", engine.device().name.c_str(),
              engine.device().arch.c_str(), engine.kernelCount(), got[0].info().scheduleJson.c_str(),
              got[0].info().registers, got[0].info().compileMs);
}

TEST_CASE("engine policies take schedules from the ScheduleSource and fail clearly on a miss", "[gpu][engine]") {
  TF_REQUIRE_GPU();
  const spec::Spec causal = spec::parseSpecFile(specFile("causal.json"));
  const spec::Shape shape = shapeOf(causal, 300, 300);
  {
    // No source attached: the tuner's on-disk cache, here an empty one.
    const std::string dir = "/tmp/tilefuse-engine-test-cache-" + std::to_string(::getpid());
    ::setenv("TILEFUSE_CACHE_DIR", dir.c_str(), 1);
    Engine engine(0);
    CHECK_THROWS_AS(engine.getKernel(causal, shape, Policy::FailOnMiss), CacheMissError);
    ::unsetenv("TILEFUSE_CACHE_DIR");
  }
  auto cache = std::make_shared<FakeCache>();
  cache->hash = spec::contentHashHex(causal);
  cache->json = R"({"block_m":64,"block_n":32,"kv_stages":2,"warps":4})";
  EngineOptions options;
  options.schedules = cache;
  Engine engine(0, options);
  const KernelHandle hit = engine.getKernel(causal, shape, Policy::FailOnMiss);
  CHECK(hit.info().scheduleJson == codegen::scheduleFromJson(cache->json).toJson());
  const spec::Spec mha = spec::parseSpecFile(specFile("mha.json"));
  CHECK_THROWS_WITH(engine.getKernel(mha, shapeOf(mha, 300, 300), Policy::FailOnMiss),
                    Catch::Contains("no cached schedule") && Catch::Contains("mha"));
  const KernelHandle tuned = engine.getKernel(mha, shapeOf(mha, 300, 300), Policy::TuneOnMiss);
  CHECK(cache->tunes == 1);
  CHECK_THAT(tuned.info().scheduleJson, Catch::Contains("\"block_n\":64") && Catch::Contains("\"warps\":4"));

  // The cached kernel computes the right thing on a caller's stream.
  const SpecProblem p = makeProblem(causal, shape);
  Buffers b(p);
  CUstream stream = runtime::streamCreate();
  engine.launch(hit, b.args(p), stream);
  runtime::streamSynchronize(stream);
  runtime::streamDestroy(stream);
  const Comparison c = b.compare(p);
  CHECK(c.passed());
  std::printf("cached schedule %s: max|out-ref| %.2e, max|naive-ref| %.2e\n", hit.info().scheduleJson.c_str(),
              c.maxErr, c.maxNaiveErr);
}

TEST_CASE("the C API builds and launches a kernel and reports launch errors without exceptions", "[gpu][engine]") {
  TF_REQUIRE_GPU();
  tilefuse_engine_t e = nullptr;
  REQUIRE(tilefuse_engine_create(0, &e) == TILEFUSE_OK);
  tilefuse_shape_t shape{};
  shape.B = 1, shape.Hq = 4, shape.Hkv = 1, shape.Sq = 200, shape.Sk = 333, shape.D = 64; // gqa: group 4
  tilefuse_kernel_t k = nullptr;
  REQUIRE(tilefuse_get_kernel(e, specFile("gqa.json").c_str(), &shape, TILEFUSE_POLICY_HEURISTIC, &k) == TILEFUSE_OK);
  tilefuse_kernel_info_t info{};
  REQUIRE(tilefuse_kernel_info(k, &info) == TILEFUSE_OK);
  std::printf("C API: %s %s %s\n", info.spec_name, info.kernel_name, info.schedule_json);
  CHECK(std::string(info.origin) == "compiled"); // Policy::Heuristic compiles
  CHECK(info.compile_ms > 0);

  const spec::Spec gqa = spec::parseSpecFile(specFile("gqa.json"));
  spec::ShapeOverrides o;
  o.B = 1, o.Hq = 4, o.Hkv = 1, o.Sq = 200, o.Sk = 333, o.D = 64;
  const SpecProblem p = makeProblem(gqa, spec::resolveShape(gqa, o));
  Buffers b(p);
  const AttentionArgs a = b.args(p);
  tilefuse_attention_args_t ca{};
  ca.B = a.B, ca.Hq = a.Hq, ca.Hkv = a.Hkv, ca.Sq = a.Sq, ca.Sk = a.Sk;
  ca.q = {a.q.data, a.q.batchStride, a.q.headStride, a.q.rowStride};
  ca.k = {a.k.data, a.k.batchStride, a.k.headStride, a.k.rowStride};
  ca.v = {a.v.data, a.v.batchStride, a.v.headStride, a.v.rowStride};
  ca.o = {a.o.data, a.o.batchStride, a.o.headStride, a.o.rowStride};
  ca.lse = a.lse.data, ca.lse_batch_stride = a.lse.batchStride, ca.lse_head_stride = a.lse.headStride;
  REQUIRE(tilefuse_launch(e, k, &ca, nullptr) == TILEFUSE_OK);
  runtime::contextSynchronize();
  const Comparison c = b.compare(p);
  CHECK(c.passed());
  std::printf("C API launch: max|out-ref| %.2e, max|naive-ref| %.2e, LSE err %.1e\n", c.maxErr, c.maxNaiveErr,
              c.maxLseErr);

  ca.k.row_stride = 60; // 120 bytes
  CHECK(tilefuse_launch(e, k, &ca, nullptr) == TILEFUSE_ERROR_LAUNCH);
  CHECK_THAT(tilefuse_last_error(), Catch::Contains("tensor K") && Catch::Contains("dim 2 (Sk)"));
  ca.k.row_stride = 64;
  ca.Hkv = 2; // the kernel's group is 4
  CHECK(tilefuse_launch(e, k, &ca, nullptr) == TILEFUSE_ERROR_LAUNCH);
  CHECK(tilefuse_get_kernel(e, specFile("no_such_spec.json").c_str(), &shape, TILEFUSE_POLICY_HEURISTIC, &k) ==
        TILEFUSE_ERROR_SPEC);
  CHECK_THAT(tilefuse_last_error(), Catch::Contains("no_such_spec.json"));
  tilefuse_engine_destroy(e);
}
