//===- Interpreter.h - fp64 reference interpreter for blk programs ---*- C++ -*-===//
//
// Runs a blk block program (a func.func of blk.kernel ops) on the CPU, on HostTensors the caller
// supplies. It is the oracle every compiler pass is checked against: a pass is correct when the
// program after it computes what the program before it computed, on fresh random inputs.
//
// Semantics are those of the op descriptions in dialects/include/blk/BlkOps.td, with these
// choices where the IR leaves freedom:
//
//  * Precision. Every value is an fp64 `double` (integers: int64 with the wrap-around of their
//    MLIR width). Nothing is rounded to bf16 / f16 / f32: `arith.truncf` and `arith.extf` are
//    identities, a bf16 tensor holds whatever doubles the caller put in it and a store writes
//    the unrounded fp64 result, matmuls accumulate in fp64. A float constant keeps the value of its
//    attribute (the MLIR parser has already rounded `0.0883883461 : f32` to the nearest f32).
//    Tile elements are doubles, so integer tile elements are exact up to 2^53.
//  * Kernels run in program order; each runs its body once per program id of its grid, the last
//    grid dim varying fastest. HBM writes are visible to every later instance and kernel.
//  * blk.read of an index outside its tensor reads 0, like the padding of blk.load (maps also
//    run on the padded rows and columns of tail tiles; BlkOps.td).
//  * blk.load pads elements outside the tensor with 0; a `?` tile dim loads the run-time extent
//    max(0, tensor dim - offset). blk.store writes only elements inside the tensor; a `?` dim of
//    a stored tile that no op has given an extent (a blk.fill or blk.iota result) spans to the
//    end of the tensor dim.
//  * Tiles with `?` dims made by blk.fill, blk.iota and blk.broadcast have no extent of their
//    own: they take the run-time extent of the tiles they are combined with (in blk.map,
//    blk.select, blk.matmul, blk.store). Results of map / select over only such tiles stay
//    extent-less until then. A reduction over such a dim is an error.
//  * blk.alloc memory starts as NaN, so a read before a write shows up in the results.
//  * Reductions: max of an empty or all -inf row is -inf, sum of an empty row is 0; a NaN
//    propagates through both.
//  * arith.maximumf / minimumf propagate NaN (IEEE maximum); maxnumf / minnumf drop it.
//    Integer division by zero, signed division overflow, shifts by >= the width and fptosi of
//    a value outside the target range are errors (MLIR calls them undefined).
//
// Ops it runs: blk.* (all), scf.for (with iter_args: tiles, scalars), scf.if, scf.yield,
// func.return, the scalar arith ops (float, integer, index, casts, cmpf, cmpi, select) and
// math ops (exp, exp2, expm1, log, log2, log10, log1p, tanh, sqrt, rsqrt, absf, absi, sin, cos,
// tan, atan, atan2, erf, floor, ceil, round, roundeven, trunc, powf, fma, copysign, cbrt), both
// inside blk.map regions and on scalars outside them.
//
// Cost: blk.map regions are compiled once per map execution into a straight-line program over
// slot arrays and evaluated an op at a time across all elements of the tile (uniform values,
// those not depending on the elements, are computed once); tiles are flat std::vector<double>.
//
//===----------------------------------------------------------------------------------------===//
#ifndef TILEFUSE_INTERP_INTERPRETER_H
#define TILEFUSE_INTERP_INTERPRETER_H

#include "tilefuse/interp/HostTensor.h"

#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>

namespace mlir {
class Operation;
namespace func {
class FuncOp;
} // namespace func
} // namespace mlir

namespace tilefuse::interp {

/// The one error type of the interpreter. what() reads
///   "'arith.divui' at file.mlir:12:7: integer division by zero"
/// for errors at an op (the op's name and location first; ops built in code without a file
/// location show the op's text instead);
///   "modzero.json:6:38: error: field 'mask_mod', column 26: 'arith.floordivsi': integer division by zero"
/// for an op lowered from a spec expression (blk/SpecLocation.h: the character in the spec file,
/// the field and the column inside the expression; an op from a `let` adds "used in field ...");
/// or just the message for errors about
/// the arguments ("symbol 'Sq' is bound to 100 by argument #0 'Q' and to 120 by argument #3 'O'").
class InterpError : public std::runtime_error {
public:
  explicit InterpError(const std::string &message);
  InterpError(mlir::Operation *op, const std::string &message);
};

/// The value of one non-tensor argument of the function: an integer (for index / iN arguments) or
/// a double (for float arguments).
using ScalarArg = std::variant<int64_t, double>;
using ScalarArgs = std::span<const ScalarArg>;

/// Runs `fn` to completion.
///
/// `tensors` are the function's `!blk.tensor` arguments in order (the k-th tensor argument is
/// tensors[k]); `scalars` are its other arguments (index, integer, float) in order. Each tensor's
/// rank, dtype tag and static extents must match its type; the symbolic dims of all argument
/// types are bound from the tensors' shapes (a symbol used twice must get one extent). Outputs
/// (O, LSE, ...) are written in place into the caller's tensors.
///
/// Throws InterpError when: the argument counts differ from the function's; a tensor's rank,
/// dtype or static extent does not match its type or it fails HostTensor::validate; a symbol is
/// bound to two extents (the error names both tensors); a blk.alloc size disagrees with the
/// symbol's extent; the run-time extents of two tiles an op combines differ; an op is not
/// supported; an integer op has undefined behaviour (see above).
/// Tensors may have been partly written when it throws.
void run(mlir::func::FuncOp fn, std::span<HostTensor *const> tensors, ScalarArgs scalars = {});

/// Options of runSlice.
struct RunOptions {
  /// >= 0: run only the program instances of every kernel whose batch program id is this value (the
  /// grid dim that is `blk.dim` of a tensor dim named B); kernels without such a dim run whole. The
  /// packed-sequence check (driver::checkPackedProgram) runs one sequence b at a time this way, so b
  /// keeps its value in score_mod / mask_mod while Sq, Sk are that sequence's lengths.
  int64_t onlyBatch = -1;
};

/// run() with options.
void runSlice(mlir::func::FuncOp fn, std::span<HostTensor *const> tensors, const RunOptions &options,
              ScalarArgs scalars = {});

} // namespace tilefuse::interp

#endif // TILEFUSE_INTERP_INTERPRETER_H
