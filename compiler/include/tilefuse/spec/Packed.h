//===- Packed.h - packed variable-length sequences (cu_seqlens) -------*- C++ -*-===//
//
// A spec with "layout": "packed" (Spec.h: Layout::Packed) runs on B sequences of their own lengths,
// concatenated along the token dim, as FlashAttention's varlen API (flash_attn_varlen_func) does:
//
//   Q [total_q, Hq, D]   K [total_k, Hkv, D]   V [total_k, Hkv, Dv]   O [total_q, Hq, Dv]
//   LSE [Hq, total_q] fp32 (FlashAttention's varlen LSE layout)
//   cu_seqlens_q, cu_seqlens_k: int32 [B + 1], cu[0] = 0, non-decreasing, cu[B] = total
//
// Sequence b holds rows [cu_seqlens_q[b], cu_seqlens_q[b + 1]) of Q / O and
// [cu_seqlens_k[b], cu_seqlens_k[b + 1]) of K / V; inside score_mod and mask_mod `b` is the sequence,
// q_idx / kv_idx are positions in it and Sq / Sk its lengths (so causal stays bottom-right aligned per
// sequence). The shape a packed call resolves to (for captures' size expressions, the grid, the
// tuner's bucket) has Sq = max_seqlen_q and Sk = max_seqlen_k.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tilefuse::spec {

/// Bad sequence offsets or lengths. what() names the field (e.g. "cu_seqlens_q[3]"), the value and what
/// is allowed.
class PackedError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// Validated offsets of one packed batch (host copies; the device holds the same int32 values).
struct PackedSeqs {
  std::vector<int64_t> cuQ, cuK; ///< [B + 1] each

  int64_t batch() const { return static_cast<int64_t>(cuQ.size()) - 1; }
  int64_t totalQ() const { return cuQ.back(); }
  int64_t totalK() const { return cuK.back(); }
  int64_t lenQ(int64_t b) const { return cuQ[b + 1] - cuQ[b]; }
  int64_t lenK(int64_t b) const { return cuK[b + 1] - cuK[b]; }
  int64_t maxLenQ() const; ///< max_seqlen_q (0 when every sequence is empty)
  int64_t maxLenK() const;
  /// Real query-key pairs sum_b Sq_b * Sk_b (the FLOP count's unit: no padding).
  int64_t pairs() const;
  std::vector<int32_t> cuQ32() const; ///< the int32 device copies
  std::vector<int32_t> cuK32() const;
};

/// Checks one cu_seqlens array and returns it: `field` names it in errors ("cu_seqlens_q").
/// Rules: at least 2 entries (B + 1 with B >= 1); B + 1 == `expectedSize` when given; cu[0] == 0;
/// every length cu[b + 1] - cu[b] >= 0 (non-decreasing); cu[B] <= INT32_MAX (the device offsets are
/// int32); cu[B] == `expectedTotal` when given; every length <= kMaxSeqLen (Shape.h).
/// Throws PackedError, e.g. "cu_seqlens_q[2] = 5 is less than cu_seqlens_q[1] = 7: offsets must be
/// non-decreasing (sequence 1 would have length -2)".
std::vector<int64_t> checkCuSeqlens(std::string_view field, const std::vector<int64_t> &cu,
                                    std::optional<int64_t> expectedSize = std::nullopt,
                                    std::optional<int64_t> expectedTotal = std::nullopt);

/// Both arrays checked and of one size B + 1; cu_seqlens_k defaults to cu_seqlens_q (self-attention)
/// when empty. `maxSeqlenQ` / `maxSeqlenK`, when given, must be >= every length (FlashAttention's
/// max_seqlen_q / max_seqlen_k; they size the grid). Throws PackedError.
PackedSeqs makePackedSeqs(const std::vector<int64_t> &cuQ, const std::vector<int64_t> &cuK = {},
                          std::optional<int64_t> maxSeqlenQ = std::nullopt,
                          std::optional<int64_t> maxSeqlenK = std::nullopt);

/// "0,5,12,20" (commas and / or white space between integers) -> {0, 5, 12, 20}. `field` names the
/// source in errors. Throws PackedError for an empty list, a token that is not an integer, or one
/// outside int64.
std::vector<int64_t> parseIntList(std::string_view field, std::string_view text);

/// Offsets from sequence lengths: {5, 7} -> {0, 5, 12}. Throws PackedError for a negative length or
/// an overflowing sum.
std::vector<int64_t> cuFromLengths(std::string_view field, const std::vector<int64_t> &lengths);

/// Sequence lengths drawn uniformly from [minLen, maxLen] (splitmix64, deterministic for `seed`) until
/// they hold `total` tokens; the last one is cut so that the lengths sum to exactly `total` (it may then be
/// shorter than minLen). "lengths uniform in 128-4096, 64k tokens" is randomLengths(128, 4096, 65536, s).
/// Throws PackedError unless 1 <= minLen <= maxLen <= kMaxSeqLen and 1 <= total <= INT32_MAX, or when the
/// draw makes more than kMaxBatch sequences (checked as it goes, before the lengths outgrow a batch).
std::vector<int64_t> randomLengths(int64_t minLen, int64_t maxLen, int64_t total, uint64_t seed);

/// "MIN,MAX,TOTAL[,SEED]" (--seqlens-random) -> randomLengths(...) as offsets (SEED default 0). `field`
/// names the source in errors. Throws PackedError.
std::vector<int64_t> parseRandomSeqlens(std::string_view field, std::string_view text);

/// The text of a --seqlens-file: one line "q: 0,5,12" / "k: 0,7,15" each (k optional), or one bare
/// list of offsets for both. '#' starts a comment. Throws PackedError naming `path` and the line.
PackedSeqs parseSeqlensFile(std::string_view path, std::string_view text);

} // namespace tilefuse::spec
