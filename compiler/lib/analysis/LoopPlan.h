//===- LoopPlan.h - which iterations of an scf.for cost the same (IO report) -*- C++ -*-===//
//
// Internal to the IO report (IOReport.cpp). An attention kernel walks its K/V tiles in an scf.for
// whose body costs the same in every iteration but where a tile classification (an scf.if on
// comparisons of the tile offset) or a tail tile changes the path. Walking every iteration costs
// (Sq / BLOCK_M) * (Sk / BLOCK_N) body walks: hours at S = 10^6. A LoopPlan says, from the IR alone,
// where the cost of an iteration can change, so the report walks one iteration per run of equal
// ones and multiplies:
//
//   every value of the body that depends on the induction variable iv must be affine in it,
//   a * iv + sum(c_i * x_i) + c with x_i defined outside the loop, and may only reach
//     - an arith.cmpi (signed or eq / ne) : a cut where its truth flips,
//     - a trailing tile offset of blk.load / blk.store of a static tile dim : cuts where the
//       window starts or stops hanging over an edge of the tensor (those iterations are walked),
//     - data only: blk.iota / blk.fill / blk.read operands, leading (slice) indices;
//   anything else (a bound of a nested loop, an alloc size, a `?` tile dim at an iv offset, a
//   division of iv, a value carried out of the iteration) makes the plan unusable and the report
//   walks every iteration, bounded by kMaxAbstractSteps.
//
// Between two cuts every iteration takes the same branches and moves the same number of elements.
// Given the same carried state (checked by the report: the state after one iteration equals the
// state before it) and the same values of the outside values the body reads other than through
// the affine forms (keyValues), iterations cost the same.
//
//===----------------------------------------------------------------------------------------===//
#ifndef TILEFUSE_ANALYSIS_LOOPPLAN_H
#define TILEFUSE_ANALYSIS_LOOPPLAN_H

#include "mlir/IR/Value.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace mlir::scf {
class ForOp;
} // namespace mlir::scf

namespace tilefuse::analysis::detail {

/// coeff * iv + sum(terms[i].first * terms[i].second) + constant; the term values are defined
/// outside the loop.
struct AffineForm {
  int64_t coeff = 0;
  int64_t constant = 0;
  std::vector<std::pair<int64_t, mlir::Value>> terms;
};

/// An arith.cmpi whose operands depend on iv: truth(iv) = pred(diff(iv), 0), diff = lhs - rhs.
struct PlanCompare {
  enum class Pred { LT, LE, GT, GE, EQ, NE };
  Pred pred = Pred::LT;
  AffineForm diff;
};

/// A tile window at an iv-dependent offset: dim `tensorDim` of `tensor`, `length` elements.
struct PlanWindow {
  AffineForm offset;
  int64_t length = 0;
  mlir::Value tensor;
  unsigned tensorDim = 0;
};

struct LoopPlan {
  bool usable = false;
  std::string whyNot; ///< for debugging: the first op that made the plan unusable
  std::vector<PlanCompare> compares;
  std::vector<PlanWindow> windows;
  std::vector<AffineForm> affineValues; ///< every iv-dependent value: checked to stay in int64
  std::vector<mlir::Value> keyValues;   ///< outside values read other than through affine forms
};

/// The plan of `loop` (its body only; nested loops get their own plans).
LoopPlan planLoop(mlir::scf::ForOp loop);

/// The value of an outside value at loop entry, when it is a known integer.
using ValueOf = std::function<std::optional<int64_t>(mlir::Value)>;
/// The extent of dim `d` of an HBM tensor value at loop entry.
using ExtentOf = std::function<int64_t(mlir::Value, unsigned)>;

/// Iterations k = 0 .. n-1 (iv = lb + k * step) split where a compare or a window regime may
/// change. `cuts` gets the sorted segment starts (0 first); `decisions(k)` then gives the outcome
/// vector of iteration k (compare truths, window regimes). Returns false when the plan cannot be
/// applied at these values (an offset that is not known, an affine value past int64).
class LoopSegments {
public:
  enum Regime : int64_t { Outside = 0, Inside = 1, Straddles = 2, Unknown = 3 };
  bool build(const LoopPlan &plan, int64_t lb, int64_t step, int64_t n, const ValueOf &valueOf,
             const ExtentOf &extentOf);
  const std::vector<int64_t> &cuts() const { return cuts_; }
  /// Compare truths (0, 1, or Unknown when a term is not known) then window regimes at k.
  std::vector<int64_t> decisions(int64_t k) const;
  /// Whether some window straddles an edge of its tensor at k (its overlap changes per iteration).
  bool straddles(int64_t k) const;

private:
  struct Line { // f(k) = a * k + b, exact
    __int128 a = 0, b = 0;
    bool known = false;
    __int128 at(int64_t k) const { return a * k + b; }
  };
  struct Compare {
    PlanCompare::Pred pred;
    Line diff;
  };
  struct Window {
    Line offset;
    int64_t length = 0, extent = 0;
  };
  std::optional<Line> line(const AffineForm &f, int64_t lb, int64_t step, const ValueOf &valueOf) const;
  static bool truth(const Compare &c, int64_t k);
  static int64_t regime(const Window &w, int64_t k);
  /// The first k in (0, n) where monotone `p(k)` differs from p(0), if any.
  void cutMonotone(const std::function<bool(int64_t)> &p);

  int64_t n_ = 0;
  std::vector<Compare> compares_;
  std::vector<Window> windows_;
  std::vector<int64_t> cuts_;
};

} // namespace tilefuse::analysis::detail

#endif // TILEFUSE_ANALYSIS_LOOPPLAN_H
