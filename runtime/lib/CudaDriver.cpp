// The CUDA driver API through dlopen + cuGetProcAddress (see CudaDriver.h).
#include "tilefuse/runtime/CudaDriver.h"

#include <cudaTypedefs.h> // PFN_<name>_v<version>
#include <dlfcn.h>

#include <map>
#include <mutex>

namespace tilefuse::runtime {
namespace {

// Every entry point used, with the CUDA version of the ABI we call (the PFN_<name>_v<version> typedefs
// of <cudaTypedefs.h>). cuGetProcAddress is asked for exactly that version: asking for CUDA_VERSION
// instead would return the newest ABI, which can differ from the <cuda.h> declaration without any
// macro saying so (CUDA 13's cuCtxSynchronize takes a context; cuda.h still declares the v2000 one).
// Non-_ptsz/_ptds variants: the legacy default stream.
#define TF_DRIVER_ENTRY_POINTS(X)                                                                                 \
  X(cuGetErrorName, 6000) X(cuGetErrorString, 6000) X(cuDriverGetVersion, 2020) X(cuDeviceGetCount, 2000)         \
  X(cuDeviceGet, 2000) X(cuDeviceGetName, 2000) X(cuDeviceGetAttribute, 2000) X(cuDevicePrimaryCtxRetain, 7000)   \
  X(cuCtxSetCurrent, 4000) X(cuCtxGetDevice, 2000) X(cuCtxSynchronize, 2000) X(cuModuleLoadData, 2000) X(cuModuleGetFunction, 2000)       \
  X(cuModuleUnload, 2000) X(cuFuncSetAttribute, 9000) X(cuFuncGetAttribute, 2020) X(cuLaunchKernel, 4000)         \
  X(cuMemAlloc, 3020) X(cuMemFree, 3020) X(cuMemcpyHtoD, 3020) X(cuMemcpyDtoH, 3020) X(cuMemsetD8, 3020)          \
  X(cuStreamCreate, 2000) X(cuStreamDestroy, 4000) X(cuStreamSynchronize, 2000) X(cuEventCreate, 2000)            \
  X(cuEventDestroy, 4000) X(cuEventRecord, 2000) X(cuEventSynchronize, 2000) X(cuEventElapsedTime, 12080)         \
  X(cuTensorMapEncodeTiled, 12000) X(cuOccupancyMaxActiveClusters, 11070)

// A field per entry point, fn_<name>, typed by the versioned typedef (## keeps <cuda.h>'s macros out).
#define TF_DRIVER_FIELD(name, version) PFN_##name##_v##version fn_##name = nullptr;

struct Api {
  std::string error; // empty when usable
  PFN_cuInit_v2000 fn_cuInit = nullptr;
  TF_DRIVER_ENTRY_POINTS(TF_DRIVER_FIELD)
};

using GetProcAddressFn = CUresult (*)(const char *, void **, int, cuuint64_t, CUdriverProcAddressQueryResult *);

Api load() {
  Api a;
  void *handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    a.error = std::string("dlopen(libcuda.so.1): ") + (why ? why : "unknown error");
    return a;
  }
  a.fn_cuInit = reinterpret_cast<PFN_cuInit_v2000>(dlsym(handle, "cuInit"));
  auto getProc = reinterpret_cast<GetProcAddressFn>(dlsym(handle, "cuGetProcAddress_v2"));
  if (!a.fn_cuInit || !getProc) {
    a.error = "libcuda.so.1 lacks cuInit / cuGetProcAddress_v2 (driver older than CUDA 12.0)";
    return a;
  }
#define TF_DRIVER_RESOLVE(name, version)                                                                          \
  if (a.error.empty()) {                                                                                          \
    CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;                                  \
    void *p = nullptr;                                                                                            \
    if (getProc(#name, &p, version, CU_GET_PROC_ADDRESS_DEFAULT, &status) != CUDA_SUCCESS ||                      \
        status != CU_GET_PROC_ADDRESS_SUCCESS || !p)                                                              \
      a.error = "cuGetProcAddress(" #name ", " #version ") failed (status " +                                     \
                std::to_string(static_cast<int>(status)) + "; driver too old?)";                                  \
    else                                                                                                          \
      a.fn_##name = reinterpret_cast<PFN_##name##_v##version>(p);                                                 \
  }
  TF_DRIVER_ENTRY_POINTS(TF_DRIVER_RESOLVE)
#undef TF_DRIVER_RESOLVE
  if (!a.error.empty()) return a;
  if (CUresult r = a.fn_cuInit(0); r != CUDA_SUCCESS) {
    const char *name = nullptr;
    const char *text = nullptr;
    a.fn_cuGetErrorName(r, &name);
    a.fn_cuGetErrorString(r, &text);
    a.error = std::string("cuInit failed: ") + (name ? name : "?") + " (" + (text ? text : "?") + ")";
  }
  return a;
}

const Api &loaded() {
  static const Api api = load(); // thread-safe one-time initialization
  return api;
}

const Api &api() {
  const Api &a = loaded();
  if (!a.error.empty()) throw NoGpuError(a.error);
  return a;
}

void check(CUresult result, const char *call) {
  if (result != CUDA_SUCCESS) throw CudaError(call, static_cast<int>(result), errorName(result), errorString(result));
}

// Calls entry point `fn` and throws CudaError naming it on failure.
#define TF_CU(name, ...) check(api().fn_##name(__VA_ARGS__), #name)

} // namespace

bool gpuAvailable(std::string *reason) noexcept {
  try {
    const Api &a = loaded();
    std::string why = a.error;
    int count = 0;
    if (why.empty() && a.fn_cuDeviceGetCount(&count) != CUDA_SUCCESS) why = "cuDeviceGetCount failed";
    if (why.empty() && count == 0) why = "the driver reports no CUDA device";
    if (reason) *reason = why;
    return why.empty();
  } catch (...) {
    if (reason) *reason = "unexpected exception while loading the CUDA driver";
    return false;
  }
}

int driverVersion() {
  int v = 0;
  TF_CU(cuDriverGetVersion, &v);
  return v;
}

int deviceCount() {
  int n = 0;
  TF_CU(cuDeviceGetCount, &n);
  return n;
}

CUdevice getDevice(int ordinal) {
  CUdevice d = 0;
  TF_CU(cuDeviceGet, &d, ordinal);
  return d;
}

int deviceAttribute(CUdevice_attribute attribute, int ordinal) {
  int v = 0;
  TF_CU(cuDeviceGetAttribute, &v, attribute, getDevice(ordinal));
  return v;
}

namespace {
int currentDeviceAttribute(CUdevice_attribute attribute) {
  CUdevice device = 0;
  TF_CU(cuCtxGetDevice, &device);
  int v = 0;
  TF_CU(cuDeviceGetAttribute, &v, attribute, device);
  return v;
}
} // namespace

int currentDeviceSmCount() { return currentDeviceAttribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT); }

