//===- ExprToArith.cpp - spec expressions -> arith/math ops ---------------===//
#include "ExprToArith.h"

#include "blk/BlkDialect.h"

#include <optional>

#include <limits>

using namespace mlir;
using tilefuse::spec::BinaryOp;
using tilefuse::spec::Builtin;
using tilefuse::spec::Expr;
using tilefuse::spec::ExprKind;
using tilefuse::spec::ScalarType;
using tilefuse::spec::UnaryOp;
using tilefuse::spec::Variable;

namespace tilefuse::lowering {
namespace {

class Emitter {
public:
  Emitter(OpBuilder &b, ExprLocator locate, StringRef field, const ExprValues &v, spec::MathMode math)
      : b(b), locate(locate), field(field), loc(b.getUnknownLoc()), v(v), math(math) {}

  /// Emits `e` with `loc` set to its place; `caller` is the use of the let being expanded (null
  /// outside a let).
  Value emit(const Expr &e) {
    Location outerLoc = loc;
    std::optional<Location> outerCaller = caller;
    Location here = locate(e.origin.empty() ? field : StringRef(e.origin), e.column);
    if (caller)
      here = CallSiteLoc::get(here, *caller);
    loc = here;
    if (!e.definedIn.empty()) { // the root of a let's body, inlined at `here`
      loc = CallSiteLoc::get(locate(e.definedIn, e.definedAt), here);
      caller = here;
    }
    Value result = emitNode(e);
    loc = outerLoc;
    caller = outerCaller;
    return result;
  }

private:
  Value emitNode(const Expr &e) {
    switch (e.kind) {
    case ExprKind::IntLiteral:
      return b.create<arith::ConstantIntOp>(loc, e.intValue, 64);
    case ExprKind::FloatLiteral:
      return b.create<arith::ConstantFloatOp>(loc, APFloat(static_cast<float>(e.floatValue)),
                                              b.getF32Type());
    case ExprKind::BoolLiteral:
      return b.create<arith::ConstantIntOp>(loc, e.boolValue ? 1 : 0, 1);
    case ExprKind::Variable:
      return variable(e.variable);
    case ExprKind::TensorRead:
      return tensorRead(e);
    case ExprKind::Unary:
      return unary(e);
    case ExprKind::Binary:
      return binary(e);
    case ExprKind::Select: {
      Value c = emit(e.operands[0]);
      Value t = convert(emit(e.operands[1]), e.type);
      Value f = convert(emit(e.operands[2]), e.type);
      return b.create<arith::SelectOp>(loc, c, t, f);
    }
    case ExprKind::Call:
      return call(e);
    }
    llvm_unreachable("unknown expression kind");
  }

  Value variable(Variable var) {
    switch (var) {
    case Variable::Score: return v.score;
    case Variable::BatchIdx: return v.b;
    case Variable::HeadIdx: return v.h;
    case Variable::QIdx: return v.qIdx;
    case Variable::KvIdx: return v.kvIdx;
    case Variable::B: return v.sizes[0];
    case Variable::Hq: return v.sizes[1];
    case Variable::Hkv: return v.sizes[2];
    case Variable::Sq: return v.sizes[3];
    case Variable::Sk: return v.sizes[4];
    }
    llvm_unreachable("unknown variable");
  }

  /// Int -> Float where a Float is wanted; everything else unchanged.
  Value convert(Value x, ScalarType want) {
    if (want == ScalarType::Float && x.getType().isInteger(64))
      return b.create<arith::SIToFPOp>(loc, b.getF32Type(), x);
    return x;
  }

  Value tensorRead(const Expr &e) {
    SmallVector<Value> idx;
    for (const Expr &i : e.operands)
      idx.push_back(b.create<arith::IndexCastOp>(loc, b.getIndexType(), emit(i)));
    Value table = v.captures.at(e.captureSlot);
    Type elem = cast<tilefuse::blk::HbmTensorType>(table.getType()).getElementType();
    Value x = b.create<tilefuse::blk::ReadOp>(loc, elem, table, idx);
    if (isa<FloatType>(elem))
      return elem.isF32() ? x : b.create<arith::ExtFOp>(loc, b.getF32Type(), x).getResult();
    return elem.isInteger(64) ? x : b.create<arith::ExtSIOp>(loc, b.getI64Type(), x).getResult();
  }

  Value unary(const Expr &e) {
    Value x = emit(e.operands[0]);
    if (e.unaryOp == UnaryOp::Not)
      return b.create<arith::XOrIOp>(loc, x, b.create<arith::ConstantIntOp>(loc, 1, 1));
    if (e.type == ScalarType::Float)
      return b.create<arith::NegFOp>(loc, x);
    return b.create<arith::SubIOp>(loc, b.create<arith::ConstantIntOp>(loc, 0, 64), x);
  }

