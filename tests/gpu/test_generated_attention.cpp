// [gpu] Generated kernels against fp64 attention: every shipped spec (specs/*.json) goes through the
// runtime library (tilefuse::Engine: lower -> fuse -> generateKernel -> NVRTC -> load -> launch) and
// is checked by FlashAttention's rule
//   max|out - ref_fp64| <= 2 * max|out_naive_same_precision - ref_fp64| + 1e-5
// for (Sq, Sk) in {(113,203), (128,217), (256,512), (512,256), (1023,1024), (1024,1023), (2048,2048)},
// D in {64, 80, 96, 128, 256} (80 and 96: shared tiles that are not whole 64-column panels), bf16 and
// fp16, plus Dv != D pairs (96, 48) and (192, 128) in bf16, on both code-generator backends (sm80:
// mma.sync + cp.async; sm90, on an sm_90 GPU: warp-specialized wgmma + TMA), and on an sm_90 GPU the sm90
// schedule variants "sm90-none" (overlap = none; the default is pingpong), "sm90-pingpong-persistent" (a persistent
// grid), "sm90-pingpong_intra-persistent" (FA3's intra-warpgroup overlap as well), Q in registers ("-qreg") and
// the lazy running max ("-lazy") and paired Q tiles ("-paired") at D in {64, 96, 128, 256}, bf16. The specs bring causal (bottom-right; Sq > Sk leaves rows fully
// masked: O = 0, LSE = -inf) and not, GQA (group 4), score_mods and captured tensors. Fresh random
// inputs every run (seed printed); O and LSE poisoned with NaN before each launch; every element
// checked written, the padding after O's rows checked untouched. One kernel per (spec, D, dtype),
// compiled in parallel and shared by all shapes (Sq, Sk, B, Hq are run-time).
//
// [sanitize] (hidden; run by tests/gpu/run_generated_checks.sh under compute-sanitizer): one small
// case per spec.
// Env TILEFUSE_RESULTS_DIR: also write the table to $TILEFUSE_RESULTS_DIR/generated_sweep.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "GpuTest.h"
#include "test_generated_reference.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/spec/Spec.h"
#include "tilefuse/tilefuse.h"

using namespace tilefuse;
using namespace tilefuse::test;
using runtime::DeviceBuffer;

