// [gpu][wgmma] primitive check of device/warpgroup/mma.cuh on tiles whose columns are not a multiple of 64,
// stored the way the sm90 backend keeps head dims such as 80: sw128 tiles of whole 64-column panels
// (sw128_stored_cols<80> = 128), the columns past 80 holding 1e4 (no product may read them). One warpgroup:
//   S = A B^T : A, B [64 x 80] K-major (5 k-steps, the last panel read in part)          -> s_out [64 x 64] f32
//   O = P V   : P = A[:, 0:64] from registers, V [64 x 80] MN-major (wgmma n80: panel 0
//               and the first 16 columns of panel 1)                                     -> o_out [64 x 80] f32
// Inputs row-major bf16 [64 x 80] in global memory. Launch: 1 block of 128 threads,
// WGMMA_PARTIAL_SMEM_BYTES dynamic shared memory.
#pragma once
#include <tilefuse/device/warpgroup/mma.cuh>

#define WGMMA_PARTIAL_D 80
#define WGMMA_PARTIAL_SMEM_BYTES (1024 + 3 * 64 * 128 * 2)

#if TF_HAS_WGMMA
extern "C" __global__ void __launch_bounds__(128) wgmma_partial_panel_check(const __nv_bfloat16 *a,
                                                                            const __nv_bfloat16 *b,
                                                                            const __nv_bfloat16 *v, float *s_out,
                                                                            float *o_out) {
  using namespace tilefuse::device;
  constexpr int D = WGMMA_PARTIAL_D, COLS = sw128_stored_cols<D>;
  using Tile = sw128<64, COLS>;
  extern __shared__ __align__(1024) unsigned char smem[];
  const unsigned base = (smem_u32(smem) + 1023u) & ~1023u;
  unsigned char *tiles = smem + (base - smem_u32(smem)); // generic address of `base`
  const __nv_bfloat16 *src[3] = {a, b, v};
  for (int m = 0; m < 3; ++m)
    for (int i = threadIdx.x; i < 64 * COLS; i += 128) {
      const int r = i / COLS, c = i % COLS;
      *reinterpret_cast<__nv_bfloat16 *>(tiles + m * Tile::bytes + Tile::offset(r, c / 8) + 2 * (c % 8)) =
          c < D ? src[m][r * D + c] : __float2bfloat16(1e4f);
    }
  fence_proxy_async_smem();
  __syncthreads();
  const int w = threadIdx.x / 32, g = (threadIdx.x & 31) / 4, t = threadIdx.x & 3;

  rt<float, 16, 64> s;
  warpgroup::mma_ABt<__nv_bfloat16, 64, 64, D>(s, base, 0, base + Tile::bytes);
  const float *sr = reinterpret_cast<const float *>(&s.tiles); // d[4i + e]: row g + 8 (e / 2), column 8i + 2t + e % 2
  for (int i = 0; i < 8; ++i)
    for (int e = 0; e < 4; ++e) s_out[(16 * w + g + 8 * (e >> 1)) * 64 + 8 * i + 2 * t + (e & 1)] = sr[4 * i + e];

  rt<__nv_bfloat16, 16, 64> p; // row layout: pair q of base tile k is row g + 8 (q & 1), columns 16k + 2t + 8 (q >> 1)
  for (int k = 0; k < 4; ++k)
    for (int q = 0; q < 4; ++q)
      p.tiles[0][k][q] = *reinterpret_cast<const __nv_bfloat162 *>(a + (16 * w + g + 8 * (q & 1)) * D + 16 * k + 2 * t +
                                                                   8 * (q >> 1));
  rt<float, 16, D> o;
  float *orr = reinterpret_cast<float *>(&o.tiles);
  for (int i = 0; i < D / 2; ++i) orr[i] = 0.0f;
  warpgroup::mma_AB<__nv_bfloat16, 64, D>(o, p, base + 2 * Tile::bytes);
  for (int i = 0; i < D / 8; ++i)
    for (int e = 0; e < 4; ++e) o_out[(16 * w + g + 8 * (e >> 1)) * D + 8 * i + 2 * t + (e & 1)] = orr[4 * i + e];
}
#endif
