// CPU tests (CI, no GPU) of run-time block masks (issue 10): which kernels get one and what their ABI
// and source hold, the packing of their list pointers, and the host reference of the classification
// (BlockMaskReference.h, which the [gpu] test compares the device lists with) against the closed form
// of a document mask (a tile is empty when its query and key position ranges share no document, full
// when both lie in one and the same document).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <random>
#include <string>

#include "BlockMaskReference.h"
#include "EngineBuild.h"
#include "Launch.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/spec/Spec.h"

using namespace tilefuse;
using namespace tilefuse::test;

namespace {

spec::Spec specNamed(const std::string &file) { return spec::parseSpecFile(specsDir() + "/" + file); }

/// A spec whose mask has no interval rule (a floor division by a position), reads no capture:
/// classified only at run time.
constexpr const char *kStripesSpec = R"json({
  "name": "stripes", "dtype": "bf16", "head_dim": 64, "heads": {"q": 2, "kv": 2},
  "mask_mod": "kv_idx // (q_idx + 1) < 2",
  "shape": {"B": 1, "Sq": 256, "Sk": 256}
})json";

/// A document mask per head (the lists get a head dim).
constexpr const char *kPerHeadSpec = R"json({
  "name": "doc_per_head", "dtype": "bf16", "head_dim": 64, "heads": {"q": 2, "kv": 2},
  "mask_mod": "doc[b, q_idx] == doc[b, kv_idx] && (h == 0 || kv_idx <= q_idx)",
  "captures": {"doc": {"shape": ["B", "Sk"], "dtype": "i32"}},
  "shape": {"B": 1, "Sq": 256, "Sk": 256}
})json";

size_t count(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++n;
  return n;
}

} // namespace

TEST_CASE("a mask reading a capture gets a run-time block mask on both backends and static masks do not",
          "[cpu][blockmask]") {
  const spec::Spec doc = specNamed("document_mask.json");
  for (const char *arch : {"sm_80", "sm_90a"}) {
    INFO(arch);
    const spec::Shape shape = spec::resolveShape(doc, {});
    const codegen::Schedule schedule = codegen::defaultSchedule(static_cast<int>(shape.D), doc.dtype, arch);
    const driver::BuiltKernel k = detail::buildSource(doc, shape, schedule);
    const codegen::LaunchDescription launch = k.launch();
    const codegen::BlockMaskAbi &bm = launch.params.blockMask;
    REQUIRE(bm.present);
    CHECK(!bm.perHead);
    CHECK(bm.blockM == schedule.blockM);
    CHECK(bm.blockN == schedule.blockN);
    int lists = 0;
    for (const codegen::ParamField &f : launch.params.fields)
      if (f.source == codegen::ParamSource::BlockMask) {
        CHECK(f.name == codegen::BlockMaskAbi::listName(f.dim));
        ++lists;
      }
    CHECK(lists == 4);
    CHECK(count(k.source, "__global__") == 2);
    CHECK(count(k.source, "void __launch_bounds__(256) " + k.kernelName + "_block_mask(") == 1);
    CHECK(count(k.source, "__syncthreads_and(") == 1);
    // sm90: the producer and the consumers walk the same lists; sm80: the prefetch and the iteration.
    CHECK(count(k.source, "tfcg::block_mask_tile(") >= 2);
    CHECK(count(k.source, "p.kv_num_blocks ? __ldg(p.kv_num_blocks + ") >= (schedule.mma == codegen::MmaFamily::Wgmma ? 2u : 1u));
    CHECK(count(k.source, "a loop over scalars") == 0); // the in-kernel bounds are not written
  }
  for (const char *file : {"causal.json", "sliding_window.json", "mha.json", "alibi.json"}) {
    const spec::Spec s = specNamed(file);
    const spec::Shape shape = spec::resolveShape(s, {});
    const driver::BuiltKernel k = detail::buildSource(s, shape, codegen::Schedule{});
    INFO(file);
    CHECK(!k.launch().params.blockMask.present);
    CHECK(k.source.find("block_mask") == std::string::npos);
  }
}

TEST_CASE("masks without an interval rule and masks reading the head get run-time block masks", "[cpu][blockmask]") {
  const spec::Spec stripes = spec::parseSpecString(kStripesSpec, "stripes.json");
  const spec::Spec perHead = spec::parseSpecString(kPerHeadSpec, "doc_per_head.json");
  for (const spec::Spec *s : {&stripes, &perHead}) {
    INFO(s->name);
    const spec::Shape shape = spec::resolveShape(*s, {});
    const driver::BuiltKernel k = detail::buildSource(*s, shape, codegen::Schedule{});
    const codegen::BlockMaskAbi &bm = k.launch().params.blockMask;
    REQUIRE(bm.present);
    CHECK(bm.perHead == (s == &perHead));
    const codegen::ProblemSizes sizes{3, 4, 4, 1000, 333};
    CHECK(bm.kvTiles(sizes) == (333 + 63) / 64);
    CHECK(bm.rows(sizes) == 3 * (bm.perHead ? 4 : 1) * ((1000 + 63) / 64));
    CHECK(bm.bytes(sizes) == 4 * bm.rows(sizes) * (2 + 2 * bm.kvTiles(sizes)));
  }
}

