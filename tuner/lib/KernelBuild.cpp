//===- KernelBuild.cpp - lower, fuse, generate for one schedule -----------===//
#include "tilefuse/tuner/KernelBuild.h"

#include "tilefuse/analysis/IOReport.h"
#include "tilefuse/codegen/CodeGen.h"
#include "tilefuse/compiler/Passes.h"
#include "tilefuse/lowering/Lowering.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/raw_ostream.h"

#include <map>
#include <mutex>

namespace tilefuse::tuner {
namespace {

/// MLIR's pass and option registries are process-global; one builder works at a time.
std::mutex &mlirLock() {
  static std::mutex m;
  return m;
}

std::string describeSchedule(const codegen::Schedule &s) { return s.toString(); }

} // namespace

std::string describe(const spec::Spec &spec, const spec::Shape &shape) {
  std::string s = "spec '" + spec.name + "' (D=" + std::to_string(shape.D);
  if (shape.Dv != shape.D)
    s += ", Dv=" + std::to_string(shape.Dv);
  return s + ", " + std::string(spec::spelling(spec.dtype)) + ")";
}

double denseFlops(const spec::Shape &s) {
  return 2.0 * double(s.B) * double(s.Hq) * double(s.Sq) * double(s.Sk) * double(s.D + s.Dv);
}

struct KernelBuilder::Impl {
  spec::Spec spec;
  spec::Shape shape;
  mlir::MLIRContext context{mlir::MLIRContext::Threading::DISABLED};
  /// Fused programs by (BLOCK_M, BLOCK_N).
  std::map<std::pair<int, int>, mlir::OwningOpRef<mlir::ModuleOp>> fused;

  Impl(spec::Spec s, spec::Shape sh) : spec(std::move(s)), shape(sh) { lowering::loadDialects(context); }

  [[noreturn]] void fail(const std::string &stage, const std::string &what,
                         const codegen::Schedule *s = nullptr) const {
    std::string msg = describe(spec, shape);
    if (s)
      msg += ", schedule " + describeSchedule(*s);
    throw KernelBuildError(msg + ": " + stage + ": " + what);
  }

  /// The fused function of (blockM, blockN), built on first use.
  mlir::func::FuncOp program(int blockM, int blockN) {
    auto &slot = fused[{blockM, blockN}];
    if (!slot) {
      std::string diagnostics;
      llvm::raw_string_ostream diag(diagnostics);
      mlir::ScopedDiagnosticHandler handler(&context, [&](mlir::Diagnostic &d) {
        diag << d.getLocation() << ": " << d.str() << "\n";
        return mlir::success();
      });
      mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&context));
      try {
        lowering::lowerToUnfused(*module, spec, shape, {blockM});
      } catch (const std::exception &e) {
        fail("lowering (BLOCK_M=" + std::to_string(blockM) + ")", e.what());
      }
      mlir::PassManager pm(&context);
      FusePipelineOptions options;
      options.blockN = blockN;
      buildFusePipeline(pm, options);
      if (mlir::failed(pm.run(*module)))
        fail("fusion (BLOCK_N=" + std::to_string(blockN) + ")", "the pipeline failed:\n" + diagnostics);
      int kernels = 0;
      module->walk([&](mlir::Operation *op) {
        if (op->getName().getStringRef() == "blk.kernel")
          ++kernels;
      });
      if (kernels != 1)
        fail("fusion (BLOCK_N=" + std::to_string(blockN) + ")",
             "the rules left " + std::to_string(kernels) +
                 " kernels; code generation needs one fused kernel. Fusion diagnostics:\n" + diagnostics);
      slot = std::move(module);
    }
    mlir::func::FuncOp fn;
    slot->walk([&](mlir::func::FuncOp f) {
      if (!fn)
        fn = f;
    });
    return fn;
  }
};

KernelBuilder::KernelBuilder(spec::Spec spec, spec::Shape shape)
    : impl_(std::make_unique<Impl>(std::move(spec), shape)) {}

KernelBuilder::~KernelBuilder() {
  std::lock_guard<std::mutex> guard(mlirLock());
  impl_.reset();
}

const spec::Spec &KernelBuilder::spec() const { return impl_->spec; }
const spec::Shape &KernelBuilder::shape() const { return impl_->shape; }

KernelSource KernelBuilder::generate(const codegen::Schedule &schedule) {
  try {
    schedule.validate();
  } catch (const codegen::ScheduleError &e) {
    impl_->fail("schedule", e.what(), &schedule);
  }
  std::lock_guard<std::mutex> guard(mlirLock());
  mlir::func::FuncOp fn = impl_->program(schedule.blockM, schedule.blockN);
  codegen::GeneratedKernel k;
  try {
    k = codegen::generateKernel(fn, schedule, codegen::KernelSignature::fromSpec(impl_->spec));
  } catch (const std::exception &e) {
    impl_->fail("code generation", e.what(), &schedule);
  }
  return {std::move(k.source), std::move(k.kernelName), k.threadsPerBlock, k.dynamicSmemBytes,
          std::move(k.grid), std::move(k.params), k.schedule};
}

std::string KernelBuilder::fusedIR(int blockM, int blockN) {
  std::lock_guard<std::mutex> guard(mlirLock());
  mlir::func::FuncOp fn = impl_->program(blockM, blockN);
  std::string text;
  llvm::raw_string_ostream os(text);
  fn->getParentOp()->print(os);
  return text;
}

double KernelBuilder::tileFlops(int blockM, int blockN, const spec::Shape &shape) {
  std::lock_guard<std::mutex> guard(mlirLock());
  mlir::func::FuncOp fn = impl_->program(blockM, blockN);
  analysis::Dims dims;
  try {
    for (auto &[name, extent] : lowering::dimBindings(impl_->spec, shape))
      dims[name] = extent;
    return static_cast<double>(analysis::analyzeIO(fn, dims).flops.matmul);
  } catch (const std::exception &e) {
    impl_->fail("IO report", e.what());
  }
}

} // namespace tilefuse::tuner
