//===- Packed.cpp - packed variable-length sequences (cu_seqlens) ----------===//
#include "tilefuse/spec/Packed.h"

#include "tilefuse/spec/Shape.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>
#include <limits>

namespace tilefuse::spec {

namespace {

std::string at(std::string_view field, size_t i) { return std::string(field) + "[" + std::to_string(i) + "]"; }

} // namespace

int64_t PackedSeqs::maxLenQ() const {
  int64_t m = 0;
  for (int64_t b = 0; b < batch(); ++b)
    m = std::max(m, lenQ(b));
  return m;
}

int64_t PackedSeqs::maxLenK() const {
  int64_t m = 0;
  for (int64_t b = 0; b < batch(); ++b)
    m = std::max(m, lenK(b));
  return m;
}

int64_t PackedSeqs::pairs() const {
  int64_t n = 0;
  for (int64_t b = 0; b < batch(); ++b) {
    auto p = checkedProduct({lenQ(b), lenK(b)});
    if (!p || __builtin_add_overflow(n, *p, &n))
      throw PackedError("packed batch: sum of Sq_b * Sk_b overflows int64");
  }
  return n;
}

std::vector<int32_t> PackedSeqs::cuQ32() const { return {cuQ.begin(), cuQ.end()}; }
std::vector<int32_t> PackedSeqs::cuK32() const { return {cuK.begin(), cuK.end()}; }

std::vector<int64_t> checkCuSeqlens(std::string_view field, const std::vector<int64_t> &cu,
                                    std::optional<int64_t> expectedSize, std::optional<int64_t> expectedTotal) {
  const std::string f(field);
  if (cu.size() < 2)
    throw PackedError(f + " has " + std::to_string(cu.size()) +
                      " entries; it must hold B + 1 >= 2 offsets (0, then the end of each sequence)");
  if (expectedSize && static_cast<int64_t>(cu.size()) != *expectedSize)
    throw PackedError(f + " has " + std::to_string(cu.size()) + " entries, expected B + 1 = " +
                      std::to_string(*expectedSize));
  if (cu[0] != 0)
    throw PackedError(at(field, 0) + " = " + std::to_string(cu[0]) + "; the first offset must be 0");
  for (size_t i = 1; i < cu.size(); ++i) {
    if (cu[i] < cu[i - 1])
      throw PackedError(at(field, i) + " = " + std::to_string(cu[i]) + " is less than " + at(field, i - 1) +
                        " = " + std::to_string(cu[i - 1]) +
                        ": offsets must be non-decreasing (sequence " + std::to_string(i - 1) +
                        " would have length " + std::to_string(cu[i] - cu[i - 1]) + ")");
    if (cu[i] - cu[i - 1] > kMaxSeqLen)
      throw PackedError("sequence " + std::to_string(i - 1) + " of " + f + " has length " +
                        std::to_string(cu[i] - cu[i - 1]) + "; at most " + std::to_string(kMaxSeqLen) +
                        " tokens are allowed");
    if (cu[i] > std::numeric_limits<int32_t>::max())
      throw PackedError(at(field, i) + " = " + std::to_string(cu[i]) +
                        " does not fit the int32 offsets kernels read (at most 2147483647 tokens in all)");
  }
  if (expectedTotal && cu.back() != *expectedTotal)
    throw PackedError(at(field, cu.size() - 1) + " = " + std::to_string(cu.back()) +
                      "; the last offset must equal the tensor's token count " + std::to_string(*expectedTotal));
  return cu;
}

PackedSeqs makePackedSeqs(const std::vector<int64_t> &cuQ, const std::vector<int64_t> &cuK,
                          std::optional<int64_t> maxSeqlenQ, std::optional<int64_t> maxSeqlenK) {
  PackedSeqs s;
  s.cuQ = checkCuSeqlens("cu_seqlens_q", cuQ);
  s.cuK = cuK.empty() ? s.cuQ : checkCuSeqlens("cu_seqlens_k", cuK, static_cast<int64_t>(cuQ.size()));
  if (s.batch() > kMaxBatch)
    throw PackedError("cu_seqlens_q holds " + std::to_string(s.batch()) + " sequences; at most " +
                      std::to_string(kMaxBatch) + " are allowed");
  if (maxSeqlenQ && *maxSeqlenQ < s.maxLenQ())
    throw PackedError("max_seqlen_q = " + std::to_string(*maxSeqlenQ) + " is less than the longest query sequence (" +
                      std::to_string(s.maxLenQ()) + " tokens); it must be >= every length");
  if (maxSeqlenK && *maxSeqlenK < s.maxLenK())
    throw PackedError("max_seqlen_k = " + std::to_string(*maxSeqlenK) + " is less than the longest key sequence (" +
                      std::to_string(s.maxLenK()) + " tokens); it must be >= every length");
  return s;
}

std::vector<int64_t> parseIntList(std::string_view field, std::string_view text) {
  std::vector<int64_t> out;
  size_t i = 0;
  auto sep = [&](char c) { return c == ',' || std::isspace(static_cast<unsigned char>(c)); };
  while (i < text.size()) {
    while (i < text.size() && sep(text[i]))
      ++i;
    if (i == text.size())
      break;
    size_t j = i;
    while (j < text.size() && !sep(text[j]))
      ++j;
    const std::string_view tok = text.substr(i, j - i);
    int64_t v = 0;
    auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    if (ec == std::errc::result_out_of_range)
      throw PackedError(std::string(field) + ": '" + std::string(tok) + "' (entry " + std::to_string(out.size()) +
                        ") is outside int64");
    if (ec != std::errc() || end != tok.data() + tok.size())
      throw PackedError(std::string(field) + ": '" + std::string(tok) + "' (entry " + std::to_string(out.size()) +
                        ") is not an integer; expected integers separated by commas, e.g. 0,5,12");
    out.push_back(v);
    i = j;
  }
  if (out.empty())
    throw PackedError(std::string(field) + " is empty; expected integers separated by commas, e.g. 0,5,12");
  return out;
}

std::vector<int64_t> cuFromLengths(std::string_view field, const std::vector<int64_t> &lengths) {
  std::vector<int64_t> cu{0};
  for (size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] < 0)
      throw PackedError(at(field, b) + " = " + std::to_string(lengths[b]) + "; a sequence length must be >= 0");
    int64_t next = 0;
    if (__builtin_add_overflow(cu.back(), lengths[b], &next))
      throw PackedError(std::string(field) + ": the sum of the lengths overflows int64");
    cu.push_back(next);
  }
  return cu;
}

