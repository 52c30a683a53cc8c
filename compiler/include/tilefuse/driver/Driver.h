//===- Driver.h - the compiler's stages behind the tilefuse CLI -------*- C++ -*-===//
//
// The stages of the main job, each a plain function over a Problem, so that the CLI (CLI11) stays
// apart from the MLIR-heavy code (see TOOLCHAIN.md on compile times). No MLIR type appears here.
//
//   load -> lower (unfused block program) -> fuse -> check (fp64 interpreter vs naive reference)
//        -> IO report -> emit CUDA -> tune / bench (GPU)
//
// Every function throws spec::SpecError for a bad spec or shape, and driver::DriverError for any
// other failure (an IR that fails the verifier, a pass that fails); what() says what and where.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Spec.h"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace tilefuse::driver {

class DriverError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// What a command works on: a spec file, size overrides, and the unfused BLOCK_M.
struct Problem {
  std::string specPath;
  spec::ShapeOverrides overrides;
  int64_t blockM = 64; ///< Query rows per program instance, > 0.
  int64_t blockN = 64; ///< K/V rows per tile after fusion, > 0.
};

/// A parsed spec and its resolved shape.
struct Loaded {
  spec::Spec spec;
  spec::Shape shape;
  int64_t blockM = 64, blockN = 64;
};

/// Parses the spec and resolves the shape. Throws spec::SpecError.
Loaded load(const Problem &problem);

/// The unfused block program (three kernels; S and P through HBM) as MLIR text.
std::string unfusedIR(const Loaded &loaded);

/// Writes `text` to `path` atomically: a temporary file in the same folder, then rename, so a
/// failure never leaves a partial file. Throws DriverError naming the path on an I/O error.
void writeFileAtomically(const std::string &path, const std::string &text);

} // namespace tilefuse::driver
