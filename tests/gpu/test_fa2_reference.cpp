// [gpu] The reference FlashAttention-2 kernel against an fp64 host reference, with FlashAttention's
// rule max|out - ref| <= 2 * max|naive_same_precision - ref| + 1e-5; output and LSE poisoned (NaN)
// before the launch and every element checked written (and padding checked untouched).
// [sweep] (hidden; run with "[sweep]"): the same check for every schedule the benchmark sweeps.
// [bench] (hidden; run with "[bench]"): throughput of those schedules, bf16, B=4 H=16 S=4096 D=128 and
// D=64, B=1 H=16 S=16384 D=128, non-causal and causal; a markdown table is printed last.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "Fa2DeviceProblem.h"
#include "Fa2Launch.h"
#include "GpuTest.h"

using namespace tilefuse;
using namespace tilefuse::test;
using runtime::DeviceBuffer;

namespace {




std::string describe(const AttentionProblem &p) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), "%s D=%d %s B=%d Hq=%d Hkv=%d Sq=%d Sk=%d", dtypeName(p.dtype).c_str(), p.headDim,
                p.causal ? "causal" : "full", p.batch, p.headsQ, p.headsKv, p.seqQ, p.seqK);
  return buf;
}

} // namespace

TEST_CASE("FA2 reference kernel matches fp64 attention with tails and GQA and causal for D 32 64 128 in bf16 and fp16", "[gpu][fa2]") {
  TF_REQUIRE_GPU();
  const AttentionProblem cases[] = {
      // B, Hq, Hkv, Sq, Sk, D, causal, dtype
      {2, 4, 4, 128, 128, 64, false, Dtype::bf16},  {1, 4, 2, 200, 333, 64, true, Dtype::bf16},
      {1, 6, 2, 77, 1000, 128, false, Dtype::bf16}, {2, 4, 1, 257, 130, 128, true, Dtype::bf16},
      {1, 2, 2, 300, 190, 64, false, Dtype::fp16},  {2, 2, 2, 256, 256, 64, true, Dtype::fp16},
      {2, 4, 4, 65, 64, 128, false, Dtype::fp16},   {1, 8, 2, 190, 190, 128, true, Dtype::fp16},
      {1, 2, 1, 100, 150, 32, true, Dtype::bf16},   {1, 2, 2, 64, 1, 32, false, Dtype::fp16},
  };
  for (const AttentionProblem &p : cases) {
    INFO(describe(p));
    DeviceProblem dp(p);
    fa2Launch(p, dp.params);
    runtime::contextSynchronize();
    const auto o = dp.o.download<std::uint16_t>();
    const auto lse = dp.lse.download<float>();
    RowErrors e;
    for (int b = 0; b < p.batch; ++b)
      for (int h = 0; h < p.headsQ; ++h)
        for (int i = 0; i < p.seqQ; ++i) compareRow(dp.p, dp.in, dp.os, o, lse, b, h, i, e);
    long padTouched = 0; // the 8 elements after each row of O must still be NaN (0xFFFF)
    for (int b = 0; b < p.batch; ++b)
      for (int i = 0; i < p.seqQ; ++i)
        for (int d = 0; d < 8; ++d) padTouched += o[b * dp.os.batch + i * dp.os.row + p.headsQ * p.headDim + d] != 0xFFFF;
    std::printf("fa2 %-44s max|out-ref| %.3e  max|naive-ref| %.3e  max|lse-ref| %.3e  unwritten %ld\n",
                describe(p).c_str(), e.maxErr, e.maxNaiveErr, e.maxLseErr, e.unwritten);
    CHECK(e.unwritten == 0);
    CHECK(e.lseBad == 0);
    CHECK(padTouched == 0);
    CHECK(e.maxErr <= 2 * e.maxNaiveErr + 1e-5);
    CHECK(e.maxLseErr <= 1e-3);
  }
}