  Value binary(const Expr &e) {
    BinaryOp op = e.binaryOp;
    bool isFloat = e.lhs().type == ScalarType::Float || e.rhs().type == ScalarType::Float ||
                   op == BinaryOp::Div;
    Value l = emit(e.lhs()), r = emit(e.rhs());
    if (op == BinaryOp::And)
      return b.create<arith::AndIOp>(loc, l, r);
    if (op == BinaryOp::Or)
      return b.create<arith::OrIOp>(loc, l, r);
    if (e.lhs().type == ScalarType::Bool) { // == and != on booleans
      auto pred = op == BinaryOp::Eq ? arith::CmpIPredicate::eq : arith::CmpIPredicate::ne;
      return b.create<arith::CmpIOp>(loc, pred, l, r);
    }
    if (isFloat) {
      l = convert(l, ScalarType::Float);
      r = convert(r, ScalarType::Float);
      return floatBinary(op, l, r);
    }
    return intBinary(op, l, r);
  }

  Value floatBinary(BinaryOp op, Value l, Value r) {
    switch (op) {
    case BinaryOp::Add: return b.create<arith::AddFOp>(loc, l, r);
    case BinaryOp::Sub: return b.create<arith::SubFOp>(loc, l, r);
    case BinaryOp::Mul: return b.create<arith::MulFOp>(loc, l, r);
    case BinaryOp::Div: return b.create<arith::DivFOp>(loc, l, r);
    case BinaryOp::FloorDiv:
      return b.create<math::FloorOp>(loc, b.create<arith::DivFOp>(loc, l, r));
    case BinaryOp::Mod: { // l - r * floor(l / r)
      Value q = b.create<math::FloorOp>(loc, b.create<arith::DivFOp>(loc, l, r));
      return b.create<arith::SubFOp>(loc, l, b.create<arith::MulFOp>(loc, r, q));
    }
    case BinaryOp::Lt: return cmpf(arith::CmpFPredicate::OLT, l, r);
    case BinaryOp::Le: return cmpf(arith::CmpFPredicate::OLE, l, r);
    case BinaryOp::Gt: return cmpf(arith::CmpFPredicate::OGT, l, r);
    case BinaryOp::Ge: return cmpf(arith::CmpFPredicate::OGE, l, r);
    case BinaryOp::Eq: return cmpf(arith::CmpFPredicate::OEQ, l, r);
    case BinaryOp::Ne: return cmpf(arith::CmpFPredicate::UNE, l, r);
    case BinaryOp::And:
    case BinaryOp::Or: break;
    }
    llvm_unreachable("not a float operator");
  }

  Value intBinary(BinaryOp op, Value l, Value r) {
    switch (op) {
    case BinaryOp::Add: return b.create<arith::AddIOp>(loc, l, r);
    case BinaryOp::Sub: return b.create<arith::SubIOp>(loc, l, r);
    case BinaryOp::Mul: return b.create<arith::MulIOp>(loc, l, r);
    case BinaryOp::FloorDiv: return b.create<arith::FloorDivSIOp>(loc, l, r);
    case BinaryOp::Mod: { // l - r * floordiv(l, r): the sign of r, as in Python
      Value q = b.create<arith::FloorDivSIOp>(loc, l, r);
      return b.create<arith::SubIOp>(loc, l, b.create<arith::MulIOp>(loc, r, q));
    }
    case BinaryOp::Lt: return cmpi(arith::CmpIPredicate::slt, l, r);
    case BinaryOp::Le: return cmpi(arith::CmpIPredicate::sle, l, r);
    case BinaryOp::Gt: return cmpi(arith::CmpIPredicate::sgt, l, r);
    case BinaryOp::Ge: return cmpi(arith::CmpIPredicate::sge, l, r);
    case BinaryOp::Eq: return cmpi(arith::CmpIPredicate::eq, l, r);
    case BinaryOp::Ne: return cmpi(arith::CmpIPredicate::ne, l, r);
    case BinaryOp::Div:
    case BinaryOp::And:
    case BinaryOp::Or: break;
    }
    llvm_unreachable("not an int operator");
  }

