//===- Suggest.cpp - "did you mean" for misspelt names ----------------------------------------===//

#include "Suggest.h"

#include <algorithm>
#include <numeric>

namespace tilefuse::spec::detail {
namespace {

// Levenshtein distance, one row at a time.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

} // namespace

std::string closestMatch(std::string_view word, const std::vector<std::string> &candidates) {
  std::string best;
  size_t bestDistance = 3;
  for (const std::string &candidate : candidates) {
    size_t d = editDistance(word, candidate);
    if (d < bestDistance && 2 * d < std::max(word.size(), candidate.size())) {
      bestDistance = d;
      best = candidate;
    }
  }
  return best;
}

std::string didYouMean(std::string_view word, const std::vector<std::string> &candidates) {
  std::string match = closestMatch(word, candidates);
  return match.empty() ? "" : " (did you mean '" + match + "'?)";
}

std::string joinNames(const std::vector<std::string> &names, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0)
      out += sep;
    out += names[i];
  }
  return out;
}

} // namespace tilefuse::spec::detail
