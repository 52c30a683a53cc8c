// [gpu] Packed variable-length sequences (spec "layout": "packed", FlashAttention's varlen API) through the
// Engine: Q / O [total_q, Hq, D], K / V [total_k, Hkv, D], LSE [Hq, total_q], int32 cu_seqlens_q / _k.
// Batches with lengths 1, 63, 64, 65 (around BLOCK_M) and 4097 (many tiles, a partial last one), one
// with empty sequences and one of 300 mostly short ones (the grid of the packed tiles), for
// causal (also with K lengths that differ from Q's: bottom-right alignment per sequence), a sliding window
// with GQA 4:1, and a score_mod reading a captured per-head tensor (ALiBi).
// Every sequence is checked against the fp64 reference by FlashAttention's rule (compareWithReference on
// the sequence's rows alone, with its lengths as Sq / Sk); O and LSE are poisoned (NaN) beforehand, with
// extra rows after total_q and extra LSE columns per head that must stay poisoned. Every case runs on each
// backend: the sm80 one (mma.sync + cp.async) on every GPU; on an sm_90 GPU also the sm90 one (wgmma + TMA
// over maps of the whole packed tensor, the default there), with its default schedule (pingpong, BLOCK_M
// 128) and with the schedule variants "sm90:intra64" (one consumer warpgroup, BLOCK_M 64, overlap = intra),
// "sm90:pingpong_intra", "sm90:persistent" (the persistent grid: each block loops over (Q tile, head,
// sequence) tiles and skips those past a sequence's end), "sm90:paired" (the same, Q tiles dealt in pairs), "sm90:snake" (the same, dealt back and forth), "sm90:dynamic" (the same, tiles claimed from a counter) and "sm90:qreg" (Q in registers, S = Q K^T as wgmma RS). TILEFUSE_TEST_BACKENDS (e.g. "sm80" or "sm90") keeps the backends it names.
// Where the engine's choice ("auto") is the backend under test, the C API's tilefuse_launch_packed must
// write the same bits; bad packed arguments are refused with LaunchError on every backend.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "GpuTest.h"
#include "test_generated_reference.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/spec/Packed.h"
#include "tilefuse/spec/Spec.h"
#include "tilefuse/tilefuse.h"
#include "tilefuse/tilefuse_c.h"

using namespace tilefuse;
using namespace tilefuse::test;
using runtime::DeviceBuffer;

namespace {

constexpr int64_t kTailRows = 64;   ///< poisoned rows of O after total_q
constexpr int64_t kLsePadding = 16; ///< poisoned LSE entries after each head's total_q

struct VarlenCase {
  std::string label;
  std::string specFile; ///< under specs/varlen
  int64_t Hq, Hkv, D;
  std::vector<int64_t> lensQ, lensK; ///< lensK empty: self-attention (cu_seqlens_k = cu_seqlens_q)
};

/// Packed host tensors and their device copies.
struct PackedProblem {
  spec::Spec spec;
  spec::Shape shape; ///< B = sequences, Sq / Sk = max lengths
  spec::PackedSeqs seqs;
  Dtype dtype = Dtype::bf16;
  std::vector<std::uint16_t> q, k, v;
  std::vector<HostCapture> captures;
  DeviceBuffer dq, dk, dv, dO, dLse, dCuQ, dCuK;
  std::vector<DeviceBuffer> dCaptures;
  std::vector<CaptureRef> refs;
  int64_t lseHeadStride = 0;

