//===- BlockProgramFuzzer.cpp - fuzz target: a block program through the fusion rules ---===//
//
// Input: MLIR text of a blk program (`tilefuse fuse FILE.mlir`, `tilefuse-opt`): attention or not (the
// normalization + matmul chains of docs/FUSION.md). Promises checked (tilefuse/driver/FusedProgram.h):
//   - for a program that parses and verifies, runFusion (BLOCK_N 16 and 64) never throws and, when its
//     pipeline succeeds, leaves a module that still verifies: no rule crashes on an unexpected program;
//   - the rules keep its meaning: the fused program, run in the fp64 interpreter on the same fresh
//     random arguments as the original (every symbolic dim bound to a small extent of its own), writes
//     the same values into every tensor argument, within 1e-9 relative to the largest magnitude there.
//     Programs the interpreter cannot run as given (an op it does not support, symbols whose extents must
//     agree otherwise, integer undefined behaviour) are skipped.
// MLIR's diagnostics are swallowed.
//
//===----------------------------------------------------------------------------------------===//
#include "FuzzTarget.h"

#include "tilefuse/driver/FusedProgram.h"
#include "tilefuse/interp/HostTensor.h"
#include "tilefuse/interp/Interpreter.h"
#include "tilefuse/lowering/Lowering.h"

#include "blk/BlkDialect.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <cmath>
#include <optional>
#include <random>

using namespace tilefuse;

namespace {
constexpr std::string_view target = "block_program";

struct Arguments {
  std::vector<interp::HostTensor> tensors;
  std::vector<interp::ScalarArg> scalars;
};

mlir::func::FuncOp firstFunc(mlir::ModuleOp module) {
  mlir::func::FuncOp fn;
  module.walk([&](mlir::func::FuncOp f) {
    if (!fn)
      fn = f;
  });
  return fn;
}

// Fresh arguments for `fn`: symbol `name` gets the extent 11 + (hash(name) mod 19) (a few 16-wide tiles;
// two symbols rarely agree by accident), 1 or 2 for the batch and heads (B, H...); floats are uniform in [-1, 1], integers in [0, 4), scalar ints 3 and floats 0.5.
// Empty when an argument has a type the interpreter does not take or the tensors would be large.
std::optional<Arguments> freshArguments(mlir::func::FuncOp fn, uint64_t seed) {
  Arguments a;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> real(-1.0, 1.0);
  int64_t elements = 0;
  for (mlir::Type t : fn.getFunctionType().getInputs()) {
    if (auto tt = llvm::dyn_cast<blk::HbmTensorType>(t)) {
      interp::DType dtype;
      try {
        dtype = interp::dtypeOf(tt.getElementType());
      } catch (const interp::InterpError &) {
        return std::nullopt;
      }
      std::vector<int64_t> shape;
      unsigned dyn = 0;
      for (unsigned i = 0; i < tt.getRank(); ++i) {
        if (!tt.isDynamicDim(i)) {
          shape.push_back(tt.getShape()[i]);
          continue;
        }
        const llvm::StringRef name = tt.getDimNames()[dyn++].getValue();
        const uint64_t h = llvm::hash_value(name);
        const bool batchOrHeads = name == "B" || name.starts_with("H");
        shape.push_back(static_cast<int64_t>(batchOrHeads ? 1 + (h & 1) : 11 + h % 19));
      }
      interp::HostTensor h = interp::HostTensor::contiguous(dtype, shape);
      elements += h.numel();
      if (shape.empty() || h.numel() <= 0 || elements > (int64_t{1} << 20))
        return std::nullopt;
      const bool integer = dtype == interp::DType::I1 || dtype == interp::DType::I8 ||
                           dtype == interp::DType::I16 || dtype == interp::DType::I32 ||
                           dtype == interp::DType::I64;
      for (double &x : h.data)
        x = integer ? static_cast<double>(rng() % (dtype == interp::DType::I1 ? 2 : 4)) : real(rng);
      a.tensors.push_back(std::move(h));
    } else if (t.isIntOrIndex()) {
      a.scalars.emplace_back(int64_t{3});
    } else if (llvm::isa<mlir::FloatType>(t)) {
      a.scalars.emplace_back(0.5);
    } else {
      return std::nullopt;
    }
  }
  return a;
}

// Runs `fn` on a copy of `args`; empty when the interpreter refuses it.
std::optional<std::vector<interp::HostTensor>> interpret(mlir::func::FuncOp fn, const Arguments &args) {
  std::vector<interp::HostTensor> tensors = args.tensors;
  std::vector<interp::HostTensor *> pointers;
  for (interp::HostTensor &h : tensors)
    pointers.push_back(&h);
  try {
    interp::run(fn, pointers, args.scalars);
  } catch (const interp::InterpError &) {
    return std::nullopt;
  }
  return tensors;
}

void checkMeaningKept(mlir::func::FuncOp original, mlir::func::FuncOp fused, uint64_t seed,
                      const std::string &fusedText) {
  const std::optional<Arguments> args = freshArguments(original, seed);
  if (!args)
    return;
  const std::optional<std::vector<interp::HostTensor>> want = interpret(original, *args);
  if (!want)
    return;
  const std::optional<std::vector<interp::HostTensor>> got = interpret(fused, *args);
  if (!got)
    return; // e.g. an integer op of a masked-out position that the original never evaluated
  for (size_t k = 0; k < want->size(); ++k) {
    const std::vector<double> &w = (*want)[k].data, &g = (*got)[k].data;
    double scale = 0;
    bool finite = true;
    for (double x : w) {
      finite = finite && std::isfinite(x);
      scale = std::max(scale, std::abs(x));
    }
    if (!finite)
      continue; // overflow in the original: the fused order of operations may give inf or NaN there
    for (size_t i = 0; i < w.size(); ++i)
      if (!(std::abs(w[i] - g[i]) <= 1e-9 * std::max(scale, 1.0)))
        fuzz::fail(target, "the fused program writes " + std::to_string(g[i]) + " where the original writes " +
                               std::to_string(w[i]) + " (tensor argument #" + std::to_string(k) + ", element " +
                               std::to_string(i) + ")\nfused program:\n" + fusedText);
  }
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  mlir::MLIRContext context(mlir::MLIRContext::Threading::DISABLED);
  lowering::loadDialects(context);
  mlir::ScopedDiagnosticHandler quiet(&context, [](mlir::Diagnostic &) { return mlir::success(); });
  const std::string text(fuzz::asText(data, size));
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceString<mlir::ModuleOp>(text, &context, "fuzz.mlir");
  if (!module || mlir::failed(mlir::verify(*module)))
    return 0;
  for (int64_t blockN : {16, 64}) {
    mlir::OwningOpRef<mlir::ModuleOp> copy = module->clone();
    driver::FusionOutcome outcome;
    fuzz::refusesCleanly<>(target, "runFusion", [&] { outcome = driver::runFusion(*copy, blockN); });
    if (!outcome.pipelineSucceeded)
      continue;
    fuzz::require(mlir::succeeded(mlir::verify(*copy)), target,
                  "the fusion pipeline succeeded but left a module that does not verify (BLOCK_N " +
                      std::to_string(blockN) + ")");
    mlir::func::FuncOp original = firstFunc(*module), fused = firstFunc(*copy);
    if (original && fused) {
      std::string fusedText;
      llvm::raw_string_ostream os(fusedText);
      copy->print(os);
      checkMeaningKept(original, fused, llvm::hash_value(text), fusedText);
    }
  }
  return 0;
}
