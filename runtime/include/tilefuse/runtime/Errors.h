// Exceptions thrown by the Tilefuse runtime (driver, NVRTC, ptxas).
#pragma once

#include <stdexcept>
#include <string>

namespace tilefuse {

/// A CUDA driver call returned an error. what(): "<call> failed: <CUresult name> (<description>)".
class CudaError : public std::runtime_error {
public:
  CudaError(std::string call, int code, const std::string &name, const std::string &description)
      : std::runtime_error(call + " failed: " + name + " (" + description + ")"), call_(std::move(call)),
        code_(code), name_(name) {}
  /// The driver entry point that failed, e.g. "cuLaunchKernel".
  const std::string &call() const noexcept { return call_; }
  /// The raw CUresult value.
  int code() const noexcept { return code_; }
  /// The CUresult name, e.g. "CUDA_ERROR_OUT_OF_MEMORY".
  const std::string &name() const noexcept { return name_; }

private:
  std::string call_;
  int code_;
  std::string name_;
};

/// No usable GPU: libcuda.so.1 cannot be loaded, cuInit fails, or the driver reports no device.
class NoGpuError : public std::runtime_error {
public:
  explicit NoGpuError(const std::string &reason)
      : std::runtime_error("no CUDA driver (libcuda.so.1 not found) / no GPU: " + reason), reason_(reason) {}
  /// Why the driver is unusable, e.g. the dlopen message.
  const std::string &reason() const noexcept { return reason_; }

private:
  std::string reason_;
};

/// NVRTC rejected a source. Carries the compiler log and the file the source was dumped to.
class CompileError : public std::runtime_error {
public:
  CompileError(const std::string &message, std::string log, std::string dumpedSource)
      : std::runtime_error(message + "\n" + log + "\n(source dumped to " + dumpedSource + ")"),
        log_(std::move(log)), dumpedSource_(std::move(dumpedSource)) {}
  const std::string &log() const noexcept { return log_; }
  /// Path of the failing source, $TMPDIR/tilefuse-failed-<hash>.cu ("" if it could not be written).
  const std::string &dumpedSource() const noexcept { return dumpedSource_; }

private:
  std::string log_;
  std::string dumpedSource_;
};

} // namespace tilefuse
