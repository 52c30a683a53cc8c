//===- Passes.cpp - registration of Tilefuse passes -----------------------===//
#include "tilefuse/compiler/Passes.h"

namespace tilefuse {

void registerPasses() {}

} // namespace tilefuse
