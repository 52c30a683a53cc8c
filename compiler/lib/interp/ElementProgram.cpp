//===- ElementProgram.cpp - scalar op semantics over slot arrays -----------===//
//
// One place defines what every scalar arith / math op computes: execInstr. The interpreter uses
// it for blk.map regions (n = tile elements) and for scalar ops (n = 1); the analyses fold index
// arithmetic through evalScalarOp, which is the n = 1 case.
//
#include "ElementProgram.h"

#include "tilefuse/interp/Interpreter.h"

#include "blk/BlkDialect.h"

#include <cmath>
#include <limits>

using namespace mlir;

namespace tilefuse::interp::detail {
namespace {

int64_t sval(unsigned w, int64_t v) { return w == 1 ? -(v & 1) : v; }

uint64_t uval(unsigned w, int64_t v) {
  return w >= 64 ? static_cast<uint64_t>(v) : static_cast<uint64_t>(v) & ((uint64_t(1) << w) - 1);
}

int64_t wrap(uint64_t v) { return static_cast<int64_t>(v); }

[[noreturn]] void failAt(Operation *op, const std::string &what) { throw InterpError(op, what); }

std::optional<Opc> opcodeOf(Operation *op) {
#define TF_MAP(T, O)                                                                               \
  if (isa<T>(op))                                                                                  \
    return Opc::O;
  TF_MAP(arith::AddFOp, AddF)
  TF_MAP(arith::SubFOp, SubF)
  TF_MAP(arith::MulFOp, MulF)
  TF_MAP(arith::DivFOp, DivF)
  TF_MAP(arith::RemFOp, RemF)
  TF_MAP(arith::MaximumFOp, MaximumF)
  TF_MAP(arith::MinimumFOp, MinimumF)
  TF_MAP(arith::MaxNumFOp, MaxNumF)
  TF_MAP(arith::MinNumFOp, MinNumF)
  TF_MAP(math::PowFOp, PowF)
  TF_MAP(math::Atan2Op, Atan2)
  TF_MAP(math::CopySignOp, CopySign)
  TF_MAP(arith::NegFOp, NegF)
  TF_MAP(math::ExpOp, Exp)
  TF_MAP(math::Exp2Op, Exp2)
  TF_MAP(math::ExpM1Op, ExpM1)
  TF_MAP(math::LogOp, Log)
  TF_MAP(math::Log2Op, Log2)
  TF_MAP(math::Log10Op, Log10)
  TF_MAP(math::Log1pOp, Log1p)
  TF_MAP(math::TanhOp, Tanh)
  TF_MAP(math::SqrtOp, Sqrt)
  TF_MAP(math::RsqrtOp, Rsqrt)
  TF_MAP(math::AbsFOp, AbsF)
  TF_MAP(math::SinOp, Sin)
  TF_MAP(math::CosOp, Cos)
  TF_MAP(math::TanOp, Tan)
  TF_MAP(math::AtanOp, Atan)
  TF_MAP(math::SinhOp, Sinh)
  TF_MAP(math::CoshOp, Cosh)
  TF_MAP(math::AsinOp, Asin)
  TF_MAP(math::AcosOp, Acos)
  TF_MAP(math::AsinhOp, Asinh)
  TF_MAP(math::AcoshOp, Acosh)
  TF_MAP(math::AtanhOp, Atanh)
  TF_MAP(math::ErfOp, Erf)
  TF_MAP(math::FloorOp, Floor)
  TF_MAP(math::CeilOp, Ceil)
  TF_MAP(math::RoundOp, Round)
  TF_MAP(math::RoundEvenOp, RoundEven)
  TF_MAP(math::TruncOp, TruncF)
  TF_MAP(math::CbrtOp, Cbrt)
  TF_MAP(math::FmaOp, Fma)
  TF_MAP(arith::AddIOp, AddI)
  TF_MAP(arith::SubIOp, SubI)
  TF_MAP(arith::MulIOp, MulI)
  TF_MAP(arith::DivSIOp, DivSI)
  TF_MAP(arith::DivUIOp, DivUI)
  TF_MAP(arith::RemSIOp, RemSI)
  TF_MAP(arith::RemUIOp, RemUI)
  TF_MAP(arith::CeilDivSIOp, CeilDivSI)
  TF_MAP(arith::CeilDivUIOp, CeilDivUI)
  TF_MAP(arith::FloorDivSIOp, FloorDivSI)
  TF_MAP(arith::MaxSIOp, MaxSI)
  TF_MAP(arith::MinSIOp, MinSI)
  TF_MAP(arith::MaxUIOp, MaxUI)
  TF_MAP(arith::MinUIOp, MinUI)
  TF_MAP(arith::AndIOp, AndI)
  TF_MAP(arith::OrIOp, OrI)
  TF_MAP(arith::XOrIOp, XOrI)
  TF_MAP(arith::ShLIOp, ShlI)
  TF_MAP(arith::ShRSIOp, ShrSI)
  TF_MAP(arith::ShRUIOp, ShrUI)
  TF_MAP(math::AbsIOp, AbsI)
  TF_MAP(arith::CmpFOp, CmpF)
  TF_MAP(arith::CmpIOp, CmpI)
  TF_MAP(arith::SelectOp, Select)
  TF_MAP(arith::ExtFOp, Copy)
  TF_MAP(arith::TruncFOp, Copy)
  TF_MAP(arith::SIToFPOp, SIToFP)
  TF_MAP(arith::UIToFPOp, UIToFP)
  TF_MAP(arith::FPToSIOp, FPToSI)
  TF_MAP(arith::FPToUIOp, FPToUI)
  TF_MAP(arith::ExtSIOp, SExt)
  TF_MAP(arith::IndexCastOp, SExt)
  TF_MAP(arith::ExtUIOp, ZExt)
  TF_MAP(arith::IndexCastUIOp, ZExt)
  TF_MAP(arith::TruncIOp, TruncI)
  TF_MAP(arith::ConstantOp, Const)
  TF_MAP(tilefuse::blk::ReadOp, Read)
#undef TF_MAP
  return std::nullopt;
}

// The loops below are the interpreter's hot path: one flat loop per instruction. A uniform source
// is read at stride 0.
template <class F>
void map1(Slot &d, const Slot &a, size_t n, F f) {
  if (!a.varying) {
    d.varying = false;
    d.v.assign(1, f(a.v[0]));
    return;
  }
  d.varying = true;
  d.v.resize(n);
  const Word *pa = a.v.data();
  Word *pd = d.v.data();
  for (size_t k = 0; k < n; ++k)
    pd[k] = f(pa[k]);
}

template <class F>
void map2(Slot &d, const Slot &a, const Slot &b, size_t n, F f) {
  if (!a.varying && !b.varying) {
    d.varying = false;
    d.v.assign(1, f(a.v[0], b.v[0]));
    return;
  }
  d.varying = true;
  d.v.resize(n);
  const Word *pa = a.v.data(), *pb = b.v.data();
  size_t sa = a.varying, sb = b.varying;
  Word *pd = d.v.data();
  for (size_t k = 0; k < n; ++k)
    pd[k] = f(pa[k * sa], pb[k * sb]);
}

template <class F>
void map3(Slot &d, const Slot &a, const Slot &b, const Slot &c, size_t n, F f) {
  if (!a.varying && !b.varying && !c.varying) {
    d.varying = false;
    d.v.assign(1, f(a.v[0], b.v[0], c.v[0]));
    return;
  }
  d.varying = true;
  d.v.resize(n);
  const Word *pa = a.v.data(), *pb = b.v.data(), *pc = c.v.data();
  size_t sa = a.varying, sb = b.varying, sc = c.varying;
  Word *pd = d.v.data();
  for (size_t k = 0; k < n; ++k)
    pd[k] = f(pa[k * sa], pb[k * sb], pc[k * sc]);
}

Word boolWord(bool b) { return intWord(b ? 1 : 0); }

/// IEEE 754-2019 maximum / minimum: NaN propagates, -0 < +0.
double ieeeMaximum(double a, double b) {
  if (std::isnan(a) || std::isnan(b))
    return std::numeric_limits<double>::quiet_NaN();
  if (a == b)
    return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
double ieeeMinimum(double a, double b) {
  if (std::isnan(a) || std::isnan(b))
    return std::numeric_limits<double>::quiet_NaN();
  if (a == b)
    return std::signbit(a) ? a : b;
  return a < b ? a : b;
}

void execCmpF(const Instr &in, Slot &d, const Slot &a, const Slot &b, size_t n) {
  using P = arith::CmpFPredicate;
  auto run = [&](auto pred) {
    map2(d, a, b, n, [&](Word x, Word y) { return boolWord(pred(x.f, y.f)); });
  };
  auto uno = [](double x, double y) { return std::isnan(x) || std::isnan(y); };
  switch (static_cast<P>(in.pred)) {
  case P::AlwaysFalse: return run([](double, double) { return false; });
  case P::OEQ: return run([](double x, double y) { return x == y; });
  case P::OGT: return run([](double x, double y) { return x > y; });
  case P::OGE: return run([](double x, double y) { return x >= y; });
  case P::OLT: return run([](double x, double y) { return x < y; });
  case P::OLE: return run([](double x, double y) { return x <= y; });
  case P::ONE: return run([=](double x, double y) { return !uno(x, y) && x != y; });
  case P::ORD: return run([=](double x, double y) { return !uno(x, y); });
  case P::UEQ: return run([=](double x, double y) { return uno(x, y) || x == y; });
  case P::UGT: return run([=](double x, double y) { return uno(x, y) || x > y; });
  case P::UGE: return run([=](double x, double y) { return uno(x, y) || x >= y; });
  case P::ULT: return run([=](double x, double y) { return uno(x, y) || x < y; });
  case P::ULE: return run([=](double x, double y) { return uno(x, y) || x <= y; });
  case P::UNE: return run([](double x, double y) { return x != y; });
  case P::UNO: return run(uno);
  case P::AlwaysTrue: return run([](double, double) { return true; });
  }
  throw InterpError(in.op, "unknown cmpf predicate");
}

void execCmpI(const Instr &in, Slot &d, const Slot &a, const Slot &b, size_t n) {
  using P = arith::CmpIPredicate;
  const unsigned w = in.w;
  auto runS = [&](auto pred) {
    map2(d, a, b, n, [&](Word x, Word y) { return boolWord(pred(sval(w, x.i), sval(w, y.i))); });
  };
  auto runU = [&](auto pred) {
    map2(d, a, b, n, [&](Word x, Word y) { return boolWord(pred(uval(w, x.i), uval(w, y.i))); });
  };
  switch (static_cast<P>(in.pred)) {
  case P::eq: return runS([](int64_t x, int64_t y) { return x == y; });
  case P::ne: return runS([](int64_t x, int64_t y) { return x != y; });
  case P::slt: return runS([](int64_t x, int64_t y) { return x < y; });
  case P::sle: return runS([](int64_t x, int64_t y) { return x <= y; });
  case P::sgt: return runS([](int64_t x, int64_t y) { return x > y; });
  case P::sge: return runS([](int64_t x, int64_t y) { return x >= y; });
  case P::ult: return runU([](uint64_t x, uint64_t y) { return x < y; });
  case P::ule: return runU([](uint64_t x, uint64_t y) { return x <= y; });
  case P::ugt: return runU([](uint64_t x, uint64_t y) { return x > y; });
  case P::uge: return runU([](uint64_t x, uint64_t y) { return x >= y; });
  }
  throw InterpError(in.op, "unknown cmpi predicate");
}

void execRead(const Instr &in, std::vector<Slot> &slots, size_t n) {
  const HostTensor &t = *in.tensor->tensor;
  const size_t rank = in.idx.size();
  bool varying = false;
  for (int s : in.idx)
    varying |= slots[s].varying;
  Slot &d = slots[in.dst];
  const size_t count = varying ? n : 1;
  d.varying = varying;
  d.v.resize(count);
  for (size_t k = 0; k < count; ++k) {
    // An index outside the tensor reads 0 (BlkOps.td: maps also run on the padding of tail tiles).
    int64_t pos = t.offset;
    bool inside = true;
    for (size_t r = 0; r < rank; ++r) {
      const Slot &s = slots[in.idx[r]];
      int64_t x = s.v[s.varying ? k : 0].i;
      inside &= x >= 0 && x < t.shape[r];
      pos += x * t.strides[r];
    }
    double v = inside ? t.data[pos] : 0.0;
    d.v[k] = in.readInt ? intWord(normInt(in.dw, static_cast<int64_t>(v))) : floatWord(v);
  }
}

} // namespace

int64_t normInt(unsigned w, int64_t v) {
  if (w >= 64)
    return v;
  if (w == 1)
    return v & 1;
  const unsigned s = 64 - w;
  return static_cast<int64_t>(static_cast<uint64_t>(v) << s) >> s;
}

bool isIntType(Type t) { return t.isIndex() || t.isSignlessInteger(); }

unsigned intWidth(Operation *op, Type t) {
  if (t.isIndex())
    return 64;
  auto it = dyn_cast<IntegerType>(t);
  if (!it || !it.isSignless() || it.getWidth() > 64)
    throw InterpError(op, "unsupported integer type (signless up to 64 bits, or index)");
  return it.getWidth();
}

Instr compileOp(Operation *op, std::span<const int> srcs, int dst, const TensorRef *tensor) {
  std::optional<Opc> opc = opcodeOf(op);
  if (!opc)
    throw InterpError(op, "unsupported op");
  if (op->getNumResults() != 1)
    throw InterpError(op, "expected one result");
  Instr in;
  in.opc = *opc;
  in.op = op;
  in.dst = dst;
  Type resT = op->getResult(0).getType();
  if (!isScalarType(resT))
    throw InterpError(op, "unsupported result type (the interpreter runs scalar arith / math "
                          "ops only; vectors and tensors are not supported)");
  if (isIntType(resT))
    in.dw = intWidth(op, resT);

  if (in.opc == Opc::Read) {
    in.tensor = tensor;
    in.idx.assign(srcs.begin(), srcs.end());
    in.readInt = isIntType(resT);
    return in;
  }
  if (in.opc == Opc::Const) {
    Attribute value = cast<arith::ConstantOp>(op).getValue();
    if (auto ia = dyn_cast<IntegerAttr>(value))
      in.imm = intWord(normInt(in.dw, ia.getValue().getSExtValue()));
    else if (auto fa = dyn_cast<FloatAttr>(value))
      in.imm = floatWord(fa.getValueAsDouble());
    else
      throw InterpError(op, "unsupported constant (integer or float scalars only)");
    return in;
  }
  for (size_t k = 0; k < srcs.size() && k < 3; ++k)
    in.src[k] = srcs[k];
  // The width integer operands are read at: the compared / selected / converted operand's.
  Type opT = op->getNumOperands() ? op->getOperand(op->getNumOperands() - 1).getType() : resT;
  if (in.opc == Opc::Select)
    opT = op->getOperand(1).getType();
  for (Value v : op->getOperands())
    if (!isScalarType(v.getType()))
      throw InterpError(op, "unsupported operand type (scalars only)");
  if (isIntType(opT))
    in.w = intWidth(op, opT);
  if (auto c = dyn_cast<arith::CmpFOp>(op))
    in.pred = static_cast<int>(c.getPredicate());
  if (auto c = dyn_cast<arith::CmpIOp>(op))
    in.pred = static_cast<int>(c.getPredicate());
  return in;
}

void execInstr(const Instr &in, std::vector<Slot> &slots, size_t n) {
  Slot &d = slots[in.dst];
  auto S = [&](int k) -> const Slot & { return slots[in.src[k]]; };
  const unsigned w = in.w, dw = in.dw;
  Operation *op = in.op;
  const int64_t smin = w >= 64 ? std::numeric_limits<int64_t>::min() : -(int64_t(1) << (w - 1));

#define TF_F1(expr)                                                                                \
  map1(d, S(0), n, [&](Word a) { return floatWord(expr); });                                       \
  return;
#define TF_F2(expr)                                                                                \
  map2(d, S(0), S(1), n, [&](Word a, Word b) { return floatWord(expr); });                         \
  return;
#define TF_I2(expr)                                                                                \
  map2(d, S(0), S(1), n, [&](Word a, Word b) { return intWord(normInt(w, (expr))); });             \
  return;

  switch (in.opc) {
  case Opc::AddF: TF_F2(a.f + b.f)
  case Opc::SubF: TF_F2(a.f - b.f)
  case Opc::MulF: TF_F2(a.f * b.f)
  case Opc::DivF: TF_F2(a.f / b.f)
  case Opc::RemF: TF_F2(std::fmod(a.f, b.f))
  case Opc::MaximumF: TF_F2(ieeeMaximum(a.f, b.f))
  case Opc::MinimumF: TF_F2(ieeeMinimum(a.f, b.f))
  case Opc::MaxNumF: TF_F2(std::fmax(a.f, b.f))
  case Opc::MinNumF: TF_F2(std::fmin(a.f, b.f))
  case Opc::PowF: TF_F2(std::pow(a.f, b.f))
  case Opc::Atan2: TF_F2(std::atan2(a.f, b.f))
  case Opc::CopySign: TF_F2(std::copysign(a.f, b.f))
  case Opc::NegF: TF_F1(-a.f)
  case Opc::Exp: TF_F1(std::exp(a.f))
  case Opc::Exp2: TF_F1(std::exp2(a.f))
  case Opc::ExpM1: TF_F1(std::expm1(a.f))
  case Opc::Log: TF_F1(std::log(a.f))
  case Opc::Log2: TF_F1(std::log2(a.f))
  case Opc::Log10: TF_F1(std::log10(a.f))
  case Opc::Log1p: TF_F1(std::log1p(a.f))
  case Opc::Tanh: TF_F1(std::tanh(a.f))
  case Opc::Sqrt: TF_F1(std::sqrt(a.f))
  case Opc::Rsqrt: TF_F1(1.0 / std::sqrt(a.f))
  case Opc::AbsF: TF_F1(std::fabs(a.f))
  case Opc::Sin: TF_F1(std::sin(a.f))
  case Opc::Cos: TF_F1(std::cos(a.f))
  case Opc::Tan: TF_F1(std::tan(a.f))
  case Opc::Atan: TF_F1(std::atan(a.f))
  case Opc::Sinh: TF_F1(std::sinh(a.f))
  case Opc::Cosh: TF_F1(std::cosh(a.f))
  case Opc::Asin: TF_F1(std::asin(a.f))
  case Opc::Acos: TF_F1(std::acos(a.f))
  case Opc::Asinh: TF_F1(std::asinh(a.f))
  case Opc::Acosh: TF_F1(std::acosh(a.f))
  case Opc::Atanh: TF_F1(std::atanh(a.f))
  case Opc::Erf: TF_F1(std::erf(a.f))
  case Opc::Floor: TF_F1(std::floor(a.f))
  case Opc::Ceil: TF_F1(std::ceil(a.f))
  case Opc::Round: TF_F1(std::round(a.f))
  case Opc::RoundEven: TF_F1(std::nearbyint(a.f))
  case Opc::TruncF: TF_F1(std::trunc(a.f))
  case Opc::Cbrt: TF_F1(std::cbrt(a.f))
  case Opc::Fma:
    map3(d, S(0), S(1), S(2), n,
         [](Word a, Word b, Word c) { return floatWord(std::fma(a.f, b.f, c.f)); });
    return;

  case Opc::AddI: TF_I2(wrap(uint64_t(a.i) + uint64_t(b.i)))
  case Opc::SubI: TF_I2(wrap(uint64_t(a.i) - uint64_t(b.i)))
  case Opc::MulI: TF_I2(wrap(uint64_t(a.i) * uint64_t(b.i)))
  case Opc::DivSI:
  case Opc::CeilDivSI:
  case Opc::FloorDivSI:
  case Opc::RemSI: {
    const Opc o = in.opc;
    map2(d, S(0), S(1), n, [&](Word a, Word b) {
      int64_t x = sval(w, a.i), y = sval(w, b.i);
      if (y == 0)
        failAt(op, "integer division by zero");
      if (y == -1)
        return intWord(o == Opc::RemSI ? 0
                       : x == smin     ? (failAt(op, "signed division overflow"), 0)
                                       : normInt(w, -x));
      int64_t q = x / y, r = x % y;
      if (o == Opc::RemSI)
        return intWord(normInt(w, r));
      if (o == Opc::CeilDivSI && r != 0 && ((x < 0) == (y < 0)))
        ++q;
      if (o == Opc::FloorDivSI && r != 0 && ((x < 0) != (y < 0)))
        --q;
      return intWord(normInt(w, q));
    });
    return;
  }
  case Opc::DivUI:
  case Opc::CeilDivUI:
  case Opc::RemUI: {
    const Opc o = in.opc;
    map2(d, S(0), S(1), n, [&](Word a, Word b) {
      uint64_t x = uval(w, a.i), y = uval(w, b.i);
      if (y == 0)
        failAt(op, "integer division by zero");
      uint64_t r = x % y, q = x / y + (o == Opc::CeilDivUI && r != 0);
      return intWord(normInt(w, wrap(o == Opc::RemUI ? r : q)));
    });
    return;
  }
  case Opc::MaxSI: TF_I2(std::max(sval(w, a.i), sval(w, b.i)))
  case Opc::MinSI: TF_I2(std::min(sval(w, a.i), sval(w, b.i)))
  case Opc::MaxUI: TF_I2(wrap(std::max(uval(w, a.i), uval(w, b.i))))
  case Opc::MinUI: TF_I2(wrap(std::min(uval(w, a.i), uval(w, b.i))))
  case Opc::AndI: TF_I2(a.i & b.i)
  case Opc::OrI: TF_I2(a.i | b.i)
  case Opc::XOrI: TF_I2(a.i ^ b.i)
  case Opc::ShlI:
  case Opc::ShrSI:
  case Opc::ShrUI: {
    const Opc o = in.opc;
    map2(d, S(0), S(1), n, [&](Word a, Word b) {
      uint64_t sh = uval(w, b.i);
      if (sh >= w)
        failAt(op, "shift amount " + std::to_string(sh) + " >= bit width " + std::to_string(w));
      int64_t r = o == Opc::ShlI    ? wrap(uint64_t(a.i) << sh)
                  : o == Opc::ShrSI ? (sval(w, a.i) >> sh)
                                    : wrap(uval(w, a.i) >> sh);
      return intWord(normInt(w, r));
    });
    return;
  }
  case Opc::AbsI:
    map1(d, S(0), n, [&](Word a) {
      int64_t x = sval(w, a.i);
      return intWord(normInt(w, x < 0 ? wrap(0 - uint64_t(x)) : x));
    });
    return;

  case Opc::CmpF: return execCmpF(in, d, S(0), S(1), n);
  case Opc::CmpI: return execCmpI(in, d, S(0), S(1), n);
  case Opc::Select:
    map3(d, S(0), S(1), S(2), n, [](Word c, Word a, Word b) { return (c.i & 1) ? a : b; });
    return;

  case Opc::Copy: map1(d, S(0), n, [](Word a) { return a; }); return;
  case Opc::SIToFP: TF_F1(static_cast<double>(sval(w, a.i)))
  case Opc::UIToFP: TF_F1(static_cast<double>(uval(w, a.i)))
  case Opc::FPToSI:
  case Opc::FPToUI: {
    const bool isSigned = in.opc == Opc::FPToSI;
    const double lo = isSigned ? -std::ldexp(1.0, int(dw) - 1) : 0.0;
    const double hi = std::ldexp(1.0, isSigned ? int(dw) - 1 : int(dw));
    map1(d, S(0), n, [&](Word a) {
      double t = std::trunc(a.f);
      if (!(t >= lo && t < hi))
        failAt(op, "fptosi/fptoui of " + std::to_string(a.f) + " is outside the range of i" +
             std::to_string(dw));
      return intWord(normInt(dw, isSigned ? static_cast<int64_t>(t)
                                          : wrap(static_cast<uint64_t>(t))));
    });
    return;
  }
  case Opc::SExt: map1(d, S(0), n, [&](Word a) { return intWord(normInt(dw, sval(w, a.i))); });
    return;
  case Opc::ZExt:
    map1(d, S(0), n, [&](Word a) { return intWord(normInt(dw, wrap(uval(w, a.i)))); });
    return;
  case Opc::TruncI: map1(d, S(0), n, [&](Word a) { return intWord(normInt(dw, a.i)); });
    return;

  case Opc::Const:
    d.varying = false;
    d.v.assign(1, in.imm);
    return;
  case Opc::Read: execRead(in, slots, n); return;
  }
#undef TF_F1
#undef TF_F2
#undef TF_I2
  throw InterpError(op, "unknown instruction");
}

} // namespace tilefuse::interp::detail

namespace tilefuse::interp {

bool isScalarType(Type t) {
  if (t.isIndex())
    return true;
  if (auto it = dyn_cast<IntegerType>(t))
    return it.isSignless() && it.getWidth() <= 64;
  if (auto ft = dyn_cast<FloatType>(t))
    return ft.getWidth() <= 64;
  return false;
}

OpCost costOf(Operation *op) {
  std::optional<detail::Opc> opc = detail::opcodeOf(op);
  if (!opc || *opc == detail::Opc::Read)
    return OpCost::Unsupported;
  using detail::Opc;
  switch (*opc) {
  case Opc::Const:
  case Opc::Copy:
  case Opc::SIToFP:
  case Opc::UIToFP:
  case Opc::FPToSI:
  case Opc::FPToUI:
  case Opc::SExt:
  case Opc::ZExt:
  case Opc::TruncI:
    return OpCost::Free;
  case Opc::Exp:
  case Opc::Exp2:
  case Opc::ExpM1:
  case Opc::Log:
  case Opc::Log2:
  case Opc::Log10:
  case Opc::Log1p:
  case Opc::Tanh:
  case Opc::Sqrt:
  case Opc::Rsqrt:
  case Opc::Sin:
  case Opc::Cos:
  case Opc::Tan:
  case Opc::Atan:
  case Opc::Atan2:
  case Opc::Sinh:
  case Opc::Cosh:
  case Opc::Asin:
  case Opc::Acos:
  case Opc::Asinh:
  case Opc::Acosh:
  case Opc::Atanh:
  case Opc::Erf:
  case Opc::PowF:
  case Opc::Cbrt:
    return OpCost::Transcendental;
  default:
    return OpCost::Arith;
  }
}

Word evalScalarOp(Operation *op, std::span<const Word> operands) {
  if (isa<blk::ReadOp>(op))
    throw InterpError(op, "evalScalarOp does not read tensors");
  std::vector<detail::Slot> slots(operands.size() + 1);
  std::vector<int> srcs(operands.size());
  for (size_t k = 0; k < operands.size(); ++k) {
    slots[k].v.assign(1, operands[k]);
    srcs[k] = static_cast<int>(k);
  }
  const int dst = static_cast<int>(operands.size());
  detail::Instr in = detail::compileOp(op, srcs, dst, nullptr);
  detail::execInstr(in, slots, 1);
  return slots[dst].v[0];
}

} // namespace tilefuse::interp
