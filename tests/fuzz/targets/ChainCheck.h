//===- ChainCheck.h - the chain fuzz targets' oracle: spec -> lower -> fuse -> fp64 check -> CUDA ---*- C++ -*-===//
//
// checkChain runs a spec through the main job's chain at a small shape (B 1, at most 2 K/V heads,
// D = Dv = 16, Sq x Sk = 37 x 53, or 53 x 37 when the spec's Sq > Sk; the spec's own sizes when they are
// at most 64), with BLOCK_M = BLOCK_N = 16 so that the tile classification (docs/FUSION.md: empty, full
// and partial tiles, interval rules, run-time block masks) decides many small tiles. The oracle is
// differential:
//   - the fused program must agree with the unfused one: whenever the unfused program passes the fp64
//     check against the naive reference (tilefuse/driver/Driver.h checkProgram), the fused one must pass
//     it too, on the same random inputs. A tile skipped or left unmasked by a wrong interval bound fails
//     here;
//   - parsing throws only SpecError, lowering and fusion only SpecError and DriverError, code generation
//     (the sm80 and sm90 defaults at D = 64) only KernelBuildError, each with a message.
// Used by ChainFuzzer.cpp (a whole spec) and MaskFuzzer.cpp (a mask_mod and score_mod in a fixed spec).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "FuzzTarget.h"

#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/driver/BuildKernel.h"
#include "tilefuse/driver/Driver.h"
#include "tilefuse/interp/Interpreter.h"
#include "tilefuse/spec/Spec.h"
#include "tilefuse/spec/SpecError.h"

#include <algorithm>

namespace tilefuse::fuzz::chain {

inline std::string sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3e", v);
  return buf;
}

inline std::string shapeText(const spec::Shape &s) {
  // snprintf, not "B" + std::to_string(...): GCC 12 warns falsely on that (-Wrestrict, its bug 105651).
  char buf[160];
  std::snprintf(buf, sizeof buf, "B%lld Hq%lld Hkv%lld Sq%lld Sk%lld D%lld", static_cast<long long>(s.B),
                static_cast<long long>(s.Hq), static_cast<long long>(s.Hkv), static_cast<long long>(s.Sq),
                static_cast<long long>(s.Sk), static_cast<long long>(s.D));
  return buf;
}

// The fp64 check of one program; false when it could not run (a spec that reads outside a capture at
// this shape, say) or did not pass. A packed spec runs the batch `tilefuse run` checks it on.
inline bool checks(std::string_view target, const driver::Loaded &loaded, const std::string &text,
                   driver::CheckResult &result) {
  return refusesCleanly<spec::SpecError, driver::DriverError, interp::InterpError, spec::PackedError>(
             target, "checkProgram", [&] {
               // checkPackedProgram takes B, Sq and Sk from the sequences.
               result = loaded.spec.layout == spec::Layout::Packed
                            ? driver::checkPackedProgram(loaded, text, loaded.shape, driver::defaultCheckSeqs(), 7)
                            : driver::checkProgram(loaded, text, loaded.shape, 7);
             }) &&
         result.passed();
}

/// Runs the chain on the spec in `specText` (file name "fuzz.json"), with code generation when
/// `generate` (it takes about 60% of the time); aborts, naming `target`, when a promise above is broken.
inline void checkChain(std::string_view target, std::string_view specText, bool generate = true) {
  driver::Loaded loaded;
  loaded.blockM = loaded.blockN = 16;
  if (!refusesCleanly<spec::SpecError>(target, "parse and resolve", [&] {
        loaded.spec = spec::parseSpecString(specText, "fuzz.json");
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
    return;
  // Interpreter time grows with Hq: more than 16 query heads (a GQA group above 8 with 2 K/V heads,
  // above 16 with 1) is left to the other targets.
  if (loaded.shape.Hq > 16)
    return;

  std::string unfused;
  driver::FuseResult fused;
  if (!refusesCleanly<spec::SpecError, driver::DriverError>(target, "lower and fuse", [&] {
        unfused = driver::unfusedIR(loaded, /*locations=*/true);
        fused = driver::fuse(loaded, unfused);
      }))
    return;

  driver::CheckResult reference, result;
  if (checks(target, loaded, unfused, reference) && !checks(target, loaded, fused.located, result))
    fail(target, "the fused program disagrees with the unfused one at " + shapeText(loaded.shape) + " (unfused rel " +
                     sci(reference.relErrO) + ", fused rel " + sci(result.relErrO) + ", -inf rows " +
                     (result.lseMatchesInf ? "match" : "differ") + ", worst " + result.worstText() +
                     ")\nfused program:\n" + fused.ir);

  if (!generate)
    return;
  spec::Shape codegenShape = loaded.shape;
  codegenShape.D = codegenShape.Dv = 64;
  for (std::string_view arch : {"sm_80", "sm_90a"}) {
    refusesCleanly<driver::KernelBuildError>(target, "buildKernel", [&] {
      const codegen::Schedule schedule = codegen::defaultSchedule(
          64, loaded.spec.dtype, arch, codegen::ScheduleHints::of(loaded.spec, codegenShape));
      const driver::BuiltKernel kernel = driver::buildKernel(loaded.spec, codegenShape, schedule);
      require(!kernel.source.empty() && kernel.threadsPerBlock > 0, target, "an empty kernel");
    });
  }
}

} // namespace tilefuse::fuzz::chain
