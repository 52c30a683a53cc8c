//===- HostTensor.h - fp64 host tensors for the reference interpreter -*- C++ -*-===//
//
// The tensors the reference interpreter (Interpreter.h) reads and writes. Every element is held as
// an fp64 `double`, whatever the element type the tag names: the tag only says which
// `!blk.tensor<..., T>` the tensor may be bound to. Integer data (i32, i64 indices) is exact up to
// 2^53 in magnitude.
//
//===----------------------------------------------------------------------------------------===//
#ifndef TILEFUSE_INTERP_HOSTTENSOR_H
#define TILEFUSE_INTERP_HOSTTENSOR_H

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mlir {
class Type;
} // namespace mlir

namespace tilefuse::interp {

/// Element type tag of a tensor: must equal the element type of the `!blk.tensor` it is bound to.
enum class DType : uint8_t { BF16, F16, F32, F64, I1, I8, I16, I32, I64 };

/// "bf16", "f16", "f32", "f64", "i1", "i8", "i16", "i32", "i64" (the MLIR spelling).
std::string_view dtypeName(DType t);

/// Bytes one element occupies on the device: 2 for bf16 / f16 / i16, 4 for f32 / i32, 8 for
/// f64 / i64, 1 for i8 and i1.
int64_t dtypeBytes(DType t);

/// The tag for an MLIR element type (bf16, f16, f32, f64, i1, i8, i16, i32, i64). Throws
/// InterpError for any other type.
DType dtypeOf(mlir::Type type);

/// A strided tensor of fp64 values.
///
/// Element [i0, ..., i{r-1}] lives at data[offset + sum_k ik * strides[k]]. Strides count
/// elements, not bytes; the last stride must be 1 (the last dim is contiguous, as the blk dialect
/// requires); the others may be anything, including 0 (a broadcast view) or negative, as long as
/// every element falls inside `data`. A rank-0 tensor is not supported.
struct HostTensor {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;   ///< Extent of each dim, elements; all >= 0.
  std::vector<int64_t> strides; ///< Elements; strides.size() == shape.size(), strides.back() == 1.
  int64_t offset = 0;           ///< Position in `data` of element [0, ..., 0].
  std::vector<double> data;     ///< Storage.
  std::string name;             ///< Optional, for error messages ("Q", "slopes").

  /// A row-major contiguous tensor with every element equal to `fill`.
  static HostTensor contiguous(DType dtype, std::vector<int64_t> shape, std::string name = {},
                               double fill = 0.0);

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  /// Product of the extents.
  int64_t numel() const;
  /// Position in `data` of an element; idx.size() == rank(). No bounds check.
  int64_t position(std::span<const int64_t> idx) const;
  double &at(std::initializer_list<int64_t> idx);
  double at(std::initializer_list<int64_t> idx) const;

  /// Throws InterpError (naming `name`) unless the strides have the rank of the shape, the last
  /// stride is 1, extents are >= 0 and every element's position lies inside `data`.
  void validate() const;
  /// "Q" or "<unnamed>", then the shape and dtype: "Q [2, 4, 100, 128] bf16".
  std::string describe() const;
};

} // namespace tilefuse::interp

#endif // TILEFUSE_INTERP_HOSTTENSOR_H
