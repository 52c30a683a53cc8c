// Test kernels, one per group of device-library primitives; each dumps what the primitives produced
// so test_primitives.cpp can compare it with a host reference. One block of 128 threads (4 warps),
// warp w owning rows [16w, 16w + 16). Compile with -DTF_T=<__nv_bfloat16|__half> -DTF_D=<32|64|128>.
#pragma once
#include <tilefuse/device.cuh>

#ifndef TF_T
#error "define TF_T (element type) and TF_D (columns)"
#endif

using namespace tilefuse::device;
using T = TF_T;
constexpr int D = TF_D;

/// cp.async (zero-filled tail rows, strided source) -> swizzled shared tile -> ldmatrix into both
/// register layouts -> for_each writes every element at its (row, col).
/// x: [rows_valid, D] with row stride x_stride; rows row0 .. row0+63 are loaded.
/// out_row, out_col: [64, D] f32.
extern "C" __global__ void __launch_bounds__(128)
    tf_copy_ldmatrix(const T *x, int rows_valid, long long x_stride, int row0, float *out_row, float *out_col) {
  __shared__ st<T, 64, D> xs;
  group<4>::load_async(xs, gv<const T>{x, rows_valid, x_stride}, row0);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  const int w = warpid();
  rt<T, 16, D> a;
  warp::load(a, xs, 16 * w, 0);
  warp::for_each(a, [&](int r, int c, T &v) { out_row[(16 * w + r) * D + c] = to_float(v); });
  rt<T, 16, D, layout::col> b;
  warp::load(b, xs, 16 * w, 0);
  warp::for_each(b, [&](int r, int c, T &v) { out_col[(16 * w + r) * D + c] = to_float(v); });
}

/// S = A Bt^T (k-sliced and whole), O = Pm V, O2 = T(S) V (P reused from the accumulator), store.
/// a, bt, v: [64, D]; pm: [64, 64]. Outputs f32: s_out, s_whole [64, 64]; o_out, o2_out [64, D];
/// o_store: [64, D] in T, rows >= store_rows untouched. Dynamic smem: (3 * 64 * D + 64 * 64) * 2 bytes.
extern "C" __global__ void __launch_bounds__(128)
    tf_mma(const T *a, const T *bt, const T *v, const T *pm, float *s_out, float *s_whole, float *o_out,
           float *o2_out, T *o_store, int store_rows) {
  extern __shared__ __align__(128) unsigned char smem[];
  shared_allocator alloc{smem};
  auto &a_s = alloc.allocate<st<T, 64, D>>();
  auto &b_s = alloc.allocate<st<T, 64, D>>();
  auto &v_s = alloc.allocate<st<T, 64, D>>();
  auto &p_s = alloc.allocate<st<T, 64, 64>>();
  group<4>::load_async(a_s, gv<const T>{a, 64, D}, 0);
  group<4>::load_async(b_s, gv<const T>{bt, 64, D}, 0);
  group<4>::load_async(v_s, gv<const T>{v, 64, D}, 0);
  group<4>::load_async(p_s, gv<const T>{pm, 64, 64}, 0);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();
  const int w = warpid();

  rt<T, 16, D> a_r;
  warp::load(a_r, a_s, 16 * w, 0);
  rt<float, 16, 64> s;
  warp::zero(s);
#pragma unroll
  for (int kk = 0; kk < D / 16; ++kk) {
    rt<T, 64, 16> b_r;
    warp::load(b_r, b_s, 0, 16 * kk);
    warp::mma_ABt(s, warp::subtile_cols<16>(a_r, kk), b_r);
  }
  warp::for_each(s, [&](int r, int c, float &x) { s_out[(16 * w + r) * 64 + c] = x; });

  rt<T, 64, D> b_whole;
  warp::load(b_whole, b_s, 0, 0);
  rt<float, 16, 64> s2;
  warp::zero(s2);
  warp::mma_ABt(s2, a_r, b_whole);
  warp::for_each(s2, [&](int r, int c, float &x) { s_whole[(16 * w + r) * 64 + c] = x; });

  rt<T, 16, 64> p_r;
  warp::load(p_r, p_s, 16 * w, 0);
  rt<T, 16, 64> s_t;
  warp::copy(s_t, s);
  rt<float, 16, D> o, o2;
  warp::zero(o);
  warp::zero(o2);
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    rt<T, 16, D, layout::col> v_r;
    warp::load(v_r, v_s, 16 * kk, 0);
    warp::mma_AB(o, warp::subtile_cols<16>(p_r, kk), v_r);
    warp::mma_AB(o2, warp::subtile_cols<16>(s_t, kk), v_r);
  }
  warp::for_each(o, [&](int r, int c, float &x) { o_out[(16 * w + r) * D + c] = x; });
  warp::for_each(o2, [&](int r, int c, float &x) { o2_out[(16 * w + r) * D + c] = x; });
  warp::store(gv<T>{o_store, store_rows, D}, o, 16 * w, 0);
}