namespace {

/// One kernel of the sweep: a spec with its dtype and head dim overridden.
struct KernelConfig {
  std::string backend; ///< EngineOptions::backend "sm80" or "sm90", or an sm90 schedule variant (variantOf)
  spec::Spec spec;
  spec::Shape shape; ///< the shape getKernel is given (D, Dv and the group are compiled in)
  std::string label; ///< "causal bf16 D=128"
  KernelHandle kernel;
  std::string error; ///< why it has no kernel
};

/// `file` with dtype `t`, D = `D` and Dv = `Dv` (0: Dv = D); Hkv = 2 (Hq = group * 2), Sq = Sk = 128 for
/// the kernel request.
KernelConfig makeConfig(const std::string &file, spec::DType t, int64_t D, const std::string &backend = "sm80",
                        int64_t Dv = 0) {
  KernelConfig c;
  c.backend = backend;
  c.spec = spec::parseSpecFile(file);
  c.spec.dtype = t;
  spec::ShapeOverrides o;
  o.D = D, o.Dv = Dv ? Dv : D, o.Hkv = 2, o.Hq = 2 * (c.spec.headsQ / c.spec.headsKv), o.B = 1, o.Sq = 128,
  o.Sk = 128;
  c.shape = spec::resolveShape(c.spec, o);
  c.label = backend + " " + c.spec.name + " " + std::string(spec::spelling(t)) + " D=" + std::to_string(D) +
            (Dv && Dv != D ? " Dv=" + std::to_string(Dv) : "");
  return c;
}

Engine &engine(const std::string &backend);

/// The sm90 schedule variants the sweep runs besides each backend's default schedule, named
/// "sm90-<overlap>[-persistent][-paired|-snake|-dynamic|-lpt][-cluster][-qreg][-lazy]" (codegen::Schedule::overlap
/// spelled as in the schedule JSON, ::persistent, ::qTileOrder = paired, snake, dynamic or lpt, ::cluster = 2, ::q = registers, ::lazyRescale). False for
/// a plain backend.
bool variantOf(const std::string &backend, codegen::Schedule *s = nullptr) {
  if (backend.rfind("sm90-", 0) != 0)
    return false;
  if (s) {
    std::string overlap = backend.substr(5);
    auto strip = [&](const std::string &suffix) {
      const bool has = overlap.size() > suffix.size() && overlap.ends_with(suffix);
      if (has)
        overlap.resize(overlap.size() - suffix.size());
      return has;
    };
    s->lazyRescale = strip("-lazy");
    if (strip("-qreg"))
      s->q = codegen::QPlacement::Registers;
    if (strip("-cluster"))
      s->cluster = 2;
    if (strip("-paired"))
      s->qTileOrder = codegen::QTileOrder::Paired;
    if (strip("-lpt"))
      s->qTileOrder = codegen::QTileOrder::Lpt;
    if (strip("-snake"))
      s->qTileOrder = codegen::QTileOrder::Snake;
    if (strip("-dynamic"))
      s->qTileOrder = codegen::QTileOrder::Dynamic;
    s->persistent = strip("-persistent");
    using codegen::WarpgroupOverlap;
    for (WarpgroupOverlap o : {WarpgroupOverlap::None, WarpgroupOverlap::Pingpong, WarpgroupOverlap::Intra,
                               WarpgroupOverlap::PingpongIntra})
      if (codegen::spelling(o) == overlap)
        s->overlap = o;
  }
  return true;
}

/// The schedules of an sm90 variant engine (Policy::FailOnMiss): the sm90 default schedule for the
/// query's head dim with the variant's fields set.
class VariantSchedules : public ScheduleSource {
public:
  explicit VariantSchedules(std::string variant) : variant_(std::move(variant)) {}
  std::optional<std::string> lookup(const ScheduleQuery &q) override {
    codegen::Schedule s = codegen::defaultSchedule(static_cast<int>(q.shape.D), q.spec->dtype, "sm_90a");
    variantOf(variant_, &s);
    return s.toJson();
  }
  std::string tune(const ScheduleQuery &q) override { return *lookup(q); }

private:
  std::string variant_;
};

/// Compiles every config's kernel, in parallel, on its backend's engine; a failure is kept in
/// KernelConfig::error.
void compileAll(std::vector<KernelConfig> &configs) {
  parallelFor(configs.size(), [&](std::size_t i) {
    try {
      configs[i].kernel = engine(configs[i].backend)
                              .getKernel(configs[i].spec, configs[i].shape,
                                         variantOf(configs[i].backend) ? Policy::FailOnMiss : Policy::Heuristic);
    } catch (const std::exception &e) {
      configs[i].error = e.what();
    }
  });
}

struct CaseResult {
  std::string label;
  long long B = 0, Hq = 0, Hkv = 0, Sq = 0, Sk = 0;
  Comparison cmp;
  std::string skipped; ///< non-empty: not checked, and why
  std::string error;   ///< non-empty: failed before comparing (launch, compile)
  bool passed() const { return skipped.empty() && error.empty() && cmp.passed(); }
};

/// One launch: fresh inputs, Q in BSHD, K/V in BHSD, O in BSHD with 8 poisoned padding elements per
/// row, LSE dense; all outputs poisoned (NaN) first.
CaseResult runCase(const Engine &engine, const KernelConfig &cfg, int64_t Sq, int64_t Sk, int64_t B, int64_t Hkv) {
  CaseResult r;
  r.label = cfg.label;
  spec::ShapeOverrides o;
  o.D = cfg.shape.D, o.Dv = cfg.shape.Dv, o.B = B, o.Hkv = Hkv, o.Hq = Hkv * cfg.shape.groupSize(), o.Sq = Sq,
  o.Sk = Sk;
  const spec::Shape shape = spec::resolveShape(cfg.spec, o);
  r.B = shape.B, r.Hq = shape.Hq, r.Hkv = shape.Hkv, r.Sq = Sq, r.Sk = Sk;
  if (!cfg.kernel) {
    r.error = "no kernel: " + cfg.error;
    return r;
  }
  const SpecProblem p = makeProblem(cfg.spec, shape);
  constexpr int padding = 8;
  Strides os{0, shape.Dv, shape.Hq * shape.Dv + padding};
  os.batch = shape.Sq * os.row;
  DeviceBuffer q(p.q.size() * 2), k(p.k.size() * 2), v(p.v.size() * 2);
  DeviceBuffer out(std::size_t(shape.B * os.batch) * 2);
  DeviceBuffer lse(cfg.spec.lse ? std::size_t(shape.B * shape.Hq * shape.Sq) * 4 : 0);
  q.upload(p.q), k.upload(p.k), v.upload(p.v);
  std::vector<DeviceBuffer> captures;
  std::vector<CaptureRef> captureRefs;
  for (const HostCapture &c : p.captures) {
    captures.emplace_back(c.bytes.size());
    captures.back().upload(c.bytes);
    captureRefs.push_back({reinterpret_cast<const void *>(captures.back().get()), nullptr});
  }
  out.fill(0xFF), lse.fill(0xFF); // NaN in bf16, fp16 and f32

  AttentionArgs a;
  a.B = shape.B, a.Hq = shape.Hq, a.Hkv = shape.Hkv, a.Sq = Sq, a.Sk = Sk;
  a.q = {reinterpret_cast<const void *>(q.get()), p.qs.batch, p.qs.head, p.qs.row};
  a.k = {reinterpret_cast<const void *>(k.get()), p.ks.batch, p.ks.head, p.ks.row};
  a.v = {reinterpret_cast<const void *>(v.get()), p.vs.batch, p.vs.head, p.vs.row};
  a.o = {reinterpret_cast<const void *>(out.get()), os.batch, os.head, os.row};
  if (cfg.spec.lse)
    a.lse = LseRef::dense(reinterpret_cast<float *>(lse.get()), shape.Hq, Sq);
  a.captures = captureRefs;
  try {
    engine.launch(cfg.kernel, a, nullptr);
    runtime::contextSynchronize();
  } catch (const std::exception &e) {
    r.error = e.what();
    return r;
  }
  const auto oHost = out.download<std::uint16_t>();
  const auto lseHost = cfg.spec.lse ? lse.download<float>() : std::vector<float>();
  try {
    r.cmp = compareWithReference(p, oHost, os, padding, lseHost);
  } catch (const spec::SpecError &e) {
    r.skipped = std::string("reference undefined at this shape: ") + e.what();
  }
  return r;
}

/// `text` on one line (table cells), at most `n` characters.
std::string oneLine(std::string text, std::size_t n) {
  for (char &c : text)
    if (c == '\n' || c == '|')
      c = ' ';
  return text.size() > n ? text.substr(0, n) + "..." : text;
}

std::string row(const CaseResult &r) {
  char buf[400];
  if (!r.error.empty() || !r.skipped.empty()) {
    const std::string why = r.error.empty() ? "SKIP: " + r.skipped : "FAIL: " + r.error;
    std::snprintf(buf, sizeof(buf), "| %s | %lld | %lld | %lldx%lld/%lld | %s |||||", r.label.c_str(), r.Sq, r.Sk,
                  r.B, r.Hq, r.Hkv, oneLine(why, 200).c_str());
    return buf;
  }
  const Comparison &c = r.cmp;
  std::snprintf(buf, sizeof(buf), "| %s | %lld | %lld | %lldx%lld/%lld | %.2e | %.2e | %.2f | %.1e | %ld | %s |",
                r.label.c_str(), r.Sq, r.Sk, r.B, r.Hq, r.Hkv, c.maxErr, c.maxNaiveErr,
                c.maxNaiveErr > 0 ? c.maxErr / c.maxNaiveErr : 0.0, c.maxLseErr, c.fullyMaskedRows,
                r.passed() ? "ok"
                           : ("FAIL" + std::string(c.unwritten ? " unwritten=" + std::to_string(c.unwritten) : "") +
                              (c.lseBad ? " lse=" + std::to_string(c.lseBad) : "") +
                              (c.maskedNonZero ? " masked!=0: " + std::to_string(c.maskedNonZero) : "") +
                              (c.paddingTouched ? " pad=" + std::to_string(c.paddingTouched) : ""))
                                 .c_str());
  return buf;
}

void check(const CaseResult &r) {
  INFO(r.label << " Sq=" << r.Sq << " Sk=" << r.Sk << " B=" << r.B << " Hq=" << r.Hq << " Hkv=" << r.Hkv);
  INFO(r.error);
  if (!r.skipped.empty()) {
    WARN("not checked: " << r.label << " Sq=" << r.Sq << " Sk=" << r.Sk << ": " << r.skipped);
    return;
  }
  CHECK(r.error.empty());
  if (!r.error.empty())
    return;
  CHECK(r.cmp.unwritten == 0);
  CHECK(r.cmp.lseBad == 0);
  CHECK(r.cmp.maskedNonZero == 0);
  CHECK(r.cmp.paddingTouched == 0);
  CHECK(r.cmp.maxErr <= 2 * r.cmp.maxNaiveErr + 1e-5);
  CHECK(r.cmp.maxLseErr <= 1e-3);
}

const char *kHeader = "| kernel | Sq | Sk | BxHq/Hkv | max\\|out-ref\\| | max\\|naive-ref\\| | ratio | LSE rel err | "
                      "masked rows | result |\n|---|---|---|---|---|---|---|---|---|---|";

/// One engine per backend (EngineOptions::backend), made on first use.
Engine &engine(const std::string &backend) {
  static std::mutex m;
  static std::map<std::string, std::unique_ptr<Engine>> engines;
  std::lock_guard<std::mutex> lock(m);
  std::unique_ptr<Engine> &e = engines[backend];
  if (!e) {
    EngineOptions o;
    o.backend = variantOf(backend) ? "sm90" : backend;
    if (variantOf(backend))
      o.schedules = std::make_shared<VariantSchedules>(backend);
    e = std::make_unique<Engine>(0, o);
  }
  return *e;
}

/// The backends this GPU runs: sm80 always, sm90 on an sm_90 GPU; env TILEFUSE_TEST_BACKENDS=sm80
/// (or sm90) keeps one (compute-sanitizer's racecheck does not model the TMA's async-proxy writes).
std::vector<std::string> backends() {
  std::vector<std::string> b = {"sm80"};
  if (engine("sm80").device().arch == "sm_90")
    b.push_back("sm90");
  if (const char *only = std::getenv("TILEFUSE_TEST_BACKENDS"); only && *only)
    std::erase_if(b, [&](const std::string &x) { return std::string(only).find(x) == std::string::npos; });
  return b;
}

/// Env TILEFUSE_TEST_VARIANTS (e.g. "paired"): only the sm90 variants whose name contains it run, next to the
/// backends' default schedules (a new variant checked without the whole sweep).
bool variantWanted(const std::string &variant) {
  const char *only = std::getenv("TILEFUSE_TEST_VARIANTS");
  return !only || !*only || variant.find(only) != std::string::npos;
}

} // namespace

