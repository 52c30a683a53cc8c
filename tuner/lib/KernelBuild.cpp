//===- KernelBuild.cpp - one spec, many schedules, through driver::buildKernel ---===//
#include "tilefuse/tuner/KernelBuild.h"

#include "tilefuse/analysis/IOReport.h"
#include "tilefuse/driver/FusedProgram.h"
#include "tilefuse/lowering/Lowering.h"

#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <mutex>

namespace tilefuse::tuner {
namespace {

/// MLIR's pass and option registries are process-global; one builder works at a time.
std::mutex &mlirLock() {
  static std::mutex m;
  return m;
}

} // namespace

double denseFlops(const spec::Shape &s) {
  return 2.0 * double(s.B) * double(s.Hq) * double(s.Sq) * double(s.Sk) * double(s.D + s.Dv);
}

struct KernelBuilder::Impl {
  spec::Spec spec;
  spec::Shape shape;
  mlir::MLIRContext context{mlir::MLIRContext::Threading::DISABLED};
  /// Fused programs by (BLOCK_M, BLOCK_N).
  std::map<std::pair<int, int>, driver::FusedProgram> fused;

  Impl(spec::Spec s, spec::Shape sh) : spec(std::move(s)), shape(sh) {}

  /// The fused function of (blockM, blockN), built on first use. Throws KernelBuildError.
  mlir::func::FuncOp program(int blockM, int blockN) {
    auto it = fused.find({blockM, blockN});
    if (it == fused.end())
      it = fused.emplace(std::pair{blockM, blockN}, driver::fuseSpec(context, spec, shape, blockM, blockN)).first;
    return it->second.func;
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
  const std::string subject = describe(impl_->spec, impl_->shape);
  try {
    schedule.validate(); // before building a program for tiles that may not be legal
    codegen::checkHeadDim("head_dim", static_cast<int>(std::min<int64_t>(impl_->shape.D, INT32_MAX)));
    codegen::checkHeadDim("value_dim", static_cast<int>(std::min<int64_t>(impl_->shape.Dv, INT32_MAX)));
  } catch (const codegen::ScheduleError &e) {
    throw KernelBuildError::at(driver::BuildStage::Schedule, subject + ", schedule " + schedule.toString(),
                               e.what());
  }
  std::lock_guard<std::mutex> guard(mlirLock());
  mlir::func::FuncOp fn = impl_->program(schedule.blockM, schedule.blockN);
  return driver::buildKernel(fn, codegen::KernelSignature::fromSpec(impl_->spec), schedule, subject);
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
    throw std::runtime_error(describe(impl_->spec, impl_->shape) + ": IO report: " + e.what());
  }
}

} // namespace tilefuse::tuner
