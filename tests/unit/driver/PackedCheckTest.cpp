// Packed variable-length sequences in the fp64 interpreter (driver::checkPackedProgram): the unfused and
// the fused block program of each specs/varlen spec, run one sequence at a time, against the naive packed
// reference (reference::attentionPacked) on fresh random inputs, at lengths on both sides of the tile
// edges (1, 63, 64, 65) and one long sequence (4097); plus Sq_b != Sk_b (bottom-right causal per sequence)
// and a check that the comparison can fail.
#include "tilefuse/driver/Driver.h"

#include <catch2/catch.hpp>

#include <random>

#ifndef TILEFUSE_SPECS_DIR
#error "TILEFUSE_SPECS_DIR must be defined by tests/unit/driver/CMakeLists.txt"
#endif

using namespace tilefuse;

namespace {

driver::Loaded loadVarlen(const std::string &name, int64_t Hq, int64_t Hkv, int64_t D) {
  driver::Problem p;
  p.specPath = std::string(TILEFUSE_SPECS_DIR) + "/varlen/" + name;
  p.overrides.Hq = Hq;
  p.overrides.Hkv = Hkv;
  p.overrides.D = D;
  return driver::load(p);
}

uint64_t freshSeed() { return std::random_device{}() | 1; }

/// Unfused and fused programs of `loaded`, each checked on `seqs`; fails with the numbers on a mismatch.
void checkBoth(const driver::Loaded &loaded, const spec::PackedSeqs &seqs) {
  const std::string unfused = driver::unfusedIR(loaded);
  const driver::FuseResult fused = driver::fuse(loaded, unfused);
  REQUIRE(fused.kernels == 1);
  const uint64_t seed = freshSeed();
  for (const std::string *text : {&unfused, &fused.ir}) {
    const driver::CheckResult r = driver::checkPackedProgram(loaded, *text, loaded.shape, seqs, seed);
    INFO("spec " << loaded.spec.name << (text == &unfused ? " unfused" : " fused") << " seed " << seed
                 << ": rel err O " << r.relErrO << ", max |dLSE| " << r.maxAbsErrLSE);
    CHECK(r.passed());
    CHECK(r.shape.B == seqs.batch());
    CHECK(r.shape.Sq == seqs.maxLenQ());
  }
}

} // namespace

TEST_CASE("packed causal: lengths 1 63 64 65 4097 match the packed reference, fused and unfused", "[driver][varlen]") {
  const driver::Loaded loaded = loadVarlen("causal.json", 1, 1, 16);
  checkBoth(loaded, spec::makePackedSeqs(spec::cuFromLengths("lengths", {1, 63, 64, 65, 4097})));
}

TEST_CASE("packed sliding window (GQA) and ALiBi with a capture at tile-edge lengths", "[driver][varlen]") {
  const spec::PackedSeqs seqs = spec::makePackedSeqs(spec::cuFromLengths("lengths", {65, 1, 64, 63, 300}));
  checkBoth(loadVarlen("sliding_window.json", 4, 1, 32), seqs);
  checkBoth(loadVarlen("alibi.json", 2, 2, 16), seqs);
}

TEST_CASE("packed causal with Sq_b != Sk_b is bottom-right aligned per sequence, empty sequences included",
          "[driver][varlen]") {
  const spec::PackedSeqs seqs =
      spec::makePackedSeqs(spec::cuFromLengths("q", {1, 63, 0, 65, 7}), spec::cuFromLengths("k", {64, 65, 3, 130, 0}));
  checkBoth(loadVarlen("causal.json", 2, 2, 16), seqs);
}

TEST_CASE("the packed check fails for a program of another variant", "[driver][varlen]") {
  // The non-causal program checked against the causal spec's reference must not pass.
  const driver::Loaded causal = loadVarlen("causal.json", 1, 1, 16);
  driver::Loaded open = causal;
  open.spec.maskMod.reset();
  const std::string unfusedOpen = driver::unfusedIR(open);
  const spec::PackedSeqs seqs = spec::makePackedSeqs(spec::cuFromLengths("lengths", {63, 65}));
  const driver::CheckResult r = driver::checkPackedProgram(causal, unfusedOpen, causal.shape, seqs, freshSeed());
  CHECK_FALSE(r.passed());
}
