//===- ElementProgram.h - scalar ops compiled to slot instructions ---*- C++ -*-===//
//
// Internal to the interpreter. A blk.map region (or one scalar op outside a map) is compiled into
// a list of Instr over numbered Slots; each Instr is then run across all n elements of the tile at
// once. A Slot holds one Word when its value is uniform (does not depend on the element) and n
// Words when it varies, so the hot loop of every instruction is a flat loop over arrays.
//
//===----------------------------------------------------------------------------------------===//
#ifndef TILEFUSE_LIB_INTERP_ELEMENTPROGRAM_H
#define TILEFUSE_LIB_INTERP_ELEMENTPROGRAM_H

#include "tilefuse/interp/HostTensor.h"
#include "tilefuse/interp/Scalar.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace mlir {
class Operation;
class Type;
} // namespace mlir

namespace tilefuse::interp::detail {

/// An HBM tensor as the interpreter sees it: the caller's (or an allocated) HostTensor plus how to
/// name it in errors ("argument #5 'slopes'", "blk.alloc at f.mlir:30:8").
struct TensorRef {
  HostTensor *tensor = nullptr;
  std::string label;
};

struct Slot {
  std::vector<Word> v; ///< 1 Word when uniform, n Words when varying.
  bool varying = false;
};

enum class Opc : uint8_t {
  // float, binary
  AddF, SubF, MulF, DivF, RemF, MaximumF, MinimumF, MaxNumF, MinNumF, PowF, Atan2, CopySign,
  // float, unary
  NegF, Exp, Exp2, ExpM1, Log, Log2, Log10, Log1p, Tanh, Sqrt, Rsqrt, AbsF, Sin, Cos, Tan, Atan,
  Sinh, Cosh, Asin, Acos, Asinh, Acosh, Atanh, Erf, Floor, Ceil, Round, RoundEven, TruncF, Cbrt,
  // float, ternary
  Fma,
  // integer
  AddI, SubI, MulI, DivSI, DivUI, RemSI, RemUI, CeilDivSI, CeilDivUI, FloorDivSI, MaxSI, MinSI,
  MaxUI, MinUI, AndI, OrI, XOrI, ShlI, ShrSI, ShrUI, AbsI,
  // comparisons and choice
  CmpF, CmpI, Select,
  // conversions
  Copy, SIToFP, UIToFP, FPToSI, FPToUI, SExt, ZExt, TruncI,
  // leaves
  Const, Read,
};

struct Instr {
  Opc opc = Opc::Copy;
  int dst = -1;
  int src[3] = {-1, -1, -1};
  unsigned w = 64;  ///< Integer width of the operands (index: 64).
  unsigned dw = 64; ///< Integer width of the result (casts).
  int pred = 0;     ///< arith::CmpFPredicate / CmpIPredicate value.
  Word imm{};       ///< Const.
  bool readInt = false; ///< Read: the tensor holds integers (convert each double to int64).
  mlir::Operation *op = nullptr;
  const TensorRef *tensor = nullptr; ///< Read.
  std::vector<int> idx;              ///< Read: the index slots.
};

/// Integer width of an integer or index type (index: 64). Throws InterpError (naming `op`) for
/// wider integers.
unsigned intWidth(mlir::Operation *op, mlir::Type t);
/// Whether values of `t` are integers (iN, index) rather than floats.
bool isIntType(mlir::Type t);

/// Compiles `op` (a scalar arith / math op, or blk.read) into an Instr reading the operand slots
/// `srcs` (for blk.read: the index slots) and writing `dst`. `tensor` is blk.read's tensor.
/// Throws InterpError for an op that is not supported.
Instr compileOp(mlir::Operation *op, std::span<const int> srcs, int dst, const TensorRef *tensor);

/// Runs one instruction over n elements. The destination is uniform when every source is.
/// Throws InterpError for integer undefined behaviour and out-of-bounds reads.
void execInstr(const Instr &in, std::vector<Slot> &slots, size_t n);

/// Normalises v to an iw-bit integer held as a Word (sign-extended; i1 as 0 / 1).
int64_t normInt(unsigned w, int64_t v);

} // namespace tilefuse::interp::detail

#endif // TILEFUSE_LIB_INTERP_ELEMENTPROGRAM_H