namespace {

/// One schedule of the sweep: a label, the knobs, extra NVRTC flags.
struct SweepEntry {
  std::string label;
  Fa2Schedule schedule;
  std::vector<std::string> flags;
};

/// The schedules the benchmark compares for a head dim. The first is the schedule of the kernel before
/// this sweep (v0: 16 query rows per warp, single-buffered K/V, Q in registers); "lazy" / no suffix =
/// TILEFUSE_FA2_LAZY_RESCALE 1 / 0; the last row ("default": fa2DefaultSchedule, lazy) re-times one
/// of the rows above, so the two readings show the run-to-run spread.
std::vector<SweepEntry> sweepSchedules(int headDim) {
  const Fa2Schedule v0{64, 64, 4, 1, 1, 2};
  const Fa2Schedule def = fa2DeviceDefaultSchedule(headDim);
  const std::string lazy = "-DTILEFUSE_FA2_LAZY_RESCALE=1", eager = "-DTILEFUSE_FA2_LAZY_RESCALE=0";
  if (headDim == 128)
    return {{"v0 schedule", v0, {eager}},
            {"FA2 tiles, 1 stage", {128, 64, 4, 1, 0, 2}, {eager}},
            {"FA2 tiles, 1 stage, lazy", {128, 64, 4, 1, 0, 2}, {lazy}},
            {"2 stages", {128, 64, 4, 2, 0, 2}, {eager}},
            {"2 stages, lazy", {128, 64, 4, 2, 0, 2}, {lazy}},
            {"16 rows, 3 blk/SM, 1 stage", {64, 64, 4, 1, 1, 3}, {eager}},
            {"16 rows, 3 blk/SM, BN 32", {64, 32, 4, 2, 1, 3}, {eager}},
            {"8 warps x 32 rows", {256, 64, 8, 2, 0, 1}, {eager}},
            {"default", def, {}}};
  return {{"v0 schedule", v0, {eager}},
          {"2 stages, Q in regs", {128, 64, 4, 2, 1, 2}, {eager}},
          {"2 stages, Q in regs, lazy", {128, 64, 4, 2, 1, 2}, {lazy}},
          {"1 stage, Q in regs", {128, 64, 4, 1, 1, 2}, {eager}},
          {"FA2 tiles 128x128, 1 stage", {128, 128, 4, 1, 0, 2}, {eager}},
          {"16 rows, 4 blk/SM", {64, 64, 4, 2, 1, 4}, {eager}},
          {"default", def, {}}};
}

Fa2Variant variantOf(const SweepEntry &e, Dtype dtype, int headDim) { return {dtype, headDim, e.schedule, e.flags}; }

/// Launches `launch`, then checks every row of O and LSE against the fp64 reference (FA rule), that
/// every element was written and that the padding after each O row was not.
template <typename Launch> void checkAgainstReference(DeviceProblem &dp, Launch &&launch) {
  const AttentionProblem &p = dp.p;
  dp.o.fill(0xFF), dp.lse.fill(0xFF);
  launch();
  runtime::contextSynchronize();
  const auto o = dp.o.download<std::uint16_t>();
  const auto lse = dp.lse.download<float>();
  RowErrors e;
  for (int b = 0; b < p.batch; ++b)
    for (int h = 0; h < p.headsQ; ++h)
      for (int i = 0; i < p.seqQ; ++i) compareRow(dp.p, dp.in, dp.os, o, lse, b, h, i, e);
  long padTouched = 0;
  for (int b = 0; b < p.batch; ++b)
    for (int i = 0; i < p.seqQ; ++i)
      for (int d = 0; d < 8; ++d) padTouched += o[b * dp.os.batch + i * dp.os.row + p.headsQ * p.headDim + d] != 0xFFFF;
  std::printf("  %-46s max|out-ref| %.3e  max|naive-ref| %.3e  max|lse-ref| %.3e  unwritten %ld\n",
              describe(p).c_str(), e.maxErr, e.maxNaiveErr, e.maxLseErr, e.unwritten);
  CHECK(e.unwritten == 0);
  CHECK(e.lseBad == 0);
  CHECK(padTouched == 0);
  CHECK(e.maxErr <= 2 * e.maxNaiveErr + 1e-5);
  CHECK(e.maxLseErr <= 1e-3);
}

} // namespace

TEST_CASE("FA2 reference kernel matches fp64 attention under every swept schedule", "[.][sweep][gpu]") {
  TF_REQUIRE_GPU();
  std::vector<Fa2Variant> all;
  for (int d : {64, 128})
    for (const SweepEntry &e : sweepSchedules(d))
      for (Dtype t : {Dtype::bf16, Dtype::fp16}) all.push_back(variantOf(e, t, d));
  fa2Prepare(all);
  for (int d : {64, 128})
    for (const SweepEntry &e : sweepSchedules(d)) {
      INFO(fa2ScheduleName(e.schedule) << " " << e.label);
      std::printf("fa2 sweep D=%d %s (%s)\n", d, fa2ScheduleName(e.schedule).c_str(), e.label.c_str());
      const AttentionProblem cases[] = {
          // B, Hq, Hkv, Sq, Sk, D, causal, dtype
          {1, 4, 2, 200, 333, d, true, Dtype::bf16},  {2, 2, 1, 257, 130, d, true, Dtype::fp16},
          {1, 3, 3, 300, 1000, d, false, Dtype::bf16}, {1, 2, 2, 300, 100, d, true, Dtype::bf16},
          {1, 2, 2, 513, 513, d, true, Dtype::fp16},
      };
      for (const AttentionProblem &p : cases) {
        INFO(describe(p));
        DeviceProblem dp(p);
        const Fa2Variant v = variantOf(e, p.dtype, d);
        checkAgainstReference(dp, [&] { fa2Launch(p, dp.params, v); });
      }
    }
}

