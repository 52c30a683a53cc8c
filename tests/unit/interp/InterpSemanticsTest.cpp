//===- InterpSemanticsTest.cpp - scalar semantics and error reports ---------===//
#include "TestSupport.h"

#include "tilefuse/interp/Interpreter.h"

using tilefuse::interp::DType;
using tilefuse::interp::HostTensor;
using tilefuse::interp::InterpError;
using tilefuse::interp::ScalarArg;
using namespace tilefuse::test;
using Catch::Matchers::Contains;

namespace {

Program &semantics() {
  static Program prog(sourcePath("tests/unit/interp/inputs/semantics.mlir"));
  return prog;
}

std::string errorOf(std::function<void()> f) {
  try {
    f();
  } catch (const InterpError &e) {
    return e.what();
  }
  return "<no error>";
}

} // namespace

TEST_CASE("integer arith wraps at its width and rounds as MLIR says", "[interp]") {
  HostTensor out = HostTensor::contiguous(DType::I64, {16}, "out", std::nan(""));
  std::vector<HostTensor *> args{&out};
  tilefuse::interp::run(semantics().fn("int_semantics"), args);
  const std::vector<double> want = {
      -2147483648.0, // addi i32 max + 1
      -4,            // floordivsi -7, 2
      -3,            // ceildivsi -7, 2
      -1,            // remsi -7, 2
      2147483647.0,  // divui i32 0xFFFFFFFF, 2
      -4,            // shrsi -8, 1
      15,            // shrui i32 -8, 28
      1,             // extui i1 true
      -1,            // extsi i1 true
      44,            // trunci 300 to i8
      -56,           // trunci 200 to i8
      3,             // ceildivui 130, 64
      -2,            // fptosi -2.7
      -1,            // maxui i32 -1, 5 (0xFFFFFFFF as signed)
      0,             // cmpi ult -1, 5
      0,             // muli i32 65536 * 65536
  };
  for (size_t k = 0; k < want.size(); ++k) {
    INFO("element " << k);
    CHECK(out.data[k] == want[k]);
  }
}

TEST_CASE("float semantics of NaN in maximumf and maxnumf and -inf row max and truncf",
          "[interp]") {
  HostTensor out = HostTensor::contiguous(DType::F64, {6}, "out", 7.0);
  std::vector<HostTensor *> args{&out};
  tilefuse::interp::run(semantics().fn("float_semantics"), args);
  CHECK(std::isnan(out.data[0]));
  CHECK(out.data[1] == 1.0);
  CHECK(out.data[2] == -std::numeric_limits<double>::infinity());
  CHECK(out.data[3] == 1.0 / 3.0);
  CHECK(out.data[4] == 2.0);
  CHECK(out.data[5] == -std::numeric_limits<double>::infinity());
}

TEST_CASE("blk.read of a captured table in bounds and out of bounds", "[interp]") {
  mlir::func::FuncOp fn = semantics().fn("table_lookup");
  HostTensor S = HostTensor::contiguous(DType::F32, {8, 5}, "S");
  HostTensor out = HostTensor::contiguous(DType::F32, {8, 5}, "out");
  fillRandom(S);
  SECTION("in bounds") {
    HostTensor T = HostTensor::contiguous(DType::F32, {5}, "table");
    fillRandom(T);
    std::vector<HostTensor *> args{&S, &T, &out};
    tilefuse::interp::run(fn, args);
    for (int64_t i = 0; i < 8; ++i)
      for (int64_t j = 0; j < 5; ++j)
        CHECK(out.at({i, j}) == S.at({i, j}) + T.at({j}));
  }
  SECTION("out of bounds reads 0 like the padding of blk.load (BlkOps.td)") {
    HostTensor T = HostTensor::contiguous(DType::F32, {3}, "table");
    fillRandom(T);
    std::vector<HostTensor *> args{&S, &T, &out};
    tilefuse::interp::run(fn, args);
    for (int64_t i = 0; i < 8; ++i)
      for (int64_t j = 0; j < 5; ++j)
        CHECK(out.at({i, j}) == S.at({i, j}) + (j < 3 ? T.at({j}) : 0.0));
  }
}

TEST_CASE("errors for unsupported ops and division by zero and argument mismatches", "[interp]") {
  SECTION("unsupported op inside a map") {
    HostTensor X = HostTensor::contiguous(DType::I32, {8}, "X", 3.0);
    std::vector<HostTensor *> args{&X};
    std::string msg = errorOf([&] { tilefuse::interp::run(semantics().fn("unsupported"), args); });
    CHECK_THAT(msg, Contains("'math.ctpop' at ") && Contains("unsupported op"));
  }
  SECTION("integer division by zero, scalar argument") {
    HostTensor X = HostTensor::contiguous(DType::I64, {1}, "X");
    std::vector<HostTensor *> args{&X};
    std::vector<ScalarArg> four{int64_t(4)}, zero{int64_t(0)};
    tilefuse::interp::run(semantics().fn("divide"), args, four);
    CHECK(X.data[0] == 25.0);
    std::string msg = errorOf([&] { tilefuse::interp::run(semantics().fn("divide"), args, zero); });
    CHECK_THAT(msg, Contains("'arith.divui' at ") && Contains("division by zero"));
  }
  SECTION("a symbol bound to two extents names both tensors") {
    Program prog(sourcePath("tests/unit/interp/inputs/attention_variants.mlir"));
    HostTensor Q = HostTensor::contiguous(DType::BF16, {1, 2, 100, 32}, "Q");
    HostTensor K = HostTensor::contiguous(DType::BF16, {1, 2, 50, 32}, "K");
    HostTensor V = HostTensor::contiguous(DType::BF16, {1, 2, 50, 32}, "V");
    HostTensor O = HostTensor::contiguous(DType::BF16, {1, 2, 120, 32}, "O");
    HostTensor L = HostTensor::contiguous(DType::F32, {1, 2, 100}, "LSE");
    std::vector<HostTensor *> args{&Q, &K, &V, &O, &L};
    std::string msg = errorOf([&] { tilefuse::interp::run(prog.fn("safe_attention"), args); });
    CHECK(msg == "symbol 'Sq' is bound to 100 by argument #0 'Q' and to 120 by argument #3 'O'");
    // dtype, rank, count
    O = HostTensor::contiguous(DType::F32, {1, 2, 100, 32}, "O");
    msg = errorOf([&] { tilefuse::interp::run(prog.fn("safe_attention"), args); });
    CHECK_THAT(msg, Contains("argument #3 'O' has dtype f32") && Contains("needs bf16"));
    O = HostTensor::contiguous(DType::BF16, {2, 100, 32}, "O");
    msg = errorOf([&] { tilefuse::interp::run(prog.fn("safe_attention"), args); });
    CHECK_THAT(msg, Contains("argument #3 'O' has rank 3"));
    args.pop_back();
    msg = errorOf([&] { tilefuse::interp::run(prog.fn("safe_attention"), args); });
    CHECK_THAT(msg, Contains("takes 5 tensor and 0 scalar arguments, got 4 and 0"));
  }
  SECTION("a tensor whose last stride is not 1") {
    HostTensor X = HostTensor::contiguous(DType::I64, {2}, "X");
    X.strides = {2};
    X.data.resize(4);
    std::vector<HostTensor *> args{&X};
    std::vector<ScalarArg> four{int64_t(4)};
    std::string msg = errorOf([&] { tilefuse::interp::run(semantics().fn("divide"), args, four); });
    CHECK_THAT(msg, Contains("X [2] i64") && Contains("last stride must be 1"));
  }
}
