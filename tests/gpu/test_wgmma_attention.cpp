// [gpu][wgmma] The Hopper wgmma path (runtime/device/tilefuse/device/wgmma.cuh), compiled with NVRTC for
// sm_90a: (1) the primitive check kernel (wgmma_gemm_kernel.cuh: SS with two K-major operands, RS with an
// N-major B) against a host product, and warpgroup::mma_ABt / mma_AB at head dim 80 in 128-column tiles
// (wgmma_partial_panel_kernel.cuh); (2) the hand-written wgmma attention kernel
// (wgmma_attention_kernel.cuh) against the fp64 reference with FlashAttention's rule
// max|out - ref| <= 2 max|naive - ref| + 1e-5, on fresh random inputs, tails, GQA, causal and not, output
// and LSE poisoned (NaN) and every element checked written; (3) the same for the warp-specialized kernel
// (wgmma_ws_attention_kernel.cuh: TMA tensor maps built here with cuTensorMapEncodeTiled). Skips visibly
// without an sm_90 GPU.
// [.][wgmma-bench] (hidden): TFLOP/s of the wgmma kernel next to the FA2 reference kernel's default
// schedule and the warp-specialized variants, bf16, B=4 H=16 S=4096 D=128 (and D=64), causal and not, in
// the same process.
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "Fa2DeviceProblem.h"
#include "Fa2Launch.h"
#include "GpuTest.h"
#include "WgmmaAttention.h"

using namespace tilefuse;
using namespace tilefuse::test;
using runtime::DeviceBuffer;

namespace {

/// False (after a WARN) unless device 0 is an sm_90 GPU (wgmma needs sm_90a).
bool hopperOrSkip() {
  if (testDevice().ccMajor == 9) return true;
  WARN("SKIPPED: wgmma needs an sm_90 GPU, device 0 is " << testDevice().arch());
  return false;
}

/// Compiles `source` with NVRTC for sm_90a (tests/gpu on the include path), dumps the CUBIN when
/// TILEFUSE_TEST_DUMP_DIR is set, loads it. Cached per source for the process.
const runtime::Module &sm90aModule(const std::string &source) {
  static std::map<std::string, runtime::Module> modules;
  auto it = modules.find(source);
  if (it != modules.end()) return it->second;
  runtime::CompileOptions options;
  options.arch = "sm_90a";
  options.includeDirs = {TILEFUSE_TESTS_GPU_DIR};
  const runtime::CompileResult compiled = runtime::compileCuda(source, options);
  std::printf("wgmma module: NVRTC %.0f ms, CUBIN %zu bytes\n", compiled.compileMs, compiled.cubin.size());
  if (const char *dir = std::getenv("TILEFUSE_TEST_DUMP_DIR"))
    std::ofstream(std::string(dir) + "/wgmma-" + std::to_string(std::hash<std::string>{}(source)) + "-sm_90a.cubin",
                  std::ios::binary)
        .write(compiled.cubin.data(), std::streamsize(compiled.cubin.size()));
  return modules.emplace(source, runtime::Module(compiled.cubin)).first->second;
}

CUfunction wgmmaFunction(const WgmmaVariant &v, bool causal) {
  CUfunction f = sm90aModule(wgmmaSource(wgmmaVariants())).function(wgmmaKernelName(v, causal).c_str());
  runtime::funcSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(wgmmaSharedBytes(v)));
  runtime::funcSetAttribute(f, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, CU_SHAREDMEM_CARVEOUT_MAX_SHARED);
  return f;
}

void wgmmaLaunch(CUfunction f, const WgmmaVariant &v, const AttentionProblem &p, const Fa2Params &params) {
  Fa2Params copy = params;
  void *args[] = {&copy};
  runtime::launchKernel(f,
                        {static_cast<unsigned>((p.seqQ + kWgmmaBlockM - 1) / kWgmmaBlockM),
                         static_cast<unsigned>(p.headsQ), static_cast<unsigned>(p.batch)},
                        {kWgmmaThreads, 1, 1}, wgmmaSharedBytes(v), nullptr, args);
}




