// The kernel ABI of block programs that are not attention (examples/chains): problem sizes by name, operand
// signatures, grid rules over named sizes, and the Params of the fused RMSNorm + matmul (T, D, F).
#include "CodegenTestSupport.h"

#include "tilefuse/driver/FusedProgram.h"

#include <catch2/catch.hpp>

#include <cstring>

#ifndef TILEFUSE_EXAMPLES_DIR
#error "TILEFUSE_EXAMPLES_DIR must be defined by tests/unit/codegen/CMakeLists.txt"
#endif

using namespace tilefuse::codegen;
using namespace tilefuse::codegen::test;

namespace {

/// The sizes of one launch of a chain: only named ones, as `tilefuse bench` passes them (B, Hq, Hkv, Sq, Sk
/// stay 0: a chain has none of them).
ProblemSizes chainSizes(int64_t T, int64_t D, int64_t F) {
  return ProblemSizes{.named = {{"T", T}, {"D", D}, {"F", F}}};
}

const ParamField &field(const ParamLayout &layout, const std::string &name) {
  for (const ParamField &f : layout.fields)
    if (f.name == name)
      return f;
  FAIL("no field " << name << " in\n" << layout.toString());
  return layout.fields.front();
}

/// The 8 bytes of Params at `offset`.
int64_t at(const std::vector<std::byte> &bytes, std::size_t offset) {
  REQUIRE(offset + 8 <= bytes.size());
  int64_t v = 0;
  std::memcpy(&v, bytes.data() + offset, 8);
  return v;
}

/// examples/chains/rmsnorm_matmul.mlir fused with BLOCK_N = 64 and its kernel for the schedule the program
/// was tiled for.
struct RmsnormMatmul {
  tilefuse::driver::ProgramFile file =
      tilefuse::driver::loadProgramFile(std::string(TILEFUSE_EXAMPLES_DIR) + "/chains/rmsnorm_matmul.mlir", 64);
  GeneratedKernel kernel = build(file.fusedFunc);

  static GeneratedKernel build(mlir::func::FuncOp f) {
    Schedule s = matchProgram(f, {});
    s.warps = std::min(16, s.blockM / 16);
    return generateKernel(f, s, inferSignature(f));
  }
};

/// Row-major bindings of X [T, D], G [D], W [F, D], Y [T, F]; X's and Y's rows padded (their strides are not
/// the extents), every base and row 16-byte aligned.
std::vector<TensorBinding> chainBindings(int64_t T, int64_t D, int64_t F) {
  return {{0x7f3a00010000, {T, D}, {D + 8, 1}},
          {0x7f3a00020000, {D}, {1}},
          {0x7f3a00030000, {F, D}, {D, 1}},
          {0x7f3a00040000, {T, F}, {F + 24, 1}}};
}

} // namespace

TEST_CASE("ProblemSizes get finds named sizes and lists every known name for an unknown one", "[abi][chain]") {
  const ProblemSizes p{.B = 3, .Hq = 12, .Hkv = 4, .Sq = 517, .Sk = 1031,
                       .named = {{"T", 1000}, {"D", 4104}, {"F", 11000}}};
  CHECK(p.get("T") == 1000);
  CHECK(p.get("D") == 4104);
  CHECK(p.get("F") == 11000);
  CHECK(p.get("B") == 3);
  CHECK(p.get("Hq") == 12);
  CHECK(p.get("Hkv") == 4);
  CHECK(p.get("Sq") == 517);
  CHECK(p.get("Sk") == 1031);
  CHECK_THROWS_AS(p.get("Q"), std::invalid_argument);
  CHECK_THROWS_WITH(p.get("Q"), "unknown problem size 'Q' (known: B, Hq, Hkv, Sq, Sk, T, D, F)");
  // Names are case-sensitive.
  CHECK_THROWS_WITH(p.get("t"), "unknown problem size 't' (known: B, Hq, Hkv, Sq, Sk, T, D, F)");
  CHECK_THROWS_WITH(p.get(""), Catch::Contains("unknown problem size ''"));
  const ProblemSizes attention{.B = 2, .Hq = 8, .Hkv = 2, .Sq = 100, .Sk = 130, .named = {}};
  CHECK_THROWS_WITH(attention.get("T"), "unknown problem size 'T' (known: B, Hq, Hkv, Sq, Sk)");
}