  PackedProblem(const VarlenCase &c) : spec(spec::parseSpecFile(specsDir() + "/varlen/" + c.specFile)) {
    REQUIRE(spec.layout == spec::Layout::Packed);
    seqs = spec::makePackedSeqs(spec::cuFromLengths("lensQ", c.lensQ),
                                c.lensK.empty() ? std::vector<int64_t>{} : spec::cuFromLengths("lensK", c.lensK));
    spec::ShapeOverrides o;
    o.B = seqs.batch(), o.Sq = std::max<int64_t>(seqs.maxLenQ(), 1), o.Sk = std::max<int64_t>(seqs.maxLenK(), 1);
    o.Hq = c.Hq, o.Hkv = c.Hkv, o.D = c.D;
    shape = spec::resolveShape(spec, o);
    dtype = spec.dtype == spec::DType::FP16 ? Dtype::fp16 : Dtype::bf16;
    const int64_t tq = seqs.totalQ(), tk = seqs.totalK();
    q = randomHalves(dtype, std::size_t(tq * shape.Hq * shape.D));
    k = randomHalves(dtype, std::size_t(tk * shape.Hkv * shape.D));
    v = randomHalves(dtype, std::size_t(tk * shape.Hkv * shape.Dv));
    // Captures as makeProblem draws them (random values, never zeros), at the packed call's shape.
    captures = makeProblem(spec, shape).captures;
    dq = DeviceBuffer(std::max<std::size_t>(q.size() * 2, 16)), dk = DeviceBuffer(std::max<std::size_t>(k.size() * 2, 16));
    dv = DeviceBuffer(std::max<std::size_t>(v.size() * 2, 16));
    if (!q.empty())
      dq.upload(q);
    if (!k.empty())
      dk.upload(k), dv.upload(v);
    dO = DeviceBuffer(std::size_t((tq + kTailRows) * shape.Hq * shape.Dv) * 2);
    lseHeadStride = tq + kLsePadding;
    dLse = DeviceBuffer(std::size_t(shape.Hq * lseHeadStride) * 4);
    const std::vector<int32_t> cuQ = seqs.cuQ32(), cuK = seqs.cuK32();
    dCuQ = DeviceBuffer(cuQ.size() * 4), dCuK = DeviceBuffer(cuK.size() * 4);
    dCuQ.upload(cuQ), dCuK.upload(cuK);
    for (const HostCapture &h : captures) {
      dCaptures.emplace_back(h.bytes.size());
      dCaptures.back().upload(h.bytes);
    }
    for (const DeviceBuffer &b : dCaptures)
      refs.push_back({reinterpret_cast<const void *>(b.get()), nullptr});
    poison();
  }

  void poison() { dO.fill(0xFF), dLse.fill(0xFF); }

  AttentionArgs args() const {
    AttentionArgs a;
    a.B = shape.B, a.Hq = shape.Hq, a.Hkv = shape.Hkv;
    a.q = TensorRef::packed(reinterpret_cast<const void *>(dq.get()), shape.Hq, shape.D);
    a.k = TensorRef::packed(reinterpret_cast<const void *>(dk.get()), shape.Hkv, shape.D);
    a.v = TensorRef::packed(reinterpret_cast<const void *>(dv.get()), shape.Hkv, shape.Dv);
    a.o = TensorRef::packed(reinterpret_cast<const void *>(dO.get()), shape.Hq, shape.Dv);
    a.lse = {reinterpret_cast<float *>(dLse.get()), 0, lseHeadStride};
    a.captures = refs;
    a.cuSeqlensQ = reinterpret_cast<const int32_t *>(dCuQ.get());
    a.cuSeqlensK = reinterpret_cast<const int32_t *>(dCuK.get());
    a.totalQ = seqs.totalQ(), a.totalK = seqs.totalK();
    a.maxSeqlenQ = shape.Sq, a.maxSeqlenK = shape.Sk;
    return a;
  }

