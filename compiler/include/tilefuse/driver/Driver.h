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

#include "tilefuse/spec/Packed.h"
#include "tilefuse/spec/Spec.h"

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace tilefuse::driver {

class DriverError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The largest BLOCK_M / BLOCK_N of lowering and fusion.
inline constexpr int64_t kMaxBlock = 1024;

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

/// The unfused block program (three kernels; S and P through HBM) as MLIR text. With locations,
/// every op's location is printed too (MLIR's debug-info form, `loc(#locN)` and the aliases at the
/// end), so that the program parsed back (fuse, checkProgram) still names the spec file, field and
/// expression column of each op in its diagnostics (blk/SpecLocation.h).
std::string unfusedIR(const Loaded &loaded, bool locations = false);

/// Result of the fusion pipeline on the unfused program.
struct FuseResult {
  std::string ir;          ///< The program after `--tilefuse-fuse` (MLIR text).
  std::string located;     ///< The same with its locations (for checkProgram; see unfusedIR).
  std::string diagnostics; ///< Remarks and warnings the rules emitted (why a rule did not apply).
  int kernels = 0;         ///< blk.kernel ops left (1 when everything fused).
  int hbmScratch = 0;      ///< blk.alloc ops left (0 when no intermediate goes through HBM).
  int untiled = 0;         ///< Kernel ops still on `?` tiles (FusionOutcome::untiled; 0 when done).
  /// One kernel, no HBM scratch, no untiled op (FusionOutcome::fullyFused of a pipeline that succeeded).
  bool fullyFused() const { return kernels == 1 && hbmScratch == 0 && untiled == 0; }
};

/// Runs the rule-based fusion pipeline (docs/FUSION.md) with BLOCK_N = loaded.blockN on the
/// program in `unfusedText`. A program the rules cannot fully fuse is returned partly fused (still
/// correct) with the reasons in `diagnostics`. Throws DriverError when the text does not parse or
/// the pipeline fails.
FuseResult fuse(const Loaded &loaded, const std::string &unfusedText);

/// The same pipeline on the block program in the file at `path` (`tilefuse fuse FILE.mlir`): any program
/// of the blk dialect, attention or not (RMSNorm + matmul, docs/FUSION.md), with BLOCK_N = blockN (> 0).
/// FuseResult::located is left empty. Throws DriverError naming the file when it cannot be read, does not
/// parse or verify (MLIR's errors go to stderr first), or the pipeline fails.
FuseResult fuseProgramFile(const std::string &path, int64_t blockN);

/// The IO / FLOP report (analysis/IOReport.h) of the program in `mlirText` at `shape`, as a text
/// table (json = false) or JSON. Throws DriverError when the analysis fails.
std::string ioReport(const Loaded &loaded, const std::string &mlirText, const spec::Shape &shape,
                     bool json);

/// HBM bytes (read + written) and FLOPs of the program at `shape` (for summaries).
struct IOTotals {
  double hbmBytes = 0, matmulFlops = 0, otherFlops = 0;
  bool upperBound = false; ///< data-dependent work counted at its most (analysis::IOReport::upperBound)
};
IOTotals ioTotals(const Loaded &loaded, const std::string &mlirText, const spec::Shape &shape);

/// Result of running a block program in the fp64 interpreter against the naive reference.
struct CheckResult {
  spec::Shape shape;     ///< The (small) shape it ran at.
  uint64_t seed = 0;     ///< Seed of the random inputs (reference::randomInputs).
  double maxAbsErrO = 0; ///< max |O_interp - O_ref|
  double relErrO = 0;    ///< maxAbsErrO / max |O_ref|
  double maxAbsErrLSE = 0; ///< max |LSE_interp - LSE_ref| over finite entries (0 without LSE)
  bool lseMatchesInf = true; ///< -inf LSE entries (fully masked rows) agree exactly
  double interpMs = 0;   ///< Wall time of the interpreter run, ms.
  double tolerance = 1e-12; ///< Relative tolerance the check uses.
  /// The element of O with the largest |O_interp - O_ref| (row-major in O's shape oShape: (B, Hq,
  /// Sq, Dv), or (total_q, Hq, Dv) when packed), and both values there; -1 when O is empty.
  int64_t worstIndex = -1;
  double worstValue = 0, worstReference = 0;
  std::vector<int64_t> oShape;
  /// "O[b=0, h=3, q=112, d=5] = 0.41 (reference 0.52)" for worstIndex; "" when there is none.
  std::string worstText() const;
  bool passed() const { return relErrO <= tolerance && maxAbsErrLSE <= tolerance * 100 && lseMatchesInf; }
};

/// GQA groups above this get a cheaper check shape (checkShapes).
inline constexpr int64_t kCheckMaxGroup = 32;

/// Requested sizes up to this are checked as they are.
inline constexpr int64_t kCheckMaxSeq = 256;

/// The shapes of the interpreter checks of `loaded`, the first one the main check. All have B = 1,
/// at most 2 K/V heads with the spec's GQA group (a group above kCheckMaxGroup: 1 K/V head and the
/// shorter sizes in brackets below), and the spec's D and Dv:
///   1. the requested Sq x Sk when both are <= kCheckMaxSeq; otherwise odd sizes (not multiples of
///      any block) with the same sign of Sq - Sk: 113 x 203 (37 x 67), 203 x 113 (67 x 37) or
///      157 x 157 (53 x 53);
///   2. Sq > Sk, 203 x 113 (67 x 37), unless the first already has Sq > Sk: rows whose keys end
///      early;
///   3. Sq = 1, 1 x 203 (1 x 67): decoding.
/// A shape equal to an earlier one is not repeated.
std::vector<spec::Shape> checkShapes(const Loaded &loaded);

/// Runs the program in `mlirText` (the spec's lowered or fused program) in the fp64 interpreter on
/// fresh random inputs of `shape` and compares O and LSE with reference::attention.
/// Throws DriverError when the text does not parse or verify, or the interpreter fails.
CheckResult checkProgram(const Loaded &loaded, const std::string &mlirText,
                         const spec::Shape &shape, uint64_t seed);

/// checkProgram for a packed spec (spec/Packed.h): the program (the batched one: packed kernels share
/// it) runs once per sequence b in the interpreter, on that sequence's rows at Sq = Sq_b, Sk = Sk_b with
/// only batch b's program instances (interp::RunOptions), and O [total_q, Hq, Dv] / LSE [Hq, total_q]
/// are compared with reference::attentionPacked. `shape` gives B (== seqs.batch()), heads and head
/// dims; its Sq, Sk are replaced by the max lengths. Throws DriverError as checkProgram does.
CheckResult checkPackedProgram(const Loaded &loaded, const std::string &mlirText, const spec::Shape &shape,
                               const spec::PackedSeqs &seqs, uint64_t seed);

/// The packed batch `tilefuse run` checks a packed spec on when none is given: lengths
/// {1, 63, 64, 65, 130} for both Q and K/V (tile edges and a sequence of one token).
spec::PackedSeqs defaultCheckSeqs();

/// Writes `text` to `path` atomically: a temporary file in the same folder, then rename, so a
/// failure never leaves a partial file. Throws DriverError naming the path on an I/O error.
void writeFileAtomically(const std::string &path, const std::string &text);

} // namespace tilefuse::driver
