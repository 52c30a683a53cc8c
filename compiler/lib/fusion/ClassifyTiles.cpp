//===- ClassifyTiles.cpp - empty / partial / full tiles under a mask -------===//
#include "tilefuse/compiler/Passes.h"

namespace tilefuse {
#define GEN_PASS_DEF_CLASSIFYTILES
#include "tilefuse/compiler/Passes.h.inc"
} // namespace tilefuse

using namespace tilefuse;

namespace {
struct ClassifyTilesPass : tilefuse::impl::ClassifyTilesBase<ClassifyTilesPass> {
  void runOnOperation() override {}
};
} // namespace
