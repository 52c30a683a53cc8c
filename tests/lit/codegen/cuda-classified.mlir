// Tile classification (empty / full / partial scf.if's): one prefetch per tile under the condition the
// loading branches share, no copies of the carried values, the mask only in the partial branch.
// RUN: tilefuse-codegen %S/Inputs/causal_classified.mlir | FileCheck %s
// RUN: tilefuse-codegen %S/Inputs/causal_classified.mlir --dump=plan | FileCheck %s --check-prefix=PLAN

// PLAN: k_smem[2] : st<__nv_bfloat16, 64, 128>, 16384 bytes per stage, {{.*}}, 2 loads share it
// PLAN: load k_smem, under 1 scf.if condition(s)

// CHECK: const long long kv_end = tfcg::smin<long long>(Sk, [[LAST:i_[0-9]+]] + 1); // later K/V tiles are empty
// CHECK: warp::load(q_frag, q_smem, warp_row0, 0); // ldmatrix
// CHECK: for (int it = 0; it < n_iters; ++it) {
// CHECK: const bool [[EMPTY:c]] = (kv0 > [[LAST]]);
// CHECK: if ([[EMPTY]]) {
// The skip branch still keeps the pipeline going: its waits refill the slots (prefetch of a later tile
// only when that tile is not empty).
// CHECK-NEXT: cp_async_wait<2>(); // k_smem of this iteration has landed ...
// CHECK: if (!((kv_ahead > [[LAST]]))) block::load_async(v_smem[ahead % 2],
// CHECK: cp_async_wait<2>(); // v_smem of this iteration has landed ...
// CHECK: if (!((kv_ahead_1 > [[LAST]]))) block::load_async(k_smem[ahead % 2],
// CHECK: } else {
// CHECK: if ([[FULL:c_[0-9]+]]) {
// CHECK-NOT: q_idx
// CHECK: warp::row_max(m_new, s_acc, m_i);
// CHECK: warp::mma_AB(o_acc,
// CHECK: } else {
// CHECK: const long long q_idx = q_row0 + row;
// CHECK: warp::row_max(m_new_1, s_acc_1, m_i);
// CHECK: warp::mma_AB(o_acc,
// CHECK-NOT: o_acc = o_acc
// The row factor 1 / l is a kept row vector: one reciprocal per row, then one multiply per element.
// CHECK: rv<16> [[INV:r]];
// CHECK-NEXT: tfcg::map([[INV]], warp_row0, [&](tfcg::fidx x, int row, int) {
// CHECK-NEXT: return ((tfcg::at(l_i, x) > 0.0f) ? __fdividef(1.0f, tfcg::at(l_i, x)) : 0.0f);
// CHECK: return (tfcg::at(o_acc, x) * tfcg::at([[INV]], x));
