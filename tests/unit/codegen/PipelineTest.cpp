// Every shipped spec, lowered and fused by the real pipeline (--tilefuse-fuse, as the tuner runs it),
// generates CUDA that compiles with NVRTC for sm_80, sm_86, sm_89 and sm_90 and assembles with ptxas
// without spills (registers / spills printed). CPU only.
#include "FuseSupport.h"

#include "tilefuse/runtime/Nvrtc.h"
#include "tilefuse/runtime/Ptxas.h"

#include <catch2/catch.hpp>

#include <cstdio>

using namespace tilefuse;
using namespace tilefuse::codegen;
using namespace tilefuse::codegen::test;

namespace {

/// Every shipped spec at each head dim in `dims` with defaultSchedule(D, dtype, arch, the spec's hints) as
/// the Engine picks it, compiled for `arch`
/// (sm_90a: the sm90 backend); BLOCK_N = 64 when `fixedBlockN` (one fused program per spec and D).
void compileSpecs(const std::string &arch, std::initializer_list<int64_t> dims = {128, 64}, bool fixedBlockN = true) {
  const std::vector<std::string> specs = shippedSpecs();
  REQUIRE(specs.size() >= 8);
  for (const std::string &name : specs) {
    const spec::Spec s = loadSpec(name);
    for (int64_t d : dims) {
      spec::ShapeOverrides ov;
      ov.D = d;
      const spec::Shape shape = spec::resolveShape(s, ov);
      Schedule sched = defaultSchedule(static_cast<int>(d), s.dtype, arch, ScheduleHints::of(s, shape));
      if (fixedBlockN)
        sched.blockN = 64;
      const Program prog = fuseSpec(s, shape, sched.blockM, sched.blockN);
      INFO(name << " D=" << d << " " << arch << " " << sched.toString());
      const GeneratedKernel k = generateKernel(prog.func(), sched, KernelSignature::fromSpec(s));
      REQUIRE(k.dynamicSmemBytes <= maxDynamicSmemBytes(arch));
      runtime::CompileOptions options;
      options.arch = arch;
      options.sourceName = k.kernelName + ".cu";
      const runtime::CompileResult c = runtime::compileCuda(k.source, options);
      const runtime::PtxasReport r = runtime::runPtxas(c.ptx, arch);
      const runtime::PtxasFunctionReport *f = r.find(k.kernelName);
      REQUIRE(f != nullptr);
      std::printf("codegen fused %-15s D=%-3lld %-6s %-58s %3d registers, %3d B spill stores, %3d B spill loads, "
                  "%6zu B smem, NVRTC %.0f ms\n",
                  name.c_str(), static_cast<long long>(d), arch.c_str(), sched.toString().c_str(), f->registers,
                  f->spillStoreBytes, f->spillLoadBytes, k.dynamicSmemBytes, c.compileMs);
      CHECK(f->spillStoreBytes == 0);
      CHECK(f->spillLoadBytes == 0);
    }
  }
}

} // namespace

TEST_CASE("Fused programs of every shipped spec compile for sm_80", "[nvrtc][ptxas][pipeline]") { compileSpecs("sm_80"); }
TEST_CASE("Fused programs of every shipped spec compile for sm_86", "[nvrtc][ptxas][pipeline]") { compileSpecs("sm_86"); }
TEST_CASE("Fused programs of every shipped spec compile for sm_89", "[nvrtc][ptxas][pipeline]") { compileSpecs("sm_89"); }
TEST_CASE("Fused programs of every shipped spec compile for sm_90", "[nvrtc][ptxas][pipeline]") { compileSpecs("sm_90"); }
// Head dims that are not a multiple of 64: 48- and 96-column st tiles (32- and 64-byte swizzles) on sm80,
// 80 and 96 columns in 128-column sw128 tiles on sm90 (wgmma n80 / n96 for O += P V).
TEST_CASE("Fused programs of every shipped spec compile at D = 48, 80, 96 for sm_80", "[nvrtc][ptxas][pipeline]") {
  compileSpecs("sm_80", {48, 80, 96}, false);
}
TEST_CASE("Fused programs of every shipped spec compile at D = 80, 96 for sm_90a (wgmma)", "[nvrtc][ptxas][pipeline]") {
  compileSpecs("sm_90a", {80, 96}, false);
}

