//===- StickBreaking.h - the stick-breaking weights of one row -*- C++ -*-===//
//
// "normalizer": "stick_breaking" (Spec.h; Tan et al. 2024, "Scaling Stick-Breaking Attention", Sec. 2):
// key j of a row weighs beta_j prod_{kept k > j} (1 - beta_k), beta = sigmoid(s). The fp64 references
// (reference::attention, the tuner's accuracy check, the GPU sweep's reference) share this product form,
// which is independent of the block program's log form (softplus and a reverse scan).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include <span>
#include <vector>

namespace tilefuse::spec {

/// The weights of one row of scores `s` (score_mod(scale * q.k), fp64; a masked key is -inf): w_j =
/// sigmoid(s_j) prod_{k > j, s_k != -inf} sigmoid(-s_k), and 0 for a masked key, which also breaks off
/// nothing. Accumulated from the row's end, with 1 - beta written sigmoid(-s) (no cancellation near
/// beta = 1). Same length as `s`; the weights sum to at most 1. Throws nothing.
std::vector<double> stickBreakingWeights(std::span<const double> s);

} // namespace tilefuse::spec
