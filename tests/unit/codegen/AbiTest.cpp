// The kernel ABI: the Params layout of generated kernels (host mirror of the device struct), packing
// Params for a launch with its checks, grid rules, signatures.
#include "CodegenTestSupport.h"

#include <catch2/catch.hpp>

#include <cstring>

using namespace tilefuse::codegen;
using namespace tilefuse::codegen::test;

namespace {

int64_t fieldValue(const std::vector<std::byte> &bytes, const ParamLayout &layout, const std::string &name) {
  for (const ParamField &f : layout.fields)
    if (f.name == name) {
      int64_t v = 0;
      std::memcpy(&v, bytes.data() + f.offset, 8);
      return v;
    }
  FAIL("no field " << name);
  return 0;
}

/// Dense row-major binding of `shape` at `address`.
TensorBinding dense(uint64_t address, std::vector<int64_t> shape) {
  TensorBinding b;
  b.address = address;
  b.shape = shape;
  b.strides.assign(shape.size(), 1);
  for (int d = static_cast<int>(shape.size()) - 2; d >= 0; --d)
    b.strides[d] = b.strides[d + 1] * shape[d + 1];
  return b;
}

} // namespace

TEST_CASE("Params layout of a causal kernel with LSE", "[abi]") {
  const Program prog = loadInput("causal.mlir");
  const GeneratedKernel k = generate(prog);
  const ParamLayout &l = k.params;
  REQUIRE(l.tensors.size() == 5);
  CHECK(l.bytes == 192);
  CHECK(l.fields.front().name == "Q");
  CHECK(l.fields[4].name == "LSE");
  CHECK(l.fields[5].name == "Q_stride[0]");
  CHECK(l.fields[5].offset == 40);
  CHECK(l.fields.back().name == "Sk");
  CHECK(l.fields.back().offset == 184);
  CHECK(l.tensors[0].needs16ByteRows);
  CHECK(!l.tensors[3].needs16ByteRows);
  CHECK(l.tensors[3].written);
  const std::string st = l.deviceStruct();
  CHECK(contains(st, "const __nv_bfloat16 *Q; // bf16 [B, Hq, Sq, 128]"));
  CHECK(contains(st, "float *LSE; // f32 [B, Hq, Sq]"));
  CHECK(contains(st, "long long LSE_stride[2]; // strides of dims B, Hq"));
  CHECK(contains(k.source, st.substr(0, 40)));
  CHECK(contains(k.source, "static_assert(sizeof(Params) == 192"));
  CHECK(k.grid.toString() == "x = ceil(Sq / 64), y = Hq, z = B");
  CHECK(k.grid.evaluate({2, 16, 4, 1000, 1000}) == std::array<int64_t, 3>{16, 16, 2});
}

TEST_CASE("a dynamic tile scheduler takes its tile counter as the last field of Params", "[abi]") {
  const Program prog = loadInput("causal.mlir");
  Schedule s = scheduleFromJson(R"({"mma":"wgmma","persistent":true,"q_tile_order":"dynamic"})");
  const GeneratedKernel k = generate(prog, s, true);
  const ParamLayout &l = k.params;
  REQUIRE(l.tileCounterOffset() >= 0);
  CHECK(l.fields.back().name == "tile_counter");
  CHECK(l.fields.back().source == ParamSource::TileCounter);
  CHECK(static_cast<std::size_t>(l.tileCounterOffset()) == l.fields.back().offset);
  CHECK(l.fields.back().offset + 8 <= l.bytes);
  CHECK(contains(l.deviceStruct(), "int *tile_counter; // dynamic tile scheduler"));
  CHECK(contains(k.source, "tile_handoff::claim(p.tile_counter)"));
  // The static orders take none.
  for (QTileOrder o : {QTileOrder::Descending, QTileOrder::Snake, QTileOrder::Paired}) {
    s.qTileOrder = o;
    CHECK(generate(prog, s, true).params.tileCounterOffset() == -1);
  }
}

