//===- Version.h - the Tilefuse version that cache keys carry --------*- C++ -*-===//
#pragma once

#include <string>

namespace tilefuse::tuner {

/// PROJECT_VERSION of the build (top-level CMakeLists.txt), e.g. "0.2.0". Part of every cache key:
/// a new version makes every cached kernel stale, since code generation may have changed.
std::string tilefuseVersion();

} // namespace tilefuse::tuner
