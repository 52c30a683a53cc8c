//===- SpecLocationTest.cpp - ops lowered from a spec name its field and column -===//
//
// Issue 12, part 4: the lowering gives every op of a spec expression the location of its node
// (blk/SpecLocation.h), so the interpreter's errors name the spec file, field and column.
//
#include "blk/SpecLocation.h"
#include "tilefuse/interp/Interpreter.h"
#include "tilefuse/lowering/Lowering.h"
#include "tilefuse/spec/Spec.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

using tilefuse::interp::DType;
using tilefuse::interp::HostTensor;
namespace blk = tilefuse::blk;
namespace spec = tilefuse::spec;

namespace {

// Line 3 holds mask_mod; its string begins at column 16, so expression column c is file column 15 + c.
constexpr const char *kModZero = R"json({
  "name": "m", "dtype": "bf16", "head_dim": 16, "heads": {"q": 1, "kv": 1},
  "mask_mod": "q_idx >= kv_idx && kv_idx % 0 == 0",
  "shape": {"B": 1, "Sq": 8, "Sk": 8}
})json";

// Line 3: the string of let "d" opens at column 16 (expression column c is file column 16 + c); line 4: score_mod.
constexpr const char *kLet = R"json({
  "name": "l", "dtype": "bf16", "head_dim": 16, "heads": {"q": 1, "kv": 1},
  "let": {"d": "kv_idx // (Sk - Sk)"},
  "score_mod": "score + float(d)",
  "shape": {"B": 1, "Sq": 8, "Sk": 8}
})json";

struct Lowered {
  mlir::MLIRContext ctx;
  mlir::OwningOpRef<mlir::ModuleOp> module;
  mlir::func::FuncOp fn;
  Lowered(const spec::Spec &s, const spec::Shape &shape) {
    tilefuse::lowering::loadDialects(ctx);
    module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx));
    fn = tilefuse::lowering::lowerToUnfused(*module, s, shape);
  }
  mlir::Operation *first(llvm::StringRef name) {
    mlir::Operation *found = nullptr;
    fn->walk([&](mlir::Operation *op) {
      if (!found && op->getName().getStringRef() == name)
        found = op;
    });
    return found;
  }
};

} // namespace

TEST_CASE("An op lowered from mask_mod is located at its node in the spec file", "[speclocation]") {
  spec::Spec s = spec::parseSpecString(kModZero, "m.json");
  Lowered l(s, spec::resolveShape(s));
  mlir::Operation *div = l.first("arith.floordivsi");
  REQUIRE(div != nullptr);
  std::optional<blk::SpecPosition> p = blk::findSpecPosition(div->getLoc());
  REQUIRE(p.has_value());
  CHECK(p->file == "m.json");
  CHECK(p->field == "mask_mod");
  CHECK(p->exprColumn == 27); // the '%'
  CHECK(p->line == 3);
  CHECK(p->column == 15 + 27);
  CHECK(blk::specContext(div->getLoc()) == "field 'mask_mod', column 27");
  // The comparison at column 7 has its own place.
  mlir::Operation *cmp = l.first("arith.cmpi");
  REQUIRE(cmp != nullptr);
  REQUIRE(blk::findSpecPosition(cmp->getLoc()).has_value());
  CHECK(blk::findSpecPosition(cmp->getLoc())->exprColumn == 7);
}

TEST_CASE("The interpreter's error at a spec op names the spec file, field and column", "[speclocation]") {
  spec::Spec s = spec::parseSpecString(kModZero, "m.json");
  spec::Shape shape = spec::resolveShape(s);
  Lowered l(s, shape);
  HostTensor Q = HostTensor::contiguous(DType::BF16, {1, 1, 8, 16}, "Q");
  HostTensor K = HostTensor::contiguous(DType::BF16, {1, 1, 8, 16}, "K");
  HostTensor V = HostTensor::contiguous(DType::BF16, {1, 1, 8, 16}, "V");
  HostTensor O = HostTensor::contiguous(DType::BF16, {1, 1, 8, 16}, "O", std::nan(""));
  std::vector<HostTensor *> args{&Q, &K, &V, &O};
  try {
    tilefuse::interp::run(l.fn, args);
    FAIL("kv_idx % 0 ran without an error");
  } catch (const tilefuse::interp::InterpError &e) {
    CHECK(std::string(e.what()) ==
          "m.json:3:42: error: field 'mask_mod', column 27: 'arith.floordivsi': integer division by zero");
  }
}

TEST_CASE("An op lowered from a let is a call site: its place in the let at its use", "[speclocation]") {
  spec::Spec s = spec::parseSpecString(kLet, "l.json");
  Lowered l(s, spec::resolveShape(s));
  mlir::Operation *div = l.first("arith.floordivsi");
  REQUIRE(div != nullptr);
  CHECK(mlir::isa<mlir::CallSiteLoc>(div->getLoc()));
  std::optional<blk::SpecPosition> used;
  std::optional<blk::SpecPosition> p = blk::findSpecPosition(div->getLoc(), &used);
  REQUIRE(p.has_value());
  CHECK(p->field == "let.d");
  CHECK(p->exprColumn == 8); // the '//'
  CHECK(p->line == 3);
  CHECK(p->column == 16 + 8);
  REQUIRE(used.has_value());
  CHECK(used->field == "score_mod");
  CHECK(used->exprColumn == 15); // the 'd'
  CHECK(used->line == 4);
  CHECK(blk::specContext(div->getLoc()) == "field 'let.d', column 8, used in field 'score_mod' at column 15");
}
