//===- Version.cpp - PROJECT_VERSION, recorded at build time --------------===//
#include "tilefuse/tuner/Version.h"

#ifndef TILEFUSE_VERSION
#error "TILEFUSE_VERSION must be defined by tuner/CMakeLists.txt"
#endif

namespace tilefuse::tuner {

std::string tilefuseVersion() { return TILEFUSE_VERSION; }

} // namespace tilefuse::tuner