/// Every row (sampled: `samples` random rows) of O and LSE against the references, plus O's padding.
RowErrors checkOutput(const DeviceProblem &dp, int samples = 0) {
  const AttentionProblem &p = dp.p;
  const auto o = dp.o.download<std::uint16_t>();
  const auto lse = dp.lse.download<float>();
  RowErrors e;
  if (samples > 0) {
    std::uniform_int_distribution<int> bd(0, p.batch - 1), hd(0, p.headsQ - 1), id(0, p.seqQ - 1);
    for (int n = 0; n < samples; ++n) compareRow(dp.p, dp.in, dp.os, o, lse, bd(rng()), hd(rng()), id(rng()), e);
    return e;
  }
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.headsQ; ++h)
      for (int i = 0; i < p.seqQ; ++i) compareRow(dp.p, dp.in, dp.os, o, lse, b, h, i, e);
  for (int b = 0; b < p.batch; ++b)
    for (int i = 0; i < p.seqQ; ++i)
      for (int d = 0; d < 8; ++d) e.padTouched += o[b * dp.os.batch + i * dp.os.row + p.headsQ * p.headDim + d] != 0xFFFF;
  return e;
}

std::string describe(const AttentionProblem &p) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "bf16 D=%d %s B=%d Hq=%d Hkv=%d Sq=%d Sk=%d", p.headDim, p.causal ? "causal" : "full",
                p.batch, p.headsQ, p.headsKv, p.seqQ, p.seqK);
  return buf;
}

std::string variantLabel(const WgmmaVariant &v) {
  return "wgmma m128n" + std::to_string(v.blockN) + "wg2b" + std::to_string(v.minBlocks) + (v.overlap ? " overlap" : "") +
         (v.lateCopy ? " late-copy" : "");
}


// ---- warp-specialized kernel (wgmma_ws_attention_kernel.cuh): TMA tensor maps and launch

/// cuTensorMapEncodeTiled from libcuda.so.1 (dlopen: the tests do not link libcuda; the runtime library
/// does not wrap tensor maps yet). Throws when the driver lacks it.
using EncodeTiledFn = CUresult (*)(CUtensorMap *, CUtensorMapDataType, cuuint32_t, void *, const cuuint64_t *,
                                   const cuuint64_t *, const cuuint32_t *, const cuuint32_t *, CUtensorMapInterleave,
                                   CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);
EncodeTiledFn encodeTiled() {
  static EncodeTiledFn fn = [] {
    void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    void *f = h ? dlsym(h, "cuTensorMapEncodeTiled") : nullptr;
    if (!f) throw std::runtime_error("libcuda.so.1 lacks cuTensorMapEncodeTiled");
    return reinterpret_cast<EncodeTiledFn>(f);
  }();
  return fn;
}

/// 4D bf16 tensor map {D, S, H, B} (innermost first; strides in elements, converted to bytes) with a
/// {64, boxRows, 1, 1} box, 128B swizzle (= wgmma.cuh's sw128 panels), zero fill out of bounds.
CUtensorMap tensorMap(const void *base, int d, int s, int h, int b, long long rowStride, long long headStride,
                      long long batchStride, int boxRows) {
  CUtensorMap map;
  const cuuint64_t dims[4] = {cuuint64_t(d), cuuint64_t(s), cuuint64_t(h), cuuint64_t(b)};
  const cuuint64_t strides[3] = {cuuint64_t(rowStride) * 2, cuuint64_t(headStride) * 2, cuuint64_t(batchStride) * 2};
  const cuuint32_t box[4] = {64, cuuint32_t(boxRows), 1, 1}, elementStrides[4] = {1, 1, 1, 1};
  const CUresult r = encodeTiled()(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 4, const_cast<void *>(base), dims, strides,
                                   box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                   CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS) throw std::runtime_error("cuTensorMapEncodeTiled failed: " + std::to_string(int(r)));
  return map;
}