  Value call(const Expr &e) {
    SmallVector<Value> args;
    for (const Expr &a : e.operands)
      args.push_back(convert(emit(a), e.type == ScalarType::Float ? ScalarType::Float
                                                                   : ScalarType::Unknown));
    bool isFloat = e.type == ScalarType::Float;
    switch (e.callee) {
    case Builtin::Tanh: return transcendental(b.create<math::TanhOp>(loc, args[0]));
    case Builtin::Exp: return transcendental(b.create<math::ExpOp>(loc, args[0]));
    case Builtin::Log: return transcendental(b.create<math::LogOp>(loc, args[0]));
    case Builtin::Sqrt: return b.create<math::SqrtOp>(loc, args[0]);
    case Builtin::Abs:
      return isFloat ? b.create<math::AbsFOp>(loc, args[0]).getResult()
                     : b.create<math::AbsIOp>(loc, args[0]).getResult();
    case Builtin::Min:
      return isFloat ? b.create<arith::MinimumFOp>(loc, args[0], args[1]).getResult()
                     : b.create<arith::MinSIOp>(loc, args[0], args[1]).getResult();
    case Builtin::Max:
      return isFloat ? b.create<arith::MaximumFOp>(loc, args[0], args[1]).getResult()
                     : b.create<arith::MaxSIOp>(loc, args[0], args[1]).getResult();
    case Builtin::Int:
      if (args[0].getType().isInteger(1))
        return boolAs(args[0], ScalarType::Int);
      if (args[0].getType().isInteger(64))
        return args[0];
      return b.create<arith::FPToSIOp>(loc, b.getI64Type(), args[0]); // toward zero
    case Builtin::Float:
      if (args[0].getType().isInteger(1))
        return boolAs(args[0], ScalarType::Float);
      return args[0]; // an int was converted above
    case Builtin::Floor:
      return isFloat ? b.create<math::FloorOp>(loc, args[0]).getResult() : args[0];
    case Builtin::Ceil:
      return isFloat ? b.create<math::CeilOp>(loc, args[0]).getResult() : args[0];
    case Builtin::Round: // math.round: half away from zero (CUDA roundf)
      return isFloat ? b.create<math::RoundOp>(loc, args[0]).getResult() : args[0];
    case Builtin::Sign: {
      Value x = args[0];
      Value one, minusOne, zero, pos, neg;
      if (isFloat) {
        one = fconst(1.0), minusOne = fconst(-1.0), zero = fconst(0.0);
        pos = cmpf(arith::CmpFPredicate::OGT, x, zero);
        neg = cmpf(arith::CmpFPredicate::OLT, x, zero);
      } else {
        one = b.create<arith::ConstantIntOp>(loc, 1, 64);
        minusOne = b.create<arith::ConstantIntOp>(loc, -1, 64);
        zero = b.create<arith::ConstantIntOp>(loc, 0, 64);
        pos = cmpi(arith::CmpIPredicate::sgt, x, zero);
        neg = cmpi(arith::CmpIPredicate::slt, x, zero);
      }
      return b.create<arith::SelectOp>(loc, pos, one,
                                       b.create<arith::SelectOp>(loc, neg, minusOne, zero));
    }
    case Builtin::Sigmoid: { // 1 / (1 + exp(-x))
      Value e = transcendental(b.create<math::ExpOp>(loc, b.create<arith::NegFOp>(loc, args[0])));
      return b.create<arith::DivFOp>(loc, fconst(1.0), b.create<arith::AddFOp>(loc, fconst(1.0), e));
    }
    case Builtin::Softplus: { // max(x, 0) + log1p(exp(-|x|)): no overflow for large x
      Value x = args[0];
      Value negAbs = b.create<arith::NegFOp>(loc, b.create<math::AbsFOp>(loc, x));
      Value e = transcendental(b.create<math::ExpOp>(loc, negAbs));
      Value l = transcendental(b.create<math::Log1pOp>(loc, e));
      return b.create<arith::AddFOp>(loc, b.create<arith::MaximumFOp>(loc, x, fconst(0.0)), l);
    }
    case Builtin::Log2: return transcendental(b.create<math::Log2Op>(loc, args[0]));
    case Builtin::Exp2: return transcendental(b.create<math::Exp2Op>(loc, args[0]));
    case Builtin::Log1p: return transcendental(b.create<math::Log1pOp>(loc, args[0]));
    case Builtin::Expm1: return b.create<math::ExpM1Op>(loc, args[0]);
    case Builtin::Pow: return b.create<math::PowFOp>(loc, args[0], args[1]);
    }
    llvm_unreachable("unknown builtin");
  }

  /// A function the code generator may approximate: marked blk.exact_math when the spec asks for exact math.
  Value transcendental(Operation *op) {
    if (math == spec::MathMode::Exact)
      op->setAttr(blk::kExactMathAttrName, b.getUnitAttr());
    return op->getResult(0);
  }

  Value fconst(double x) {
    return b.create<arith::ConstantFloatOp>(loc, APFloat(static_cast<float>(x)), b.getF32Type());
  }

  /// A bool as 0 / 1 of an Int or Float.
  Value boolAs(Value c, ScalarType t) {
    Value one = t == ScalarType::Float ? fconst(1.0) : b.create<arith::ConstantIntOp>(loc, 1, 64).getResult();
    Value zero = t == ScalarType::Float ? fconst(0.0) : b.create<arith::ConstantIntOp>(loc, 0, 64).getResult();
    return b.create<arith::SelectOp>(loc, c, one, zero);
  }

  Value cmpf(arith::CmpFPredicate p, Value l, Value r) { return b.create<arith::CmpFOp>(loc, p, l, r); }
  Value cmpi(arith::CmpIPredicate p, Value l, Value r) { return b.create<arith::CmpIOp>(loc, p, l, r); }

  OpBuilder &b;
  ExprLocator locate;
  StringRef field;
  Location loc;                   ///< Of the node being emitted.
  std::optional<Location> caller; ///< Where the let being expanded is used.
  const ExprValues &v;
  spec::MathMode math;
};

} // namespace

Value emitExpr(OpBuilder &b, ExprLocator locate, StringRef field, const Expr &e, const ExprValues &values,
               spec::MathMode math) {
  return Emitter(b, locate, field, values, math).emit(e);
}

} // namespace tilefuse::lowering