TEST_CASE("Fused programs keep their structure through code generation", "[pipeline][emit]") {
  const spec::Spec s = loadSpec("causal");
  const Program prog = fuseSpec(s, spec::resolveShape(s, {}), 64, 64);
  const GeneratedKernel k = generateKernel(prog.func(), scheduleFor(prog), KernelSignature::fromSpec(s));
  // The classification's skip branch cuts the loop at the diagonal; the full branch has no mask.
  CHECK(contains(k.source, "later K/V tiles are empty under the mask: the loop stops before them"));
  CHECK(contains(k.source, "warp::row_max(m_new, s_acc, m_i);"));
  CHECK(contains(k.source, "warp::mma_AB(o_acc, p_frag, v_smem[stage], 0);"));
  // Every path of an iteration (skip, full, partial) does the pipeline's waits and refills.
  size_t waits = 0;
  for (size_t at = 0; (at = k.source.find("k_smem of this iteration has landed", at)) != std::string::npos; ++at)
    ++waits;
  CHECK(waits == 3);
  const spec::Spec doc = loadSpec("document_mask");
  const Program docProg = fuseSpec(doc, spec::resolveShape(doc, {}), 64, 64);
  const std::string docSrc = generateKernel(docProg.func(), scheduleFor(docProg), KernelSignature::fromSpec(doc)).source;
  // A run-time block mask decides the tiles (its classification kernel is in the source); the in-kernel
  // bounds (min / max of the document ids of a tile, a loop over scalars) are not written.
  CHECK(contains(docSrc, "_block_mask("));
  CHECK(!contains(docSrc, "a loop over scalars"));
  CHECK(contains(docSrc, "doc_ids(batch, "));
}

TEST_CASE("ScheduleHints::of reads the spec's mask and score_mod and captures and layout", "[schedule][spec]") {
  auto hints = [](const std::string &name, int64_t sk) {
    const spec::Spec s = loadSpec(name);
    spec::ShapeOverrides ov;
    ov.Sq = sk, ov.Sk = sk;
    return ScheduleHints::of(s, spec::resolveShape(s, ov));
  };
  const ScheduleHints mha = hints("mha", 8192);
  CHECK(mha.maskFree);
  CHECK(mha.plain);
  CHECK(mha.sk == 8192);
  const ScheduleHints causal = hints("causal", 4096);
  CHECK(!causal.maskFree);
  CHECK(!causal.plain);
  CHECK(!causal.maskReadsCapture);
  const ScheduleHints bias = hints("relative_bias", 4096); // a score_mod reading a capture, no mask
  CHECK(bias.maskFree);
  CHECK(!bias.plain);
  CHECK(!bias.maskReadsCapture);
  const ScheduleHints doc = hints("document_mask", 4096); // doc_ids[b, q_idx] == doc_ids[b, kv_idx]
  CHECK(!doc.maskFree);
  CHECK(doc.maskReadsCapture);
  CHECK(!doc.balancedMask); // decided at run time by its block mask, not sampled
  // Balanced: every Q tile has about as many K/V tiles as the others (the persistent grid pays).
  CHECK(!causal.balancedMask); // 1 to 32 K/V tiles per Q tile at S 4096
  CHECK(!hints("sliding_window", 16384).balancedMask); // window 4096: 1 to 33 K/V tiles, mean 28.9 > 16
  CHECK(!hints("sliding_window", 4096).balancedMask); // a window as long as the sequence is causal
  CHECK(hints("bench/sliding1024_causal", 4096).balancedMask);
  CHECK(hints("block_diagonal", 4096).balancedMask);
  CHECK(hints("block_diagonal", 100).balancedMask); // one Q tile
  CHECK(!mha.balancedMask); // no mask: maskFree decides
  CHECK(!hints("alibi", 4096).balancedMask); // causal
  // Bottom-right causal with Sq = 128 < Sk = 1024 leaves 8 K/V tiles to its one Q tile: balanced; with
  // Sq = 2048 < Sk = 4096, 17 to 32 (even, but long loops): not.
  const spec::Spec causalSpec = loadSpec("causal");
  spec::ShapeOverrides rect;
  rect.Sq = 128, rect.Sk = 1024;
  CHECK(ScheduleHints::of(causalSpec, spec::resolveShape(causalSpec, rect)).balancedMask);
  rect.Sq = 2048, rect.Sk = 4096;
  CHECK(!ScheduleHints::of(causalSpec, spec::resolveShape(causalSpec, rect)).balancedMask);
  // The hint picks the persistent grid on sm_90a; causal keeps the hardware's block scheduler.
  CHECK(defaultSchedule(128, spec::DType::BF16, "sm_90a", hints("bench/sliding1024_causal", 4096)).persistent);
  CHECK(!defaultSchedule(128, spec::DType::BF16, "sm_90a", causal).persistent);
}