TEST_CASE("generated kernels of every shipped spec match fp64 attention across shapes head dims and dtypes",
          "[gpu][generated]") {
  TF_REQUIRE_GPU();
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(); };

  std::vector<KernelConfig> configs;
  for (const std::string &backend : backends())
    for (const std::string &file : shippedSpecs()) {
      for (int64_t D : {64, 80, 96, 128, 256})
        for (spec::DType t : {spec::DType::BF16, spec::DType::FP16})
          configs.push_back(makeConfig(file, t, D, backend));
      for (auto [D, Dv] : {std::pair<int64_t, int64_t>{96, 48}, {192, 128}})
        configs.push_back(makeConfig(file, spec::DType::BF16, D, backend, Dv));
      if (backend == "sm90")
        for (const char *variant : {"sm90-none", "sm90-pingpong-persistent", "sm90-pingpong_intra-persistent",
                                    "sm90-pingpong-persistent-qreg", "sm90-pingpong_intra-qreg",
                                    "sm90-pingpong-persistent-qreg-lazy", "sm90-pingpong_intra-lazy",
                                    "sm90-pingpong-persistent-paired-qreg", "sm90-pingpong-persistent-snake-qreg",
                                    "sm90-pingpong-persistent-dynamic-qreg"})
          if (variantWanted(variant))
            for (int64_t D : {64, 96, 128, 256})
              configs.push_back(makeConfig(file, spec::DType::BF16, D, variant));
      // The longest Q tiles first (q_tile_order = lpt) takes batched specs; packed ones take their sequences'
      // tiles in order.
      if (backend == "sm90")
        for (int64_t D : {64, 96, 128, 256})
          if (KernelConfig c = makeConfig(file, spec::DType::BF16, D, "sm90-pingpong-lpt-qreg");
              variantWanted("sm90-pingpong-lpt-qreg") && c.spec.layout == spec::Layout::Batched)
            configs.push_back(std::move(c));
      // Clusters of 2 (K/V multicast) take the specs whose K/V loop does not depend on the Q tile; the odd
      // Q-tile counts below (Sq = 113: one tile) leave a block that runs its peer's tile again.
      if (backend == "sm90")
        for (const char *variant : {"sm90-pingpong-persistent-cluster", "sm90-pingpong-cluster-qreg"})
          for (int64_t D : {64, 96, 128, 256})
            if (KernelConfig c = makeConfig(file, spec::DType::BF16, D, variant);
                variantWanted(variant) && !c.spec.maskMod && c.spec.layout == spec::Layout::Batched)
              configs.push_back(std::move(c));
    }
  compileAll(configs);
  std::printf("generated: %zu kernels compiled in %.1f s on %s (%s)\n", configs.size(), seconds(),
              engine("sm80").device().name.c_str(), engine("sm80").device().arch.c_str());
  for (const KernelConfig &c : configs)
    if (c.kernel)
      std::printf("  %-34s %s regs=%d local=%dB smem=%zuB gen=%.0fms nvrtc=%.0fms\n", c.label.c_str(),
                  c.kernel.info().scheduleJson.c_str(), c.kernel.info().registers, c.kernel.info().localBytes,
                  c.kernel.info().dynamicSmemBytes, c.kernel.info().generateMs, c.kernel.info().compileMs);
    else
      std::printf("  %-34s NOT BUILT: %s\n", c.label.c_str(), c.error.c_str());

  const std::pair<int64_t, int64_t> shapes[] = {{113, 203},   {128, 217},   {256, 512}, {512, 256},
                                                {1023, 1024}, {1024, 1023}, {2048, 2048}};
  std::vector<CaseResult> results;
  for (const KernelConfig &c : configs)
    for (const auto &[Sq, Sk] : shapes) {
      const bool large = Sq * Sk > 512 * 512;
      results.push_back(runCase(engine(c.backend), c, Sq, Sk, large ? 1 : 2, large ? 1 : 2));
      check(results.back());
    }

  int passed = 0, skipped = 0, failed = 0;
  std::ostringstream table;
  table << kHeader << "\n";
  for (const CaseResult &r : results) {
    table << row(r) << "\n";
    (r.passed() ? passed : r.skipped.empty() ? failed : skipped)++;
  }
  std::printf("%s", table.str().c_str());
  std::printf("generated sweep: %d passed, %d failed, %d not checked, %zu kernels, %.1f s\n", passed, failed,
              skipped, configs.size(), seconds());
  if (const char *dir = std::getenv("TILEFUSE_RESULTS_DIR"))
    std::ofstream(std::string(dir) + "/generated_sweep.md") << table.str();
}