  /// Every non-empty sequence against the fp64 reference (its rows alone); the poisoned tail rows of O and
  /// the LSE padding untouched. Returns the worst comparison's numbers through `worst`.
  bool check(const std::vector<std::uint16_t> &o, const std::vector<float> &lse, Comparison &worst,
             std::string &why) const {
    bool ok = true;
    const int64_t Hq = shape.Hq, Dv = shape.Dv, tq = seqs.totalQ();
    for (int64_t b = 0; b < seqs.batch(); ++b) {
      const int64_t lq = seqs.lenQ(b), lk = seqs.lenK(b);
      if (lq == 0)
        continue; // no rows; the neighbours' checks and the tail cover stray writes
      REQUIRE(lk > 0); // the cases give every sequence with queries some keys
      // Sequence b as a batch of one: Q, O rows [cuQ[b], cuQ[b + 1]) (BSHD with B = 1), K, V rows of cuK.
      SpecProblem p;
      p.spec = &spec;
      p.shape = shape;
      p.shape.B = 1, p.shape.Sq = lq, p.shape.Sk = lk;
      p.dtype = dtype;
      const auto slice = [](const std::vector<std::uint16_t> &t, int64_t row0, int64_t rows, int64_t rowElems) {
        return std::vector<std::uint16_t>(t.begin() + row0 * rowElems, t.begin() + (row0 + rows) * rowElems);
      };
      p.q = slice(q, seqs.cuQ[b], lq, Hq * shape.D);
      p.k = slice(k, seqs.cuK[b], lk, shape.Hkv * shape.D);
      p.v = slice(v, seqs.cuK[b], lk, shape.Hkv * shape.Dv);
      p.qs = {0, shape.D, Hq * shape.D};
      p.ks = {0, shape.D, shape.Hkv * shape.D};
      p.vs = {0, shape.Dv, shape.Hkv * shape.Dv};
      p.captures = captures;
      std::vector<float> lseB;
      if (spec.lse)
        for (int64_t h = 0; h < Hq; ++h)
          for (int64_t i = 0; i < lq; ++i)
            lseB.push_back(lse[std::size_t(h * lseHeadStride + seqs.cuQ[b] + i)]);
      const Comparison c = compareWithReference(p, slice(o, seqs.cuQ[b], lq, Hq * Dv), {0, Dv, Hq * Dv}, 0, lseB);
      if (!c.passed()) {
        ok = false;
        char line[256];
        std::snprintf(line, sizeof line,
                      "sequence %ld (Sq %ld, Sk %ld): max|out-ref| %.3g vs 2 x naive %.3g + 1e-5, LSE err %.3g, "
                      "unwritten %ld, LSE bad %ld, masked rows not 0: %ld\n",
                      static_cast<long>(b), static_cast<long>(lq), static_cast<long>(lk), c.maxErr, c.maxNaiveErr,
                      c.maxLseErr, static_cast<long>(c.unwritten), static_cast<long>(c.lseBad),
                      static_cast<long>(c.maskedNonZero));
        why += line;
      }
      worst.maxErr = std::max(worst.maxErr, c.maxErr);
      worst.maxNaiveErr = std::max(worst.maxNaiveErr, c.maxNaiveErr);
      worst.maxLseErr = std::max(worst.maxLseErr, c.maxLseErr);
      worst.rows += c.rows;
    }
    long touched = 0;
    for (std::size_t i = std::size_t(tq * Hq * Dv); i < o.size(); ++i)
      touched += o[i] != 0xFFFF;
    if (spec.lse)
      for (int64_t h = 0; h < Hq; ++h)
        for (int64_t i = tq; i < lseHeadStride; ++i) {
          std::uint32_t bits;
          std::memcpy(&bits, &lse[std::size_t(h * lseHeadStride + i)], 4);
          touched += bits != 0xFFFFFFFFu;
        }
    if (touched) {
      ok = false;
      why += std::to_string(touched) + " elements of O rows past total_q = " + std::to_string(tq) +
             " or LSE columns past it were written\n";
    }
    return ok;
  }
};

/// A schedule variant of the sm90 backend (Policy::FailOnMiss): its default schedule for the query's head
/// dim with BLOCK_M (warps BLOCK_M / 16), the overlap, the grid and where Q lives changed.
class Sm90Variant : public ScheduleSource {
public:
  Sm90Variant(int blockM, codegen::WarpgroupOverlap overlap, bool persistent = false,
              codegen::QPlacement qPlacement = codegen::QPlacement::Smem,
              codegen::QTileOrder order = codegen::QTileOrder::Descending)
      : blockM_(blockM), overlap_(overlap), persistent_(persistent), q_(qPlacement), order_(order) {}
  std::optional<std::string> lookup(const ScheduleQuery &q) override {
    codegen::Schedule s = codegen::defaultSchedule(static_cast<int>(q.shape.D), q.spec->dtype, "sm_90a");
    s.blockM = blockM_, s.warps = blockM_ / 16, s.overlap = overlap_, s.persistent = persistent_, s.q = q_;
    s.qTileOrder = order_;
    s.validate();
    return s.toJson();
  }
  std::string tune(const ScheduleQuery &q) override { return *lookup(q); }

private:
  int blockM_;
  codegen::WarpgroupOverlap overlap_;
  bool persistent_;
  codegen::QPlacement q_;
  codegen::QTileOrder order_;
};

/// The backends the [varlen] cases run on: "sm80" always; on an sm_90 GPU "sm90" (the engine's default
/// there), "sm90:intra64", "sm90:pingpong_intra", "sm90:persistent", "sm90:paired" (persistent, Q tiles in pairs),
/// "sm90:snake" (persistent, dealt back and forth), "sm90:dynamic" (persistent, tiles claimed from a counter) and
/// "sm90:qreg"; TILEFUSE_TEST_BACKENDS keeps those it names
/// (substring match: "sm90" keeps the eight sm90 ones).
std::vector<std::string> varlenBackends() {
  std::vector<std::string> backends = {"sm80"};
  if (testDevice().arch() == "sm_90")
    backends.insert(backends.end(), {"sm90", "sm90:intra64", "sm90:pingpong_intra", "sm90:persistent", "sm90:paired",
                                        "sm90:snake", "sm90:dynamic", "sm90:qreg"});
  if (const char *only = std::getenv("TILEFUSE_TEST_BACKENDS"); only && *only)
    std::erase_if(backends, [&](const std::string &b) {
      return b.find(only) == std::string::npos && std::string(only).find(b) == std::string::npos;
    });
  return backends;
}

/// An engine that builds `backend`'s kernels (varlenBackends), and the policy to ask it with.
struct BackendEngine {
  std::unique_ptr<Engine> engine;
  Policy policy = Policy::Heuristic;

