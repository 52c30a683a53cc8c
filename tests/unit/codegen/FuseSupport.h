// Fused programs straight from the real pipeline: lower a spec (Lowering.h) and run --tilefuse-fuse
// (compiler/include/tilefuse/compiler/Passes.h) on it, as the tuner does.
#pragma once

#include "CodegenTestSupport.h"

#include "tilefuse/spec/Spec.h"

#include <string>
#include <vector>

namespace tilefuse::codegen::test {

/// specs/<name>.json.
spec::Spec loadSpec(const std::string &name);
/// The names of every shipped spec (specs/*.json), sorted.
std::vector<std::string> shippedSpecs();
/// The spec lowered at `shape` with BLOCK_M = blockM and fused with BLOCK_N = blockN (REQUIREs one
/// fused kernel; the fusion diagnostics go to the test log).
Program fuseSpec(const spec::Spec &s, const spec::Shape &shape, int blockM, int blockN);

} // namespace tilefuse::codegen::test
