//===- SpecLocation.h - where an op came from in a spec file ---------*- C++ -*-===//
//
// The lowering gives every op it emits for a spec expression (score_mod, mask_mod, sink, a `let`)
// the place of the expression node it comes from, so that any diagnostic that prints an op's
// location (the interpreter, the fusion rules, the code generator, the verifier) names the spec:
//
//   loc(fused<{expr_column = 26 : i64, spec_field = "mask_mod"}>["modzero.json":6:38])
//
// The FileLineColLoc is the character in the JSON file; the metadata names the field (a JSON path)
// and the 1-based column inside the expression string. A node written in a `let` definition and
// inlined into another expression is a call site: callsite(<its place in let.NAME> at <the use>).
// Rewrites that merge ops fuse their locations; findSpecPosition looks through FusedLoc, NameLoc
// and CallSiteLoc.
//
//===----------------------------------------------------------------------------------------===//
#ifndef TILEFUSE_BLK_SPECLOCATION_H
#define TILEFUSE_BLK_SPECLOCATION_H

#include "mlir/IR/Location.h"

#include <optional>
#include <string>

namespace tilefuse::blk {

/// One place in a spec file. line / column are 1-based in the JSON text (0: unknown); exprColumn
/// is 1-based inside the field's expression string (0: the field as a whole).
struct SpecPosition {
  std::string file;
  unsigned line = 0, column = 0;
  std::string field; ///< JSON path: "mask_mod", "score_mod", "let.bucket", "sink".
  unsigned exprColumn = 0;
};

/// The location of `p` (see the file comment).
mlir::Location getSpecLoc(mlir::MLIRContext *context, const SpecPosition &p);

/// The spec position in `loc`: the first one found, depth-first, looking into fused locations,
/// names and call sites (the callee: for an inlined let, the place inside the definition).
/// `usedAt` receives the call site's own position when there is one (where the let is used).
std::optional<SpecPosition> findSpecPosition(mlir::Location loc, std::optional<SpecPosition> *usedAt = nullptr);

/// "modzero.json:6:38" (FILE alone when the line is unknown).
std::string positionString(const SpecPosition &p);

/// The field and column of the spec position in `loc`, for a message: "field 'mask_mod', column 26"
/// or "field 'let.bucket', column 14, used in field 'score_mod' at column 9"; "" when `loc` holds no
/// spec position.
std::string specContext(mlir::Location loc);

} // namespace tilefuse::blk

#endif // TILEFUSE_BLK_SPECLOCATION_H