/// The Q, K, V tensor maps of one problem for a BLOCK_N.
struct WsMaps {
  alignas(64) CUtensorMap q, k, v;
};
WsMaps wsMaps(const AttentionProblem &p, const Fa2Params &a, int blockN) {
  WsMaps m;
  m.q = tensorMap(a.q, p.headDim, p.seqQ, p.headsQ, p.batch, a.q_row_stride, a.q_head_stride, a.q_batch_stride,
                  kWgmmaBlockM);
  m.k = tensorMap(a.k, p.headDim, p.seqK, p.headsKv, p.batch, a.k_row_stride, a.k_head_stride, a.k_batch_stride, blockN);
  m.v = tensorMap(a.v, p.headDim, p.seqK, p.headsKv, p.batch, a.v_row_stride, a.v_head_stride, a.v_batch_stride, blockN);
  return m;
}

CUfunction wgmmaWsFunction(const WgmmaWsVariant &v, bool causal) {
  CUfunction f = sm90aModule(wgmmaWsSource(wgmmaWsVariants())).function(wgmmaWsKernelName(v, causal).c_str());
  runtime::funcSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, static_cast<int>(wgmmaWsSharedBytes(v)));
  runtime::funcSetAttribute(f, CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT, CU_SHAREDMEM_CARVEOUT_MAX_SHARED);
  return f;
}

void wgmmaWsLaunch(CUfunction f, const WgmmaWsVariant &v, const AttentionProblem &p, const Fa2Params &params,
                   const WsMaps &maps) {
  Fa2Params copy = params;
  WsMaps m = maps;
  void *args[] = {&copy, &m.q, &m.k, &m.v};
  runtime::launchKernel(f,
                        {static_cast<unsigned>((p.seqQ + kWgmmaBlockM - 1) / kWgmmaBlockM),
                         static_cast<unsigned>(p.headsQ), static_cast<unsigned>(p.batch)},
                        {kWgmmaWsThreads, 1, 1}, wgmmaWsSharedBytes(v), nullptr, args);
}

std::string wsLabel(const WgmmaWsVariant &v) {
  return "wgmma-ws m128n" + std::to_string(v.blockN) + " s" + std::to_string(v.stages) +
         (v.loop ? " burst" : " simple") + (v.intra ? " intra" : "") + (v.pingpong ? " pingpong" : "") + (v.fastExp ? " ex2-ftz" : "");
}

} // namespace

TEST_CASE("wgmma SS (K-major A and B) and RS (N-major B) products match a host product", "[gpu][wgmma]") {
  TF_REQUIRE_GPU();
  if (!hopperOrSkip()) return;
  const std::vector<std::uint16_t> a = randomHalves(Dtype::bf16, 64 * 128), bnk = randomHalves(Dtype::bf16, 128 * 128),
                                   bkn = randomHalves(Dtype::bf16, 128 * 128);
  DeviceBuffer da(a.size() * 2), dbnk(bnk.size() * 2), dbkn(bkn.size() * 2), dss(64 * 128 * 4), drs(64 * 128 * 4);
  da.upload(a), dbnk.upload(bnk), dbkn.upload(bkn);
  dss.fill(0xFF), drs.fill(0xFF);
  CUfunction f = sm90aModule("#include \"wgmma_gemm_kernel.cuh\"\n").function("wgmma_gemm_check");
  launchSync(f, {1, 1, 1}, {128, 1, 1}, 1024 + (64 + 128 + 128) * 128 * 2, da.get(), dbnk.get(), dbkn.get(), dss.get(),
             drs.get());
  const auto ss = dss.download<float>(), rs = drs.download<float>();
  const auto fa = decodeAll(Dtype::bf16, a), fnk = decodeAll(Dtype::bf16, bnk), fkn = decodeAll(Dtype::bf16, bkn);
  double errSs = 0, errRs = 0;
  long nan = 0;
  for (int i = 0; i < 64; ++i)
    for (int j = 0; j < 128; ++j) {
      double refSs = 0, refRs = 0;
      for (int k = 0; k < 128; ++k) {
        refSs += double(fa[i * 128 + k]) * fnk[j * 128 + k];
        refRs += double(fa[i * 128 + k]) * fkn[k * 128 + j];
      }
      nan += std::isnan(ss[i * 128 + j]) + std::isnan(rs[i * 128 + j]);
      errSs = std::max(errSs, std::fabs(ss[i * 128 + j] - refSs));
      errRs = std::max(errRs, std::fabs(rs[i * 128 + j] - refRs));
    }
  std::printf("wgmma gemm 64x128x128: max|SS - ref| %.3e  max|RS(N-major B) - ref| %.3e  NaN %ld\n", errSs, errRs, nan);
  CHECK(nan == 0);
  CHECK(errSs <= 1e-3);
  CHECK(errRs <= 1e-3);
}

