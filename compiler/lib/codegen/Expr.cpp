//===- Expr.cpp - scalar ops as C expressions -------------------------------===//
#include "Expr.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <cstdio>

using namespace mlir;

namespace tilefuse::codegen {

namespace {

const char *const kReserved[] = {"p", "smem", "T", "block", "x", "row", "col", "stage", "it", "kk",
                                 "warp_row0", "tfcg", "ahead", "pre", "int", "float", "bool", "double",
                                 "long", "const", "auto", "return", "if", "else", "for", "while", "do",
                                 "switch", "case", "default", "break", "continue", "struct", "class",
                                 "namespace", "template", "typename", "using", "static", "unsigned",
                                 "signed", "short", "char", "void", "true", "false", "new", "delete",
                                 "this", "operator", "max", "min", "exp", "log", "gv", "st", "rt", "rv",
                                 "group", "warp", "layout", "seqlen_q", "seqlen_k", "seq_start_q", "seq_start_k"};

std::string formatFloat(double v, bool f32) {
  if (std::isnan(v))
    return f32 ? "__int_as_float(0x7fffffff)" : "__longlong_as_double(0x7ff8000000000000LL)";
  if (std::isinf(v))
    return v < 0 ? "(-tfcg::inf())" : "tfcg::inf()";
  char buf[64];
  std::snprintf(buf, sizeof buf, f32 ? "%.9g" : "%.17g", v);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos)
    s += ".0";
  if (f32)
    s += "f";
  return v < 0 ? "(" + s + ")" : s;
}

std::string cmpiExpr(arith::CmpIPredicate p, const std::string &a, const std::string &b) {
  using P = arith::CmpIPredicate;
  switch (p) {
  case P::eq: return "(" + a + " == " + b + ")";
  case P::ne: return "(" + a + " != " + b + ")";
  case P::slt: return "(" + a + " < " + b + ")";
  case P::sle: return "(" + a + " <= " + b + ")";
  case P::sgt: return "(" + a + " > " + b + ")";
  case P::sge: return "(" + a + " >= " + b + ")";
  case P::ult: return "(tfcg::u(" + a + ") < tfcg::u(" + b + "))";
  case P::ule: return "(tfcg::u(" + a + ") <= tfcg::u(" + b + "))";
  case P::ugt: return "(tfcg::u(" + a + ") > tfcg::u(" + b + "))";
  case P::uge: return "(tfcg::u(" + a + ") >= tfcg::u(" + b + "))";
  }
  return "false";
}

std::string cmpfExpr(arith::CmpFPredicate p, const std::string &a, const std::string &b) {
  using P = arith::CmpFPredicate;
  switch (p) {
  case P::AlwaysFalse: return "false";
  case P::AlwaysTrue: return "true";
  case P::OEQ: return "(" + a + " == " + b + ")";
  case P::OGT: return "(" + a + " > " + b + ")";
  case P::OGE: return "(" + a + " >= " + b + ")";
  case P::OLT: return "(" + a + " < " + b + ")";
  case P::OLE: return "(" + a + " <= " + b + ")";
  case P::ONE: return "(" + a + " < " + b + " || " + a + " > " + b + ")";
  case P::ORD: return "(" + a + " == " + a + " && " + b + " == " + b + ")";
  case P::UEQ: return "!(" + a + " < " + b + " || " + a + " > " + b + ")";
  case P::UGT: return "!(" + a + " <= " + b + ")";
  case P::UGE: return "!(" + a + " < " + b + ")";
  case P::ULT: return "!(" + a + " >= " + b + ")";
  case P::ULE: return "!(" + a + " > " + b + ")";
  case P::UNE: return "(" + a + " != " + b + ")";
  case P::UNO: return "(" + a + " != " + a + " || " + b + " != " + b + ")";
  }
  return "false";
}

/// A lower bound on the f32 value v for every non-NaN input, when a few rules prove one: a constant is
/// its value, exp and exp2 are >= 0, a sum is bounded by the sum of its operands' bounds, a maximum by
/// the larger known bound, a select by the smaller of its two. Depth-limited (an expression tree, not a
/// fixpoint). Used to pick a reciprocal that needs d >= 1 (tfcg::rcp_ge1).
std::optional<double> lowerBound(Value v, int depth = 8) {
  if (depth == 0 || !v.getType().isF32())
    return std::nullopt;
  Operation *op = v.getDefiningOp();
  if (!op)
    return std::nullopt;
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    auto f = dyn_cast<FloatAttr>(c.getValue());
    if (!f || std::isnan(f.getValueAsDouble()))
      return std::nullopt;
    return f.getValueAsDouble();
  }
  if (isa<math::ExpOp, math::Exp2Op>(op) && !exactMath(op)) // "math": "exact" keeps MUFU.RCP's division
    return 0.0;
  if (auto add = dyn_cast<arith::AddFOp>(op)) {
    auto a = lowerBound(add.getLhs(), depth - 1), b = lowerBound(add.getRhs(), depth - 1);
    if (a && b)
      return *a + *b;
    return std::nullopt;
  }
  if (isa<arith::MaximumFOp, arith::MaxNumFOp>(op)) {
    auto a = lowerBound(op->getOperand(0), depth - 1), b = lowerBound(op->getOperand(1), depth - 1);
    if (a && b)
      return std::max(*a, *b);
    return a ? a : b;
  }
  if (auto sel = dyn_cast<arith::SelectOp>(op)) {
    auto a = lowerBound(sel.getTrueValue(), depth - 1), b = lowerBound(sel.getFalseValue(), depth - 1);
    if (a && b)
      return std::min(*a, *b);
  }
  return std::nullopt;
}

} // namespace

