// The readable structure of emitted kernels (the online-softmax steps, the pipeline, the named tiles),
// the phase dumps, and the diagnostics for programs the generator cannot handle.
#include "CodegenTestSupport.h"

#include <catch2/catch.hpp>

#include <regex>

using namespace tilefuse::codegen;
using namespace tilefuse::codegen::test;

namespace {

/// Positions of `needles` in `text`, REQUIRE'd to appear in this order.
void requireInOrder(const std::string &text, const std::vector<std::string> &needles) {
  size_t at = 0;
  for (const std::string &n : needles) {
    INFO("looking for: " << n);
    const size_t found = text.find(n, at);
    REQUIRE(found != std::string::npos);
    at = found + n.size();
  }
}

std::string errorOf(const Program &p, Schedule s = {}) {
  try {
    generate(p, s);
  } catch (const CodegenError &e) {
    return e.what();
  }
  return "";
}

/// The causal program with each `from` replaced by its `to` (first occurrence).
Program causalWith(const std::vector<std::pair<std::string, std::string>> &edits) {
  std::string text = readInput("causal.mlir");
  for (const auto &[from, to] : edits) {
    const size_t at = text.find(from);
    INFO("edit: " << from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
  }
  return parseProgram(text, "causal_edit.mlir");
}

/// `input` (tests/lit/codegen/Inputs) with each `from` replaced by its `to` (first occurrence).
Program inputWith(const std::string &input, const std::vector<std::pair<std::string, std::string>> &edits) {
  std::string text = readInput(input);
  for (const auto &[from, to] : edits) {
    const size_t at = text.find(from);
    INFO("edit: " << from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
  }
  return parseProgram(text, input + " (edited)");
}

} // namespace

TEST_CASE("f32 tanh and exp are hardware approximations unless marked blk.exact_math", "[emit][math]") {
  // Unmarked: tanh.approx.f32 for the soft-cap, ex2.approx for both softmax exponentials.
  const std::string approx = generate(loadInput("softcap.mlir")).source;
  CHECK(approx.find("tfcg::fast_tanh(") != std::string::npos);
  CHECK(approx.find("tanhf(") == std::string::npos);
  CHECK(approx.find("expf(") == std::string::npos);
  // The score_mod's tanh and the probabilities' exp(x - m) marked: tanhf, and expf of the difference in
  // place of tfcg::exp_diff; the running max's rescale exp(m_old - m_new) stays tfcg::exp_diff.
  const std::string exact = generate(inputWith("softcap.mlir", {{"math.tanh %dv : f32", "math.tanh %dv {blk.exact_math} : f32"},
                                                               {"%p = math.exp %d : f32", "%p = math.exp %d {blk.exact_math} : f32"}}))
                                .source;
  CHECK(exact.find("tfcg::fast_tanh(") == std::string::npos);
  CHECK(exact.find("tanhf(") != std::string::npos);
  CHECK(exact.find("expf(") != std::string::npos);
  CHECK(exact.find("tfcg::exp_diff(") != std::string::npos);
}

TEST_CASE("The causal kernel reads like FlashAttention-2", "[emit]") {
  const GeneratedKernel k = generate(loadInput("causal.mlir"));
  const std::string &src = k.source;
  CHECK(k.kernelName == "tilefuse_causal");
  CHECK(k.threadsPerBlock == 128);
  CHECK(k.dynamicSmemBytes == 81920); // Q + 2 stages of K and V, 64 x 128 bf16 each
  requireInOrder(src, {
      "extern \"C\" __global__ void __launch_bounds__(128, 1) tilefuse_causal(const tilefuse_causal_abi::Params p)",
      "auto &q_smem = *reinterpret_cast<st<T, 64, 128> *>(smem + 0);",
      "st<T, 64, 128> *k_smem = reinterpret_cast<st<T, 64, 128> *>(smem + 16384); // [2] pipeline stages",
      "const long long q_tile = gridDim.x - 1 - blockIdx.x;",
      "block::load_async(q_smem,",
      "warp::fill(m_i, (-tfcg::inf()));",
      "warp::fill(l_i, 0.0f);",
      "warp::zero(o_acc);",
      "for (int pre = 0; pre < 1; ++pre)",
      "block::load_async(k_smem[pre],",
      "block::load_async(v_smem[pre],",
      "block::load_async(k_smem[1],",
      "cp_async_wait<3>(); // tiles loaded before the loop have landed",
      "warp::load(q_frag, q_smem, warp_row0, 0);",
      "for (int it = 0; it < n_iters; ++it)",
      "cp_async_wait<2>(); // k_smem of this iteration has landed ...",
      "block::load_async(v_smem[ahead % 2],",
      "warp::mma_ABt(s_acc, q_frag, k_smem[stage], 0);",
      "const long long q_idx = q_row0 + row;",
      "const long long kv_idx = kv0 + col;",
      "warp::row_max(m_new, s_acc, m_i);",
      "tfcg::map(alpha, warp_row0,",
      "tfcg::exp_diff(",
      "warp::row_sum(l_i, s_acc, l_i);",
      "warp::mul_row(o_acc, o_acc, alpha);",
      "warp::copy(p_frag, s_acc);",
      "cp_async_wait<2>(); // v_smem of this iteration has landed ...",
      "block::load_async(k_smem[ahead % 2],",
      "warp::mma_AB(o_acc, p_frag, v_smem[stage], 0);",
      "m_i = m_new;",
      "warp::store(gv<T>{p.O + batch * p.O_stride[0] + head * p.O_stride[1], static_cast<int>(p.Sq), p.O_stride[2]}, "
      "o_acc, static_cast<int>(q_row0) + warp_row0, 0);",
      "rv<16> lse;",
      "tfcg::log(",
      "warp::store(gv<float>{p.LSE + batch * p.LSE_stride[0] + head * p.LSE_stride[1], static_cast<int>(p.Sq), 1}, "
      "lse,",
  });
  // The mask_mod and the K/V tail come from the IR's maps, applied to the scaled scores; Sk - Sq, the
  // same for every element, is computed once in front of the K/V loop (Prepare's element invariants).
  CHECK(contains(src, "const long long i = (Sk - Sq);"));
  CHECK(contains(src, "((kv_idx < Sk) ? (((q_idx + i) >= kv_idx) ? (tfcg::at(s_acc, x) * 0.0883883461f)"));
  CHECK(!contains(src, "mask_causal")); // nothing from the spec text or the reference kernel
}

TEST_CASE("Captured tables are read through bounds-checked table objects", "[emit]") {
  const std::string alibi = generate(loadInput("alibi.mlir")).source;
  CHECK(contains(alibi, "const tfcg::table<float, 1> slopes{p.slopes, {p.Hq}, {1}};"));
  CHECK(contains(alibi, "slopes(head)"));
  const std::string rel = generate(loadInput("relative_bias.mlir")).source;
  CHECK(contains(rel, "const tfcg::table<float, 2> bias{p.bias, {p.Hq, p.bias_extent[1]}, {p.bias_stride[0], 1}};"));
  const std::string doc = generate(loadInput("document_mask.mlir")).source;
  CHECK(contains(doc, "doc_ids(batch, kv_idx)"));
  const std::string gqa = generate(loadInput("gqa.mlir")).source;
  CHECK(contains(gqa, "const long long kv_head = tfcg::divu<long long>(head, 4);"));
}

TEST_CASE("Schedules change the pipeline and where Q lives", "[emit]") {
  const Program prog = loadInput("causal.mlir");
  Schedule one;
  one.kvStages = 1;
  const GeneratedKernel k1 = generate(prog, one);
  CHECK(k1.dynamicSmemBytes == 49152);
  // FlashAttention-2's single-buffered schedule: V_j streams during S = Q K_j^T, K_{j+1} during P V_j.
  requireInOrder(k1.source, {"block::load_async(k_smem,", "cp_async_commit();",
                             "for (int it = 0; it < n_iters; ++it)",
                             "cp_async_wait<0>(); // k_smem of this iteration has landed ...",
                             "block::load_async(v_smem,", "warp::mma_ABt(",
                             "cp_async_wait<0>(); // v_smem of this iteration has landed ...",
                             "block::load_async(k_smem,", "warp::mma_AB("});
  Schedule three;
  three.kvStages = 3;
  const GeneratedKernel k3 = generate(prog, three);
  CHECK(k3.dynamicSmemBytes == 16384 + 3 * 2 * 16384);
  requireInOrder(k3.source, {"for (int pre = 0; pre < 2; ++pre)", "cp_async_wait<5>();", "cp_async_wait<4>();",
                             "const int ahead = it + 2;", "cp_async_wait<4>();", "const int ahead = it + 3;"});
  Schedule qSmem;
  qSmem.q = QPlacement::Smem;
  const std::string s = generate(prog, qSmem).source;
  CHECK(!contains(s, "q_frag"));
  CHECK(contains(s, "warp::mma_ABt(s_acc, q_smem, warp_row0, k_smem[stage], 0);"));
  Schedule twoWarps;
  twoWarps.warps = 2;
  const GeneratedKernel k2 = generate(prog, twoWarps, /*keepWarps=*/true);
  CHECK(k2.threadsPerBlock == 64);
  CHECK(contains(k2.source, "rt<float, 32, 64> s_acc;"));
}

TEST_CASE("Dumps of the resolve and plan phases", "[emit][dump]") {
  const Program prog = loadInput("causal.mlir");
  const std::string r = dumpResolve(prog.func(), inferSignature(prog.func()));
  CHECK(contains(r, "grid: x = ceil(Sq / 64), y = Hq, z = B"));
  CHECK(contains(r, "m_i = (carried by scf.for) : !blk.tile<64xf32, reg>  [row-vector]"));
  CHECK(contains(r, "s_acc = blk.matmul : !blk.tile<64x64xf32, reg>  [fragment]"));
  CHECK(contains(r, "q_idx = blk.iota : !blk.tile<64x64xi64, reg>  [inline]"));
  const std::string p = dumpPlan(prog.func(), scheduleFor(prog), inferSignature(prog.func()));
  CHECK(contains(p, "shared memory: 81920 bytes"));
  CHECK(contains(p, "+16384\tk_smem[2] : st<__nv_bfloat16, 64, 128>, 16384 bytes per stage, swizzle chunk ^ (row % 8)"));
  CHECK(contains(p, "kept in registers for the loop: q_smem -> q_frag"));
  CHECK(contains(p, "fused: blk.reduce max"));
  CHECK(contains(p, "Params: 192 bytes"));
}

TEST_CASE("Tile classification into skip partial and full tiles shares one prefetch", "[emit]") {
  const GeneratedKernel k = generate(loadInput("causal_classified.mlir"));
  // K and V are loaded in both the full and the partial branch: one buffer each, prefetched under
  // the condition both branches share (the tile is not empty).
  CHECK(k.dynamicSmemBytes == 81920);
  requireInOrder(k.source, {"if (!", "block::load_async(v_smem[ahead % 2],", "if (!", "block::load_async(k_smem[ahead % 2],"});
  CHECK(contains(k.source, "} else {"));
}

TEST_CASE("Programs the generator cannot handle are diagnosed at the op", "[emit][errors]") {
  SECTION("the unfused program") {
    const std::string e = errorOf(parseProgram(R"(
func.func @f(%Q: !blk.tensor<[B, Hq, Sq, 128], bf16>, %K: !blk.tensor<[B, Hkv, Sk, 128], bf16>,
             %V: !blk.tensor<[B, Hkv, Sk, 128], bf16>, %O: !blk.tensor<[B, Hq, Sq, 128], bf16>) {
  %B = blk.dim %Q[0] : !blk.tensor<[B, Hq, Sq, 128], bf16>
  blk.kernel @qk grid(%B) {
  ^bb0(%b: index):
  }
  blk.kernel @softmax grid(%B) {
  ^bb0(%b: index):
  }
  return
})",
                                                   "unfused.mlir"));
    CHECK(contains(e, "unfused.mlir:2:1: error: func.func: expected exactly one blk.kernel in @f, found 2 (@qk, @softmax)"));
  }
  SECTION("an op in a map region without a CUDA translation") {
    const std::string e = errorOf(causalWith({{"%c = arith.cmpi slt, %jj, %Sk64 : i64",
                                              "%cnt = math.ctlz %jj : i64\n        %c = arith.cmpi slt, %cnt, %Sk64 : i64"}}));
    CHECK(std::regex_search(e, std::regex(R"(causal_edit\.mlir:\d+:\d+: error: math\.ctlz: no CUDA translation)")));
  }
  SECTION("a schedule that disagrees with the program's tiles") {
    Schedule s;
    const Program prog = loadInput("causal.mlir");
    s = scheduleFor(prog);
    s.blockN = 32;
    try {
      generateKernel(prog.func(), s, inferSignature(prog.func()));
      FAIL("expected CodegenError");
    } catch (const CodegenError &e) {
      CHECK(contains(e.what(), "error: scf.for: schedule BLOCK_N = 32 but this K/V loop steps by 64"));
    }
  }
  SECTION("an invalid schedule") {
    Schedule s;
    const Program prog = loadInput("causal.mlir");
    s = scheduleFor(prog);
    s.kvStages = 5;
    CHECK_THROWS_AS(generateKernel(prog.func(), s, inferSignature(prog.func())), ScheduleError);
  }
  SECTION("a dynamic tile (the program is not tiled)") {
    const std::string e = errorOf(causalWith({{"%l0 = blk.fill %zero : f32 -> !blk.tile<64xf32, reg>",
                                              "%l0 = blk.fill %zero : f32 -> !blk.tile<64xf32, reg>\n"
                                              "    %dyn = blk.fill %zero : f32 -> !blk.tile<64x?xf32, reg>"}}));
    CHECK(contains(e, "error: blk.fill: tile !blk.tile<64x?xf32, reg> has a run-time (?) dim"));
  }
  SECTION("a matmul whose B operand is computed in registers") {
    // A register load of V alone would be staged through a shared tile (Prepare); a map's result cannot be.
    const std::string e = errorOf(causalWith(
        {{"-> !blk.tile<64x128xbf16, smem>\n      %accn",
          "-> !blk.tile<64x128xbf16, reg>\n"
          "      %vr = blk.map(%v) : (!blk.tile<64x128xbf16, reg>) -> !blk.tile<64x128xbf16, reg> {\n"
          "      ^bb0(%ve: bf16):\n"
          "        blk.yield %ve : bf16\n"
          "      }\n"
          "      %accn"},
         {"%accn = blk.matmul %p, %v", "%accn = blk.matmul %p, %vr"},
         {"!blk.tile<64x64xbf16, reg>, !blk.tile<64x128xbf16, smem>", "!blk.tile<64x64xbf16, reg>, !blk.tile<64x128xbf16, reg>"}}));
    CHECK(contains(e, "the B operand of mma.sync must be a shared tile"));
  }
}
