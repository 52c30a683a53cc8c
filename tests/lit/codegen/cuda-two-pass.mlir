// Two K/V loops in one kernel (the row max first, then the row sum and P V): each loop has its own
// pipeline, their shared tiles share addresses, and the second waits for the first to be done with them.
// The row max of the masked scores runs inside the reduction (row_max_of); the masked P of the second
// loop is kept once, and the row sum and P V read it without masking again (Prepare.h).
// RUN: tilefuse-codegen %S/Inputs/mha_two_pass.mlir | FileCheck %s

// CHECK: st<T, 64, 128> *k_smem = reinterpret_cast<st<T, 64, 128> *>(smem + [[OFF:[0-9]+]]);
// CHECK: st<T, 64, 128> *k_smem_1 = reinterpret_cast<st<T, 64, 128> *>(smem + [[OFF]]);
// CHECK: // K/V loop ({{.*}}): 1 carried value, BLOCK_N = 64, 2 pipeline stages
// CHECK: for (int it = 0; it < n_iters; ++it) {
// CHECK: warp::mma_ABt(s_acc, q_frag, k_smem[stage], 0);
// CHECK: tfcg::row_max_of<64>(m_i, m_i, warp_row0, [&](tfcg::fidx x, int row, int col) {
// CHECK: // K/V loop ({{.*}}): 2 carried values, BLOCK_N = 64, 2 pipeline stages
// CHECK: __syncthreads(); // the previous loop's shared tiles are reused
// CHECK: for (int it = 0; it < n_iters_1; ++it) {
// CHECK: warp::mma_ABt(s_acc_1, q_frag, k_smem_1[stage], 0);
// CHECK: return ((kv_idx < Sk) ? tfcg::exp_diff(
// CHECK: warp::row_sum(l_i, s_acc_1, l_i);
// CHECK: warp::copy(p_frag, s_acc_1);
// CHECK: warp::mma_AB(o_acc, p_frag, v_smem[stage], 0);
