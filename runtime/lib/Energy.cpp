// The GPU's energy counter through NVML, dlopen'ed (see Energy.h).
#include "tilefuse/runtime/Energy.h"

#include <dlfcn.h>

#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace tilefuse::runtime {
namespace {

// The few NVML declarations used (the NVML C ABI): nvmlReturn_t is a C enum (0 = NVML_SUCCESS),
// nvmlDevice_t an opaque pointer.
using NvmlReturn = int;
using NvmlDevice = void *;
constexpr NvmlReturn kNvmlSuccess = 0;

using InitFn = NvmlReturn (*)();
using ShutdownFn = NvmlReturn (*)();
using HandleByIndexFn = NvmlReturn (*)(unsigned int, NvmlDevice *);
using TotalEnergyFn = NvmlReturn (*)(NvmlDevice, unsigned long long *);
using ErrorStringFn = const char *(*)(NvmlReturn);

constexpr const char *kDefaultLibrary = "libnvidia-ml.so.1";

} // namespace

struct EnergyCounter::Api {
  InitFn init = nullptr;
  ShutdownFn shutdown = nullptr;
  HandleByIndexFn handleByIndex = nullptr;
  TotalEnergyFn totalEnergy = nullptr;
  ErrorStringFn errorString = nullptr;

  /// "<call> failed: NVML error <code> (<nvmlErrorString>)".
  std::string describe(const char *call, NvmlReturn r) const {
    const char *text = errorString ? errorString(r) : nullptr;
    return std::string(call) + " failed: NVML error " + std::to_string(r) + " (" + (text ? text : "?") + ")";
  }
};

EnergyCounter::EnergyCounter(int ordinal) noexcept {
  try {
    const char *env = std::getenv("TILEFUSE_NVML_LIBRARY");
    const std::string name = env && *env ? env : kDefaultLibrary;
    library_ = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library_) {
      const char *why = dlerror();
      error_ = "dlopen(" + name + "): " + (why ? why : "unknown error");
      return;
    }
    api_ = std::make_unique<Api>();
    api_->init = reinterpret_cast<InitFn>(dlsym(library_, "nvmlInit_v2"));
    api_->shutdown = reinterpret_cast<ShutdownFn>(dlsym(library_, "nvmlShutdown"));
    api_->handleByIndex = reinterpret_cast<HandleByIndexFn>(dlsym(library_, "nvmlDeviceGetHandleByIndex_v2"));
    api_->totalEnergy = reinterpret_cast<TotalEnergyFn>(dlsym(library_, "nvmlDeviceGetTotalEnergyConsumption"));
    api_->errorString = reinterpret_cast<ErrorStringFn>(dlsym(library_, "nvmlErrorString"));
    for (auto [fn, symbol] : {std::pair<void *, const char *>{reinterpret_cast<void *>(api_->init), "nvmlInit_v2"},
                              {reinterpret_cast<void *>(api_->shutdown), "nvmlShutdown"},
                              {reinterpret_cast<void *>(api_->handleByIndex), "nvmlDeviceGetHandleByIndex_v2"},
                              {reinterpret_cast<void *>(api_->totalEnergy), "nvmlDeviceGetTotalEnergyConsumption"},
                              {reinterpret_cast<void *>(api_->errorString), "nvmlErrorString"}})
      if (!fn) {
        error_ = name + " lacks " + symbol + " (NVML too old?)";
        return;
      }
    if (NvmlReturn r = api_->init(); r != kNvmlSuccess) {
      error_ = api_->describe("nvmlInit_v2", r);
      return;
    }
    initialized_ = true;
    if (ordinal < 0) {
      error_ = "invalid device ordinal " + std::to_string(ordinal);
      return;
    }
    NvmlDevice device = nullptr;
    if (NvmlReturn r = api_->handleByIndex(static_cast<unsigned>(ordinal), &device); r != kNvmlSuccess) {
      error_ = api_->describe("nvmlDeviceGetHandleByIndex_v2", r) + " for index " + std::to_string(ordinal);
      return;
    }
    device_ = device;
  } catch (const std::exception &e) { // allocation failure
    error_ = e.what();
  }
}

EnergyCounter::~EnergyCounter() {
  if (initialized_)
    api_->shutdown();
  if (library_)
    dlclose(library_);
}

unsigned long long EnergyCounter::millijoules() const {
  if (!available())
    throw std::runtime_error("NVML energy counter unavailable: " + error_);
  unsigned long long mj = 0;
  if (NvmlReturn r = api_->totalEnergy(device_, &mj); r != kNvmlSuccess)
    throw std::runtime_error(api_->describe("nvmlDeviceGetTotalEnergyConsumption", r));
  return mj;
}

} // namespace tilefuse::runtime
