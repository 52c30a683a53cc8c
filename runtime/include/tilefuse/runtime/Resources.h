// RAII owners for driver objects: device buffers and loaded modules (move-only).
#pragma once

#include <utility>
#include <vector>

#include "tilefuse/runtime/CudaDriver.h"

namespace tilefuse::runtime {

/// `bytes` of device memory (cuMemAlloc), freed on destruction. Needs a current context.
class DeviceBuffer {
public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes) : ptr_(bytes ? memAlloc(bytes) : 0), bytes_(bytes) {}
  DeviceBuffer(DeviceBuffer &&o) noexcept : ptr_(std::exchange(o.ptr_, 0)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer &operator=(DeviceBuffer &&o) noexcept {
    std::swap(ptr_, o.ptr_);
    std::swap(bytes_, o.bytes_);
    return *this;
  }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
  ~DeviceBuffer() { memFree(ptr_); }

  CUdeviceptr get() const { return ptr_; }
  std::size_t bytes() const { return bytes_; }
  /// Copies all of `host` in (its byte size must not exceed bytes()).
  template <typename T> void upload(const std::vector<T> &host) { memcpyHtoD(ptr_, host.data(), host.size() * sizeof(T)); }
  /// Copies bytes() out as elements of T.
  template <typename T> std::vector<T> download() const {
    std::vector<T> out(bytes_ / sizeof(T));
    memcpyDtoH(out.data(), ptr_, out.size() * sizeof(T));
    return out;
  }
  /// Fills every byte with `value` (0xFF: NaN in bf16, fp16 and f32).
  void fill(unsigned char value) { memsetD8(ptr_, value, bytes_); }

private:
  CUdeviceptr ptr_ = 0;
  std::size_t bytes_ = 0;
};

/// `bytes` of device memory filled with zeros, the fill complete (cuCtxSynchronize) before it returns, so a
/// kernel on any stream, blocking or not, reads zeros. For the counter of a dynamic tile scheduler
/// (codegen::ParamSource::TileCounter: 8 bytes), allocated once per launcher and stream. Needs a current
/// context; throws CudaError when the allocation, the fill or the synchronization fails.
inline DeviceBuffer zeroedDeviceBuffer(std::size_t bytes) {
  DeviceBuffer b(bytes);
  b.fill(0);
  contextSynchronize();
  return b;
}

/// A module loaded from a CUBIN image into the current context, unloaded on destruction.
class Module {
public:
  Module() = default;
  explicit Module(const std::vector<char> &image) : module_(moduleLoadData(image.data())) {}
  Module(Module &&o) noexcept : module_(std::exchange(o.module_, nullptr)) {}
  Module &operator=(Module &&o) noexcept {
    std::swap(module_, o.module_);
    return *this;
  }
  Module(const Module &) = delete;
  Module &operator=(const Module &) = delete;
  ~Module() {
    if (module_) {
      try {
        moduleUnload(module_);
      } catch (...) {
      }
    }
  }
  CUfunction function(const char *name) const { return moduleGetFunction(module_, name); }
  CUmodule get() const { return module_; }

private:
  CUmodule module_ = nullptr;
};

} // namespace tilefuse::runtime