TEST_CASE("one small generated case per spec (for compute-sanitizer)", "[.][sanitize]") {
  TF_REQUIRE_GPU();
  std::vector<KernelConfig> configs;
  for (const std::string &backend : backends())
    for (const std::string &file : shippedSpecs()) {
      configs.push_back(makeConfig(file, spec::DType::BF16, 64, backend));
      if (backend == "sm90")
        for (const char *variant : {"sm90-pingpong-persistent", "sm90-pingpong_intra-persistent"})
          configs.push_back(makeConfig(file, spec::DType::BF16, 64, variant));
    }
  compileAll(configs);
  for (const KernelConfig &c : configs) {
    const CaseResult r = runCase(engine(c.backend), c, 113, 203, 1, 1);
    std::printf("%s\n", row(r).c_str());
    check(r);
  }
}

TEST_CASE("CUBINs of two generated kernels for SASS inspection", "[.][sass]") {
  TF_REQUIRE_GPU();
  const char *dir = std::getenv("TILEFUSE_SASS_DIR");
  const std::string out = dir && *dir ? dir : "/tmp/tf-cubin";
  std::vector<KernelConfig> configs = {makeConfig(specsDir() + "/causal.json", spec::DType::BF16, 128),
                                       makeConfig(specsDir() + "/alibi.json", spec::DType::FP16, 64)};
  for (const std::string &backend : backends())
    if (backend != "sm80") {
      configs.push_back(makeConfig(specsDir() + "/causal.json", spec::DType::BF16, 128, backend));
      configs.push_back(makeConfig(specsDir() + "/document_mask.json", spec::DType::FP16, 64, backend));
    }
  compileAll(configs);
  for (const KernelConfig &c : configs) {
    INFO(c.label << ": " << c.error);
    REQUIRE(c.kernel);
    runtime::CompileOptions o;
    o.arch = c.kernel.info().arch;
    const runtime::CompileResult r = runtime::compileCuda(c.kernel.info().source, o);
    std::string name = c.label;
    std::replace(name.begin(), name.end(), ' ', '_');
    std::ofstream(out + "/" + name + ".cubin", std::ios::binary).write(r.cubin.data(), std::streamsize(r.cubin.size()));
  }
}