TEST_CASE("Operand signatures are chains and attention signatures are not", "[abi][chain]") {
  const KernelSignature ops = KernelSignature::operands({"X", "G", "W", "Y"});
  REQUIRE(ops.tensors.size() == 4);
  CHECK(ops.tensors[0].name == "X");
  CHECK(ops.tensors[1].name == "G");
  CHECK(ops.tensors[2].name == "W");
  CHECK(ops.tensors[3].name == "Y");
  for (const TensorArg &t : ops.tensors)
    CHECK(t.role == TensorRole::Operand);
  CHECK(ops.isChain());
  CHECK(KernelSignature::operands({"A"}).isChain());
  CHECK(spelling(TensorRole::Operand) == "operand");

  CHECK(!KernelSignature::standard(false, {}).isChain());
  CHECK(!KernelSignature::standard(true, {"bias", "slopes"}).isChain());
  CHECK(!KernelSignature{}.isChain());              // no tensors
  CHECK(!KernelSignature::operands({}).isChain()); // no tensors either
  // One attention role among operands: not a chain.
  KernelSignature mixed = KernelSignature::operands({"X", "Y"});
  mixed.tensors.push_back({TensorRole::Capture, "bias"});
  CHECK(!mixed.isChain());
}

TEST_CASE("Grid rules over named sizes round up at non-multiples", "[abi][chain]") {
  const GridRule g{{"T", 64}, {"F", 64}, {"", 1}};
  CHECK(g.toString() == "x = ceil(T / 64), y = ceil(F / 64), z = 1");
  CHECK(g.evaluate(chainSizes(64, 4096, 64)) == std::array<int64_t, 3>{1, 1, 1});
  CHECK(g.evaluate(chainSizes(65, 4096, 127)) == std::array<int64_t, 3>{2, 2, 1});
  CHECK(g.evaluate(chainSizes(1000, 4104, 11000)) == std::array<int64_t, 3>{16, 172, 1});
  CHECK(g.evaluate(chainSizes(1, 8, 1)) == std::array<int64_t, 3>{1, 1, 1});
  CHECK(g.evaluate(chainSizes(4096, 4096, 14336)) == std::array<int64_t, 3>{64, 224, 1});
  // D is not a grid dim: changing it leaves the grid alone.
  CHECK(g.evaluate(chainSizes(1000, 8, 11000)) == std::array<int64_t, 3>{16, 172, 1});

  const GridDimRule d{"D", 1};
  CHECK(d.toString() == "D");
  CHECK(d.evaluate(chainSizes(7, 4104, 9)) == 4104);
  const GridDimRule f{"F", 128};
  CHECK(f.toString() == "ceil(F / 128)");
  CHECK(f.evaluate(chainSizes(7, 4104, 129)) == 2);

  // A size the launch does not give is refused, naming it.
  const ProblemSizes noF{.named = {{"T", 1000}, {"D", 4104}}};
  CHECK_THROWS_WITH(g.evaluate(noF), "unknown problem size 'F' (known: B, Hq, Hkv, Sq, Sk, T, D)");
}

TEST_CASE("inferSignature names a chain's operands by blk.name and else by position", "[abi][chain]") {
  const RmsnormMatmul chain;
  const KernelSignature s = inferSignature(chain.file.fusedFunc);
  REQUIRE(s.tensors.size() == 4);
  CHECK(s.tensors[0].name == "X");
  CHECK(s.tensors[1].name == "G");
  CHECK(s.tensors[2].name == "W");
  CHECK(s.tensors[3].name == "Y");
  CHECK(s.isChain());
  CHECK(s.toString() == "(X, G, W, Y)");

  // Without blk.name: arg0, arg1, ... by position (argument 1 keeps its own name).
  const Program unnamed = parseProgram(R"(
func.func @norm_then_project(%a: !blk.tensor<[T, D], bf16>, %g: !blk.tensor<[D], bf16> {blk.name = "gain"},
                             %w: !blk.tensor<[F, D], bf16>, %y: !blk.tensor<[T, F], bf16>) {
  return
}
)",
                                       "norm_then_project");
  const KernelSignature u = inferSignature(unnamed.func());
  REQUIRE(u.tensors.size() == 4);
  CHECK(u.tensors[0].name == "arg0");
  CHECK(u.tensors[1].name == "gain");
  CHECK(u.tensors[2].name == "arg2");
  CHECK(u.tensors[3].name == "arg3");
  CHECK(u.isChain());

  // An attention program (Q [B, Hq, Sq, D] first) keeps its roles.
  const KernelSignature attention = inferSignature(loadInput("mha.mlir").func());
  CHECK(!attention.isChain());
  CHECK(attention.tensors[0].role == TensorRole::Q);
}