bool exactMath(Operation *op) { return op->hasAttr(tilefuse::blk::kExactMathAttrName); }

ScalarExprs::ScalarExprs(const ResolvedKernel &r) : r_(r) {
  for (const char *w : kReserved)
    used_.insert(w);
  for (const TensorInfo &t : r.tensors)
    used_.insert(t.sig.name);
  for (const char *s : {"B", "Hq", "Hkv", "Sq", "Sk"})
    used_.insert(s); // declared on demand, by define(), under exactly these names
}

std::string ScalarExprs::fresh(const std::string &base) {
  std::string name = identifier(base);
  for (int k = 1; used_.count(name); ++k)
    name = identifier(base) + "_" + std::to_string(k);
  used_.insert(name);
  return name;
}

std::string ScalarExprs::expDiff(const std::string &a, const std::string &b) {
  return "tfcg::exp_diff(" + a + ", " + b + ")";
}

std::string ScalarExprs::expDiffScaled(const std::string &x, const std::string &c, const std::string &b) {
  return "tfcg::exp_diff_scaled(" + x + ", " + c + ", " + b + ")";
}

std::string ScalarExprs::constant(arith::ConstantOp c) const {
  Attribute attr = c.getValue();
  Type t = c.getType();
  if (auto i = dyn_cast<IntegerAttr>(attr)) {
    if (t.isInteger(1))
      return i.getValue().isZero() ? "false" : "true";
    const int64_t v = t.isIndex() ? i.getInt() : i.getValue().getSExtValue();
    std::string s = std::to_string(v);
    if ((t.isIndex() || t.isInteger(64)) && (v > 2147483647LL || v < -2147483647LL))
      s += "LL";
    return v < 0 ? "(" + s + ")" : s;
  }
  if (auto f = dyn_cast<FloatAttr>(attr)) {
    const double v = f.getValueAsDouble();
    if (t.isF32())
      return formatFloat(v, true);
    if (t.isF64())
      return formatFloat(v, false);
    if (t.isBF16())
      return "__float2bfloat16_rn(" + formatFloat(v, true) + ")";
    if (t.isF16())
      return "__float2half_rn(" + formatFloat(v, true) + ")";
  }
  fail(c, "constant of this type has no CUDA translation");
}

