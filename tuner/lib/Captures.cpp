//===- Captures.cpp - captured tensors on the host and the mask density class ------===//
#include "tilefuse/tuner/Captures.h"

#include "Random.h"
#include "tilefuse/spec/Eval.h"
#include "tilefuse/spec/SpecError.h"
#include "tilefuse/tuner/Check.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

namespace tilefuse::tuner {
namespace {

int64_t elementBytes(spec::ElementType t) {
  switch (t) {
  case spec::ElementType::F16:
  case spec::ElementType::BF16: return 2;
  case spec::ElementType::F32:
  case spec::ElementType::I32: return 4;
  case spec::ElementType::I64: return 8;
  }
  return 8;
}

template <typename T> void appendBytes(std::vector<unsigned char> &out, T v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.insert(out.end(), b, b + sizeof(T));
}

template <typename T> T loadBytes(const unsigned char *p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

/// Appends `f` rounded to float dtype `t` (f32, f16, bf16) and returns the stored value.
double appendFloat(spec::ElementType t, float f, std::vector<unsigned char> &out) {
  switch (t) {
  case spec::ElementType::F16: appendBytes(out, toBits(spec::DType::FP16, f)); return fromBits(spec::DType::FP16, toBits(spec::DType::FP16, f));
  case spec::ElementType::BF16: appendBytes(out, toBits(spec::DType::BF16, f)); return fromBits(spec::DType::BF16, toBits(spec::DType::BF16, f));
  default: appendBytes(out, f); return f;
  }
}

/// The value of one stored element of dtype `t` at `p`.
double elementValue(spec::ElementType t, const unsigned char *p) {
  switch (t) {
  case spec::ElementType::F16: return fromBits(spec::DType::FP16, loadBytes<uint16_t>(p));
  case spec::ElementType::BF16: return fromBits(spec::DType::BF16, loadBytes<uint16_t>(p));
  case spec::ElementType::F32: return loadBytes<float>(p);
  case spec::ElementType::I32: return loadBytes<int32_t>(p);
  case spec::ElementType::I64: return static_cast<double>(loadBytes<int64_t>(p));
  }
  return 0;
}

std::string shapeText(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string captureNames(const spec::Spec &spec) {
  std::string names;
  for (const spec::Capture &c : spec.captures)
    names += (names.empty() ? "" : ", ") + c.name;
  return names.empty() ? "none" : names;
}

std::string clip(std::string_view text) {
  return std::string(text.substr(0, 40)) + (text.size() > 40 ? "..." : "");
}

/// Appends `text` parsed as one element of capture `c` (its dtype) to `out`; throws CaptureError naming `where`.
void appendParsed(const spec::Capture &c, const std::string &token, const std::string &where, HostCaptures &out,
                  std::size_t slot) {
  const bool integer = spec::scalarTypeOf(c.dtype) != spec::ScalarType::Float;
  errno = 0;
  char *end = nullptr;
  if (integer) {
    const long long v = std::strtoll(token.c_str(), &end, 10);
    const int64_t lo = c.dtype == spec::ElementType::I32 ? std::numeric_limits<int32_t>::min() : INT64_MIN;
    const int64_t hi = c.dtype == spec::ElementType::I32 ? std::numeric_limits<int32_t>::max() : INT64_MAX;
    if (end == token.c_str() || *end != '\0')
      throw CaptureError(where + ": value '" + clip(token) + "' of capture '" + c.name + "' (" +
                         std::string(spec::spelling(c.dtype)) + ") is not an integer");
    if (errno == ERANGE || v < lo || v > hi)
      throw CaptureError(where + ": value " + clip(token) + " of capture '" + c.name + "' is outside the range of " +
                         std::string(spec::spelling(c.dtype)) + " (" + std::to_string(lo) + " to " + std::to_string(hi) +
                         ")");
    if (c.dtype == spec::ElementType::I32)
      appendBytes(out.bytes[slot], static_cast<int32_t>(v));
    else
      appendBytes(out.bytes[slot], static_cast<int64_t>(v));
    out.values[slot].push_back(static_cast<double>(v));
    return;
  }
  const double v = std::strtod(token.c_str(), &end);
  if (end == token.c_str() || *end != '\0' || !std::isfinite(v))
    throw CaptureError(where + ": value '" + clip(token) + "' of capture '" + c.name + "' (" +
                       std::string(spec::spelling(c.dtype)) + ") is not a finite number");
  out.values[slot].push_back(appendFloat(c.dtype, static_cast<float>(v), out.bytes[slot]));
}

/// Stores `bytes` as capture `slot` of `out` (its values decoded) when they are exactly the capture's
/// elements; else throws CaptureError "<where>: N bytes given, expected M (shape [..] of i32, 4 bytes each)".
void storeBytes(const spec::Spec &spec, const spec::Shape &shape, std::size_t slot, const std::string &where,
                std::vector<unsigned char> bytes, HostCaptures &out) {
  const spec::Capture &c = spec.captures[slot];
  const int64_t n = captureElements(spec, slot, shape), size = elementBytes(c.dtype);
  if (bytes.size() != static_cast<std::size_t>(n * size))
    throw CaptureError(where + ": " + std::to_string(bytes.size()) + " bytes given, expected " + std::to_string(n * size) +
                       " (shape " + shapeText(out.shapes[slot]) + " of " + std::string(spec::spelling(c.dtype)) + ", " +
                       std::to_string(size) + " bytes each, little-endian)");
  out.bytes[slot] = std::move(bytes);
  out.values[slot].resize(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    out.values[slot][i] = elementValue(c.dtype, out.bytes[slot].data() + i * size);
}

HostCaptures emptyCaptures(const spec::Spec &spec, const spec::Shape &shape) {
  HostCaptures out;
  for (std::size_t slot = 0; slot < spec.captures.size(); ++slot)
    out.shapes.push_back(spec::captureShape(spec, slot, shape));
  out.values.resize(spec.captures.size());
  out.bytes.resize(spec.captures.size());
  return out;
}

} // namespace

int64_t captureElements(const spec::Spec &spec, std::size_t slot, const spec::Shape &shape) {
  const spec::Capture &c = spec.captures.at(slot);
  std::optional<int64_t> n = 1;
  for (int64_t d : spec::captureShape(spec, slot, shape))
    if (n)
      n = spec::checkedProduct({*n, d});
  std::optional<int64_t> bytes = n ? spec::checkedProduct({*n, elementBytes(c.dtype)}) : std::nullopt;
  if (!bytes || *bytes > spec::kMaxTensorBytes)
    throw CaptureError("capture '" + c.name + "': shape " + shapeText(spec::captureShape(spec, slot, shape)) +
                       " is more than 2^53 bytes of " + std::string(spec::spelling(c.dtype)));
  return *n;
}

HostCaptures syntheticCaptures(const spec::Spec &spec, const spec::Shape &shape, uint64_t seed) {
  HostCaptures out = emptyCaptures(spec, shape);
  detail::SplitMix rng{seed};
  for (std::size_t slot = 0; slot < spec.captures.size(); ++slot) {
    const spec::Capture &c = spec.captures[slot];
    const int64_t n = captureElements(spec, slot, shape);
    std::vector<double> &values = out.values[slot];
    std::vector<unsigned char> &bytes = out.bytes[slot];
    values.resize(static_cast<std::size_t>(n));
    bytes.reserve(static_cast<std::size_t>(n * elementBytes(c.dtype)));
    if (spec::scalarTypeOf(c.dtype) == spec::ScalarType::Float) {
      for (double &v : values)
        v = appendFloat(c.dtype, static_cast<float>(2 * rng.uniform() - 1), bytes);
      continue;
    }
    // Document ids: non-decreasing along the last dim from 0, +1 with probability 1/32.
    const int64_t row = out.shapes[slot].back();
    for (int64_t i = 0; i < n; ++i) {
      values[i] = (i % row == 0) ? 0.0 : values[i - 1] + (rng.next() % 32 == 0 ? 1.0 : 0.0);
      if (c.dtype == spec::ElementType::I32)
        appendBytes(bytes, static_cast<int32_t>(values[i]));
      else
        appendBytes(bytes, static_cast<int64_t>(values[i]));
    }
  }
  return out;
}

HostCaptures capturesFromBytes(const spec::Spec &spec, const spec::Shape &shape,
                               std::span<const std::span<const unsigned char>> data) {
  if (data.size() != spec.captures.size())
    throw CaptureError("captures: " + std::to_string(data.size()) + " given, but spec '" + spec.name + "' has " +
                       std::to_string(spec.captures.size()) + " (" + captureNames(spec) + ", in this order)");
  HostCaptures out = emptyCaptures(spec, shape);
  for (std::size_t slot = 0; slot < spec.captures.size(); ++slot) {
    const std::string where = "capture '" + spec.captures[slot].name + "'";
    if (data[slot].data() == nullptr && !data[slot].empty())
      throw CaptureError(where + ": the data pointer is null");
    storeBytes(spec, shape, slot, where, std::vector<unsigned char>(data[slot].begin(), data[slot].end()), out);
  }
  return out;
}

HostCaptures readCaptureFiles(const spec::Spec &spec, const spec::Shape &shape,
                              const std::vector<std::string> &arguments) {
  HostCaptures out = emptyCaptures(spec, shape);
  std::vector<std::string> given(spec.captures.size());
  for (const std::string &arg : arguments) {
    const std::size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
      throw CaptureError("--capture '" + clip(arg) + "': expected NAME=FILE (captures of spec '" + spec.name +
                         "': " + captureNames(spec) + ")");
    const std::string name = arg.substr(0, eq), path = arg.substr(eq + 1);
    const auto it = std::find_if(spec.captures.begin(), spec.captures.end(),
                                 [&](const spec::Capture &c) { return c.name == name; });
    if (it == spec.captures.end())
      throw CaptureError("--capture: spec '" + spec.name + "' has no capture named '" + clip(name) +
                         "' (its captures: " + captureNames(spec) + ")");
    const std::size_t slot = static_cast<std::size_t>(it - spec.captures.begin());
    if (!given[slot].empty())
      throw CaptureError("--capture: capture '" + name + "' is given twice (" + given[slot] + ", " + path + ")");
    given[slot] = path;
    const int64_t n = captureElements(spec, slot, shape);
    const std::string where = "--capture " + name + "=" + path;
    std::ifstream file(path, std::ios::binary);
    if (!file)
      throw CaptureError(where + ": cannot open the file: " + std::strerror(errno));
    if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".bin") == 0) {
      storeBytes(spec, shape, slot, where,
                 std::vector<unsigned char>((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>()), out);
      continue;
    }
    std::string line, token;
    int64_t count = 0;
    for (int64_t lineNo = 1; std::getline(file, line); ++lineNo) {
      line = line.substr(0, line.find('#'));
      std::replace(line.begin(), line.end(), ',', ' ');
      std::istringstream words(line);
      while (words >> token) {
        if (++count > n)
          throw CaptureError(where + ": more than " + std::to_string(n) + " values (shape " + shapeText(out.shapes[slot]) +
                             " at B=" + std::to_string(shape.B) + ", Sq=" + std::to_string(shape.Sq) + ", Sk=" +
                             std::to_string(shape.Sk) + ")");
        appendParsed(*it, token, where + ":" + std::to_string(lineNo), out, slot);
      }
    }
    if (count != n)
      throw CaptureError(where + ": " + std::to_string(count) + " values, expected " + std::to_string(n) + " (shape " +
                         shapeText(out.shapes[slot]) + " at B=" + std::to_string(shape.B) + ", Sq=" +
                         std::to_string(shape.Sq) + ", Sk=" + std::to_string(shape.Sk) + ")");
  }
  for (std::size_t slot = 0; slot < spec.captures.size(); ++slot)
    if (given[slot].empty())
      throw CaptureError("--capture: capture '" + spec.captures[slot].name + "' of spec '" + spec.name +
                         "' is not given (give every capture: " + captureNames(spec) + ")");
  return out;
}

int densityDenominator(double f) {
  if (!(f > 0))
    return kMaskDensityMaxDenominator;
  const double k = std::round(-std::log2(std::min(f, 1.0)));
  const int maxK = static_cast<int>(std::log2(kMaskDensityMaxDenominator));
  return 1 << static_cast<int>(std::clamp(k, 0.0, static_cast<double>(maxK)));
}

MaskDensity maskDensity(const spec::Spec &spec, const spec::Shape &shape, const HostCaptures &captures) {
  MaskDensity d;
  if (!spec.maskMod)
    return d;
  spec::EvalEnv env;
  env.shape = shape;
  for (std::size_t i = 0; i < captures.values.size(); ++i)
    env.captures.push_back({captures.shapes[i], captures.values[i]});
  const std::optional<int64_t> points = spec::checkedProduct({shape.B, shape.Hq, shape.Sq, shape.Sk});
  int64_t unmasked = 0;
  auto visit = [&](int64_t b, int64_t h, int64_t q, int64_t kv) {
    env.b = b, env.h = h, env.q_idx = q, env.kv_idx = kv;
    ++d.samples;
    try {
      unmasked += spec::evaluate(*spec.maskMod, env).asBool();
    } catch (const spec::SpecError &) {
      ++d.undefined; // e.g. document_mask at Sq > Sk reads doc_ids[b, -1]: counted as masked
    }
  };
  if (points && *points <= kMaskDensitySamples) {
    for (int64_t b = 0; b < shape.B; ++b)
      for (int64_t h = 0; h < shape.Hq; ++h)
        for (int64_t q = 0; q < shape.Sq; ++q)
          for (int64_t kv = 0; kv < shape.Sk; ++kv)
            visit(b, h, q, kv);
  } else {
    detail::SplitMix rng{0xde5171ull}; // fixed: the same captures always give the same class
    for (int64_t i = 0; i < kMaskDensitySamples; ++i) {
      const int64_t b = rng.below(shape.B), h = rng.below(shape.Hq), q = rng.below(shape.Sq);
      visit(b, h, q, rng.below(shape.Sk));
    }
  }
  d.fraction = d.samples ? static_cast<double>(unmasked) / static_cast<double>(d.samples) : 1.0;
  d.denominator = densityDenominator(d.fraction);
  return d;
}

} // namespace tilefuse::tuner
