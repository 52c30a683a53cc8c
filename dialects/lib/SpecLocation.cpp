//===- SpecLocation.cpp - where an op came from in a spec file -------------===//
#include "blk/SpecLocation.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"

using namespace mlir;

namespace tilefuse::blk {
namespace {

constexpr llvm::StringLiteral kFieldKey = "spec_field";
constexpr llvm::StringLiteral kColumnKey = "expr_column";

/// The position a `fused<{spec_field, expr_column}>[file:line:col]` location holds.
std::optional<SpecPosition> decode(FusedLoc fused) {
  auto meta = dyn_cast_or_null<DictionaryAttr>(fused.getMetadata());
  if (!meta)
    return std::nullopt;
  auto field = meta.getAs<StringAttr>(kFieldKey);
  if (!field)
    return std::nullopt;
  SpecPosition p;
  p.field = field.str();
  if (auto col = meta.getAs<IntegerAttr>(kColumnKey))
    p.exprColumn = static_cast<unsigned>(col.getInt());
  for (Location inner : fused.getLocations())
    if (auto flc = dyn_cast<FileLineColLoc>(inner)) {
      p.file = flc.getFilename().str();
      p.line = flc.getLine();
      p.column = flc.getColumn();
      break;
    }
  return p;
}

} // namespace

Location getSpecLoc(MLIRContext *context, const SpecPosition &p) {
  Builder b(context);
  Location file = FileLineColLoc::get(context, p.file.empty() ? "<spec>" : p.file, p.line, p.column);
  NamedAttribute entries[] = {b.getNamedAttr(kColumnKey, b.getI64IntegerAttr(p.exprColumn)),
                              b.getNamedAttr(kFieldKey, b.getStringAttr(p.field))};
  return FusedLoc::get({file}, b.getDictionaryAttr(entries), context);
}

std::optional<SpecPosition> findSpecPosition(Location loc, std::optional<SpecPosition> *usedAt) {
  if (auto fused = dyn_cast<FusedLoc>(loc)) {
    if (auto p = decode(fused))
      return p;
    for (Location inner : fused.getLocations())
      if (auto p = findSpecPosition(inner, usedAt))
        return p;
    return std::nullopt;
  }
  if (auto name = dyn_cast<NameLoc>(loc))
    return findSpecPosition(name.getChildLoc(), usedAt);
  if (auto call = dyn_cast<CallSiteLoc>(loc)) {
    auto p = findSpecPosition(call.getCallee());
    if (p && usedAt)
      *usedAt = findSpecPosition(call.getCaller());
    return p ? p : findSpecPosition(call.getCaller(), usedAt);
  }
  return std::nullopt;
}

std::string positionString(const SpecPosition &p) {
  std::string s = p.file.empty() ? "<spec>" : p.file;
  if (p.line > 0)
    s += ":" + std::to_string(p.line) + ":" + std::to_string(p.column);
  return s;
}

std::string specContext(Location loc) {
  std::optional<SpecPosition> used;
  std::optional<SpecPosition> p = findSpecPosition(loc, &used);
  if (!p)
    return "";
  std::string s = "field '" + p->field + "'";
  if (p->exprColumn > 0)
    s += ", column " + std::to_string(p->exprColumn);
  if (used) {
    s += ", used in field '" + used->field + "'";
    if (used->exprColumn > 0)
      s += " at column " + std::to_string(used->exprColumn);
  }
  return s;
}

} // namespace tilefuse::blk
