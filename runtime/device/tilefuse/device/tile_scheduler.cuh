// A dynamic tile scheduler for persistent warp-specialized kernels (sm_90): the blocks of a persistent grid take
// their tiles from a counter in global memory as they free up, instead of a static deal (FlashAttention-3, Shah
// et al. 2024, Sec. 3.1, the persistent kernel's tile scheduler). One thread of the producer warpgroup, the
// scheduler, claims each tile and hands it to the TMA producer thread and the consumer warps through one
// shared-memory slot with a full and an empty mbarrier. It claims the next tile as soon as they have all taken the
// last one, so one tile is claimed ahead of the one the block runs, and the atomic's latency overlaps that tile.
// NVRTC-safe.
//
// The counter is two int32 in global memory: [0] the tiles claimed past the first round (tile = gridDim.x + n),
// [1] the blocks done. Both are 0 before a launch. Each block's scheduler stops at the first claim past the last
// tile and counts its block done; the last block resets both to 0, after every claim of the launch. So launches in
// one stream's order share a counter, and launches that may run at once need one each (the runtime keeps one per
// stream: runtime/lib/Launch.h, TileCounters).
#pragma once
#include "common.cuh"
#include "mbarrier.cuh"

#if defined(__CUDA_ARCH__) && (__CUDA_ARCH__ >= 900)

namespace tilefuse {
namespace device {

/// The shared-memory hand-off of claimed tiles, 24 bytes at the shared address `h` (8-byte aligned): the full
/// mbarrier at h, the empty one at h + 8, the int32 slot at h + 16. Hand-off n completes phase n of the full
/// barrier; the receivers' reads of it complete phase n of the empty one. Static functions of the address, so a
/// kernel keeps no state for it in registers (the producer thread has 24).
struct tile_handoff {
  /// One thread, before the block-wide barrier that follows mbarrier_init_fence(): the full barrier takes the
  /// scheduler's arrival, the empty one an arrival per receiver (a warp of consumers, or the producer thread).
  static TF_DEVICE void init(unsigned h, int receivers) {
    mbarrier_init(h, 1);
    mbarrier_init(h + 8u, static_cast<unsigned>(receivers));
  }

  /// The scheduler: its next tile, gridDim.x + the counter's old value (its first is blockIdx.x); at most
  /// 2^31 - 1, so a claim past the last of up to 2^31 - 1 tiles stays positive.
  static TF_DEVICE int claim(int *counter) {
    const unsigned t = gridDim.x + static_cast<unsigned>(atomicAdd(counter, 1));
    return t > 0x7fffffffu ? 0x7fffffff : static_cast<int>(t);
  }

  /// The scheduler, before it claims the tile of hand-off n >= 1: waits until every receiver has taken
  /// hand-off n - 1.
  static TF_DEVICE void wait_free(unsigned h, int n) { mbarrier_wait(h + 8u, (n - 1) & 1); }

  /// The scheduler: hands `tile` over (the slot is free: wait_free). The arrival releases the slot's store to
  /// the receivers that wait on the full barrier.
  static TF_DEVICE void publish(unsigned h, int tile) {
    asm volatile("st.shared.s32 [%0], %1;\n" ::"r"(h + 16u), "r"(tile) : "memory");
    mbarrier_arrive_if(h, true);
  }

  /// Every thread of a consumer warp: the tile of hand-off n. Lane 0 hands the slot back once the whole warp
  /// has read it.
  static TF_DEVICE int receive(unsigned h, int n) {
    const int tile = read(h, n);
    __syncwarp();
    mbarrier_arrive_if(h + 8u, laneid() == 0);
    return tile;
  }

  /// A receiver that is one thread (the TMA producer): the tile of hand-off n.
  static TF_DEVICE int receive_one(unsigned h, int n) {
    const int tile = read(h, n);
    mbarrier_arrive_if(h + 8u, true);
    return tile;
  }

  /// The scheduler, after it has handed over the claim past the last tile: counts its block done; the last
  /// block of the grid resets the counter for the next launch (no claim of this launch is left). The fence orders
  /// this block's claims before its count (atomics are relaxed), so the reset follows every claim of the launch.
  static TF_DEVICE void done(int *counter) {
    __threadfence();
    if (atomicAdd(counter + 1, 1) == static_cast<int>(gridDim.x) - 1) {
      atomicExch(counter, 0);
      atomicExch(counter + 1, 0);
    }
  }

private:
  static TF_DEVICE int read(unsigned h, int n) {
    mbarrier_wait(h, n & 1);
    int tile;
    asm volatile("ld.shared.s32 %0, [%1];\n" : "=r"(tile) : "r"(h + 16u) : "memory");
    return tile;
  }
};

} // namespace device
} // namespace tilefuse

#endif // __CUDA_ARCH__ >= 900
