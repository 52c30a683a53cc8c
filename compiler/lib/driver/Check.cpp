//===- Check.cpp - interpreter vs naive reference -------------------------===//
#include "tilefuse/driver/Driver.h"

#include "Program.h"

#include "tilefuse/interp/Interpreter.h"
#include "tilefuse/lowering/Lowering.h"
#include "tilefuse/reference/Attention.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"

#include <fmt/format.h>

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

/// O and (when `lse` is not empty) LSE against the reference's.
CheckResult compare(const spec::Spec &s, const reference::Tensor &o, const std::vector<double> &lse,
                    const reference::Tensor &refO, const reference::Tensor &refLse) {
  CheckResult r;
  r.maxAbsErrO = reference::maxAbsDiff(o, refO);
  r.relErrO = reference::maxRelDiff(o, refO);
  // The worst element of O (a NaN counts as the worst): where, and both values.
  r.oShape = o.shape;
  double worst = -1;
  for (size_t i = 0; i < o.data.size() && i < refO.data.size(); ++i) {
    const double d = std::abs(o.data[i] - refO.data[i]);
    const double key = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
    if (key > worst) {
      worst = key;
      r.worstIndex = static_cast<int64_t>(i);
      r.worstValue = o.data[i];
      r.worstReference = refO.data[i];
    }
  }
  if (std::isnan(r.relErrO))
    r.relErrO = r.maxAbsErrO = std::numeric_limits<double>::infinity();
  if (s.lse) {
    for (size_t i = 0; i < lse.size(); ++i) {
      double x = lse[i], y = refLse.data[i];
      if (std::isinf(y) || std::isinf(x)) {
        r.lseMatchesInf = r.lseMatchesInf && x == y;
        continue;
      }
      double d = std::abs(x - y);
      r.maxAbsErrLSE = std::isnan(d) ? std::numeric_limits<double>::infinity() : std::max(r.maxAbsErrLSE, d);
    }
  }
  return r;
}

} // namespace

std::string CheckResult::worstText() const {
  if (worstIndex < 0 || (oShape.size() != 4 && oShape.size() != 3))
    return "";
  static const char *batched[] = {"b", "h", "q", "d"}, *packed[] = {"token", "h", "d"};
  const char *const *names = oShape.size() == 4 ? batched : packed;
  std::vector<int64_t> at(oShape.size());
  int64_t rest = worstIndex;
  for (size_t k = oShape.size(); k-- > 0;) {
    at[k] = rest % std::max<int64_t>(oShape[k], 1);
    rest /= std::max<int64_t>(oShape[k], 1);
  }
  std::string where;
  for (size_t k = 0; k < at.size(); ++k)
    where += (k ? ", " : "") + std::string(names[k]) + "=" + std::to_string(at[k]);
  return fmt::format("O[{}] = {:.17g} (reference {:.17g})", where, worstValue, worstReference);
}

std::vector<spec::Shape> checkShapes(const Loaded &loaded) {
  spec::Shape s = loaded.shape;
  int64_t group = s.groupSize();
  s.B = 1;
  // The group is compiled into the program, so it stays; a large one (ViT-L/16 with --Hq 65536 has
  // 4096 query heads per K/V head: 66 s in the interpreter) gets one K/V head and shorter sequences,
  // so the check costs about what 64 query heads at 113 x 203 cost.
  const bool hugeGroup = group > kCheckMaxGroup;
  s.Hkv = hugeGroup ? 1 : std::min<int64_t>(s.Hkv, 2);
  s.Hq = s.Hkv * group;
  // Odd sizes that are not multiples of any block.
  const int64_t shorter = hugeGroup ? 37 : 113, longer = hugeGroup ? 67 : 203, equal = hugeGroup ? 53 : 157;
  const int64_t Sq = loaded.shape.Sq, Sk = loaded.shape.Sk;
  std::vector<spec::Shape> shapes;
  auto add = [&](int64_t q, int64_t k) {
    for (const spec::Shape &x : shapes)
      if (x.Sq == q && x.Sk == k)
        return;
    spec::Shape x = s;
    x.Sq = q, x.Sk = k;
    shapes.push_back(x);
  };
  if (!hugeGroup && Sq <= kCheckMaxSeq && Sk <= kCheckMaxSeq)
    add(Sq, Sk); // the user's own sizes
  else
    add(Sq < Sk ? shorter : Sq > Sk ? longer : equal, Sq < Sk ? longer : Sq > Sk ? shorter : equal);
  // Rows past the keys' end (document_mask read doc_ids out of range there) and decoding.
  if (shapes.front().Sq <= shapes.front().Sk)
    add(longer, shorter);
  add(1, longer);
  return shapes;
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
  CheckResult r = compare(s, fromHost(host[3]), s.lse ? host[4].data : std::vector<double>{}, ref.O, ref.LSE);
  r.shape = shape;
  r.seed = seed;
  r.interpMs = std::chrono::duration<double, std::milli>(t1 - t0).count();
  return r;
}

spec::PackedSeqs defaultCheckSeqs() {
  const std::vector<int64_t> lengths{1, 63, 64, 65, 130};
  return spec::makePackedSeqs(spec::cuFromLengths("lengths", lengths));
}

