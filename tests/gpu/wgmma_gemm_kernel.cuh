// [gpu][wgmma] primitive check of device/wgmma.cuh: one warpgroup, 64 x 128 x 128 bf16 -> f32.
//   D_ss = A B_nk^T : A [64 x 128] and B_nk [128 x 128] (N x K, K contiguous) both K-major from SMEM (SS)
//   D_rs = A B_kn   : A from registers (RS fragment), B_kn [128 x 128] (K x N, N contiguous) N-major
// Inputs row-major in global memory, loaded with warpgroup::load_async_sw128; outputs row-major f32.
// Launch: 1 block of 128 threads, WGMMA_GEMM_SMEM_BYTES dynamic shared memory.
#pragma once
#include <tilefuse/device/wgmma.cuh>

#define WGMMA_GEMM_SMEM_BYTES (1024 + (64 + 128 + 128) * 128 * 2)

#if TF_HAS_WGMMA
extern "C" __global__ void __launch_bounds__(128) wgmma_gemm_check(const __nv_bfloat16 *a, const __nv_bfloat16 *b_nk,
                                                                   const __nv_bfloat16 *b_kn, float *d_ss, float *d_rs) {
  using namespace tilefuse::device;
  using ATile = sw128<64, 128>;
  using BTile = sw128<128, 128>;
  extern __shared__ __align__(1024) unsigned char smem[];
  const unsigned a_s = (smem_u32(smem) + 1023u) & ~1023u, bnk_s = a_s + ATile::bytes, bkn_s = bnk_s + BTile::bytes;
  const int tid = threadIdx.x, w = tid >> 5, g = (tid & 31) >> 2, t = tid & 3;
  warpgroup::load_async_sw128<64, 128, 128>(a_s, a, 128, 0, 64, tid);
  warpgroup::load_async_sw128<128, 128, 128>(bnk_s, b_nk, 128, 0, 128, tid);
  warpgroup::load_async_sw128<128, 128, 128>(bkn_s, b_kn, 128, 0, 128, tid);
  cp_async_commit();
  cp_async_wait<0>();
  fence_proxy_async_smem();
  __syncthreads();

  float d[64];
  wgmma_fence();
#pragma unroll
  for (int k16 = 0; k16 < 8; ++k16)
    SM90_64x128x16_F32BF16BF16_SS::mma<0>(d, ATile::desc_k_major(a_s, 0, k16), BTile::desc_k_major(bnk_s, 0, k16),
                                          k16 > 0);
  wgmma_commit();
  wgmma_wait<0>();
  wgmma_fence_operand(d);
  const int r0 = 16 * w + g;
#pragma unroll
  for (int i = 0; i < 16; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) d_ss[(r0 + (e >> 1) * 8) * 128 + 8 * i + 2 * t + (e & 1)] = d[4 * i + e];

  // A fragment straight from global memory: a[0] = A[r0][2t..], a[1] = A[r0+8][2t..], a[2] = A[r0][2t+8..], ...
  unsigned af[8][4];
  const unsigned *a32 = reinterpret_cast<const unsigned *>(a);
#pragma unroll
  for (int k16 = 0; k16 < 8; ++k16) {
    af[k16][0] = a32[(r0 * 128 + 16 * k16 + 2 * t) / 2];
    af[k16][1] = a32[((r0 + 8) * 128 + 16 * k16 + 2 * t) / 2];
    af[k16][2] = a32[(r0 * 128 + 16 * k16 + 2 * t + 8) / 2];
    af[k16][3] = a32[((r0 + 8) * 128 + 16 * k16 + 2 * t + 8) / 2];
  }
#pragma unroll
  for (int i = 0; i < 64; ++i) d[i] = 0.0f;
  wgmma_fence_operand(d);
  wgmma_fence();
#pragma unroll
  for (int k16 = 0; k16 < 8; ++k16)
    SM90_64x128x16_F32BF16BF16_RS::mma<1>(d, af[k16], BTile::desc_mn_major(bkn_s, k16), 1);
  wgmma_commit();
  wgmma_wait<0>();
  wgmma_fence_operand(d);
#pragma unroll
  for (int i = 0; i < 16; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) d_rs[(r0 + (e >> 1) * 8) * 128 + 8 * i + 2 * t + (e & 1)] = d[4 * i + e];
}
#endif
