//===- ChainFuzzer.cpp - fuzz target: spec -> lower -> fuse -> fp64 check -> CUDA ---===//
//
// Input: a spec file's text. The spec runs through the main job's chain at a small shape (B 1, at
// most 2 K/V heads, D = Dv = 16, Sq x Sk = 37 x 53, or 53 x 37 when the spec's Sq > Sk; the spec's
// own sizes when they are at most 64), with BLOCK_M = BLOCK_N = 16 so that the tile classification
// (docs/FUSION.md: empty, full and partial tiles, interval rules, run-time block masks) decides many
// small tiles. The oracle is differential:
//   - the fused program must agree with the unfused one: whenever the unfused program passes the
//     fp64 check against the naive reference (tilefuse/driver/Driver.h checkProgram), the fused one
//     must pass it too, on the same random inputs. A tile skipped or left unmasked by a wrong
//     interval bound fails here;
//   - lowering and fusion throw only SpecError and DriverError, code generation only
//     KernelBuildError (the sm80 and sm90 defaults at D = 64), with a message.
// About 10 inputs per second: run it longer than the others (tools/fuzz.sh).
//
//===----------------------------------------------------------------------------------------===//
#include "FuzzTarget.h"

#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/driver/BuildKernel.h"
#include "tilefuse/driver/Driver.h"
#include "tilefuse/interp/Interpreter.h"
#include "tilefuse/spec/Spec.h"
#include "tilefuse/spec/SpecError.h"

#include <algorithm>

using namespace tilefuse;

namespace {
constexpr std::string_view target = "chain";

std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", v);
  return buf;
}

std::string shapeText(const spec::Shape &s) {
  return "B" + std::to_string(s.B) + " Hq" + std::to_string(s.Hq) + " Hkv" + std::to_string(s.Hkv) + " Sq" +
         std::to_string(s.Sq) + " Sk" + std::to_string(s.Sk) + " D" + std::to_string(s.D);
}

// The fp64 check of one program; false when it could not run (a spec that reads outside a capture at
// this shape, say) or did not pass. A packed spec runs the batch `tilefuse run` checks it on.
bool checks(const driver::Loaded &loaded, const std::string &text, driver::CheckResult &result) {
  return fuzz::refusesCleanly<spec::SpecError, driver::DriverError, interp::InterpError, spec::PackedError>(
             target, "checkProgram", [&] {
               if (loaded.spec.layout != spec::Layout::Packed) {
                 result = driver::checkProgram(loaded, text, loaded.shape, 7);
                 return;
               }
               const spec::PackedSeqs seqs = driver::defaultCheckSeqs();
               spec::Shape shape = loaded.shape;
               shape.B = seqs.batch();
               shape.Sq = std::max<int64_t>(seqs.maxLenQ(), 1);
               shape.Sk = std::max<int64_t>(seqs.maxLenK(), 1);
               result = driver::checkPackedProgram(loaded, text, shape, seqs, 7);
             }) &&
         result.passed();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  driver::Loaded loaded;
  loaded.blockM = loaded.blockN = 16;
  if (!fuzz::refusesCleanly<spec::SpecError>(target, "parse and resolve", [&] {
        loaded.spec = spec::parseSpecString(fuzz::asText(data, size), "fuzz.json");
        const spec::Shape own = spec::resolveShape(loaded.spec);
        spec::ShapeOverrides small;
        small.B = 1;
        small.Hkv = std::min<int64_t>(own.Hkv, 2);
        small.Hq = *small.Hkv * own.groupSize();
        small.D = small.Dv = 16;
        const bool longQ = own.Sq > own.Sk;
        small.Sq = own.Sq <= 64 ? own.Sq : (longQ ? 53 : 37);
        small.Sk = own.Sk <= 64 ? own.Sk : (longQ ? 37 : 53);
        loaded.shape = spec::resolveShape(loaded.spec, small);
      }))
    return 0;
  // Interpreter time grows with Hq: a GQA group above 8 is left to the other targets.
  if (loaded.shape.Hq > 16)
    return 0;

  std::string unfused;
  driver::FuseResult fused;
  if (!fuzz::refusesCleanly<spec::SpecError, driver::DriverError>(target, "lower and fuse", [&] {
        unfused = driver::unfusedIR(loaded, /*locations=*/true);
        fused = driver::fuse(loaded, unfused);
      }))
    return 0;

  driver::CheckResult reference, result;
  if (checks(loaded, unfused, reference) && !checks(loaded, fused.located, result))
    fuzz::fail(target, "the fused program disagrees with the unfused one at " + shapeText(loaded.shape) +
                           " (unfused rel " + sci(reference.relErrO) + ", fused rel " + sci(result.relErrO) + ", -inf rows " +
                           (result.lseMatchesInf ? "match" : "differ") + ", worst " + result.worstText() +
                           ")\nfused program:\n" + fused.ir);

  spec::Shape codegenShape = loaded.shape;
  codegenShape.D = codegenShape.Dv = 64;
  for (std::string_view arch : {"sm_80", "sm_90a"}) {
    fuzz::refusesCleanly<driver::KernelBuildError>(target, "buildKernel", [&] {
      const codegen::Schedule schedule = codegen::defaultSchedule(
          64, loaded.spec.dtype, arch, codegen::ScheduleHints::of(loaded.spec, codegenShape));
      const driver::BuiltKernel kernel = driver::buildKernel(loaded.spec, codegenShape, schedule);
      fuzz::require(!kernel.source.empty() && kernel.threadsPerBlock > 0, target, "an empty kernel");
    });
  }
  return 0;
}