std::string ScalarExprs::opExpr(Operation *op, llvm::ArrayRef<std::string> a) const {
  const std::string ct = op->getNumResults() == 1 ? cTypeOf(op->getResult(0).getType(), op) : "void";
  auto bin = [&](const char *sym) { return "(" + a[0] + " " + sym + " " + a[1] + ")"; };
  auto call = [&](const std::string &fn) {
    std::string s = fn + "(";
    for (size_t i = 0; i < a.size(); ++i)
      s += (i ? ", " : "") + a[i];
    return s + ")";
  };
  auto helper = [&](const char *fn) { return call(std::string("tfcg::") + fn + "<" + ct + ">"); };
  auto isI1 = [&] { return op->getResult(0).getType().isInteger(1); };
  auto floatFn = [&](const char *f32Name, const char *f64Name) {
    Type t = op->getResult(0).getType();
    if (t.isF32())
      return call(f32Name);
    if (t.isF64())
      return call(f64Name);
    fail(op, "math on " + ct + " values has no translation; extend to f32 first (arith.extf)");
  };
  auto cast = [&] { return "((" + ct + ")" + a[0] + ")"; };

  if (auto c = dyn_cast<arith::ConstantOp>(op))
    return constant(c);
  if (auto dim = dyn_cast<tilefuse::blk::DimOp>(op))
    return r_.tensorOf(dim.getSource()).extent[dim.getIndex()];
  if (isa<tilefuse::blk::TileClassOp>(op)) // the in-kernel bound (a block mask's class: Emitter)
    return a[0];
  if (auto read = dyn_cast<tilefuse::blk::ReadOp>(op)) {
    const unsigned arg = r_.tensorOf(read.getSource()).arg;
    auto it = tables.find(arg);
    if (it == tables.end())
      fail(op, "internal: no table object for this tensor");
    std::string e = it->second + "(";
    for (size_t i = 1; i < a.size(); ++i)
      e += (i > 1 ? ", " : "") + a[i];
    return e + ")";
  }

  return llvm::TypeSwitch<Operation *, std::string>(op)
      .Case<arith::AddIOp, arith::AddFOp>([&](auto) { return bin("+"); })
      .Case<arith::SubIOp, arith::SubFOp>([&](auto) { return bin("-"); })
      .Case<arith::MulIOp, arith::MulFOp>([&](auto) { return bin("*"); })
      .Case<arith::DivSIOp>([&](auto) { return bin("/"); })
      .Case<arith::DivFOp>([&](arith::DivFOp d) {
        // f32 without blk.exact_math: a division by a constant is a product with its reciprocal (one FMUL,
        // within 1.5 ulp of the quotient; exact for powers of two) and any other one __fdividef (MUFU.RCP +
        // FMUL, 2 ulp): the IEEE division NVRTC emits otherwise is a ~15-instruction sequence per score
        // (e.g. softcap's tanh(score / 30)).
        if (!d.getType().isF32() || exactMath(op))
          return bin("/");
        if (auto c = d.getRhs().getDefiningOp<arith::ConstantOp>())
          if (auto f = dyn_cast<FloatAttr>(c.getValue())) {
            const float recip = 1.0f / static_cast<float>(f.getValueAsDouble());
            if (std::isfinite(recip) && recip != 0.0f && std::isnormal(recip))
              return "(" + a[0] + " * " + formatFloat(recip, true) + ")";
          }
        // A denominator proven >= 1 (sigmoid's 1 + e^-x): the reciprocal on the FMA pipe (tfcg::rcp_ge1,
        // relative error <= 7e-6), leaving MUFU, which every score already uses once for its
        // exponential, to that exponential.
        if (auto lb = lowerBound(d.getRhs()); lb && *lb >= 1.0) {
          auto one = d.getLhs().getDefiningOp<arith::ConstantOp>();
          auto f = one ? dyn_cast<FloatAttr>(one.getValue()) : FloatAttr();
          if (f && f.getValueAsDouble() == 1.0)
            return "tfcg::rcp_ge1(" + a[1] + ")";
          return "(" + a[0] + " * tfcg::rcp_ge1(" + a[1] + "))";
        }
        return "__fdividef(" + a[0] + ", " + a[1] + ")";
      })
      .Case<arith::RemSIOp>([&](auto) { return bin("%"); })
      .Case<arith::RemFOp>([&](auto) { return floatFn("fmodf", "fmod"); })
      .Case<arith::DivUIOp>([&](auto) { return helper("divu"); })
      .Case<arith::RemUIOp>([&](auto) { return helper("remu"); })
      .Case<arith::CeilDivUIOp>([&](auto) { return helper("ceildivu"); })
      .Case<arith::CeilDivSIOp>([&](auto) { return helper("ceildivs"); })
      .Case<arith::FloorDivSIOp>([&](auto) { return helper("floordivs"); })
      .Case<arith::MaxSIOp>([&](auto) { return helper("smax"); })
      .Case<arith::MinSIOp>([&](auto) { return helper("smin"); })
      .Case<arith::MaxUIOp>([&](auto) { return helper("umax"); })
      .Case<arith::MinUIOp>([&](auto) { return helper("umin"); })
      .Case<arith::AndIOp>([&](auto) { return isI1() ? bin("&&") : bin("&"); })
      .Case<arith::OrIOp>([&](auto) { return isI1() ? bin("||") : bin("|"); })
      .Case<arith::XOrIOp>([&](auto) { return isI1() ? bin("!=") : bin("^"); })
      .Case<arith::ShLIOp>([&](auto) { return bin("<<"); })
      .Case<arith::ShRSIOp>([&](auto) { return bin(">>"); })
      .Case<arith::ShRUIOp>([&](auto) { return "((" + ct + ")(tfcg::u(" + a[0] + ") >> " + a[1] + "))"; })
      .Case<arith::NegFOp>([&](auto) { return "(-" + a[0] + ")"; })
      .Case<arith::MaximumFOp, arith::MaxNumFOp>([&](auto) { return floatFn("fmaxf", "fmax"); })
      .Case<arith::MinimumFOp, arith::MinNumFOp>([&](auto) { return floatFn("fminf", "fmin"); })
      .Case<arith::CmpIOp>([&](arith::CmpIOp c) { return cmpiExpr(c.getPredicate(), a[0], a[1]); })
      .Case<arith::CmpFOp>([&](arith::CmpFOp c) { return cmpfExpr(c.getPredicate(), a[0], a[1]); })
      .Case<arith::SelectOp>([&](auto) { return "(" + a[0] + " ? " + a[1] + " : " + a[2] + ")"; })
      .Case<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp, arith::TruncIOp, arith::SIToFPOp,
            arith::FPToSIOp>([&](auto) {
        return cTypeOf(op->getOperand(0).getType(), op) == ct ? a[0] : cast();
      })
      .Case<arith::ExtUIOp>([&](auto) { return "((" + ct + ")tfcg::u(" + a[0] + "))"; })
      .Case<arith::UIToFPOp>([&](auto) { return "((" + ct + ")tfcg::u(" + a[0] + "))"; })
      .Case<arith::FPToUIOp>([&](auto) { return "((" + ct + ")(unsigned long long)" + a[0] + ")"; })
      .Case<arith::TruncFOp>([&](arith::TruncFOp t) {
        Type to = t.getType();
        if (to.isBF16())
          return "__float2bfloat16_rn(" + a[0] + ")";
        if (to.isF16())
          return "__float2half_rn(" + a[0] + ")";
        return cast();
      })
      .Case<arith::ExtFOp>([&](arith::ExtFOp e) {
        Type from = e.getIn().getType();
        if (from.isBF16())
          return "__bfloat162float(" + a[0] + ")";
        if (from.isF16())
          return "__half2float(" + a[0] + ")";
        return cast();
      })
      .Case<math::ExpOp>([&](auto) {
        if (!op->getResult(0).getType().isF32() || exactMath(op))
          return floatFn("expf", "exp");
        return call("tfcg::exp");
      })
      .Case<math::Exp2Op>([&](auto) {
        // f32 without blk.exact_math: one MUFU.EX2 (ex2.approx.ftz, as the softmax's own exponentials).
        if (!op->getResult(0).getType().isF32() || exactMath(op))
          return floatFn("exp2f", "exp2");
        return call("tfcg::fast_exp2");
      })
      .Case<math::ExpM1Op>([&](auto) { return floatFn("expm1f", "expm1"); })
      .Case<math::LogOp>([&](auto) {
        // f32 without blk.exact_math: one MUFU.LG2 (tfcg::log), as exp and tanh use their approximations.
        if (!op->getResult(0).getType().isF32() || exactMath(op))
          return floatFn("logf", "log");
        return call("tfcg::log");
      })
      .Case<math::Log2Op>([&](auto) {
        // f32 without blk.exact_math: one MUFU.LG2 (lg2.approx.ftz).
        if (!op->getResult(0).getType().isF32() || exactMath(op))
          return floatFn("log2f", "log2");
        return call("tfcg::fast_log2");
      })
      .Case<math::Log1pOp>([&](auto) {
        // f32 without blk.exact_math: one MUFU.LG2 and a short series near 0 (tfcg::log1p).
        if (!op->getResult(0).getType().isF32() || exactMath(op))
          return floatFn("log1pf", "log1p");
        return call("tfcg::log1p");
      })
      .Case<math::TanhOp>([&](auto) {
        // f32: the hardware approximation (tanh.approx.f32, max relative error about 2^-11, far below
        // the bf16 / fp16 output's rounding); the accuracy check of every generated kernel decides.
        // blk.exact_math (a spec with "math": "exact") asks for the math library's tanhf instead.
        if (!op->getResult(0).getType().isF32() || exactMath(op))
          return floatFn("tanhf", "tanh");
        return call("tfcg::fast_tanh");
      })
      .Case<math::SqrtOp>([&](auto) { return floatFn("sqrtf", "sqrt"); })
      .Case<math::RsqrtOp>([&](auto) { return floatFn("rsqrtf", "rsqrt"); })
      .Case<math::AbsFOp>([&](auto) { return floatFn("fabsf", "fabs"); })
      .Case<math::PowFOp>([&](auto) { return floatFn("powf", "pow"); })
      .Case<math::SinOp>([&](auto) { return floatFn("sinf", "sin"); })
      .Case<math::CosOp>([&](auto) { return floatFn("cosf", "cos"); })
      .Case<math::TanOp>([&](auto) { return floatFn("tanf", "tan"); })
      .Case<math::AtanOp>([&](auto) { return floatFn("atanf", "atan"); })
      .Case<math::Atan2Op>([&](auto) { return floatFn("atan2f", "atan2"); })
      .Case<math::ErfOp>([&](auto) { return floatFn("erff", "erf"); })
      .Case<math::FloorOp>([&](auto) { return floatFn("floorf", "floor"); })
      .Case<math::CeilOp>([&](auto) { return floatFn("ceilf", "ceil"); })
      .Case<math::RoundOp>([&](auto) { return floatFn("roundf", "round"); })
      .Case<math::TruncOp>([&](auto) { return floatFn("truncf", "trunc"); })
      .Case<math::CbrtOp>([&](auto) { return floatFn("cbrtf", "cbrt"); })
      .Case<math::CopySignOp>([&](auto) { return floatFn("copysignf", "copysign"); })
      .Case<math::FmaOp>([&](auto) { return floatFn("fmaf", "fma"); })
      .Case<math::AbsIOp>([&](auto) { return "(" + a[0] + " < 0 ? -" + a[0] + " : " + a[0] + ")"; })
      .Default([&](Operation *) -> std::string { fail(op, "no CUDA translation for this scalar op"); });
}