CheckResult checkPackedProgram(const Loaded &loaded, const std::string &mlirText, const spec::Shape &shapeIn,
                               const spec::PackedSeqs &seqs, uint64_t seed) {
  Program program = parseProgram(loaded, mlirText);
  mlir::func::FuncOp fn = program.func(loaded);
  const spec::Spec &s = loaded.spec;
  spec::Shape shape = shapeIn;
  shape.B = seqs.batch();
  shape.Sq = std::max<int64_t>(seqs.maxLenQ(), 1);
  shape.Sk = std::max<int64_t>(seqs.maxLenK(), 1);
  reference::PackedInputs in = reference::randomPackedInputs(s, shape, seqs, seed);
  const interp::DType dt = interpDType(s.dtype);
  const double nan = std::nan("");
  const int64_t Hq = shape.Hq, Hkv = shape.Hkv, D = shape.D, Dv = shape.Dv, B = shape.B;
  reference::Tensor O({seqs.totalQ(), Hq, Dv});
  std::vector<double> lse(static_cast<size_t>(Hq * seqs.totalQ()), nan);
  std::fill(O.data.begin(), O.data.end(), nan);

  double ms = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t Sq = seqs.lenQ(b), Sk = seqs.lenK(b), q0 = seqs.cuQ[b], k0 = seqs.cuK[b];
    if (Sq == 0)
      continue; // no query rows: nothing to compute or compare
    if (Sk == 0) {
      // No keys: every row is fully masked (O = 0, LSE = -inf); the block program cannot bind an
      // empty K, so the reference's convention is taken (the kernels' loop runs no iteration).
      for (int64_t i = 0; i < Sq; ++i)
        for (int64_t h = 0; h < Hq; ++h) {
          std::fill_n(&O.data[((q0 + i) * Hq + h) * Dv], Dv, 0.0);
          lse[h * seqs.totalQ() + q0 + i] = -std::numeric_limits<double>::infinity();
        }
      continue;
    }
    // Sequence b as batch slot b of a [B, H, S_b, D] problem (the other slots are zeros and not run).
    spec::Shape sb = shape;
    sb.Sq = Sq;
    sb.Sk = Sk;
    std::vector<interp::HostTensor> host;
    host.push_back(interp::HostTensor::contiguous(dt, {B, Hq, Sq, D}, "Q", 0.0));
    host.push_back(interp::HostTensor::contiguous(dt, {B, Hkv, Sk, D}, "K", 0.0));
    host.push_back(interp::HostTensor::contiguous(dt, {B, Hkv, Sk, Dv}, "V", 0.0));
    host.push_back(interp::HostTensor::contiguous(dt, {B, Hq, Sq, Dv}, "O", nan));
    if (s.lse)
      host.push_back(interp::HostTensor::contiguous(interp::DType::F32, {B, Hq, Sq}, "LSE", nan));
    for (int64_t i = 0; i < Sq; ++i)
      for (int64_t h = 0; h < Hq; ++h)
        std::copy_n(&in.Q.data[((q0 + i) * Hq + h) * D], D, &host[0].data[((b * Hq + h) * Sq + i) * D]);
    for (int64_t j = 0; j < Sk; ++j)
      for (int64_t h = 0; h < Hkv; ++h) {
        std::copy_n(&in.K.data[((k0 + j) * Hkv + h) * D], D, &host[1].data[((b * Hkv + h) * Sk + j) * D]);
        std::copy_n(&in.V.data[((k0 + j) * Hkv + h) * Dv], Dv, &host[2].data[((b * Hkv + h) * Sk + j) * Dv]);
      }
    // Captures at this sequence's sizes: the leading elements of the tables sized for the max lengths
    // (a size expression growing with Sq / Sk indexes the same element in both).
    for (size_t slot = 0; slot < s.captures.size(); ++slot) {
      const reference::Tensor &full = in.captures[slot];
      const std::vector<int64_t> ext = spec::captureShape(s, slot, sb);
      interp::HostTensor t = interp::HostTensor::contiguous(interpDType(s.captures[slot].dtype), ext, s.captures[slot].name);
      const size_t rank = ext.size();
      for (size_t d = 0; d < rank; ++d)
        if (ext[d] > full.shape[d])
          throw DriverError("capture '" + s.captures[slot].name + "': dim " + std::to_string(d) + " is " +
                            std::to_string(ext[d]) + " at sequence " + std::to_string(b) + "'s sizes but " +
                            std::to_string(full.shape[d]) + " at the max lengths; packed specs need capture "
                            "sizes that grow with Sq and Sk");
      std::vector<int64_t> idx(rank, 0);
      for (size_t e = 0; e < t.data.size(); ++e) {
        int64_t src = 0;
        for (size_t d = 0; d < rank; ++d)
          src = src * full.shape[d] + idx[d];
        t.data[e] = full.data[src];
        for (size_t d = rank; d-- > 0;) {
          if (++idx[d] < ext[d])
            break;
          idx[d] = 0;
        }
      }
      host.push_back(std::move(t));
    }
    std::vector<interp::HostTensor *> args;
    for (auto &h : host)
      args.push_back(&h);
    interp::RunOptions options;
    options.onlyBatch = b;
    auto t0 = std::chrono::steady_clock::now();
    interp::runSlice(fn, args, options);
    ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    for (int64_t i = 0; i < Sq; ++i)
      for (int64_t h = 0; h < Hq; ++h) {
        std::copy_n(&host[3].data[((b * Hq + h) * Sq + i) * Dv], Dv, &O.data[((q0 + i) * Hq + h) * Dv]);
        if (s.lse)
          lse[h * seqs.totalQ() + q0 + i] = host[4].data[(b * Hq + h) * Sq + i];
      }
  }

  reference::PackedOutputs ref = reference::attentionPacked(s, shape, seqs, in);
  CheckResult r = compare(s, O, s.lse ? lse : std::vector<double>{}, ref.O, ref.LSE);
  r.shape = shape;
  r.seed = seed;
  r.interpMs = ms;
  return r;
}

} // namespace tilefuse::driver