TEST_CASE("a persistent grid launches min(tiles, SMs) blocks and needs the SM count", "[abi]") {
  GridRule g{{"Sq", 128}, {"Hq", 1}, {"B", 1}};
  const ProblemSizes small{2, 16, 4, 1000, 1000}; // 8 x 16 x 2 = 256 tiles
  CHECK(g.evaluate(small, 132) == std::array<int64_t, 3>{8, 16, 2}); // not persistent: the SM count is unused
  g.persistent = true;
  CHECK(g.tiles(small) == std::array<int64_t, 3>{8, 16, 2});
  CHECK(g.evaluate(small, 132) == std::array<int64_t, 3>{132, 1, 1});
  CHECK(g.evaluate({1, 2, 2, 200, 200}, 132) == std::array<int64_t, 3>{4, 1, 1}); // fewer tiles than SMs
  CHECK_THROWS_AS(g.evaluate(small), std::invalid_argument);
  // The kernel's tile loop is 32-bit and steps past the last tile by up to one round of blocks: 2^31 - 1 - 132
  // tiles launch on 132 blocks, one more is refused.
  CHECK_THROWS_WITH(g.evaluate({65536, 256, 1, 16384, 16384}, 132), Catch::Contains("2^31 - 1 - 132 tiles"));
  CHECK(g.evaluate({1, 1, 1, 128LL * (2147483647 - 132), 128}, 132) == std::array<int64_t, 3>{132, 1, 1});
  CHECK_THROWS_WITH(g.evaluate({1, 1, 1, 128LL * (2147483647 - 131), 128}, 132),
                    Catch::Contains("this shape has 2147483516"));
  CHECK(g.toString() == "persistent: min(ceil(Sq / 128) * Hq * B, SMs)");
}

TEST_CASE("a grid of clusters rounds x up to whole clusters and a persistent one launches whole resident clusters",
          "[abi]") {
  GridRule g{{"Sq", 128}, {"Hq", 1}, {"B", 1}};
  g.cluster = 2;
  // S = 1000: 8 Q tiles, 4 clusters; S = 1100: 9 Q tiles, 5 clusters (block 9 runs Q tile 8 again).
  CHECK(g.evaluate({2, 16, 4, 1000, 1000}) == std::array<int64_t, 3>{8, 16, 2});
  CHECK(g.evaluate({2, 16, 4, 1100, 1100}) == std::array<int64_t, 3>{10, 16, 2});
  CHECK(g.toString() == "x = 2 * ceil(ceil(Sq / 128) / 2), y = Hq, z = B, clusters of 2 along x");
  g.persistent = true;
  // 9 Q tiles x 16 x 2 = 5 x 32 = 160 tile pairs; 66 clusters fit (132 blocks), or 65 when a GPC has an odd
  // SM free (130): the grid is never a cluster short or a block over.
  CHECK(g.evaluate({2, 16, 4, 1100, 1100}, 132) == std::array<int64_t, 3>{132, 1, 1});
  CHECK(g.evaluate({2, 16, 4, 1100, 1100}, 130) == std::array<int64_t, 3>{130, 1, 1});
  CHECK(g.evaluate({1, 2, 2, 300, 300}, 132) == std::array<int64_t, 3>{8, 1, 1}); // 3 Q tiles: 2 pairs per head, 2 heads
  CHECK_THROWS_WITH(g.evaluate({1, 2, 2, 300, 300}, 1), Catch::Contains("blocks that can run at once"));
  CHECK(g.toString() == "persistent, clusters of 2: 2 * min(ceil(ceil(Sq / 128) / 2) * Hq * B, resident clusters)");
}

TEST_CASE("a packed grid is (max_seqlen_q tiles, Hq, B) unless most of its blocks would exit", "[abi]") {
  GridRule g{{"Sq", 128}, {"Hq", 1}, {"B", 1}};
  g.packedTiles = true;
  // 31 sequences of at most 4096 tokens, 65536 in all: 31 * 32 = 992 blocks per head, of which 542 at most
  // hold a tile; under 3 in 4 exit, so no block pays for a scan of cu_seqlens.
  CHECK(g.evaluate({31, 16, 16, 4096, 4096, 65536}) == std::array<int64_t, 3>{32, 16, 31});
  // total_q unknown (0): the same grid.
  CHECK(g.evaluate({31, 16, 16, 4096, 4096}) == std::array<int64_t, 3>{32, 16, 31});
  // One sequence of 16384 tokens and 1000 of 48: 128 * 1001 = 128128 blocks per head, all but 1128 past a
  // sequence's end; the grid of the packed tiles has (64384 + 1001 * 127) / 128 = 1496.
  CHECK(g.evaluate({1001, 16, 16, 16384, 16384, 64384}) == std::array<int64_t, 3>{1496, 16, 1});
  // More sequences than CUDA's grid z allows (65535): the packed tiles' grid, whatever the lengths.
  CHECK(g.evaluate({70000, 1, 1, 128, 128, 70000 * 128}) == std::array<int64_t, 3>{70000, 1, 1});
  CHECK(g.toString() == "x = ceil(Sq / 128), y = Hq, z = B, or x = the sequences' Q tiles <= min(ceil(Sq / 128) * B, "
                        "(total_q + 127 B) / 128), y = Hq, z = 1 when over 3 in 4 of those blocks would exit");
  // Beyond CUDA's 2^31 - 1 blocks along x: refused, naming the limit.
  CHECK_THROWS_WITH(g.evaluate({int64_t{1} << 20, 1, 1, int64_t{1} << 24, 1}), Catch::Contains("2^31 - 1 blocks"));
  // A persistent kernel walks the (x, y, z) tiles itself: packedTiles does not apply.
  g.persistent = true;
  CHECK(g.evaluate({1001, 16, 16, 16384, 16384, 64384}, 132) == std::array<int64_t, 3>{132, 1, 1});
  CHECK(g.toString() == "persistent: min(ceil(Sq / 128) * Hq * B, SMs)");
}

