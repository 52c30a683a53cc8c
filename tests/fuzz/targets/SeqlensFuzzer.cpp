//===- SeqlensFuzzer.cpp - fuzz target: packed sequence offsets -----------===//
//
// Input: the text of a --seqlens-file, also read as a --cu-seqlens list and as a --seqlens-random
// "MIN,MAX,TOTAL[,SEED]". Promises checked (tilefuse/spec/Packed.h):
//   - parseSeqlensFile, parseIntList, checkCuSeqlens and parseRandomSeqlens throw only PackedError,
//     with a message;
//   - offsets they accept start at 0, never decrease, end at most at INT32_MAX with every length at
//     most kMaxSeqLen, hold at most kMaxBatch sequences (a batch is a shape's B), and survive the
//     int32 device copy unchanged; both arrays have one size.
//
//===----------------------------------------------------------------------------------------===//
#include "FuzzTarget.h"

#include "tilefuse/spec/Packed.h"
#include "tilefuse/spec/Shape.h"

#include <algorithm>
#include <limits>

using namespace tilefuse;

namespace {
constexpr std::string_view target = "seqlens";

void checkOffsets(const std::vector<int64_t> &cu, const std::vector<int32_t> &cu32) {
  fuzz::require(cu.size() >= 2 && cu.front() == 0, target, "offsets that do not start at 0");
  fuzz::require(static_cast<int64_t>(cu.size()) - 1 <= spec::kMaxBatch, target,
                "more sequences than kMaxBatch: " + std::to_string(cu.size() - 1));
  fuzz::require(cu.back() <= std::numeric_limits<int32_t>::max(), target, "a total above INT32_MAX");
  for (size_t i = 1; i < cu.size(); ++i)
    fuzz::require(cu[i] >= cu[i - 1] && cu[i] - cu[i - 1] <= spec::kMaxSeqLen, target,
                  "a negative length or one above kMaxSeqLen at " + std::to_string(i));
  fuzz::require(std::equal(cu.begin(), cu.end(), cu32.begin(), cu32.end()), target, "the int32 copy differs");
}

void checkSeqs(const spec::PackedSeqs &seqs) {
  fuzz::require(seqs.cuQ.size() == seqs.cuK.size(), target, "cu_seqlens_q and cu_seqlens_k differ in size");
  checkOffsets(seqs.cuQ, seqs.cuQ32());
  checkOffsets(seqs.cuK, seqs.cuK32());
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const std::string_view text = fuzz::asText(data, size);
  spec::PackedSeqs seqs;
  if (fuzz::refusesCleanly<spec::PackedError>(target, "parseSeqlensFile",
                                              [&] { seqs = spec::parseSeqlensFile("fuzz.txt", text); }))
    checkSeqs(seqs);
  fuzz::refusesCleanly<spec::PackedError>(target, "parseIntList + makePackedSeqs", [&] {
    seqs = spec::makePackedSeqs(spec::parseIntList("cu_seqlens", text));
    checkSeqs(seqs);
  });
  fuzz::refusesCleanly<spec::PackedError>(target, "parseRandomSeqlens", [&] {
    const std::vector<int64_t> cu = spec::parseRandomSeqlens("seqlens_random", text);
    seqs = spec::makePackedSeqs(cu);
    checkSeqs(seqs);
  });
  return 0;
}
