// kv_pipeline<STAGES>: the cp.async schedule of a K/V loop (FlashAttention-2's main loop with K and V
// each in a ring of STAGES shared slots). One commit group per tile, K and V interleaved, so that
// tile j's K and V can be waited for separately: S = Q K_j^T starts while V_j is still landing, and
// O += P V_j runs while K_{j+STAGES} lands. STAGES = 1 is FA2's own single-buffered schedule.
//
// Commit order (every call commits a group, empty past the last tile, so the counts stay fixed):
//   prologue:        K_0 (+ Q), V_0, K_1, V_1, ..., V_{STAGES-2}, K_{STAGES-1}
//   iteration j:     wait_k()  -> issue V_{j+STAGES-1} into slot (j-1) % STAGES   (freed by P V_{j-1})
//                    S = Q K_j^T, softmax
//                    wait_v()  -> issue K_{j+STAGES}   into slot j % STAGES       (freed by Q K_j^T)
//                    O += P V_j
// K_j is group 2j and V_j group 2j+1; at each wait 2*STAGES - 1 newer groups may be issued, of which
// 2*STAGES - 2 may still be in flight. Each wait ends with a block barrier, which also tells every
// warp that the slot about to be refilled is no longer being read.
//
// Shared memory: STAGES * 2 * BLOCK_N * HEAD_DIM * sizeof(T) bytes for the two rings.
#pragma once
#include "../arch/sm80_copy.cuh"

namespace tilefuse {
namespace device {

template <int STAGES> struct kv_pipeline {
  static_assert(STAGES >= 1, "at least one slot per operand");
  static constexpr int stages = STAGES;
  /// Commit groups allowed in flight when the oldest one (the tile about to be used) must be complete.
  static constexpr int PENDING = 2 * STAGES - 2;

  /// Ring slot of K/V tile j.
  static TF_DEVICE int slot(int j) { return j % STAGES; }
  /// Wait until K_j (first wait of iteration j) or V_j (second wait) has landed for the whole block.
  static TF_DEVICE void wait() {
    cp_async_wait<PENDING>();
    __syncthreads();
  }
  /// Close the group of the copies issued since the last commit (possibly none).
  static TF_DEVICE void commit() { cp_async_commit(); }
};

} // namespace device
} // namespace tilefuse