int currentDeviceMaxSharedPerBlockOptin() {
  return currentDeviceAttribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
}

DeviceInfo deviceInfo(int ordinal) {
  DeviceInfo info;
  info.ordinal = ordinal;
  char name[256] = {};
  TF_CU(cuDeviceGetName, name, static_cast<int>(sizeof(name) - 1), getDevice(ordinal));
  info.name = name;
  info.ccMajor = deviceAttribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, ordinal);
  info.ccMinor = deviceAttribute(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, ordinal);
  info.smCount = deviceAttribute(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, ordinal);
  info.maxSharedPerBlockOptin = deviceAttribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, ordinal);
  info.l2CacheBytes = deviceAttribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, ordinal);
  return info;
}

CUcontext retainPrimaryContext(int ordinal) {
  static std::mutex mutex;
  static std::map<int, CUcontext> retained;
  CUcontext ctx = nullptr;
  {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = retained.find(ordinal);
    if (it == retained.end()) {
      TF_CU(cuDevicePrimaryCtxRetain, &ctx, getDevice(ordinal));
      retained.emplace(ordinal, ctx);
    } else {
      ctx = it->second;
    }
  }
  setCurrentContext(ctx);
  return ctx;
}

void setCurrentContext(CUcontext context) { TF_CU(cuCtxSetCurrent, context); }
void contextSynchronize() { TF_CU(cuCtxSynchronize); }

CUmodule moduleLoadData(const void *image) {
  CUmodule m = nullptr;
  TF_CU(cuModuleLoadData, &m, image);
  return m;
}

CUfunction moduleGetFunction(CUmodule module, const char *name) {
  CUfunction f = nullptr;
  TF_CU(cuModuleGetFunction, &f, module, name);
  return f;
}

void moduleUnload(CUmodule module) { TF_CU(cuModuleUnload, module); }

void funcSetAttribute(CUfunction function, CUfunction_attribute attribute, int value) {
  TF_CU(cuFuncSetAttribute, function, attribute, value);
}

int funcGetAttribute(CUfunction function, CUfunction_attribute attribute) {
  int v = 0;
  TF_CU(cuFuncGetAttribute, &v, attribute, function);
  return v;
}

