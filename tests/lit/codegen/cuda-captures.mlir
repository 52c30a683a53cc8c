// score_mod / mask_mod reading captured tables: bounds-checked table objects (outside reads 0); a read of tile-uniform indices (slopes[h]) is hoisted in front of the K/V loop, per-element reads stay in the element code, or are made once per diagonal.
// RUN: tilefuse-codegen %S/Inputs/alibi.mlir | FileCheck %s --check-prefix=ALIBI
// RUN: tilefuse-codegen %S/Inputs/relative_bias.mlir | FileCheck %s --check-prefix=REL
// RUN: tilefuse-codegen %S/Inputs/document_mask.mlir | FileCheck %s --check-prefix=DOC
// RUN: tilefuse-codegen %S/Inputs/softcap.mlir | FileCheck %s --check-prefix=SOFTCAP

// ALIBI: const float *slopes; // f32 [Hq] (captured)
// ALIBI: long long slopes_extent[1]; // extents of dims Hq
// ALIBI: const tfcg::table<float, 1> slopes{p.slopes, {p.Hq}, {1}};
// ALIBI: const float [[T:f]] = slopes(head);
// The position difference is converted term by term (no per-element int -> f32 conversion).
// ALIBI: (tfcg::at(s_acc, x) * 0.0883883461f) + fmaf([[T]], tfcg::col_offset_f32(x), [[T]] * (((float)(kv0 - ((q_row0 + Sk) - Sq)) - (float)row) + tfcg::col_base_f32(x)))

// REL: const tfcg::table<float, 2> bias{p.bias, {p.Hq, p.bias_extent[1]}, {p.bias_stride[0], 1}};
// A read whose index depends on the position only through kv_idx - q_idx: once per diagonal of the lane's
// fragment (9 x 2 values for its 32 elements at 16 x 64), looked up per element.
// REL: float [[D:diag]][9][2];
// REL: const long long [[REL:dv]] = (kv_idx_1 - q_idx_1);
// REL: bias(head, {{.*}}[[REL]]
// REL: tfcg::map(s_acc, warp_row0,
// REL-NOT: bias(
// REL: [[D]][tfcg::diag_of(x) + 1][x.e]

// DOC: const tfcg::table<int, 2> doc_ids{p.doc_ids, {p.B, p.Sk}, {p.doc_ids_stride[0], 1}};
// DOC: doc_ids(batch, ((q_idx + Sk) - Sq))
// DOC: doc_ids(batch, kv_idx)

// SOFTCAP: (50.0f * tfcg::fast_tanh(((tfcg::at(s_acc, x) * 0.0883883461f) * 0.0199999996f)))
