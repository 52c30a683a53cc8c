//===- BlkTypes.td - blk tile and tensor types -------------*- tablegen -*-===//
#ifndef BLK_TYPES_TD
#define BLK_TYPES_TD

include "blk/BlkDialect.td"
include "blk/BlkAttrs.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

class Blk_Type<string name, string typeMnemonic, list<Trait> traits = []>
    : TypeDef<Blk_Dialect, name, traits> {
  let mnemonic = typeMnemonic;
}

def Blk_TileType : Blk_Type<"Tile", "tile", [ShapedTypeInterface]> {
  let summary = "a tile of elements in one memory tier";
  let description = [{
    A rank-1 or rank-2 tile: its shape, element type and memory space.

    ```mlir
    !blk.tile<64x128xbf16, smem>   // a Q tile staged in shared memory
    !blk.tile<64x64xf32, reg>      // an S accumulator in registers
    !blk.tile<64xf32, reg>         // a row vector (running max m, running sum l)
    !blk.tile<64x?xf32, reg>       // a whole row block: ? is the run-time extent
    ```

    Layout (swizzle, which thread owns which element) is not part of the type at this
    level; code generation decides it.
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "shape; ShapedType::kDynamic for ?">:$shape,
    "::mlir::Type":$elementType,
    "::tilefuse::blk::MemorySpace":$memorySpace);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    using ::mlir::ShapedType::Trait<TileType>::clone;
    using ::mlir::ShapedType::Trait<TileType>::getElementTypeBitWidth;
    using ::mlir::ShapedType::Trait<TileType>::getRank;
    using ::mlir::ShapedType::Trait<TileType>::getNumElements;
    using ::mlir::ShapedType::Trait<TileType>::isDynamicDim;
    using ::mlir::ShapedType::Trait<TileType>::hasStaticShape;
    using ::mlir::ShapedType::Trait<TileType>::getNumDynamicDims;
    using ::mlir::ShapedType::Trait<TileType>::getDimSize;
    using ::mlir::ShapedType::Trait<TileType>::getDynamicDimIndex;
    bool hasRank() const { return true; }
    TileType cloneWith(std::optional<::llvm::ArrayRef<int64_t>> shape,
                       ::mlir::Type elementType) const;
    /// The same tile in another memory space.
    TileType withMemorySpace(MemorySpace space) const;
    /// The same tile with another shape (same element type and space).
    TileType withShape(::llvm::ArrayRef<int64_t> shape) const;
  }];
}

def Blk_TensorType : Blk_Type<"HbmTensor", "tensor"> {
  let summary = "a tensor in HBM with symbolic dims";
  let description = [{
    A tensor in device global memory. Each dim is a symbolic name bound at run time or
    an integer. Strides are run-time values; the last dim is contiguous (stride 1) and
    every other stride may be anything (so slices and transposed views are allowed).

    ```mlir
    !blk.tensor<[B, Hq, Sq, 128], bf16>   // Q, layout (batch, head, seq, head_dim)
    !blk.tensor<[B, Hq, Sq, Sk], f32>     // the S scratch of unfused attention
    !blk.tensor<[Hq], f32>                // a captured per-head table (ALiBi slopes)
    ```
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "static extent, or ShapedType::kDynamic">:$shape,
    ArrayRefParameter<"::mlir::StringAttr", "symbolic name of each dynamic dim">:$dimNames,
    "::mlir::Type":$elementType);
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRank() const { return getShape().size(); }
    bool isDynamicDim(unsigned i) const { return ::mlir::ShapedType::isDynamic(getShape()[i]); }
    unsigned getNumDynamicDims() const;
    /// Name of dim i: its symbol, or its integer extent as text.
    std::string getDimName(unsigned i) const;
  }];
}

def Blk_Tile : Type<CPred<"::llvm::isa<::tilefuse::blk::TileType>($_self)">,
                    "blk tile", "::tilefuse::blk::TileType">;
def Blk_Tensor : Type<CPred<"::llvm::isa<::tilefuse::blk::HbmTensorType>($_self)">,
                      "blk HBM tensor", "::tilefuse::blk::HbmTensorType">;

#endif // BLK_TYPES_TD
