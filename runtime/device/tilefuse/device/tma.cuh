// Hopper tensor memory accelerator (TMA) loads and warpgroup register reallocation (sm_90 / sm_90a; PTX ISA
// 8.x section 9.7.9.25 "cp.async.bulk.tensor" and 9.7.17.1 "setmaxnreg"). NVRTC-safe (no host headers).
//
// A tensor map (CUtensorMap, 128 bytes, 64-byte aligned) is built on the host with the driver's
// cuTensorMapEncodeTiled and passed to the kernel by value as a `const __grid_constant__ TmaDescriptor`
// parameter; its generic address (&param) is what the copy takes. With CU_TENSOR_MAP_SWIZZLE_128B and a box
// of [rows x 64] bf16 (128 bytes per row), one copy writes exactly one panel of a sw128<ROWS, COLS> tile
// (wgmma.cuh): row r at r * 128, 16-byte chunk c at c ^ (r % 8), so the destination must be 1024-byte
// aligned. Coordinates are elements, innermost first; box elements outside the tensor are written as zeros
// and still counted in the transaction bytes.
#pragma once
#include "common.cuh"

namespace tilefuse {
namespace device {
/// Device view of a CUtensorMap (opaque, 128 bytes, 64-byte aligned as the driver requires). Plain data,
/// declared for every target so that a kernel's Params struct can hold one.
struct alignas(64) TmaDescriptor {
  unsigned long long opaque[16];
};
} // namespace device
} // namespace tilefuse

#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 900)

namespace tilefuse {
namespace device {

/// Generic address of a __grid_constant__ tensor-map parameter.
TF_DEVICE unsigned long long tma_address(const TmaDescriptor &map) { return reinterpret_cast<unsigned long long>(&map); }

/// prefetch.tensormap: brings the descriptor into the cache ahead of the first copy.
TF_DEVICE void tma_prefetch_descriptor(const TmaDescriptor &map) {
  asm volatile("prefetch.tensormap [%0];\n" ::"l"(tma_address(map)) : "memory");
}

/// SM90_TMA_LOAD_4D: copies the box at element coordinates (c0 innermost, c1, c2, c3) of `map` into shared
/// address `dst`, completing `bar`'s transaction count with the box bytes (arm the barrier first with
/// mbarrier_arrive_expect_tx). Issued by one thread.
TF_DEVICE void tma_load_4d(unsigned dst, const TmaDescriptor &map, unsigned bar, int c0, int c1, int c2, int c3) {
  asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes"
               " [%0], [%1, {%3, %4, %5, %6}], [%2];\n" ::"r"(dst),
               "l"(tma_address(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
               : "memory");
}

/// SM90_TMA_STORE_4D: copies the box at shared address `src` (one sw128 panel, 1024-byte aligned) to element
/// coordinates (c0 innermost, c1, c2, c3) of `map`; box elements outside the tensor are not written (a Q tile's
/// rows past Sq). Issued by one thread, which closes its stores into a group with tma_store_commit. The
/// writes to `src` must be made visible to the async proxy first (fence_proxy_async_smem in each writing
/// thread, then a barrier).
TF_DEVICE void tma_store_4d(const TmaDescriptor &map, unsigned src, int c0, int c1, int c2, int c3) {
  asm volatile("cp.async.bulk.tensor.4d.global.shared::cta.bulk_group [%0, {%2, %3, %4, %5}], [%1];\n" ::"l"(
                   tma_address(map)),
               "r"(src), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
               : "memory");
}
/// cp.async.bulk.commit_group: closes this thread's bulk stores issued so far into one group.
TF_DEVICE void tma_store_commit() { asm volatile("cp.async.bulk.commit_group;\n" ::: "memory"); }
/// cp.async.bulk.wait_group.read N: waits until at most N of this thread's store groups still read their
/// shared source (the buffer may then be overwritten; the global writes may still be in flight).
template <int N> TF_DEVICE void tma_store_wait_read() {
  asm volatile("cp.async.bulk.wait_group.read %0;\n" ::"n"(N) : "memory");
}
/// cp.async.bulk.wait_group N: waits until at most N of this thread's store groups are incomplete.
template <int N> TF_DEVICE void tma_store_wait() { asm volatile("cp.async.bulk.wait_group %0;\n" ::"n"(N) : "memory"); }

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
/// setmaxnreg (sm_90a): every thread of the warpgroup gives registers back (dec) or takes them (inc) up to
/// REGS per thread (24..256, a multiple of 8). Takes effect only under a register cap at entry
/// (__launch_bounds__(threads, 1)) and with each warpgroup's role one branch of an if/else.
template <int REGS> TF_DEVICE void warpgroup_reg_dealloc() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(REGS));
}
template <int REGS> TF_DEVICE void warpgroup_reg_alloc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(REGS));
}
#endif

} // namespace device
} // namespace tilefuse

#endif // __CUDA_ARCH__ >= 900
