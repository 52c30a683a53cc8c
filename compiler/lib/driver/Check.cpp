//===- Check.cpp - interpreter vs naive reference -------------------------===//
#include "tilefuse/driver/Driver.h"

#include "Program.h"

#include "tilefuse/interp/Interpreter.h"
#include "tilefuse/lowering/Lowering.h"
#include "tilefuse/reference/Attention.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <cmath>

namespace tilefuse::driver {
namespace {

interp::DType interpDType(spec::DType t) {
  return t == spec::DType::BF16 ? interp::DType::BF16 : interp::DType::F16;
}

interp::DType interpDType(spec::ElementType t) {
  switch (t) {
  case spec::ElementType::F32: return interp::DType::F32;
  case spec::ElementType::F16: return interp::DType::F16;
  case spec::ElementType::BF16: return interp::DType::BF16;
  case spec::ElementType::I32: return interp::DType::I32;
  case spec::ElementType::I64: return interp::DType::I64;
  }
  return interp::DType::F32;
}

interp::HostTensor toHost(const reference::Tensor &t, interp::DType dtype, std::string name) {
  interp::HostTensor h = interp::HostTensor::contiguous(dtype, t.shape, std::move(name));
  h.data = t.data;
  return h;
}

reference::Tensor fromHost(const interp::HostTensor &h) {
  reference::Tensor t(h.shape);
  t.data = h.data; // contiguous, offset 0
  return t;
}

} // namespace

spec::Shape smallCheckShape(const Loaded &loaded) {
  spec::Shape s = loaded.shape;
  int64_t group = s.groupSize();
  s.B = 1;
  // The group is compiled into the program, so it stays; a large one (ViT-L/16 with --Hq 65536 has
  // 4096 query heads per K/V head: 66 s in the interpreter) gets one K/V head and shorter sequences,
  // so the check costs about what 64 query heads at 113 x 203 cost.
  const bool hugeGroup = group > kCheckMaxGroup;
  s.Hkv = hugeGroup ? 1 : std::min<int64_t>(s.Hkv, 2);
  s.Hq = s.Hkv * group;
  // Odd sizes that are not multiples of any block, ordered as the user's: a program that goes
  // wrong only when Sq > Sk (document_mask reads doc_ids out of range there) is checked there.
  const bool longerQ = loaded.shape.Sq > loaded.shape.Sk;
  const int64_t shorter = hugeGroup ? 37 : 113, longer = hugeGroup ? 67 : 203;
  s.Sq = longerQ ? longer : shorter;
  s.Sk = longerQ ? shorter : longer;
  return s;
}

CheckResult checkProgram(const Loaded &loaded, const std::string &mlirText,
                         const spec::Shape &shape, uint64_t seed) {
  Program program = parseProgram(loaded, mlirText);
  mlir::func::FuncOp fn = program.func(loaded);

  const spec::Spec &s = loaded.spec;
  reference::Inputs in = reference::randomInputs(s, shape, seed);
  interp::DType dt = interpDType(s.dtype);
  std::vector<interp::HostTensor> host;
  host.push_back(toHost(in.Q, dt, "Q"));
  host.push_back(toHost(in.K, dt, "K"));
  host.push_back(toHost(in.V, dt, "V"));
  // Outputs are poisoned with NaN: an element the program does not write shows up as an error.
  const double nan = std::nan("");
  host.push_back(interp::HostTensor::contiguous(dt, {shape.B, shape.Hq, shape.Sq, shape.Dv}, "O", nan));
  if (s.lse)
    host.push_back(interp::HostTensor::contiguous(interp::DType::F32, {shape.B, shape.Hq, shape.Sq},
                                                  "LSE", nan));
  for (size_t i = 0; i < s.captures.size(); ++i)
    host.push_back(toHost(in.captures[i], interpDType(s.captures[i].dtype), s.captures[i].name));
  std::vector<interp::HostTensor *> args;
  for (auto &h : host)
    args.push_back(&h);

  auto t0 = std::chrono::steady_clock::now();
  interp::run(fn, args);
  auto t1 = std::chrono::steady_clock::now();

  reference::Outputs ref = reference::attention(s, shape, in);
  CheckResult r;
  r.shape = shape;
  r.seed = seed;
  r.interpMs = std::chrono::duration<double, std::milli>(t1 - t0).count();
  reference::Tensor o = fromHost(host[3]);
  r.maxAbsErrO = reference::maxAbsDiff(o, ref.O);
  r.relErrO = reference::maxRelDiff(o, ref.O);
  if (std::isnan(r.relErrO))
    r.relErrO = r.maxAbsErrO = std::numeric_limits<double>::infinity();
  if (s.lse) {
    const interp::HostTensor &lse = host[4];
    for (size_t i = 0; i < lse.data.size(); ++i) {
      double x = lse.data[i], y = ref.LSE.data[i];
      if (std::isinf(y) || std::isinf(x)) {
        r.lseMatchesInf = r.lseMatchesInf && x == y;
        continue;
      }
      double d = std::abs(x - y);
      r.maxAbsErrLSE = std::isnan(d) ? std::numeric_limits<double>::infinity()
                                     : std::max(r.maxAbsErrLSE, d);
    }
  }
  return r;
}

} // namespace tilefuse::driver