std::vector<int64_t> randomLengths(int64_t minLen, int64_t maxLen, int64_t total, uint64_t seed) {
  if (minLen < 1 || maxLen < minLen || maxLen > kMaxSeqLen)
    throw PackedError("random sequence lengths: MIN = " + std::to_string(minLen) + ", MAX = " + std::to_string(maxLen) +
                      "; allowed: 1 <= MIN <= MAX <= " + std::to_string(kMaxSeqLen));
  if (total < 1 || total > std::numeric_limits<int32_t>::max())
    throw PackedError("random sequence lengths: TOTAL = " + std::to_string(total) +
                      "; allowed: 1 to 2^31 - 1 tokens (int32 offsets)");
  uint64_t state = seed;
  auto next = [&state] { // splitmix64 (Steele et al. 2014)
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  const uint64_t span = static_cast<uint64_t>(maxLen - minLen) + 1;
  std::vector<int64_t> lengths;
  int64_t sum = 0;
  while (sum < total) {
    // A batch is a shape's B: refused before the draw allocates (1,1,2^31-1 would hold 16 GiB of lengths).
    if (static_cast<int64_t>(lengths.size()) == kMaxBatch)
      throw PackedError("random sequence lengths: MIN = " + std::to_string(minLen) + ", MAX = " +
                        std::to_string(maxLen) + ", TOTAL = " + std::to_string(total) + " make more than " +
                        std::to_string(kMaxBatch) + " sequences (the largest B); raise MIN or lower TOTAL");
    const int64_t len = std::min<int64_t>(minLen + static_cast<int64_t>(next() % span), total - sum);
    lengths.push_back(len);
    sum += len;
  }
  return lengths;
}

std::vector<int64_t> parseRandomSeqlens(std::string_view field, std::string_view text) {
  const std::vector<int64_t> v = parseIntList(field, text);
  if (v.size() != 3 && v.size() != 4)
    throw PackedError(std::string(field) + " = '" + std::string(text) + "': expected MIN,MAX,TOTAL or MIN,MAX,TOTAL,SEED "
                      "(e.g. 128,4096,65536), got " + std::to_string(v.size()) + " integers");
  if (v.size() == 4 && v[3] < 0)
    throw PackedError(std::string(field) + ": SEED = " + std::to_string(v[3]) + "; it must be >= 0");
  return cuFromLengths(field, randomLengths(v[0], v[1], v[2], v.size() == 4 ? static_cast<uint64_t>(v[3]) : 0));
}

PackedSeqs parseSeqlensFile(std::string_view path, std::string_view text) {
  std::vector<int64_t> q, k;
  size_t lineNo = 0, start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(start, end - start);
    ++lineNo;
    start = end + 1;
    if (size_t hash = line.find('#'); hash != std::string_view::npos)
      line = line.substr(0, hash);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.front())))
      line.remove_prefix(1);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back())))
      line.remove_suffix(1);
    if (line.empty())
      continue;
    const std::string where = std::string(path) + ":" + std::to_string(lineNo);
    std::vector<int64_t> *target = &q;
    if (line.size() >= 2 && (line[0] == 'q' || line[0] == 'k') && line[1] == ':') {
      target = line[0] == 'q' ? &q : &k;
      line.remove_prefix(2);
    } else if (!q.empty()) {
      throw PackedError(where + ": a second list of offsets; write 'q: ...' and 'k: ...' lines for two lists");
    }
    if (!target->empty())
      throw PackedError(where + ": '" + std::string(1, target == &q ? 'q' : 'k') + ":' given twice");
    *target = parseIntList(where, line);
    if (start > text.size())
      break;
  }
  if (q.empty())
    throw PackedError(std::string(path) + ": no cu_seqlens; expected a line of offsets such as 0,5,12 "
                      "(or 'q: ...' and 'k: ...' lines)");
  return makePackedSeqs(q, k);
}

} // namespace tilefuse::spec
