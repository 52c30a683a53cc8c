//===- Captures.h - captured tensors on the host and the mask density class -*- C++ -*-===//
//
// A schedule's speed depends on how much of the score matrix a mask leaves: on 64-token documents a
// 64 x 64 tile wins, on 512-token documents it is 1.7x slower than 128 x 128. When the mask_mod reads
// captured tensors (document ids: codegen::maskReadsCapture), that sparsity is data, not part of the spec, so
// the cache key holds a **mask density class** computed from the captures on the host, and the tuner
// times candidates on the captures the class was computed from: the caller's (`tilefuse tune
// --capture NAME=FILE`, Engine::getKernel's host captures) or, without them, synthetic ones
// (syntheticCaptures with kSyntheticCaptureSeed).
//
// The class: the fraction f of unmasked scores, estimated from kMaskDensitySamples points (b, h, q_idx,
// kv_idx) drawn uniformly with a fixed seed (deterministic: the same captures and shape always give the
// same class) and evaluated with the spec's mask_mod in fp64 (spec::evaluate), rounded to a power of
// two on a log scale: denominator 2^k with k = round(-log2 f), k in 0..7 (1, 2, 4, ..., 128; 128 also
// stands for f < 1/128 and f = 0). The standard error of the estimate is sqrt(f (1 - f) / 65536): 0.4%
// of f at f = 1/2, 1.0% at 1/8, 3.1% at 1/64, 4.4% at 1/128; the class boundaries lie a factor sqrt(2)
// (-29%, +41%) from the class centres, so a density at a centre never changes class, and only one
// within about three standard errors of a boundary can fall either way (and then always the same way:
// the points are fixed). About 3 ms per estimate (2 cores).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/spec/Shape.h"
#include "tilefuse/spec/Spec.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace tilefuse::tuner {

/// Captured tensors given by the caller are wrong: an unknown name, a count or byte size that does not
/// match the capture's shape at the problem's sizes, a value that is not of the capture's dtype, an
/// unreadable file. what() names the capture (the field), the value and what is allowed.
class CaptureError : public std::invalid_argument {
public:
  using std::invalid_argument::invalid_argument;
};

/// The captured tensors of one problem on the host, in Spec::captures order (sorted by name), each dense
/// row-major with its shape at the problem's sizes (spec::captureShape).
struct HostCaptures {
  std::vector<std::vector<int64_t>> shapes;      ///< one per capture
  std::vector<std::vector<double>> values;       ///< exact values of the stored elements (fp64)
  std::vector<std::vector<unsigned char>> bytes; ///< the elements in the capture's dtype, little-endian
};

/// Elements of capture `slot` at `shape` (the product of spec::captureShape), checked: throws
/// CaptureError naming the capture when the product, or the product times its element size in bytes,
/// exceeds 2^53.
int64_t captureElements(const spec::Spec &spec, std::size_t slot, const spec::Shape &shape);

/// Synthetic captures for `shape`, deterministic for a seed: float tables U(-1, 1) rounded to their dtype;
/// integer tables document ids: non-decreasing along the last dim from 0, +1 with probability 1/32
/// (geometric runs of mean 32 tokens). Throws CaptureError when a capture is too large (captureElements).
HostCaptures syntheticCaptures(const spec::Spec &spec, const spec::Shape &shape, uint64_t seed);
/// The seed of the synthetic captures the tuner times on when the caller gives none (so the key's
/// density class, computed by makeKey from the same captures, is theirs).
inline constexpr uint64_t kSyntheticCaptureSeed = 0x7e11f05eull;

/// The caller's captures as raw bytes, one span per spec capture in spec order, each dense row-major in
/// the capture's dtype (i32: int32_t, i64: int64_t, f32: float, f16 / bf16: 16-bit patterns), sized
/// captureElements x element size. Throws CaptureError for another count of captures (naming the
/// expected ones) or a byte size that differs (naming the capture, the bytes given, its shape and the bytes
/// expected).
HostCaptures capturesFromBytes(const spec::Spec &spec, const spec::Shape &shape,
                               std::span<const std::span<const unsigned char>> data);

/// Reads `--capture NAME=FILE` arguments for (spec, shape). FILE is raw little-endian elements of the
/// capture's dtype when its name ends in ".bin", else text: numbers separated by whitespace or commas
/// ('#' starts a comment to the end of the line), row-major. Every capture of the spec must be given once.
/// Throws CaptureError naming the argument: no '=', an unknown or repeated name (listing the spec's
/// captures), a missing capture, an unreadable file, a token that is not a number or not an integer for
/// an integer capture, an integer outside the dtype's range, a wrong count of values / bytes.
HostCaptures readCaptureFiles(const spec::Spec &spec, const spec::Shape &shape,
                              const std::vector<std::string> &arguments);

/// Samples of the mask density estimate (see the file comment).
inline constexpr int64_t kMaskDensitySamples = 65536;
/// The largest density class denominator: 1/128 and sparser share it.
inline constexpr int kMaskDensityMaxDenominator = 128;

struct MaskDensity {
  double fraction = 1;  ///< estimated fraction of unmasked scores, 0..1
  int64_t samples = 0;  ///< points evaluated (every point when B Hq Sq Sk <= kMaskDensitySamples)
  int denominator = 1;  ///< the class: f ~ 1 / denominator, a power of two 1..128
  int64_t undefined = 0; ///< points where the mask cannot be evaluated (an index out of range), counted as masked
};

/// The density class of `f` (0 <= f <= 1): 2^round(-log2 f), clamped to 1..kMaskDensityMaxDenominator.
int densityDenominator(double f);

/// The mask density of (spec, shape) with `captures` (HostCaptures of that shape): every point when
/// B Hq Sq Sk <= kMaskDensitySamples, else kMaskDensitySamples points of a fixed-seed splitmix64 stream.
/// A spec without mask_mod has density 1. Points where the mask cannot be evaluated (spec::SpecError: a
/// table index out of range, e.g. document_mask at Sq > Sk, a shape it does not define) count as masked
/// (MaskDensity::undefined), so a key can always be made.
MaskDensity maskDensity(const spec::Spec &spec, const spec::Shape &shape, const HostCaptures &captures);

} // namespace tilefuse::tuner
