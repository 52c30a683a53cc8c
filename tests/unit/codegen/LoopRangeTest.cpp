// The K/V loop's range cut (Plan.cpp, LoopPlan::starts / ends) checked on the CPU against the skip
// condition it was derived from. For shipped specs and shapes, every Q tile: the skip scf.if's
// condition is evaluated at every K/V tile of the loop, and the plan's bounds are evaluated as the
// emitter writes them (begin = lower + max(0, ceil((max starts - lower) / step)) * step, end =
// min(upper, min ends)). Sound: every tile the condition keeps lies in [begin, end). Tight: no tile in
// [begin, end) is skipped, for the masks whose skip condition is an exact range (causal, windows,
// block diagonal). The values are evaluated by a small interpreter of the index arithmetic below.
#include "FuseSupport.h"
#include "Plan.h"
#include "Prepare.h"
#include "Resolve.h"

#include "blk/BlkDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"

#include <catch2/catch.hpp>

#include <map>
#include <optional>

using namespace mlir;
using namespace tilefuse;
using namespace tilefuse::codegen;
using namespace tilefuse::codegen::test;

namespace {

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t ceilDiv(int64_t a, int64_t b) { return a / b + ((a % b != 0) && ((a < 0) == (b < 0))); }

/// Index / integer values of the kernel body, given the sizes, the program ids and the loop's iv.
struct Evaluator {
  std::map<std::string, int64_t> dims;
  llvm::DenseMap<Value, int64_t> bound; // block arguments: program ids, the induction variable

  int64_t operator()(Value v) {
    if (auto it = bound.find(v); it != bound.end())
      return it->second;
    if (auto c = getConstantIntValue(v))
      return *c;
    Operation *d = v.getDefiningOp();
    INFO("value " << (d ? d->getName().getStringRef().str() : std::string("block argument")));
    REQUIRE(d);
    auto in = [&](unsigned i) { return (*this)(d->getOperand(i)); };
    if (auto dim = dyn_cast<blk::DimOp>(d)) {
      auto t = cast<blk::HbmTensorType>(dim.getSource().getType());
      unsigned dyn = 0;
      for (unsigned i = 0; i < dim.getIndex(); ++i)
        dyn += t.isDynamicDim(i);
      if (!t.isDynamicDim(dim.getIndex()))
        return t.getShape()[dim.getIndex()];
      return dims.at(t.getDimNames()[dyn].getValue().str());
    }
    if (isa<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp, arith::ExtUIOp, arith::TruncIOp>(d))
      return in(0);
    if (isa<arith::AddIOp>(d)) return in(0) + in(1);
    if (isa<arith::SubIOp>(d)) return in(0) - in(1);
    if (isa<arith::MulIOp>(d)) return in(0) * in(1);
    if (isa<arith::FloorDivSIOp>(d)) return floorDiv(in(0), in(1));
    if (isa<arith::CeilDivSIOp, arith::CeilDivUIOp>(d)) return ceilDiv(in(0), in(1));
    if (isa<arith::DivSIOp>(d)) return in(0) / in(1);
    if (isa<arith::MaxSIOp>(d)) return std::max(in(0), in(1));
    if (isa<arith::MinSIOp>(d)) return std::min(in(0), in(1));
    if (isa<math::AbsIOp>(d)) return std::abs(in(0));
    if (isa<arith::AndIOp>(d)) return in(0) & in(1);
    if (isa<arith::OrIOp>(d)) return in(0) | in(1);
    if (isa<arith::XOrIOp>(d)) return in(0) ^ in(1);
    if (auto s = dyn_cast<arith::SelectOp>(d)) return in(0) ? in(1) : in(2);
    if (auto c = dyn_cast<arith::CmpIOp>(d)) {
      const int64_t a = in(0), b = in(1);
      using P = arith::CmpIPredicate;
      switch (c.getPredicate()) {
      case P::eq: return a == b;
      case P::ne: return a != b;
      case P::slt: return a < b;
      case P::sle: return a <= b;
      case P::sgt: return a > b;
      case P::sge: return a >= b;
      default: FAIL("unsigned compare in a skip condition");
      }
    }
    FAIL("no evaluation for " << d->getName().getStringRef().str());
    return 0;
  }

