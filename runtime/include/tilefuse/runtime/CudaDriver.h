// The CUDA driver API, loaded at run time: dlopen("libcuda.so.1") on first use, then every entry
// point resolved with cuGetProcAddress at the explicit ABI version of its PFN_<name>_v<version>
// typedef (cuMemAlloc -> v3020 = cuMemAlloc_v2, cuCtxSynchronize -> v2000, ...; see CudaDriver.cpp).
// Needs a driver of CUDA 12.8 or newer. libcuda is never linked, so programs start on machines
// without a driver; there, every call throws NoGpuError.
// Thread-safe: the first call loads and cuInit()s once; all functions may be called from any thread.
#pragma once

#include <cuda.h> // types only

#include <cstddef>
#include <cstdint>
#include <string>

#include "tilefuse/runtime/Errors.h"

namespace tilefuse::runtime {

/// True when libcuda.so.1 loads, cuInit succeeds and at least one device exists. Never throws;
/// `reason`, when given, receives why not (empty when available).
bool gpuAvailable(std::string *reason = nullptr) noexcept;

/// Driver version, e.g. 13000 for CUDA 13.0. Throws NoGpuError.
int driverVersion();

/// Number of CUDA devices (0 is possible). Throws NoGpuError, CudaError.
int deviceCount();
/// Device handle of ordinal 0..deviceCount()-1.
CUdevice getDevice(int ordinal);
/// Raw cuDeviceGetAttribute.
int deviceAttribute(CUdevice_attribute attribute, int ordinal);
/// Multiprocessors of the current context's device (a persistent grid's size). Throws CudaError.
int currentDeviceSmCount();
/// The most dynamic shared memory one block may opt into on the current context's device, in bytes
/// (CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN: 232448 on sm_90). Throws CudaError.
int currentDeviceMaxSharedPerBlockOptin();

/// What kernels are planned and specialised against.
struct DeviceInfo {
  int ordinal = 0;
  std::string name;                 // e.g. "NVIDIA H100 80GB HBM3"
  int ccMajor = 0, ccMinor = 0;     // compute capability
  int smCount = 0;                  // streaming multiprocessors
  int maxSharedPerBlockOptin = 0;   // bytes of dynamic shared memory a block may opt into
  int l2CacheBytes = 0;             // bytes
  /// NVRTC target for this device, "sm_<major><minor>" (e.g. "sm_90").
  std::string arch() const { return "sm_" + std::to_string(ccMajor) + std::to_string(ccMinor); }
};
DeviceInfo deviceInfo(int ordinal = 0);

/// Retains the device's primary context (once per process and device; never released) and makes it
/// current on the calling thread. Returns it.
CUcontext retainPrimaryContext(int ordinal = 0);
void setCurrentContext(CUcontext context);
void contextSynchronize();

/// Loads a CUBIN (or PTX / fatbin) image into the current context.
CUmodule moduleLoadData(const void *image);
CUfunction moduleGetFunction(CUmodule module, const char *name);
void moduleUnload(CUmodule module);
/// cuFuncSetAttribute; e.g. CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES for > 48 KB dynamic smem.
void funcSetAttribute(CUfunction function, CUfunction_attribute attribute, int value);
int funcGetAttribute(CUfunction function, CUfunction_attribute attribute);
/// The blocks of `function` a persistent grid launches at most on the current context's device: its SM
/// count when clusterBlocks = 1; else cuOccupancyMaxActiveClusters (with `threads` per block and
/// `sharedBytes` of dynamic shared memory, already opted into) times clusterBlocks: clusters of 2 need two
/// free SMs of one GPC, so fewer than SMs / 2 may fit. Throws CudaError; std::runtime_error when no
/// cluster fits.
int persistentBlocks(CUfunction function, int clusterBlocks, unsigned threads, unsigned sharedBytes);

struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
/// cuLaunchKernel. `params[i]` points at the i-th kernel argument. sharedBytes: dynamic shared memory.
void launchKernel(CUfunction function, Dim3 grid, Dim3 block, unsigned sharedBytes, CUstream stream,
                  void **params);

/// A TMA tensor map request (sm_90): a row-major tensor of `rank` dims (outermost first, the last one
/// contiguous), copied in boxes of [boxRows x boxCols] elements over its last two dims (1 in the others),
/// with the 128-byte swizzle (boxCols * elementBytes must be 128) and zeros for elements out of bounds.
struct TensorMapRequest {
  CUtensorMapDataType dataType = CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  int rank = 0;
  uint64_t address = 0;           ///< 16-byte aligned
  const int64_t *shape = nullptr;   ///< extents, outermost first
  const int64_t *strides = nullptr; ///< elements, outermost first; all but the last a multiple of 16 bytes
  int elementBytes = 2;
  int boxRows = 0, boxCols = 0;
};
/// cuTensorMapEncodeTiled into out[0, 128) (64-byte aligned). Throws CudaError (e.g. a misaligned
/// address or stride: CUDA_ERROR_INVALID_VALUE), NoGpuError. Host-only work, no device call.
void encodeTensorMap(void *out, const TensorMapRequest &request);

/// Device memory (bytes). memAlloc throws CudaError (CUDA_ERROR_OUT_OF_MEMORY) when full.
CUdeviceptr memAlloc(std::size_t bytes);
void memFree(CUdeviceptr ptr) noexcept; // errors are ignored (used in destructors)
void memcpyHtoD(CUdeviceptr dst, const void *src, std::size_t bytes);
void memcpyDtoH(void *dst, CUdeviceptr src, std::size_t bytes);
/// Sets `bytes` bytes to `value` (0xFF poisons bf16/fp16/f32 buffers with NaN).
void memsetD8(CUdeviceptr dst, unsigned char value, std::size_t bytes);

CUstream streamCreate(); // non-blocking w.r.t. the legacy default stream
void streamDestroy(CUstream stream) noexcept;
void streamSynchronize(CUstream stream);

CUevent eventCreate();
void eventDestroy(CUevent event) noexcept;
void eventRecord(CUevent event, CUstream stream);
void eventSynchronize(CUevent event);
/// Milliseconds between two recorded, completed events.
float eventElapsedMs(CUevent start, CUevent end);

/// "CUDA_ERROR_..." and its description; work without a driver (then "CUresult <n>").
std::string errorName(CUresult result);
std::string errorString(CUresult result);

} // namespace tilefuse::runtime
