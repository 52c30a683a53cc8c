// The GPU's energy counter through NVML, loaded at run time like the CUDA driver (CudaDriver.h):
// dlopen("libnvidia-ml.so.1") (or $TILEFUSE_NVML_LIBRARY, a path or name that overrides it, e.g. for
// tests), never linked, so programs start on machines without NVML.
//
// Units: the counter is in millijoules (mJ) since the driver was loaded; 1 J = 1000 mJ; average power
// over an interval is joules / seconds = watts (W).
// The counter is per GPU, not per process: work of other processes on the same GPU counts too.
// NVML updates it periodically (tens of ms or more, depending on the GPU), so only differences over
// intervals of about a second or longer are meaningful.
// Device mapping: a CUDA device ordinal is taken as the NVML index with the same number. That holds when
// CUDA enumerates in PCI bus order (CUDA_DEVICE_ORDER=PCI_BUS_ID) and CUDA_VISIBLE_DEVICES is unset or
// lists every GPU in order, and always on one-GPU machines; otherwise the counter may be another GPU's.
#pragma once

#include <memory>
#include <string>

namespace tilefuse::runtime {

/// One GPU's NVML energy counter (see the file comment for units, scope and the device mapping).
class EnergyCounter {
public:
  /// Loads NVML, nvmlInit_v2()s and takes the handle of GPU `ordinal`. Never throws: on failure
  /// available() is false and error() says why (library missing, symbol missing, or the NVML call,
  /// its error code and nvmlErrorString).
  explicit EnergyCounter(int ordinal = 0) noexcept;
  ~EnergyCounter(); // nvmlShutdown() and dlclose when loaded
  EnergyCounter(const EnergyCounter &) = delete;
  EnergyCounter &operator=(const EnergyCounter &) = delete;

  bool available() const noexcept { return error_.empty(); }
  /// Why not available (empty when available).
  const std::string &error() const noexcept { return error_; }

  /// Energy the GPU consumed since the driver was loaded, millijoules (nvmlDeviceGetTotalEnergyConsumption).
  /// Throws std::runtime_error when not available() or when the call fails (e.g. the GPU does not support
  /// it: NVML_ERROR_NOT_SUPPORTED), with the NVML error code and string.
  unsigned long long millijoules() const;

private:
  struct Api;
  void *library_ = nullptr;
  std::unique_ptr<Api> api_;
  void *device_ = nullptr; // nvmlDevice_t
  bool initialized_ = false;
  std::string error_;
};

} // namespace tilefuse::runtime