  int64_t bound_(const IvBound &b) {
    if (b.kind == IvBound::Kind::Linear) {
      int64_t s = b.offset;
      for (auto [v, coef] : b.terms)
        s += coef * (*this)(v);
      return s;
    }
    std::optional<int64_t> r;
    for (const IvBound &a : b.args) {
      const int64_t x = bound_(a);
      r = !r ? x : b.kind == IvBound::Kind::Min ? std::min(*r, x) : std::max(*r, x);
    }
    return *r;
  }
};

/// Every Q tile of spec `name` at several (Sq, Sk), fused with BLOCK_M x BLOCK_N: sound, and tight when
/// `exact`.
void checkRanges(const std::string &name, int blockM, int blockN, bool exact) {
  const spec::Spec s = loadSpec(name);
  for (auto [Sq, Sk] : {std::pair<int64_t, int64_t>{113, 203}, {256, 512}, {512, 256}, {1000, 3001}, {4097, 65},
                        {4096, 4096}, {777, 778}}) {
    spec::ShapeOverrides ov;
    ov.B = 1, ov.Sq = Sq, ov.Sk = Sk;
    const spec::Shape shape = spec::resolveShape(s, ov);
    Program prog = fuseSpec(s, shape, blockM, blockN);
    OwningOpRef<func::FuncOp> prepared = prepare(prog.func());
    const ResolvedKernel r = resolve(*prepared, inferSignature(prog.func()));
    const KernelPlan p = plan(r, matchProgram(prog.func(), defaultSchedule(static_cast<int>(shape.D), s.dtype, "sm_80")));
    REQUIRE(p.loops.size() == 1);
    const LoopPlan &lp = p.loops[0];
    scf::IfOp skip;
    for (Operation &op : *lp.op.getBody())
      if (auto i = dyn_cast<scf::IfOp>(op); i && !skip)
        skip = i;
    REQUIRE(skip);
    Evaluator ev;
    ev.dims = {{"B", 1}, {"Hq", shape.Hq}, {"Hkv", shape.Hkv}, {"Sq", Sq}, {"Sk", Sk}};
    Block &body = r.kernel.getBodyBlock();
    ev.bound[body.getArgument(0)] = 0;
    ev.bound[body.getArgument(1)] = 0;
    const int64_t qTiles = (Sq + blockM - 1) / blockM;
    for (int64_t qt = 0; qt < qTiles; ++qt) {
      ev.bound[body.getArgument(2)] = qt;
      const int64_t lower = ev(lp.op.getLowerBound()), upper = ev(lp.op.getUpperBound()), step = lp.step;
      int64_t begin = lower, end = upper;
      if (!lp.starts.empty()) {
        int64_t start = ev.bound_(lp.starts[0]);
        for (const IvBound &b : lp.starts)
          start = std::max(start, ev.bound_(b));
        begin = lower + std::max<int64_t>(0, ceilDiv(start - lower, step)) * step;
      }
      for (const IvBound &b : lp.ends)
        end = std::min(end, ev.bound_(b));
      int kept = 0, skippedInside = 0;
      for (int64_t kv0 = lower; kv0 < upper; kv0 += step) {
        ev.bound[lp.op.getInductionVar()] = kv0;
        const bool skipped = ev(skip.getCondition()) != 0;
        INFO(name << " BLOCK " << blockM << "x" << blockN << " Sq " << Sq << " Sk " << Sk << " Q tile " << qt
                  << ": kv0 " << kv0 << ", range [" << begin << ", " << end << ")");
        if (!skipped) {
          ++kept;
          CHECK(kv0 >= begin);
          CHECK(kv0 < end);
        } else if (kv0 >= begin && kv0 < end) {
          ++skippedInside;
        }
      }
      if (exact && kept > 0)
        CHECK(skippedInside == 0);
    }
  }
}

} // namespace

TEST_CASE("The K/V loop range cut keeps every tile the skip condition keeps for windows and block diagonals",
          "[plan][range]") {
  checkRanges("sliding_window", 128, 128, true);
  checkRanges("sliding_window", 64, 64, true);
  checkRanges("block_diagonal", 128, 128, true);
  checkRanges("block_diagonal", 64, 64, true);
  checkRanges("causal", 128, 64, true);
  checkRanges("alibi", 64, 128, true);
}

TEST_CASE("A mask that reads a captured table gets no loop start from the tile classification", "[plan][range]") {
  // Its tiles are decided at run time (blk.tile_class, a run-time block mask): no start can be proven.
  const spec::Spec s = loadSpec("document_mask");
  spec::ShapeOverrides ov;
  ov.B = 1, ov.Sq = 1000, ov.Sk = 1000;
  Program prog = fuseSpec(s, spec::resolveShape(s, ov), 128, 128);
  OwningOpRef<func::FuncOp> prepared = prepare(prog.func());
  const ResolvedKernel r = resolve(*prepared, inferSignature(prog.func()));
  const KernelPlan p = plan(r, matchProgram(prog.func(), defaultSchedule(128, s.dtype, "sm_80")));
  REQUIRE(p.loops.size() == 1);
  CHECK(p.loops[0].starts.empty());
}
