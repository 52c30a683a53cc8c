// A stand-in for libnvidia-ml.so.1 in the energy counter tests (no GPU needed): the C symbols
// EnergyCounter resolves, with a scripted counter. Behaviour, read from the environment at each call:
//   FAKE_NVML_INIT_ERROR=<n>  nvmlInit_v2 returns n (e.g. 9 = NVML_ERROR_DRIVER_NOT_LOADED)
//   FAKE_NVML_DEVICES=<n>     number of GPUs (default 1); a larger index gives 2 (NVML_ERROR_INVALID_ARGUMENT)
// The counter starts at 1000000 mJ and grows by 250 mJ at every nvmlDeviceGetTotalEnergyConsumption.
// Built without FAKE_NVML_WITH_ENERGY, it lacks nvmlDeviceGetTotalEnergyConsumption (the missing-symbol case).
#include <cstdlib>

namespace {
struct FakeDevice {
  unsigned index;
};
FakeDevice devices[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
unsigned long long counter = 1000000;
int initCount = 0;

int envInt(const char *name, int fallback) {
  const char *v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}
} // namespace

extern "C" {

__attribute__((visibility("default"))) int nvmlInit_v2() {
  if (int e = envInt("FAKE_NVML_INIT_ERROR", 0))
    return e;
  ++initCount;
  return 0;
}

__attribute__((visibility("default"))) int nvmlShutdown() {
  if (initCount == 0)
    return 1; // NVML_ERROR_UNINITIALIZED
  --initCount;
  return 0;
}

__attribute__((visibility("default"))) int nvmlDeviceGetHandleByIndex_v2(unsigned index, void **device) {
  if (initCount == 0)
    return 1;
  if (!device || index >= static_cast<unsigned>(envInt("FAKE_NVML_DEVICES", 1)) || index >= 8)
    return 2;
  *device = &devices[index];
  return 0;
}

#ifdef FAKE_NVML_WITH_ENERGY
__attribute__((visibility("default"))) int nvmlDeviceGetTotalEnergyConsumption(void *device,
                                                                                unsigned long long *mj) {
  if (initCount == 0)
    return 1;
  if (!device || !mj)
    return 2;
  counter += 250;
  *mj = counter + 1000000ull * static_cast<FakeDevice *>(device)->index;
  return 0;
}
#endif

__attribute__((visibility("default"))) const char *nvmlErrorString(int result) {
  switch (result) {
  case 0: return "Success";
  case 1: return "Uninitialized";
  case 2: return "Invalid Argument";
  case 9: return "Driver Not Loaded";
  default: return "Unknown Error";
  }
}

} // extern "C"
