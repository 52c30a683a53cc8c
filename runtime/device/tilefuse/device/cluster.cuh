// Thread-block clusters (sm_90; PTX ISA 8.x sections 9.7.13.4 "barrier.cluster", 9.7.9.15 "mapa",
// 9.7.13.15.13 "mbarrier.arrive" with .shared::cluster, and 9.7.9.25.4.1 "cp.async.bulk.tensor" with
// .multicast::cluster). NVRTC-safe (no host headers).
//
// The sm90 backend's use (Schedule::cluster = 2; EmitSm90.cpp): the two blocks of a cluster run neighbouring
// Q tiles of one (batch, head) and share every K/V tile. Each producer issues half of a tile's TMA boxes
// with a CTA mask of both blocks, so the box lands at the same shared-memory offset in both and completes
// the transaction bytes of the full barrier at the same offset in both; each block's producer still arms
// its own full barrier with the whole tile's bytes (a peer's bytes may arrive first: the transaction count
// may run ahead of the arrival, and the phase completes only with both). A slot is refilled only once the
// consumers of both blocks have handed it back: each consumer warp arrives on the empty barrier of every
// block of the cluster (mbarrier_arrive_cluster_if), so the empty barriers count 2 x the consumer warps.
// A block must not exit while its peer can still write its shared memory or arrive on its barriers: every
// thread of both blocks meets at cluster_arrive / cluster_wait before the kernel returns.
#pragma once
#include "common.cuh"
#include "tma.cuh"

#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 900)

namespace tilefuse {
namespace device {

/// %cluster_ctarank: this block's rank in its cluster (0 .. cluster size - 1).
TF_DEVICE unsigned cluster_ctarank() {
  unsigned r;
  asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
  return r;
}

/// barrier.cluster.arrive.release + barrier.cluster.wait.acquire, each thread on its own (not .aligned: the
/// threads of a warp may reach it apart, as the producer warp's idle lanes do). Every thread of every block
/// of the cluster must arrive before any wait returns; the release / acquire pair orders what each thread
/// did before (mbarrier.init and its fence, remote arrivals) before what the others do after.
TF_DEVICE void cluster_arrive() { asm volatile("barrier.cluster.arrive.release;\n" ::: "memory"); }
TF_DEVICE void cluster_wait() { asm volatile("barrier.cluster.wait.acquire;\n" ::: "memory"); }
TF_DEVICE void cluster_sync() {
  cluster_arrive();
  cluster_wait();
}

/// One arrival (release at cluster scope) on the mbarrier at shared offset `bar` of block `cta` of this
/// cluster (this block included) when `pred` is true: mapa turns the offset into that block's
/// shared::cluster address. Branch-free (like mbarrier_arrive_if), so it can sit between a wgmma issue and
/// its wait.
TF_DEVICE void mbarrier_arrive_cluster_if(unsigned bar, unsigned cta, bool pred) {
  asm volatile("{\n.reg .pred p;\n.reg .b32 remote;\nsetp.ne.b32 p, %2, 0;\n"
               "mapa.shared::cluster.u32 remote, %0, %1;\n"
               "@p mbarrier.arrive.release.cluster.shared::cluster.b64 _, [remote];\n}\n" ::"r"(bar),
               "r"(cta), "r"(static_cast<unsigned>(pred))
               : "memory");
}

/// SM90_TMA_LOAD_MULTICAST_4D: tma_load_4d (tma.cuh) into shared offset `dst` of every block of the cluster
/// whose bit is set in `cta_mask`, completing the transaction bytes of the mbarrier at offset `bar` in each
/// of them. Issued by one thread.
TF_DEVICE void tma_load_4d_multicast(unsigned dst, const TmaDescriptor &map, unsigned bar, unsigned short cta_mask,
                                     int c0, int c1, int c2, int c3) {
  asm volatile("cp.async.bulk.tensor.4d.shared::cluster.global.tile.mbarrier::complete_tx::bytes.multicast::cluster"
               " [%0], [%1, {%4, %5, %6, %7}], [%2], %3;\n" ::"r"(dst),
               "l"(tma_address(map)), "r"(bar), "h"(cta_mask), "r"(c0), "r"(c1), "r"(c2), "r"(c3)
               : "memory");
}

} // namespace device
} // namespace tilefuse

#endif // __CUDA_ARCH__ >= 900