/// One online-softmax step on a [64, 64] f32 score tile with masks, then the epilogue.
/// s_in [64, 64]; m_in, l_in [64]: running max / sum before the step. Masks: col >= col_end, and
/// causal col > row + causal_offset. Outputs: p_out [64, 64], m_out, alpha_out, l_out, lse_out [64]
/// (lse rows >= store_rows untouched); o_store [64, 64] in T = p / l, rows >= store_rows untouched.
extern "C" __global__ void __launch_bounds__(128)
    tf_softmax(const float *s_in, const float *m_in, const float *l_in, int col_end, int causal_offset,
               float scale_log2, float softmax_scale, int store_rows, float *p_out, float *m_out,
               float *alpha_out, float *l_out, float *lse_out, T *o_store) {
  const int w = warpid();
  rt<float, 16, 64> s;
  rv<16> m, l, m_new, alpha, lse;
  warp::for_each(s, [&](int r, int c, float &x) { x = s_in[(16 * w + r) * 64 + c]; });
  warp::for_each(m, [&](int r, float &x) { x = m_in[16 * w + r]; });
  warp::for_each(l, [&](int r, float &x) { x = l_in[16 * w + r]; });

  warp::mask_cols(s, 0, col_end);
  warp::mask_causal(s, 16 * w, 0, causal_offset);
  warp::row_max(m_new, s, m);
  warp::rescale_factor(alpha, m, m_new, scale_log2);
  warp::exp2_sub_row(s, s, m_new, scale_log2);
  warp::mul(l, l, alpha);
  warp::row_sum(l, s, l);

  warp::for_each(s, [&](int r, int c, float &x) { p_out[(16 * w + r) * 64 + c] = x; });
  warp::for_each(m_new, [&](int r, float &x) { m_out[16 * w + r] = x; });
  warp::for_each(alpha, [&](int r, float &x) { alpha_out[16 * w + r] = x; });
  warp::for_each(l, [&](int r, float &x) { l_out[16 * w + r] = x; });

  warp::normalize_rows(s, l);
  warp::log_sum_exp(lse, m_new, l, softmax_scale);
  warp::store(gv<T>{o_store, store_rows, 64}, s, 16 * w, 0);
  warp::store(gv<float>{lse_out, store_rows, 1}, lse, 16 * w);
}

/// warp::row_scan_sum of a [64, 128] f32 tile in the four forms: out[f][r][c] for f = 2 reverse + exclusive
/// (0: prefix inclusive, 1: prefix exclusive, 2: suffix inclusive, 3: suffix exclusive); the exclusive
/// suffix form is written in place (dst aliasing src).
extern "C" __global__ void __launch_bounds__(128) tf_row_scan(const float *in, float *out) {
  const int w = warpid();
  rt<float, 16, 128> x, y;
  warp::for_each(x, [&](int r, int c, float &v) { v = in[(16 * w + r) * 128 + c]; });
  auto put = [&](int form, rt<float, 16, 128> &t) {
    warp::for_each(t, [&](int r, int c, float &v) { out[form * 64 * 128 + (16 * w + r) * 128 + c] = v; });
  };
  warp::row_scan_sum<false, false>(y, x);
  put(0, y);
  warp::row_scan_sum<false, true>(y, x);
  put(1, y);
  warp::row_scan_sum<true, false>(y, x);
  put(2, y);
  warp::row_scan_sum<true, true>(x, x);
  put(3, x);
}
