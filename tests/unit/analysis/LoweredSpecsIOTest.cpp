//===- LoweredSpecsIOTest.cpp - IO report of every lowered shipped spec ----===//
//
// The unfused program of every specs/*.json (compiler/lib/lowering) at the spec's default shape:
// S is written once as f32 and P once in the input dtype, O once, and the two matmuls are
// 2 * B * Hq * (64 * ceil(Sq / 64)) * Sk * (D + Dv) FLOPs (whole 64-row query tiles).
//
#include "../interp/TestSupport.h"

#include "tilefuse/analysis/IOReport.h"
#include "tilefuse/lowering/Lowering.h"
#include "tilefuse/spec/Spec.h"

#include <algorithm>
#include <filesystem>

using namespace tilefuse::analysis;
using tilefuse::test::sourcePath;
namespace spec = tilefuse::spec;

TEST_CASE("IO report of every shipped spec lowered to the unfused program", "[analysis]") {
  std::vector<std::string> files;
  for (const auto &e : std::filesystem::directory_iterator(sourcePath("specs")))
    if (e.path().extension() == ".json")
      files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() >= 8);
  for (const std::string &file : files) {
    spec::Spec s = spec::parseSpecFile(file);
    spec::Shape sh = spec::resolveShape(s);
    INFO(s.name);
    mlir::MLIRContext ctx;
    tilefuse::lowering::loadDialects(ctx);
    mlir::OwningOpRef<mlir::ModuleOp> module = mlir::ModuleOp::create(mlir::UnknownLoc::get(&ctx));
    mlir::func::FuncOp fn = tilefuse::lowering::lowerToUnfused(*module, s, sh);

    Dims dims{{"B", sh.B}, {"Hq", sh.Hq}, {"Hkv", sh.Hkv}, {"Sq", sh.Sq}, {"Sk", sh.Sk}};
    // Capture dims: whatever symbol the lowering gave each, its extent at this shape.
    const unsigned first = fn.getNumArguments() - s.captures.size();
    for (size_t c = 0; c < s.captures.size(); ++c) {
      auto tt = mlir::cast<tilefuse::blk::HbmTensorType>(fn.getArgumentTypes()[first + c]);
      std::vector<int64_t> extents = spec::captureShape(s, c, sh);
      unsigned dyn = 0;
      for (unsigned d = 0; d < tt.getRank(); ++d)
        if (tt.isDynamicDim(d))
          dims.emplace(tt.getDimNames()[dyn++].getValue().str(), extents[d]);
    }
    IOReport r = analyzeIO(fn, dims);
    const int64_t ioBytes = 2, nq = (sh.Sq + 63) / 64;
    int64_t sWrite = 0, pWrite = 0, oWrite = 0;
    for (const KernelIO &k : r.kernels) {
      if (k.name == "qk")
        sWrite = k.bytes.regToHbm;
      if (k.name == "softmax" || k.name == "weights") // "weights": normalizers "none" and "stick_breaking"
        pWrite = k.bytes.regToHbm;
      if (k.name == "pv")
        oWrite = k.bytes.regToHbm;
    }
    CHECK(sWrite == 4 * sh.B * sh.Hq * sh.Sq * sh.Sk);
    CHECK(pWrite ==
          ioBytes * sh.B * sh.Hq * sh.Sq * sh.Sk + (s.lse ? 4 * sh.B * sh.Hq * sh.Sq : 0));
    CHECK(oWrite == ioBytes * sh.B * sh.Hq * sh.Sq * sh.Dv);
    CHECK(r.flops.matmul == 2 * sh.B * sh.Hq * 64 * nq * sh.Sk * (sh.D + sh.Dv));
    CHECK(r.flops.nonMatmul() > 0);
  }
}