TEST_CASE("Params of captured tables carry their extents", "[abi]") {
  const Program prog = loadInput("relative_bias.mlir");
  const ParamLayout l = generate(prog).params;
  REQUIRE(l.tensors.size() == 5);
  CHECK(l.tensors[4].arg.name == "bias");
  CHECK(l.tensors[4].arg.role == TensorRole::Capture);
  bool extent1 = false;
  for (const ParamField &f : l.fields)
    extent1 |= f.name == "bias_extent[1]" && f.source == ParamSource::TensorExtent && f.dim == 1;
  CHECK(extent1);
  CHECK(contains(l.deviceStruct(), "const float *bias; // f32 [Hq, bias_d1] (captured)"));
}

TEST_CASE("packParams fills every field and checks shapes strides and alignment", "[abi]") {
  const Program prog = loadInput("gqa.mlir");
  const ParamLayout l = generate(prog).params;
  const ProblemSizes sizes{2, 8, 2, 100, 130};
  std::vector<TensorBinding> t = {dense(0x1000, {2, 8, 100, 128}), dense(0x2000, {2, 2, 130, 128}),
                                  dense(0x3000, {2, 2, 130, 128}), dense(0x4000, {2, 8, 100, 128}),
                                  dense(0x5000, {2, 8, 100})};
  const auto bytes = packParams(l, sizes, t);
  REQUIRE(bytes.size() == l.bytes);
  CHECK(fieldValue(bytes, l, "K") == 0x2000);
  CHECK(fieldValue(bytes, l, "K_stride[1]") == 130 * 128);
  CHECK(fieldValue(bytes, l, "LSE_stride[0]") == 800);
  CHECK(fieldValue(bytes, l, "Hkv") == 2);
  CHECK(fieldValue(bytes, l, "Sk") == 130);

  auto bad = t;
  bad[1].address = 0x2004;
  CHECK_THROWS_WITH(packParams(l, sizes, bad), "packParams: tensor K: base address must be 16-byte aligned (cp.async / TMA)");
  bad = t;
  bad[0].strides[2] = 132 + 2; // 134 bf16 = 268 bytes per row
  CHECK_THROWS_WITH(packParams(l, sizes, bad),
                    "packParams: tensor Q: stride of dim 2 (134 elements) must be a multiple of 16 bytes");
  bad = t;
  bad[2].shape[2] = 129;
  CHECK_THROWS_WITH(packParams(l, sizes, bad), "packParams: tensor V: dim 2 (Sk) is 129, expected 130");
  bad = t;
  bad[3].shape[3] = 64;
  CHECK_THROWS_WITH(packParams(l, sizes, bad), "packParams: tensor O: dim 3 (128) is 64, expected 128");
  bad = t;
  bad[4].strides[2] = 2;
  CHECK_THROWS_AS(packParams(l, sizes, bad), AbiError);
  CHECK_THROWS_AS(packParams(l, sizes, {t[0]}), AbiError);
  CHECK_THROWS_WITH(packParams(l, ProblemSizes{2, 8, 3, 100, 130}, t),
                    "packParams: tensor K: dim 1 (Hkv) is 2, expected 3");
}

TEST_CASE("Signatures from specs and from argument types", "[abi]") {
  const KernelSignature s = KernelSignature::standard(true, {"bias", "slopes"});
  CHECK(s.toString() == "(Q, K, V, O, LSE, bias: capture, slopes: capture)");
  const Program prog = loadInput("alibi.mlir");
  const KernelSignature inferred = inferSignature(prog.func());
  REQUIRE(inferred.tensors.size() == 5);
  CHECK(inferred.tensors[4].name == "slopes"); // the blk.name argument attribute
  CHECK(inferred.tensors[4].role == TensorRole::Capture);
  const KernelSignature lse = inferSignature(loadInput("causal.mlir").func());
  CHECK(lse.tensors[4].role == TensorRole::LSE);
}