TEST_CASE("FA2 reference kernel throughput of the swept schedules, bf16", "[.][bench][gpu]") {
  TF_REQUIRE_GPU();
  const runtime::DeviceInfo &dev = testDevice();
  std::printf("device %s (%s, %d SMs), driver %d, NVRTC %s\n", dev.name.c_str(), dev.arch().c_str(), dev.smCount,
              runtime::driverVersion(), runtime::nvrtcVersion().c_str());
  struct Shape {
    int batch, heads, seq, headDim;
  };
  const Shape shapes[] = {{4, 16, 4096, 128}, {4, 16, 4096, 64}, {1, 16, 16384, 128}};
  std::vector<Fa2Variant> all;
  for (const Shape &sh : shapes)
    for (const SweepEntry &e : sweepSchedules(sh.headDim)) all.push_back(variantOf(e, Dtype::bf16, sh.headDim));
  fa2Prepare(all);

  std::string table =
      "| problem | schedule | what | regs | spill B | smem KiB | blocks/SM | median ms | TFLOP/s | vs v0 |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const Shape &sh : shapes) {
    DeviceProblem dp(AttentionProblem{sh.batch, sh.heads, sh.heads, sh.seq, sh.seq, sh.headDim, false, Dtype::bf16});
    for (bool causal : {false, true}) {
      dp.p.causal = causal;
      const AttentionProblem &p = dp.p;
      const double flops = 4.0 * p.batch * p.headsQ * double(p.seqQ) * p.seqK * p.headDim / (causal ? 2 : 1);
      double v0Tflops = 0;
      for (const SweepEntry &e : sweepSchedules(p.headDim)) {
        const Fa2Variant v = variantOf(e, p.dtype, p.headDim);
        CUfunction f = fa2Function(v, causal);
        const int regs = runtime::funcGetAttribute(f, CU_FUNC_ATTRIBUTE_NUM_REGS);
        const int local = runtime::funcGetAttribute(f, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES);
        const unsigned smem = fa2SharedBytes(p.headDim, e.schedule);
        const int blocks = fa2BlocksPerSm(e.schedule, regs, smem);
        dp.o.fill(0xFF), dp.lse.fill(0xFF);
        for (int i = 0; i < 2; ++i) fa2LaunchFunction(f, p, dp.params, e.schedule); // warm-up
        // Back-to-back launches between events: the host runs ahead, so no launch gap is timed.
        constexpr int REPS = 12;
        std::vector<CUevent> ev(REPS + 1);
        for (auto &x : ev) x = runtime::eventCreate();
        runtime::eventRecord(ev[0], nullptr);
        for (int i = 0; i < REPS; ++i) {
          fa2LaunchFunction(f, p, dp.params, e.schedule);
          runtime::eventRecord(ev[i + 1], nullptr);
        }
        runtime::eventSynchronize(ev[REPS]);
        std::vector<float> ms;
        for (int i = 0; i < REPS; ++i) ms.push_back(runtime::eventElapsedMs(ev[i], ev[i + 1]));
        for (auto &x : ev) runtime::eventDestroy(x);
        std::sort(ms.begin(), ms.end());
        const double median = ms[ms.size() / 2];
        const double tflops = flops / (median * 1e-3) / 1e12;
        if (v0Tflops == 0) v0Tflops = tflops;
        std::printf("fa2 bench %-44s %-16s %-26s %3d regs %4d B local %5.1f KiB smem %d blk/SM  median %.3f ms "
                    "(min %.3f, max %.3f)  %.1f TFLOP/s  x%.2f\n",
                    describe(p).c_str(), fa2ScheduleName(e.schedule).c_str(), e.label.c_str(), regs, local,
                    smem / 1024.0, blocks, median, ms.front(), ms.back(), tflops, tflops / v0Tflops);
        // Sampled correctness of the timed output.
        const auto o = dp.o.download<std::uint16_t>();
        const auto lse = dp.lse.download<float>();
        RowErrors err;
        std::uniform_int_distribution<int> bd(0, p.batch - 1), hd(0, p.headsQ - 1), id(0, p.seqQ - 1);
        for (int n = 0; n < (p.seqQ > 8192 ? 8 : 16); ++n) compareRow(dp.p, dp.in, dp.os, o, lse, bd(rng()), hd(rng()), id(rng()), err);
        std::printf("  sampled %ld rows: max|out-ref| %.3e  max|naive-ref| %.3e  max|lse-ref| %.3e\n", err.rows,
                    err.maxErr, err.maxNaiveErr, err.maxLseErr);
        CHECK(err.unwritten == 0);
        CHECK(err.maxErr <= 2 * err.maxNaiveErr + 1e-5);
        char row[400];
        std::snprintf(row, sizeof(row),
                      "| D=%d B=%d H=%d S=%d %s | %s | %s | %d | %d | %.0f | %d | %.3f | %.1f | %.2f |\n", p.headDim,
                      p.batch, p.headsQ, p.seqQ, causal ? "causal" : "full",
                      fa2ScheduleName(e.schedule).c_str(), e.label.c_str(), regs, local, smem / 1024.0, blocks, median,
                      tflops, tflops / v0Tflops);
        table += row;
      }
    }
  }
  std::printf("\n%s", table.c_str());
}