// The sm90 epilogue through shared memory (Plan.h StagedStore): O gets a TMA map of one warpgroup's 64 rows
// and 16-byte rows, the kernel's shared memory holds the buffer, and the stores are stmatrix + TMA. Packed
// sequences too, for a warpgroup whose 64 rows are all in the sequence; one whose rows cross its end copies
// them out with 16-byte stores (a box would write into the next sequence).
// Where the buffer does not fit after the loaded tiles (D 256), O is stored from the registers as before.
TEST_CASE("sm90 kernels store O through shared memory when its buffer fits", "[pipeline][sm90]") {
  auto build = [](const std::string &name, int64_t d) {
    const spec::Spec s = loadSpec(name);
    spec::ShapeOverrides ov;
    ov.D = d;
    const spec::Shape shape = spec::resolveShape(s, ov);
    const Schedule sched = defaultSchedule(static_cast<int>(d), s.dtype, "sm_90a", ScheduleHints::of(s, shape));
    const Program prog = fuseSpec(s, shape, sched.blockM, sched.blockN);
    return generateKernel(prog.func(), sched, KernelSignature::fromSpec(s));
  };
  auto mapOf = [](const GeneratedKernel &k, const std::string &name) -> const ParamField * {
    for (const ParamField &f : k.params.fields)
      if (f.source == ParamSource::TensorMap && f.name == name)
        return &f;
    return nullptr;
  };
  auto tensor = [](const GeneratedKernel &k, const std::string &name) -> const TensorAbi & {
    for (const TensorAbi &t : k.params.tensors)
      if (t.arg.name == name)
        return t;
    FAIL("no tensor " << name);
    return k.params.tensors.front();
  };

  const GeneratedKernel mha = build("mha", 128);
  const ParamField *o = mapOf(mha, "O_tma");
  REQUIRE(o != nullptr);
  CHECK(o->boxRows == 64);
  CHECK(o->boxCols == 64);
  CHECK(mapOf(mha, "Q_tma")->boxRows == 128);
  CHECK(tensor(mha, "O").needs16ByteRows);
  CHECK(contains(mha.source, "warpgroup::store_sw128<__nv_bfloat16, 128, 128>(store_smem, o_acc, warp_row0);"));
  CHECK(contains(mha.source, "tma_store_4d(p.O_tma, store_smem + 16384u + wg_row0 * 128u, 64,"));
  CHECK(contains(mha.source, "tma_store_wait<0>();"));
  CHECK_FALSE(contains(mha.source, "warp::store(gv<T>{p.O"));
  // Q in two slots (persistent), K and V in two stages, then the 32 KiB buffer, then the mbarriers.
  CHECK(mha.dynamicSmemBytes == 1024 + 2 * 32768 + 4 * 32768 + 32768 + 12 * 8);

  const GeneratedKernel d256 = build("mha", 256);
  CHECK(mapOf(d256, "O_tma") == nullptr);
  CHECK(contains(d256.source, "warp::store(gv<T>{p.O"));
  CHECK_FALSE(contains(d256.source, "store_smem"));

  const GeneratedKernel packed = build("varlen/causal", 128);
  const ParamField *po = mapOf(packed, "O_tma");
  REQUIRE(po != nullptr);
  CHECK(po->boxRows == 64);
  CHECK(tensor(packed, "O").needs16ByteRows);
  CHECK(contains(packed.source, "if (static_cast<int>(q_row0) + wg_row0 + 64 <= static_cast<int>(seqlen_q)) {"));
  CHECK(contains(packed.source, "tma_store_4d(p.O_tma, store_smem + wg_row0 * 128u, 0, static_cast<int>(seq_start_q + "
                                "q_row0) + wg_row0, static_cast<int>(head), 0);"));
  CHECK(contains(packed.source, "warpgroup::store_rows_from_sw128<__nv_bfloat16, 128, 128>("));
  CHECK(contains(packed.source, "tma_store_wait<0>();"));
  // LSE (f32, one value per row) keeps its own store.
  CHECK(contains(packed.source, "warp::store(gv<float>{p.LSE"));
}
