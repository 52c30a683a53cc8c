//===- BlkTypes.cpp - !blk.tile and !blk.tensor ---------------------------===//
#include "blk/BlkDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace tilefuse::blk;

#define GET_TYPEDEF_CLASSES
#include "blk/BlkTypes.cpp.inc"

//===----------------------------------------------------------------------===//
// TileType: !blk.tile<64x128xbf16, smem>
//===----------------------------------------------------------------------===//

Type TileType::parse(AsmParser &parser) {
  SmallVector<int64_t> shape;
  Type elementType;
  StringRef spaceName;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/true, /*withTrailingX=*/true) ||
      parser.parseType(elementType) || parser.parseComma())
    return {};
  SMLoc spaceLoc = parser.getCurrentLocation();
  if (parser.parseKeyword(&spaceName) || parser.parseGreater())
    return {};
  std::optional<MemorySpace> space = symbolizeMemorySpace(spaceName);
  if (!space) {
    parser.emitError(spaceLoc) << "unknown memory space '" << spaceName
                               << "': expected hbm, smem or reg";
    return {};
  }
  return parser.getChecked<TileType>(parser.getContext(), shape, elementType, *space);
}

void TileType::print(AsmPrinter &printer) const {
  printer << "<";
  for (int64_t d : getShape()) {
    if (ShapedType::isDynamic(d))
      printer << "?";
    else
      printer << d;
    printer << "x";
  }
  printer << getElementType() << ", " << stringifyMemorySpace(getMemorySpace()) << ">";
}

LogicalResult TileType::verify(function_ref<InFlightDiagnostic()> emitError,
                               ArrayRef<int64_t> shape, Type elementType,
                               MemorySpace memorySpace) {
  if (shape.empty() || shape.size() > 2)
    return emitError() << "tile rank must be 1 or 2, got " << shape.size();
  for (int64_t d : shape)
    if (!ShapedType::isDynamic(d) && d <= 0)
      return emitError() << "tile dims must be positive or ?, got " << d;
  if (!elementType.isIntOrIndexOrFloat())
    return emitError() << "tile element type must be an integer or float, got " << elementType;
  return success();
}

TileType TileType::cloneWith(std::optional<ArrayRef<int64_t>> shape, Type elementType) const {
  return TileType::get(getContext(), shape ? *shape : getShape(), elementType,
                       getMemorySpace());
}

TileType TileType::withMemorySpace(MemorySpace space) const {
  return TileType::get(getContext(), getShape(), getElementType(), space);
}

TileType TileType::withShape(ArrayRef<int64_t> shape) const {
  return TileType::get(getContext(), shape, getElementType(), getMemorySpace());
}

//===----------------------------------------------------------------------===//
// HbmTensorType: !blk.tensor<[B, Hq, Sq, 128], bf16>
//===----------------------------------------------------------------------===//

Type HbmTensorType::parse(AsmParser &parser) {
  SmallVector<int64_t> shape;
  SmallVector<StringAttr> names;
  Type elementType;
  auto parseDim = [&]() -> ParseResult {
    int64_t extent;
    OptionalParseResult isInt = parser.parseOptionalInteger(extent);
    if (isInt.has_value()) {
      if (failed(*isInt))
        return failure();
      shape.push_back(extent);
      names.push_back(StringAttr::get(parser.getContext(), ""));
      return success();
    }
    StringRef name;
    if (parser.parseKeyword(&name))
      return failure();
    shape.push_back(ShapedType::kDynamic);
    names.push_back(StringAttr::get(parser.getContext(), name));
    return success();
  };
  if (parser.parseLess() ||
      parser.parseCommaSeparatedList(AsmParser::Delimiter::Square, parseDim) ||
      parser.parseComma() || parser.parseType(elementType) || parser.parseGreater())
    return {};
  return parser.getChecked<HbmTensorType>(parser.getContext(), shape, names, elementType);
}

void HbmTensorType::print(AsmPrinter &printer) const {
  printer << "<[";
  for (unsigned i = 0; i < getShape().size(); ++i) {
    if (i)
      printer << ", ";
    printer << getDimName(i);
  }
  printer << "], " << getElementType() << ">";
}

LogicalResult HbmTensorType::verify(function_ref<InFlightDiagnostic()> emitError,
                                 ArrayRef<int64_t> shape, ArrayRef<StringAttr> dimNames,
                                 Type elementType) {
  if (shape.empty())
    return emitError() << "an HBM tensor needs at least one dim";
  if (shape.size() != dimNames.size())
    return emitError() << "tensor has " << shape.size() << " dims but " << dimNames.size()
                       << " dim names";
  for (unsigned i = 0; i < shape.size(); ++i) {
    bool dynamic = ShapedType::isDynamic(shape[i]);
    if (dynamic != !dimNames[i].getValue().empty())
      return emitError() << "dim " << i << " must be either a symbol or an integer";
    if (!dynamic && shape[i] <= 0)
      return emitError() << "static tensor dims must be positive, got " << shape[i];
  }
  if (!elementType.isIntOrFloat())
    return emitError() << "tensor element type must be an integer or float, got " << elementType;
  return success();
}

unsigned HbmTensorType::getNumDynamicDims() const {
  return llvm::count_if(getShape(), ShapedType::isDynamic);
}

std::string HbmTensorType::getDimName(unsigned i) const {
  if (isDynamicDim(i))
    return getDimNames()[i].getValue().str();
  return std::to_string(getShape()[i]);
}

void BlkDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "blk/BlkTypes.cpp.inc"
      >();
}
