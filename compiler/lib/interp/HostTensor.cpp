//===- HostTensor.cpp - fp64 host tensors ----------------------------------===//
#include "tilefuse/interp/HostTensor.h"
#include "tilefuse/interp/Interpreter.h"

#include "mlir/IR/BuiltinTypes.h"

#include <algorithm>

namespace tilefuse::interp {

std::string_view dtypeName(DType t) {
  switch (t) {
  case DType::BF16: return "bf16";
  case DType::F16: return "f16";
  case DType::F32: return "f32";
  case DType::F64: return "f64";
  case DType::I1: return "i1";
  case DType::I8: return "i8";
  case DType::I16: return "i16";
  case DType::I32: return "i32";
  case DType::I64: return "i64";
  }
  return "?";
}

int64_t dtypeBytes(DType t) {
  switch (t) {
  case DType::I1:
  case DType::I8: return 1;
  case DType::BF16:
  case DType::F16:
  case DType::I16: return 2;
  case DType::F32:
  case DType::I32: return 4;
  case DType::F64:
  case DType::I64: return 8;
  }
  return 0;
}

DType dtypeOf(mlir::Type type) {
  if (type.isBF16()) return DType::BF16;
  if (type.isF16()) return DType::F16;
  if (type.isF32()) return DType::F32;
  if (type.isF64()) return DType::F64;
  if (type.isSignlessInteger(1)) return DType::I1;
  if (type.isSignlessInteger(8)) return DType::I8;
  if (type.isSignlessInteger(16)) return DType::I16;
  if (type.isSignlessInteger(32)) return DType::I32;
  if (type.isSignlessInteger(64)) return DType::I64;
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  throw InterpError("unsupported tensor element type " + s);
}

HostTensor HostTensor::contiguous(DType dtype, std::vector<int64_t> shape, std::string name,
                                  double fill) {
  HostTensor t;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.strides.assign(t.shape.size(), 1);
  for (int64_t k = t.rank() - 2; k >= 0; --k)
    t.strides[k] = t.strides[k + 1] * t.shape[k + 1];
  t.data.assign(static_cast<size_t>(t.numel()), fill);
  t.name = std::move(name);
  return t;
}

int64_t HostTensor::numel() const {
  int64_t n = 1;
  for (int64_t e : shape)
    n *= e;
  return n;
}

int64_t HostTensor::position(std::span<const int64_t> idx) const {
  int64_t p = offset;
  for (size_t k = 0; k < idx.size(); ++k)
    p += idx[k] * strides[k];
  return p;
}

double &HostTensor::at(std::initializer_list<int64_t> idx) {
  return data[position(std::span<const int64_t>(idx.begin(), idx.size()))];
}

double HostTensor::at(std::initializer_list<int64_t> idx) const {
  return data[position(std::span<const int64_t>(idx.begin(), idx.size()))];
}

std::string HostTensor::describe() const {
  std::string s = name.empty() ? "<unnamed>" : name;
  s += " [";
  for (size_t k = 0; k < shape.size(); ++k)
    s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + "] " + std::string(dtypeName(dtype));
}

void HostTensor::validate() const {
  auto bad = [&](const std::string &why) {
    throw InterpError("tensor " + describe() + ": " + why);
  };
  if (shape.empty())
    bad("rank 0 is not supported");
  if (strides.size() != shape.size())
    bad("has " + std::to_string(strides.size()) + " strides for rank " +
        std::to_string(shape.size()));
  if (strides.back() != 1)
    bad("the last stride must be 1, got " + std::to_string(strides.back()));
  int64_t lo = offset, hi = offset;
  for (size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] < 0)
      bad("negative extent in dim " + std::to_string(k));
    if (shape[k] == 0)
      return; // no elements, nothing to reach
    int64_t span = (shape[k] - 1) * strides[k];
    (span < 0 ? lo : hi) += span;
  }
  if (lo < 0 || hi >= static_cast<int64_t>(data.size()))
    bad("elements reach positions [" + std::to_string(lo) + ", " + std::to_string(hi) +
        "] but data holds " + std::to_string(data.size()));
}

} // namespace tilefuse::interp