TEST_CASE("The fused RMSNorm matmul takes X G W Y and the sizes T D F", "[abi][chain]") {
  const RmsnormMatmul chain;
  const GeneratedKernel &k = chain.kernel;
  const ParamLayout &l = k.params;
  REQUIRE(l.tensors.size() == 4);
  const std::vector<std::vector<std::string>> dims = {{"T", "D"}, {"D"}, {"F", "D"}, {"T", "F"}};
  const std::vector<std::string> names = {"X", "G", "W", "Y"};
  for (size_t t = 0; t < 4; ++t) {
    INFO("tensor " << t);
    CHECK(l.tensors[t].arg.name == names[t]);
    CHECK(l.tensors[t].arg.role == TensorRole::Operand);
    CHECK(l.tensors[t].elementType == "bf16");
    CHECK(l.tensors[t].dimNames == dims[t]);
    CHECK(l.tensors[t].written == (t == 3));
  }

  std::vector<std::string> pointers, sizes;
  for (size_t i = 0; i < l.fields.size(); ++i) {
    const ParamField &f = l.fields[i];
    CHECK(f.offset == 8 * i);
    if (f.source == ParamSource::TensorPointer) {
      pointers.push_back(f.name);
      CHECK(l.tensors[f.tensor].arg.name == f.name);
    }
    if (f.source == ParamSource::Size) {
      sizes.push_back(f.name);
      CHECK(f.size == f.name);
    }
  }
  CHECK(pointers == std::vector<std::string>{"X", "G", "W", "Y"});
  CHECK(sizes == std::vector<std::string>{"T", "D", "F"});
  CHECK(l.bytes == 8 * l.fields.size());

  const std::string st = l.deviceStruct();
  CHECK(contains(st, "const __nv_bfloat16 *X; // bf16 [T, D]"));
  CHECK(contains(st, "__nv_bfloat16 *Y; // bf16 [T, F]"));
  CHECK(contains(st, "long long T;\n  long long D;\n  long long F;"));
  CHECK(k.grid.toString() == "x = ceil(T / 64), y = ceil(F / 64), z = 1");
  CHECK(k.grid.evaluate(chainSizes(1000, 4104, 11000)) == std::array<int64_t, 3>{16, 172, 1});
}

TEST_CASE("packParams fills a chain's pointers strides and named sizes", "[abi][chain]") {
  const RmsnormMatmul chain;
  const ParamLayout &l = chain.kernel.params;
  const int64_t T = 1000, D = 4104, F = 11000;
  const std::vector<TensorBinding> t = chainBindings(T, D, F);
  const std::vector<std::byte> bytes = packParams(l, chainSizes(T, D, F), t);
  REQUIRE(bytes.size() == l.bytes);
  CHECK(at(bytes, field(l, "X").offset) == 0x7f3a00010000);
  CHECK(at(bytes, field(l, "G").offset) == 0x7f3a00020000);
  CHECK(at(bytes, field(l, "W").offset) == 0x7f3a00030000);
  CHECK(at(bytes, field(l, "Y").offset) == 0x7f3a00040000);
  CHECK(at(bytes, field(l, "X_stride[0]").offset) == D + 8);
  CHECK(at(bytes, field(l, "W_stride[0]").offset) == D);
  CHECK(at(bytes, field(l, "Y_stride[0]").offset) == F + 24);
  CHECK(at(bytes, field(l, "T").offset) == T);
  CHECK(at(bytes, field(l, "D").offset) == D);
  CHECK(at(bytes, field(l, "F").offset) == F);

  // Other sizes give other bytes (nothing above is a constant of the layout).
  const std::vector<std::byte> other = packParams(l, chainSizes(65, 72, 136), chainBindings(65, 72, 136));
  CHECK(at(other, field(l, "T").offset) == 65);
  CHECK(at(other, field(l, "D").offset) == 72);
  CHECK(at(other, field(l, "F").offset) == 136);
  CHECK(at(other, field(l, "X_stride[0]").offset) == 80);
  CHECK(at(other, field(l, "Y_stride[0]").offset) == 160);
}

TEST_CASE("packParams refuses a chain binding whose extent disagrees with a named size", "[abi][chain]") {
  const RmsnormMatmul chain;
  const ParamLayout &l = chain.kernel.params;
  const int64_t T = 1000, D = 4104, F = 11000;
  const ProblemSizes sizes = chainSizes(T, D, F);
  std::vector<TensorBinding> bad = chainBindings(T, D, F);
  bad[0].shape[1] = D + 8;
  CHECK_THROWS_AS(packParams(l, sizes, bad), AbiError);
  CHECK_THROWS_WITH(packParams(l, sizes, bad), "packParams: tensor X: dim 1 (D) is 4112, expected 4104");
  bad = chainBindings(T, D, F);
  bad[1].shape[0] = D - 8;
  CHECK_THROWS_WITH(packParams(l, sizes, bad), "packParams: tensor G: dim 0 (D) is 4096, expected 4104");
  bad = chainBindings(T, D, F);
  bad[2].shape[0] = F + 1;
  CHECK_THROWS_WITH(packParams(l, sizes, bad), "packParams: tensor W: dim 0 (F) is 11001, expected 11000");
  bad = chainBindings(T, D, F);
  bad[3].shape[0] = T - 1;
  CHECK_THROWS_WITH(packParams(l, sizes, bad), "packParams: tensor Y: dim 0 (T) is 999, expected 1000");
  // The same bindings against sizes that disagree with them.
  CHECK_THROWS_WITH(packParams(l, chainSizes(T, D, F + 64), chainBindings(T, D, F)),
                    "packParams: tensor W: dim 0 (F) is 11000, expected 11064");
}