TEST_CASE("warpgroup mma_ABt and mma_AB read head dim 80 from 128-column sw128 tiles (partial last panel)",
          "[gpu][wgmma]") {
  TF_REQUIRE_GPU();
  if (!hopperOrSkip()) return;
  constexpr int D = 80;
  const std::vector<std::uint16_t> a = randomHalves(Dtype::bf16, 64 * D), b = randomHalves(Dtype::bf16, 64 * D),
                                   v = randomHalves(Dtype::bf16, 64 * D);
  DeviceBuffer da(a.size() * 2), db(b.size() * 2), dv(v.size() * 2), ds(64 * 64 * 4), dout(64 * D * 4);
  da.upload(a), db.upload(b), dv.upload(v);
  ds.fill(0xFF), dout.fill(0xFF);
  CUfunction f = sm90aModule("#include \"wgmma_partial_panel_kernel.cuh\"\n").function("wgmma_partial_panel_check");
  launchSync(f, {1, 1, 1}, {128, 1, 1}, 1024 + 3 * 64 * 128 * 2, da.get(), db.get(), dv.get(), ds.get(), dout.get());
  const auto s = ds.download<float>(), o = dout.download<float>();
  const auto fa = decodeAll(Dtype::bf16, a), fb = decodeAll(Dtype::bf16, b), fv = decodeAll(Dtype::bf16, v);
  double errS = 0, errO = 0;
  long nan = 0;
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 64; ++j) {
      double ref = 0;
      for (int k = 0; k < D; ++k) ref += double(fa[i * D + k]) * fb[j * D + k];
      nan += std::isnan(s[i * 64 + j]);
      errS = std::max(errS, std::fabs(s[i * 64 + j] - ref));
    }
    for (int j = 0; j < D; ++j) {
      double ref = 0;
      for (int k = 0; k < 64; ++k) ref += double(fa[i * D + k]) * fv[k * D + j];
      nan += std::isnan(o[i * D + j]);
      errO = std::max(errO, std::fabs(o[i * D + j] - ref));
    }
  }
  std::printf("wgmma D=80 in 128-column tiles: max|A B^T - ref| %.3e  max|P V - ref| %.3e  NaN %ld\n", errS, errO, nan);
  CHECK(nan == 0);
  CHECK(errS <= 1e-3);
  CHECK(errO <= 1e-3);
}