  explicit BackendEngine(const std::string &backend) {
    EngineOptions options;
    options.backend = backend.substr(0, 4);
    if (backend == "sm90:intra64")
      options.schedules = std::make_shared<Sm90Variant>(64, codegen::WarpgroupOverlap::Intra);
    else if (backend == "sm90:pingpong_intra")
      options.schedules = std::make_shared<Sm90Variant>(128, codegen::WarpgroupOverlap::PingpongIntra);
    else if (backend == "sm90:persistent")
      options.schedules = std::make_shared<Sm90Variant>(128, codegen::WarpgroupOverlap::Pingpong, true);
    else if (backend == "sm90:paired")
      options.schedules = std::make_shared<Sm90Variant>(128, codegen::WarpgroupOverlap::Pingpong, true,
                                                        codegen::QPlacement::Registers, codegen::QTileOrder::Paired);
    else if (backend == "sm90:snake")
      options.schedules = std::make_shared<Sm90Variant>(128, codegen::WarpgroupOverlap::Pingpong, true,
                                                        codegen::QPlacement::Registers, codegen::QTileOrder::Snake);
    else if (backend == "sm90:dynamic")
      options.schedules = std::make_shared<Sm90Variant>(128, codegen::WarpgroupOverlap::Pingpong, true,
                                                        codegen::QPlacement::Registers, codegen::QTileOrder::Dynamic);
    else if (backend == "sm90:qreg")
      options.schedules =
          std::make_shared<Sm90Variant>(128, codegen::WarpgroupOverlap::Pingpong, false, codegen::QPlacement::Registers);
    if (options.schedules)
      policy = Policy::FailOnMiss;
    engine = std::make_unique<Engine>(0, options);
  }
};

void runCase(const VarlenCase &c, const std::string &backend) {
  INFO(c.label << ", backend " << backend);
  PackedProblem p(c);
  BackendEngine be(backend);
  Engine &engine = *be.engine;
  const KernelHandle k = engine.getKernel(p.spec, p.shape, be.policy);
  const bool sm90 = backend.starts_with("sm90");
  CHECK(k.info().scheduleJson.find(sm90 ? "wgmma" : "mma_sync") != std::string::npos);
  const bool persistent = backend == "sm90:persistent" || backend == "sm90:paired" || backend == "sm90:snake" ||
                          backend == "sm90:dynamic";
  CHECK((k.info().scheduleJson.find("\"persistent\":true") != std::string::npos) == persistent);
  CHECK(k.info().grid.find("ceil(Sq /") != std::string::npos);
  CHECK((k.info().grid.find("persistent") != std::string::npos) == persistent);

  engine.launch(k, p.args());
  runtime::contextSynchronize();
  const std::vector<std::uint16_t> o = p.dO.download<std::uint16_t>();
  const std::vector<float> lse = p.dLse.download<float>();
  Comparison worst;
  std::string why; // the failing sequences, one line each
  const bool passed = p.check(o, lse, worst, why);
  INFO(why.substr(0, 4000));
  CHECK(passed);
  std::printf("varlen %-58s %-20s %s %s: %ld rows, max|out-ref| %.2e (naive %.2e), LSE err %.1e\n",
              c.label.c_str(), backend.c_str(), k.info().arch.c_str(), k.info().scheduleJson.c_str(), worst.rows,
              worst.maxErr, worst.maxNaiveErr, worst.maxLseErr);

  // The C API (Policy::Heuristic, backend "auto": sm90 on an sm_90 GPU): the same call through
  // tilefuse_launch_packed writes the same bits, where "auto" picks the kernel under test.
  const bool autoPicks = backend == (testDevice().arch() == "sm_90" ? "sm90" : "sm80");
  if (!autoPicks)
    return;
  p.poison();
  tilefuse_engine_t ce = nullptr;
  REQUIRE(tilefuse_engine_create(0, &ce) == TILEFUSE_OK);
  tilefuse_kernel_t ck = nullptr;
  tilefuse_shape_t cs = {p.shape.B, p.shape.Hq, p.shape.Hkv, p.shape.Sq, p.shape.Sk, p.shape.D, p.shape.Dv};
  const std::string path = specsDir() + "/varlen/" + c.specFile;
  REQUIRE(tilefuse_get_kernel(ce, path.c_str(), &cs, TILEFUSE_POLICY_HEURISTIC, &ck) == TILEFUSE_OK);
  const AttentionArgs a = p.args();
  tilefuse_attention_args_t ca = {};
  ca.B = a.B, ca.Hq = a.Hq, ca.Hkv = a.Hkv;
  auto ct = [](const TensorRef &t) { return tilefuse_tensor_t{t.data, t.batchStride, t.headStride, t.rowStride}; };
  ca.q = ct(a.q), ca.k = ct(a.k), ca.v = ct(a.v), ca.o = ct(a.o);
  ca.lse = a.lse.data, ca.lse_head_stride = a.lse.headStride;
  std::vector<tilefuse_capture_t> caps;
  for (const CaptureRef &r : p.refs)
    caps.push_back({r.data, nullptr});
  ca.captures = caps.data(), ca.num_captures = caps.size();
  tilefuse_packed_args_t cp = {a.cuSeqlensQ, a.cuSeqlensK, a.totalQ, a.totalK, a.maxSeqlenQ, a.maxSeqlenK};
  // tilefuse_launch (no offsets) of a packed kernel is refused, naming the field.
  CHECK(tilefuse_launch(ce, ck, &ca, nullptr) == TILEFUSE_ERROR_LAUNCH);
  CHECK(std::string(tilefuse_last_error()).find("cuSeqlensQ is null") != std::string::npos);
  REQUIRE(tilefuse_launch_packed(ce, ck, &ca, &cp, nullptr) == TILEFUSE_OK);
  runtime::contextSynchronize();
  // Counted, not compared as vectors: Catch would print millions of elements on a mismatch (or with -s).
  const std::vector<std::uint16_t> cOut = p.dO.download<std::uint16_t>();
  REQUIRE(cOut.size() == o.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < o.size(); ++i)
    differing += cOut[i] != o[i];
  CHECK(differing == 0);
  tilefuse_engine_destroy(ce);
}

} // namespace

