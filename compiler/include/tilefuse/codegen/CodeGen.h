//===- CodeGen.h - CUDA for a fused attention block program ----------*- C++ -*-===//
//
// Turns a fused block program (one `blk.kernel` whose body loads a Q tile and runs an `scf.for`
// over K/V tiles carrying the online-softmax state: FlashAttention-2, Dao 2023, Algorithm 1) into
// the CUDA C++ source of one kernel built on the device library (runtime/device/tilefuse): cp.async
// into swizzled shared tiles, ldmatrix, mma.sync m16n8k16, warp row reductions.
//
// Three phases, each printable (dumpResolve / dumpPlan, `tilefuse-codegen --dump=resolve|plan`), after
// a prepare step on a copy of the program (dumpPrepare, `--dump=prepare`):
//   prepare  rewrites that keep every value but fewer of them alive (a mask applied once, Prepare.h)
//   resolve  find the kernel, its grid, the K/V loop(s), the tensors' roles; classify every tile
//            value (SMEM tile, register tile in accumulator layout, row vector, or element-wise
//            value inlined into its consumer) and name it (q_smem, k_smem, s_acc, m_i, l_i, o_acc)
//   plan     shared-memory buffers (Q once, K/V per pipeline stage, offsets, swizzle), the register
//            storage of every kept tile (in-place updates, loop-carried variables), the cp.async
//            pipeline of each loop (which loads are prefetched, under which conditions)
//   emit     walk the ops again and write the kernel through an indentation-aware writer
//
// The generator is a walker over ops, not a template: it accepts whatever order of ops, extra or
// missing maps, scf.if tile classification (skip / partial / full) the fusion pass produces, as
// long as every op is one it can translate (see docs in lib/codegen/Resolve.h). Anything else is a
// CodegenError carrying the op's location.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/codegen/KernelAbi.h"
#include "tilefuse/codegen/Schedule.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cstddef>
#include <stdexcept>
#include <string>

namespace tilefuse::codegen {

/// An op or program the generator cannot translate. what() is
/// "<file>:<line>:<col>: error: <op name>: <message>" (location of the op, when there is one), and
/// "<spec>:<line>:<col>: error: field 'score_mod', column 9: <op name>: <message>" for an op lowered
/// from a spec expression (blk/SpecLocation.h; `context` is that field and column).
class CodegenError : public std::runtime_error {
public:
  CodegenError(std::string location, std::string opName, const std::string &message,
               const std::string &context = "");
  const std::string &location() const noexcept { return location_; }
  const std::string &opName() const noexcept { return opName_; }

private:
  std::string location_, opName_;
};

struct GeneratedKernel {
  std::string source;     ///< CUDA C++ for NVRTC: includes <tilefuse/device.cuh> and
                          ///< <tilefuse/codegen_support/codegen.cuh> (runtime/device on the include path)
  std::string kernelName; ///< extern "C" __global__ void <kernelName>(const Params p)
  int threadsPerBlock = 0;
  std::size_t dynamicSmemBytes = 0; ///< > 48 KB needs CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
  GridRule grid;
  ParamLayout params;
  Schedule schedule;
};

/// Generates the kernel. `fused` must hold exactly one blk.kernel (plus scalar ops on sizes);
/// `signature` gives the roles of its arguments; `schedule` must validate() and agree with the
/// program's tiles (BLOCK_M = rows of its register tiles, BLOCK_N = step of its K/V loop).
/// Throws CodegenError (an untranslatable op, a program of the wrong shape) or ScheduleError.
GeneratedKernel generateKernel(mlir::func::FuncOp fused, const Schedule &schedule,
                               const KernelSignature &signature);

/// The program after the prepare phase (lib/codegen/Prepare.h: rewrites on a copy of `fused` that
/// spare registers), printed as MLIR; `fused` itself is left as it is.
std::string dumpPrepare(mlir::func::FuncOp fused);

/// The resolve phase's result as text: kernel, grid, tensors with roles, loops, every tile value
/// with its class and name.
std::string dumpResolve(mlir::func::FuncOp fused, const KernelSignature &signature);

/// The plan phase's result as text: shared-memory buffers with offsets, stages and swizzle, register
/// storage, pipelined loads, estimated registers per thread.
std::string dumpPlan(mlir::func::FuncOp fused, const Schedule &schedule, const KernelSignature &signature);

/// `base` with BLOCK_M and BLOCK_N taken from the fused program (rows of its register tiles, step of
/// its first K/V loop) and warps lowered, when needed, to a count that gives every warp a multiple of
/// 16 rows. For tools and tests that generate for a program tiled elsewhere.
Schedule matchProgram(mlir::func::FuncOp fused, Schedule base);

/// The roles of `fused`'s arguments read off their types, for programs not built from a spec at hand.
/// An attention program (its first argument has a dim named Sq): args 0-3 are Q, K, V, O; a 5th f32
/// argument of rank 3 is LSE; the rest are captures, named by the argument attribute `blk.name` when
/// present, else capture0, capture1, ... Any other program (examples/chains): every argument is an
/// operand (KernelSignature::operands), named by `blk.name`, else arg0, arg1, ...
KernelSignature inferSignature(mlir::func::FuncOp fused);

} // namespace tilefuse::codegen