int persistentBlocks(CUfunction function, int clusterBlocks, unsigned threads, unsigned sharedBytes) {
  if (clusterBlocks <= 1)
    return currentDeviceSmCount();
  // The kernel carries __cluster_dims__, so the config names no cluster attribute; the grid is one
  // cluster wide (the query asks how many fit at once, not how many this grid has).
  CUlaunchConfig config{};
  config.gridDimX = static_cast<unsigned>(clusterBlocks), config.gridDimY = 1, config.gridDimZ = 1;
  config.blockDimX = threads, config.blockDimY = 1, config.blockDimZ = 1;
  config.sharedMemBytes = sharedBytes;
  int clusters = 0;
  TF_CU(cuOccupancyMaxActiveClusters, &clusters, function, &config);
  if (clusters < 1)
    throw std::runtime_error("no cluster of " + std::to_string(clusterBlocks) + " blocks of " +
                             std::to_string(threads) + " threads and " + std::to_string(sharedBytes) +
                             " bytes of shared memory fits on this GPU");
  return clusters * clusterBlocks;
}

void launchKernel(CUfunction function, Dim3 grid, Dim3 block, unsigned sharedBytes, CUstream stream,
                  void **params) {
  TF_CU(cuLaunchKernel, function, grid.x, grid.y, grid.z, block.x, block.y, block.z, sharedBytes, stream, params,
        nullptr);
}

void encodeTensorMap(void *out, const TensorMapRequest &t) {
  if (t.rank < 2 || t.rank > 5)
    throw CudaError("cuTensorMapEncodeTiled", CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE",
                    "tensor rank " + std::to_string(t.rank) + "; allowed: 2 to 5");
  cuuint64_t dims[5], strides[4];
  cuuint32_t box[5], elementStrides[5];
  for (int d = 0; d < t.rank; ++d) { // innermost first
    const int src = t.rank - 1 - d;
    dims[d] = static_cast<cuuint64_t>(t.shape[src]);
    box[d] = d == 0 ? static_cast<cuuint32_t>(t.boxCols) : d == 1 ? static_cast<cuuint32_t>(t.boxRows) : 1u;
    elementStrides[d] = 1;
    if (d > 0)
      strides[d - 1] = static_cast<cuuint64_t>(t.strides[src]) * static_cast<cuuint64_t>(t.elementBytes);
  }
  TF_CU(cuTensorMapEncodeTiled, static_cast<CUtensorMap *>(out), t.dataType, static_cast<cuuint32_t>(t.rank),
        reinterpret_cast<void *>(t.address), dims, strides, box, elementStrides, CU_TENSOR_MAP_INTERLEAVE_NONE,
        CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
}

CUdeviceptr memAlloc(std::size_t bytes) {
  CUdeviceptr p = 0;
  TF_CU(cuMemAlloc, &p, bytes);
  return p;
}

void memFree(CUdeviceptr ptr) noexcept {
  const Api &a = loaded();
  if (a.error.empty() && ptr) a.fn_cuMemFree(ptr);
}

void memcpyHtoD(CUdeviceptr dst, const void *src, std::size_t bytes) { TF_CU(cuMemcpyHtoD, dst, src, bytes); }
void memcpyDtoH(void *dst, CUdeviceptr src, std::size_t bytes) { TF_CU(cuMemcpyDtoH, dst, src, bytes); }
void memsetD8(CUdeviceptr dst, unsigned char value, std::size_t bytes) { TF_CU(cuMemsetD8, dst, value, bytes); }

CUstream streamCreate() {
  CUstream s = nullptr;
  TF_CU(cuStreamCreate, &s, CU_STREAM_NON_BLOCKING);
  return s;
}

void streamDestroy(CUstream stream) noexcept {
  const Api &a = loaded();
  if (a.error.empty() && stream) a.fn_cuStreamDestroy(stream);
}

void streamSynchronize(CUstream stream) { TF_CU(cuStreamSynchronize, stream); }

CUevent eventCreate() {
  CUevent e = nullptr;
  TF_CU(cuEventCreate, &e, CU_EVENT_DEFAULT);
  return e;
}

void eventDestroy(CUevent event) noexcept {
  const Api &a = loaded();
  if (a.error.empty() && event) a.fn_cuEventDestroy(event);
}

void eventRecord(CUevent event, CUstream stream) { TF_CU(cuEventRecord, event, stream); }
void eventSynchronize(CUevent event) { TF_CU(cuEventSynchronize, event); }

float eventElapsedMs(CUevent start, CUevent end) {
  float ms = 0.0f;
  TF_CU(cuEventElapsedTime, &ms, start, end);
  return ms;
}

std::string errorName(CUresult result) {
  const Api &a = loaded();
  const char *s = nullptr;
  if (a.fn_cuGetErrorName && a.fn_cuGetErrorName(result, &s) == CUDA_SUCCESS && s) return s;
  return "CUresult " + std::to_string(static_cast<int>(result));
}

std::string errorString(CUresult result) {
  const Api &a = loaded();
  const char *s = nullptr;
  if (a.fn_cuGetErrorString && a.fn_cuGetErrorString(result, &s) == CUDA_SUCCESS && s) return s;
  return "unknown error";
}

} // namespace tilefuse::runtime