TEST_CASE("packed variable-length batches (lengths 1, 63, 64, 65, 4097 and empty sequences) match the fp64 "
          "reference per sequence for causal, sliding window with GQA and a score_mod reading a capture",
          "[gpu][varlen][sanitize]") {
  TF_REQUIRE_GPU();
  const std::vector<int64_t> lengths = {1, 63, 64, 65, 4097};
  const std::vector<int64_t> withEmpty = {65, 0, 1, 130, 0};
  // 300 sequences: one of 1100 tokens (9 Q tiles of 128), then 0-40 tokens, one in five empty. Over 3 in 4
  // blocks of a (max_seqlen_q tiles, Hq, B) grid would exit, so the launch takes the grid of the packed tiles
  // (KernelAbi.h GridRule::packedTiles), whose tile scan (codegen.cuh packed_tile_of) walks cu_seqlens in 3
  // rounds of 128 sequences; tiles land in every round.
  std::vector<int64_t> many(300);
  for (std::size_t i = 0; i < many.size(); ++i)
    many[i] = i == 0 ? 1100 : i % 5 == 3 ? 0 : static_cast<int64_t>((i * 7919 + 13) % 41);
  const std::vector<VarlenCase> cases = {
      {"causal, D = 128, lengths 1,63,64,65,4097", "causal.json", 2, 2, 128, lengths, {}},
      {"causal, D = 64, lengths 65,0,1,130,0 (empty sequences)", "causal.json", 2, 2, 64, withEmpty, {}},
      {"causal, D = 64, K lengths 3,100,64,1,4000 (bottom-right per sequence)", "causal.json", 2, 2, 64, lengths,
       {3, 100, 64, 1, 4000}},
      {"sliding window 256, GQA 4:1, D = 128, lengths 1,63,64,65,4097", "sliding_window.json", 4, 1, 128, lengths, {}},
      {"sliding window 256, GQA 4:1, D = 64, lengths 65,0,1,130,0", "sliding_window.json", 4, 1, 64, withEmpty, {}},
      {"ALiBi (capture slopes[h]), D = 128, lengths 1,63,64,65,4097", "alibi.json", 2, 2, 128, lengths, {}},
      {"ALiBi (capture slopes[h]), D = 64, lengths 65,0,1,130,0", "alibi.json", 2, 2, 64, withEmpty, {}},
      {"causal, D = 64, 300 sequences: 1100 tokens, then 0-40 (the packed tiles' grid)", "causal.json", 2, 1, 64, many,
       {}},
      {"ALiBi, D = 128, 300 sequences: 1100 tokens, then 0-40 (the packed tiles' grid)", "alibi.json", 2, 2, 128, many,
       {}},
  };
  for (const std::string &backend : varlenBackends())
    for (const VarlenCase &c : cases)
      runCase(c, backend);
}