TEST_CASE("wgmma attention kernel matches fp64 attention with tails and GQA and causal for D 64 128", "[gpu][wgmma]") {
  TF_REQUIRE_GPU();
  if (!hopperOrSkip()) return;
  for (const WgmmaVariant &v : wgmmaVariants()) {
    const int d = v.headDim;
    const AttentionProblem cases[] = {
        // B, Hq, Hkv, Sq, Sk, D, causal, dtype
        {1, 2, 2, 128, 128, d, false, Dtype::bf16}, {2, 4, 2, 200, 333, d, true, Dtype::bf16},
        {1, 3, 3, 77, 1000, d, false, Dtype::bf16}, {2, 4, 1, 257, 130, d, true, Dtype::bf16},
        {1, 2, 2, 300, 100, d, false, Dtype::bf16}, {1, 2, 2, 513, 513, d, true, Dtype::bf16},
        {1, 2, 2, 64, 1, d, false, Dtype::bf16},
    };
    for (const AttentionProblem &p : cases) {
      INFO(variantLabel(v) << " " << describe(p));
      DeviceProblem dp(p);
      wgmmaLaunch(wgmmaFunction(v, p.causal), v, p, dp.params);
      runtime::contextSynchronize();
      const RowErrors e = checkOutput(dp);
      std::printf("wgmma %-20s %-44s max|out-ref| %.3e  max|naive-ref| %.3e  max|lse-ref| %.3e  unwritten %ld\n",
                  variantLabel(v).c_str(), describe(p).c_str(), e.maxErr, e.maxNaiveErr, e.maxLseErr, e.unwritten);
      CHECK(e.unwritten == 0);
      CHECK(e.lseBad == 0);
      CHECK(e.padTouched == 0);
      CHECK(e.maxErr <= 2 * e.maxNaiveErr + 1e-5);
      CHECK(e.maxLseErr <= 1e-3);
    }
  }
}

TEST_CASE("warp-specialized wgmma attention kernel (TMA, pingpong) matches fp64 attention with tails, GQA, causal",
          "[gpu][wgmma]") {
  TF_REQUIRE_GPU();
  if (!hopperOrSkip()) return;
  for (const WgmmaWsVariant &v : wgmmaWsVariants()) {
    const int d = v.headDim;
    const AttentionProblem cases[] = {
        // B, Hq, Hkv, Sq, Sk, D, causal, dtype
        {1, 2, 2, 128, 128, d, false, Dtype::bf16}, {2, 4, 2, 200, 333, d, true, Dtype::bf16},
        {1, 3, 3, 77, 1000, d, false, Dtype::bf16}, {2, 4, 1, 257, 130, d, true, Dtype::bf16},
        {1, 2, 2, 300, 100, d, false, Dtype::bf16}, {1, 2, 2, 513, 513, d, true, Dtype::bf16},
        {1, 2, 2, 64, 1, d, false, Dtype::bf16},    {1, 2, 1, 700, 1100, d, false, Dtype::bf16},
        {1, 2, 2, 1000, 1000, d, true, Dtype::bf16},
    };
    for (const AttentionProblem &p : cases) {
      INFO(wsLabel(v) << " " << describe(p));
      DeviceProblem dp(p);
      wgmmaWsLaunch(wgmmaWsFunction(v, p.causal), v, p, dp.params, wsMaps(p, dp.params, v.blockN));
      runtime::contextSynchronize();
      const RowErrors e = checkOutput(dp);
      std::printf("wgmma-ws %-40s %-44s max|out-ref| %.3e  max|naive-ref| %.3e  max|lse-ref| %.3e  unwritten %ld\n",
                  wsLabel(v).c_str(), describe(p).c_str(), e.maxErr, e.maxNaiveErr, e.maxLseErr, e.unwritten);
      CHECK(e.unwritten == 0);
      CHECK(e.lseBad == 0);
      CHECK(e.padTouched == 0);
      CHECK(e.maxErr <= 2 * e.maxNaiveErr + 1e-5);
      CHECK(e.maxLseErr <= 1e-3);
    }
  }
}

