// Shared-memory mbarriers (sm_90; PTX ISA 8.x section 9.7.13.15 "Parallel Synchronization and Communication
// Instructions: mbarrier") and named barriers (bar.sync / bar.arrive, 9.7.13.1): the synchronization of a
// warp-specialized pipeline (a producer fills a ring of SMEM stages by TMA, consumers drain it).
// NVRTC-safe (no host headers). Each barrier is one 8-byte word in shared memory, addressed by its 32-bit
// shared address. A phase completes when `count` arrivals were made and (full barriers) every byte the
// TMA copies announced with expect_tx has landed; waiters test the phase by its parity (0, 1, 0, ...).
#pragma once
#include "common.cuh"

#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 900)

namespace tilefuse {
namespace device {

/// mbarrier.init: `count` arrivals complete a phase. One thread initializes, then
/// mbarrier_init_fence() and a block barrier before any other thread uses it.
TF_DEVICE void mbarrier_init(unsigned bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
/// Makes mbarrier.init visible to the async proxy (TMA) and to other threads (after a barrier).
TF_DEVICE void mbarrier_init_fence() { asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory"); }

/// One arrival that also announces `bytes` of TMA transactions for the current phase (the producer's
/// arrival on a full barrier, before issuing the copies that complete on it).
TF_DEVICE void mbarrier_arrive_expect_tx(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
/// One arrival (release semantics) when `pred` is true; branch-free, so it can sit between a wgmma
/// issue and its wait without splitting the basic block.
TF_DEVICE void mbarrier_arrive_if(unsigned bar, bool pred) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %1, 0;\n@p mbarrier.arrive.shared::cta.b64 _, [%0];\n}\n" ::"r"(bar),
               "r"(static_cast<unsigned>(pred))
               : "memory");
}
/// True once the phase of parity `parity` has completed (acquire semantics); try_wait sleeps for a
/// system-dependent time before giving up.
TF_DEVICE bool mbarrier_try_wait(unsigned bar, unsigned parity) {
  unsigned ok;
  asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
               : "=r"(ok)
               : "r"(bar), "r"(parity)
               : "memory");
  return ok != 0;
}
/// Blocks until the phase of parity `parity` of `bar` has completed.
TF_DEVICE void mbarrier_wait(unsigned bar, unsigned parity) {
  while (!mbarrier_try_wait(bar, parity)) {
  }
}

/// Named barrier `id` (1..15; 0 is __syncthreads) over `THREADS` threads (a multiple of 32): bar.sync
/// waits for the barrier, bar.arrive counts this warp's threads without waiting. Used to hand the tensor
/// cores back and forth between two consumer warpgroups (FlashAttention-3 Sec. 3.1, pingpong).
template <int THREADS> TF_DEVICE void named_barrier_sync(int id) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "n"(THREADS) : "memory");
}
template <int THREADS> TF_DEVICE void named_barrier_arrive(int id) {
  asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "n"(THREADS) : "memory");
}

} // namespace device
} // namespace tilefuse

#endif // __CUDA_ARCH__ >= 900
