// The CUDA of the causal FlashAttention-2 program: named tiles, the cp.async pipeline and the online
// softmax steps in order (row_max -> alpha -> exp -> row_sum -> rescale -> P V), the mask from the IR.
// RUN: tilefuse-opt %S/Inputs/causal.mlir | tilefuse-codegen - | FileCheck %s
// RUN: tilefuse-codegen %S/Inputs/causal.mlir --dump=launch | FileCheck %s --check-prefix=LAUNCH

// LAUNCH: kernel tilefuse_causal: grid (x = ceil(Sq / 64), y = Hq, z = B), 128 threads, 81920 bytes dynamic shared memory

// CHECK-LABEL: namespace tilefuse_causal_abi {
// CHECK: struct Params {
// CHECK-NEXT: const __nv_bfloat16 *Q; // bf16 [B, Hq, Sq, 128]
// CHECK: float *LSE; // f32 [B, Hq, Sq]
// CHECK: long long Q_stride[3]; // strides of dims B, Hq, Sq
// CHECK: static_assert(sizeof(Params) == 192,

// CHECK-LABEL: extern "C" __global__ void __launch_bounds__(128, 1) tilefuse_causal(const tilefuse_causal_abi::Params p) {
// CHECK: auto &[[Q:q_smem]] = *reinterpret_cast<st<T, 64, 128> *>(smem + 0);
// CHECK: st<T, 64, 128> *[[K:k_smem]] = reinterpret_cast<st<T, 64, 128> *>(smem + 16384); // [2] pipeline stages
// CHECK: st<T, 64, 128> *[[V:v_smem]] = reinterpret_cast<st<T, 64, 128> *>(smem + 49152); // [2] pipeline stages
// CHECK: const long long batch = blockIdx.z;
// CHECK: const long long head = blockIdx.y;
// CHECK: const long long q_tile = gridDim.x - 1 - blockIdx.x; // last (longest under a causal mask) Q tiles first
// CHECK: const long long q_row0 = (q_tile * 64);
// CHECK: block::load_async([[Q]], gv<const T>{p.Q + batch * p.Q_stride[0] + head * p.Q_stride[1], static_cast<int>(p.Sq), p.Q_stride[2]}, static_cast<int>(q_row0));
// CHECK: warp::fill([[M:m_i]], (-tfcg::inf()));
// CHECK: warp::fill([[L:l_i]], 0.0f);
// CHECK: warp::zero([[O:o_acc]]);

// Pipeline (split waits): prologue K_0, V_0, K_1; wait for Q; Q into registers once; in each iteration
// wait K_j (refill V_{j+1}), S = Q K_j^T, softmax, wait V_j (refill K_{j+2}), O += P V_j.
// CHECK: for (int pre = 0; pre < 1; ++pre) {
// CHECK: block::load_async([[K]][pre],
// CHECK: block::load_async([[V]][pre],
// CHECK: block::load_async([[K]][1],
// CHECK: cp_async_wait<3>();
// CHECK: warp::load([[QF:q_frag]], [[Q]], warp_row0, 0);
// CHECK: for (int it = 0; it < n_iters; ++it) {
// CHECK-NEXT: const long long kv0 = kv_begin + it * 64;
// CHECK-NEXT: const int stage = it % 2;
// CHECK: cp_async_wait<2>(); // [[K]] of this iteration has landed ...
// CHECK-NEXT: __syncthreads(); // ... for every thread, and every warp is done with the [[V]] slot refilled here
// CHECK: block::load_async([[V]][ahead % 2],

// S = Q K^T
// CHECK: warp::zero([[S:s_acc]]);
// CHECK-NEXT: warp::mma_ABt([[S]], [[QF]], [[K]][stage], 0);
// scale, mask_mod, K/V tail: one element-wise pass, from the IR's maps
// CHECK: tfcg::map([[S]], warp_row0, [&](tfcg::fidx x, int row, int col) {
// CHECK-NEXT: const long long q_idx = q_row0 + row;
// CHECK-NEXT: const long long kv_idx = kv0 + col;
// CHECK-NEXT: return ((kv_idx < Sk) ? (((q_idx + [[D:i]]) >= kv_idx) ? (tfcg::at([[S]], x) * 0.0883883461f) : (-tfcg::inf())) : (-tfcg::inf()));
// online softmax
// CHECK: warp::row_max([[MN:m_new]], [[S]], [[M]]);
// CHECK: tfcg::map([[ALPHA:alpha]], warp_row0,
// CHECK: tfcg::map([[S]], warp_row0, [&](tfcg::fidx x, int row, int col) {
// CHECK-NEXT: return tfcg::exp_diff(tfcg::at([[S]], x),
// CHECK: warp::row_sum([[L]], [[S]], [[L]]);
// CHECK: warp::mul_row([[O]], [[O]], [[ALPHA]]);
// CHECK: warp::copy([[P:p_frag]], [[S]]);
// CHECK: cp_async_wait<2>(); // [[V]] of this iteration has landed ...
// CHECK: block::load_async([[K]][ahead % 2],
// CHECK: warp::mma_AB([[O]], [[P]], [[V]][stage], 0);
// CHECK: [[M]] = [[MN]];
// CHECK-NEXT: }

// Epilogue: deferred normalisation, O and LSE stores.
// CHECK: return ((tfcg::at([[L]], x) == 0.0f) ? 0.0f : __fdividef(tfcg::at([[O]], x), tfcg::at([[L]], x)));
// CHECK: warp::store(gv<T>{p.O + batch * p.O_stride[0] + head * p.O_stride[1], static_cast<int>(p.Sq), p.O_stride[2]}, [[O]], static_cast<int>(q_row0) + warp_row0, 0);
// CHECK: tfcg::log(tfcg::at([[L]], x))
// CHECK: warp::store(gv<float>{p.LSE + batch * p.LSE_stride[0] + head * p.LSE_stride[1], static_cast<int>(p.Sq), 1}, lse, static_cast<int>(q_row0) + warp_row0);