TEST_CASE("wgmma attention kernel throughput next to the FA2 reference kernel, bf16", "[.][wgmma-bench][gpu]") {
  TF_REQUIRE_GPU();
  if (!hopperOrSkip()) return;
  const runtime::DeviceInfo &dev = testDevice();
  std::printf("device %s (%s, %d SMs), driver %d, NVRTC %s\n", dev.name.c_str(), dev.arch().c_str(), dev.smCount,
              runtime::driverVersion(), runtime::nvrtcVersion().c_str());
  std::string table = "| problem | kernel | regs | median ms | TFLOP/s | vs FA2 default |\n| --- | --- | --- | --- | --- | --- |\n";
  for (int headDim : {128, 64}) {
    const Fa2Variant fa2{Dtype::bf16, headDim, fa2DeviceDefaultSchedule(headDim), {}};
    DeviceProblem dp(AttentionProblem{4, 16, 16, 4096, 4096, headDim, false, Dtype::bf16});
    for (bool causal : {false, true}) {
      dp.p.causal = causal;
      const AttentionProblem &p = dp.p;
      const double flops = 4.0 * p.batch * p.headsQ * double(p.seqQ) * p.seqK * p.headDim / (causal ? 2 : 1);
      double fa2Tflops = 0;
      struct Entry {
        std::string label;
        CUfunction f;
        std::function<void()> launch;
      };
      std::vector<Entry> entries;
      {
        CUfunction f = fa2Function(fa2, causal);
        entries.push_back({"FA2 default " + fa2ScheduleName(fa2.schedule), f,
                           [&, f] { fa2LaunchFunction(f, p, dp.params, fa2.schedule); }});
      }
      for (const WgmmaVariant &v : wgmmaVariants()) {
        if (v.headDim != headDim) continue;
        CUfunction f = wgmmaFunction(v, causal);
        entries.push_back({variantLabel(v), f, [&, f, v] { wgmmaLaunch(f, v, p, dp.params); }});
      }
      for (const WgmmaWsVariant &v : wgmmaWsVariants()) {
        if (v.headDim != headDim) continue;
        CUfunction f = wgmmaWsFunction(v, causal);
        const WsMaps maps = wsMaps(p, dp.params, v.blockN);
        entries.push_back({wsLabel(v), f, [&, f, v, maps] { wgmmaWsLaunch(f, v, p, dp.params, maps); }});
      }
      for (const Entry &en : entries) {
        dp.o.fill(0xFF), dp.lse.fill(0xFF);
        for (int i = 0; i < 2; ++i) en.launch(); // warm-up
        constexpr int REPS = 12;
        std::vector<CUevent> ev(REPS + 1);
        for (auto &x : ev) x = runtime::eventCreate();
        runtime::eventRecord(ev[0], nullptr);
        for (int i = 0; i < REPS; ++i) {
          en.launch();
          runtime::eventRecord(ev[i + 1], nullptr);
        }
        runtime::eventSynchronize(ev[REPS]);
        std::vector<float> ms;
        for (int i = 0; i < REPS; ++i) ms.push_back(runtime::eventElapsedMs(ev[i], ev[i + 1]));
        for (auto &x : ev) runtime::eventDestroy(x);
        std::sort(ms.begin(), ms.end());
        const double median = ms[ms.size() / 2], tflops = flops / (median * 1e-3) / 1e12;
        if (fa2Tflops == 0) fa2Tflops = tflops;
        const int regs = runtime::funcGetAttribute(en.f, CU_FUNC_ATTRIBUTE_NUM_REGS);
        const RowErrors e = checkOutput(dp, 16);
        std::printf("wgmma bench %-40s %-44s %3d regs  median %.3f ms (min %.3f, max %.3f)  %.1f TFLOP/s  x%.2f  "
                    "sampled max|out-ref| %.3e (naive %.3e)\n",
                    describe(p).c_str(), en.label.c_str(), regs, median, ms.front(), ms.back(), tflops,
                    tflops / fa2Tflops, e.maxErr, e.maxNaiveErr);
        CHECK(e.unwritten == 0);
        CHECK(e.maxErr <= 2 * e.maxNaiveErr + 1e-5);
        char row[300];
        std::snprintf(row, sizeof(row), "| D=%d B=4 H=16 S=4096 %s | %s | %d | %.3f | %.1f | %.2f |\n", headDim,
                      causal ? "causal" : "full", en.label.c_str(), regs, median, tflops, tflops / fa2Tflops);
        table += row;
      }
    }
  }
  std::printf("\n%s", table.c_str());
}