std::string ScalarExprs::ref(Value v) const {
  if (isa<tilefuse::blk::HbmTensorType>(v.getType()))
    return ""; // tensors are operands of blk.dim / blk.read only; opExpr knows them by argument
  auto it = names_.find(v);
  if (it != names_.end())
    return it->second;
  if (auto c = v.getDefiningOp<arith::ConstantOp>())
    return constant(c);
  if (Operation *d = v.getDefiningOp())
    fail(d, "internal: scalar used before the generator defined it");
  fail(v.getLoc(), "", "internal: unbound scalar block argument");
}

void ScalarExprs::define(Operation *op, Writer &w) {
  if (op->getNumResults() != 1)
    fail(op, "scalar ops must have one result");
  Value res = op->getResult(0);
  if (auto c = dyn_cast<arith::ConstantOp>(op)) {
    bind(res, constant(c));
    return;
  }
  std::vector<std::string> operands;
  for (Value in : op->getOperands())
    operands.push_back(ref(in));
  std::string expr = opExpr(op, operands);
  const std::string ct = cTypeOf(res.getType(), op);
  if (isa<arith::IndexCastOp, arith::IndexCastUIOp, arith::ExtSIOp, arith::TruncIOp>(op) &&
      cTypeOf(op->getOperand(0).getType(), op) == ct) {
    bind(res, operands[0]); // same C value
    return;
  }
  std::string name;
  auto suggested = r_.scalarNames.find(res);
  if (auto dim = dyn_cast<tilefuse::blk::DimOp>(op); dim && suggested != r_.scalarNames.end() &&
                                                     (suggested->second == "B" || suggested->second == "Hq" ||
                                                      suggested->second == "Hkv" || suggested->second == "Sq" ||
                                                      suggested->second == "Sk")) {
    // One C variable per size, whatever the number of blk.dim ops reading it.
    name = suggested->second;
    for (auto &[v, n] : names_)
      if (n == name) {
        bind(res, name);
        return;
      }
  } else {
    const char *prefix = res.getType().isInteger(1) ? "c" : isa<FloatType>(res.getType()) ? "f" : "i";
    name = fresh(suggested != r_.scalarNames.end() ? suggested->second : std::string(prefix));
  }
  w.line("const " + ct + " " + name + " = " + expr + ";");
  bind(res, name);
}

std::optional<std::string> ScalarExprs::expand(Value v, Region &scope,
                                               const llvm::DenseMap<Value, std::string> &subst) const {
  if (auto it = subst.find(v); it != subst.end())
    return it->second;
  if (isa<tilefuse::blk::HbmTensorType>(v.getType()))
    return std::string();
  if (auto c = v.getDefiningOp<arith::ConstantOp>())
    return constant(c);
  Operation *def = v.getDefiningOp();
  Region *owner = def ? def->getParentRegion() : cast<BlockArgument>(v).getOwner()->getParent();
  if (!scope.isAncestor(owner))
    return ref(v);
  if (!def)
    return std::nullopt; // a carried value or another block argument inside the scope
  StringRef ns = def->getDialect()->getNamespace();
  if (!(ns == "arith" || ns == "math" || isa<tilefuse::blk::DimOp, tilefuse::blk::ReadOp>(def)) ||
      def->getNumRegions() != 0)
    return std::nullopt;
  std::vector<std::string> operands;
  for (Value in : def->getOperands()) {
    auto e = expand(in, scope, subst);
    if (!e)
      return std::nullopt;
    operands.push_back(*e);
  }
  return opExpr(def, operands);
}

} // namespace tilefuse::codegen
