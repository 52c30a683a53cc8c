//===- Encoding.h - SHA-256 and base64 for cache entries -------------*- C++ -*-===//
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tilefuse::tuner::detail {

/// SHA-256 (FIPS 180-4) of `data`, 64 lower-case hex digits.
std::string sha256Hex(const void *data, std::size_t size);
inline std::string sha256Hex(std::string_view s) { return sha256Hex(s.data(), s.size()); }

/// Base64 (RFC 4648, with '=' padding, no line breaks).
std::string base64Encode(const void *data, std::size_t size);
/// Decodes base64Encode's output; returns false on a character outside the alphabet or bad padding.
bool base64Decode(std::string_view text, std::vector<char> &out);

} // namespace tilefuse::tuner::detail
