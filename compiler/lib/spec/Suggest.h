//===- Suggest.h - "did you mean" for misspelt names (private) ---*- C++ -*-===//
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace tilefuse::spec::detail {

/// The candidate closest to `word` by edit distance when it is close enough to be a likely typo
/// (distance <= 2 and less than half the word), else "".
std::string closestMatch(std::string_view word, const std::vector<std::string> &candidates);

/// " (did you mean 'X'?)" or "" (to append to a message).
std::string didYouMean(std::string_view word, const std::vector<std::string> &candidates);

/// "a, b, c" from a list.
std::string joinNames(const std::vector<std::string> &names, std::string_view sep = ", ");

} // namespace tilefuse::spec::detail