namespace {

/// The refusals of bad packed launches of `backend`'s kernel (varlenBackends), each a LaunchError whose
/// message contains the field.
void checkRefusals(const std::string &backend) {
  INFO("backend " << backend);
  PackedProblem p({"causal", "causal.json", 2, 2, 64, {5, 70}, {}});
  BackendEngine be(backend);
  Engine &engine = *be.engine;
  const KernelHandle k = engine.getKernel(p.spec, p.shape, be.policy);
  auto refused = [&](AttentionArgs a, const std::string &needle) {
    INFO("expected a LaunchError containing '" << needle << "'");    try {
      engine.launch(k, a);
      FAIL("launched");
    } catch (const LaunchError &e) {
      INFO(e.what());
      CHECK(std::string(e.what()).find(needle) != std::string::npos);
    }
  };
  AttentionArgs a = p.args();
  a.cuSeqlensK = nullptr;
  refused(a, "cuSeqlensK is null");
  a = p.args();
  a.cuSeqlensQ = reinterpret_cast<const int32_t *>(p.dCuQ.get() + 2);
  refused(a, "cuSeqlensQ is not 4-byte aligned");
  a = p.args();
  a.totalQ = -1;
  refused(a, "totalQ = -1");
  a = p.args();
  a.maxSeqlenQ = 0, a.Sq = 0;
  refused(a, "maxSeqlenQ = 0");
  a = p.args();
  a.Sq = 5;
  refused(a, "Sq = 5 but maxSeqlenQ = 70");
  a = p.args();
  a.lse = LseRef::dense(reinterpret_cast<float *>(p.dLse.get()), p.shape.Hq, p.shape.Sq);
  refused(a, "lse.headStride = 70 is less than totalQ = 75");
  // A token stride that is not a multiple of 16 bytes (cp.async rows; the TMA's global strides).
  a = p.args();
  a.k.rowStride += 1;
  refused(a, "tensor K: stride of dim 2 (Sk) is 129 elements (258 bytes), must be a multiple of 16 bytes");
  runtime::contextSynchronize();
}

} // namespace

TEST_CASE("a packed launch with bad cu_seqlens pointers, totals, max_seqlen or LSE strides is refused with a "
          "LaunchError naming the field",
          "[gpu][varlen]") {
  TF_REQUIRE_GPU();
  for (const std::string &backend : varlenBackends())
    checkRefusals(backend);
}