TEST_CASE("block-mask list pointers are packed into Params and are null without a mask", "[cpu][blockmask]") {
  const spec::Spec doc = specNamed("document_mask.json");
  const spec::Shape shape = spec::resolveShape(doc, {});
  const driver::BuiltKernel k = detail::buildSource(doc, shape, codegen::Schedule{});
  const codegen::LaunchDescription launch = k.launch();
  const tilefuse::detail::PackPlan plan = tilefuse::detail::makePackPlan(launch.params, doc, 1, launch.kernelName);
  std::vector<std::byte> out(plan.bytes, std::byte{0x5a});
  const std::array<uint64_t, 4> lists = {0x1000, 0x2000, 0x3000, 0x4000};
  tilefuse::detail::patchBlockMask(plan, &lists, out);
  int seen = 0;
  for (const codegen::ParamField &f : launch.params.fields)
    if (f.source == codegen::ParamSource::BlockMask) {
      uint64_t v = 0;
      std::memcpy(&v, out.data() + f.offset, 8);
      CHECK(v == lists[std::size_t(f.dim)]);
      ++seen;
    }
  CHECK(seen == 4);
  tilefuse::detail::patchBlockMask(plan, nullptr, out);
  for (const codegen::ParamField &f : launch.params.fields)
    if (f.source == codegen::ParamSource::BlockMask) {
      uint64_t v = 1;
      std::memcpy(&v, out.data() + f.offset, 8);
      CHECK(v == 0);
    }
}

TEST_CASE("the host block-mask reference equals the closed form of document masks", "[cpu][blockmask]") {
  const spec::Spec doc = specNamed("document_mask.json");
  std::mt19937_64 gen(12345);
  for (int trial = 0; trial < 12; ++trial) {
    const int64_t Sk = 64 + int64_t(gen() % 400), Sq = trial % 3 == 0 ? Sk : 1 + int64_t(gen() % uint64_t(Sk));
    const int blockM = trial % 2 ? 64 : 128, blockN = trial % 4 < 2 ? 64 : 128;
    spec::ShapeOverrides o;
    o.B = 2, o.Hq = 2, o.Hkv = 2, o.Sq = Sq, o.Sk = Sk, o.D = 64;
    SpecProblem p = makeProblem(doc, spec::resolveShape(doc, o));
    // Documents of lengths 0 (an id that never occurs), 1 and random, per batch row.
    HostCapture &c = p.captures.at(0);
    for (int64_t b = 0; b < 2; ++b) {
      int64_t id = 0, left = 0;
      for (int64_t j = 0; j < Sk; ++j) {
        while (left == 0) {
          const uint64_t kind = gen() % 4;
          left = kind == 0 ? 0 : kind == 1 ? 1 : int64_t(gen() % 150);
          ++id;
        }
        c.values[std::size_t(b * Sk + j)] = double(id);
        --left;
      }
    }
    const HostBlockMask m = hostBlockMask(p, blockM, blockN, false);
    const int64_t qTiles = (Sq + blockM - 1) / blockM;
    for (int64_t b = 0; b < 2; ++b)
      for (int64_t qt = 0; qt < qTiles; ++qt) {
        const int64_t row = b * qTiles + qt;
        const std::vector<int> cls =
            tileClasses(m.kvNumBlocks, m.kvIndices, m.fullKvNumBlocks, m.fullKvIndices, row, m.kvTiles);
        // Query i sits at key position i + Sk - Sq; ids are non-decreasing, so a range's documents are
        // [id(first), id(last)].
        const auto id = [&](int64_t j) { return c.values[std::size_t(b * Sk + j)]; };
        const int64_t q0 = qt * blockM + Sk - Sq, q1 = std::min((qt + 1) * blockM, Sq) - 1 + Sk - Sq;
        for (int64_t t = 0; t < m.kvTiles; ++t) {
          const int64_t k0 = t * blockN, k1 = std::min((t + 1) * blockN, Sk) - 1;
          const bool overlap = id(q0) <= id(k1) && id(k0) <= id(q1);
          const bool full = id(q0) == id(q1) && id(k0) == id(k1) && id(q0) == id(k0) && (t + 1) * blockN <= Sk;
          INFO("trial " << trial << " b " << b << " q tile " << qt << " kv tile " << t);
          CHECK(cls[std::size_t(t)] == (!overlap ? 0 : full ? 2 : 1));
        }
      }
  }
}
