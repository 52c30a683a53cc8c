//===- Cache.h - the on-disk cache of tuned kernels -------------------*- C++ -*-===//
//
// One entry per (GPU, toolchain, spec, dtype, shape bucket): the winning Schedule, its timing, the
// launch description and the CUBIN, so a hit needs neither MLIR nor NVRTC. Layout on disk
// (docs: tuner/README.md):
//
//   <root>/                                 cacheRoot(): $TILEFUSE_CACHE_DIR, else
//                                           $XDG_CACHE_HOME/tilefuse, else ~/.cache/tilefuse
//   <root>/<gpu dir>/                       one per GPU: "NVIDIA-H100-80GB-HBM3_sm90_132sm"
//   <root>/<gpu dir>/.lock                  flock()ed by every writer
//   <root>/<gpu dir>/<entry>.json           "causal-1a2b..-bf16-B4-Hq16-Hkv16-Sq2048-Sk2048-D128-Dv128.json"
//
// The key is every specialisation parameter (FlashInfer's jit/core.py habit): GPU name, compute
// capability, SM count (the directory), driver, NVRTC and Tilefuse versions, the bucketing rule
// (inside the entry, compared on load), and the spec's content hash, dtype, bucketed shape and the
// tuning objective and, for a mask that reads captured tensors, the mask density class (Captures.h)
// (the file name, with the full key repeated inside and compared on load). An entry tuned for energy
// never answers a lookup for time and vice versa, nor one tuned on 1/8 dense documents a lookup for
// 1/64; time keys without a density class are spelled as they were before objectives existed, so
// older entries stay valid.
//
// Writes are atomic and serialised: take the directory's flock, write a temporary file
// ".tmp-<pid>-<n>", fsync, rename over the entry, fsync the directory, unlock. A reader never takes
// the lock and never sees a partial entry; a writer killed mid-write leaves only a temporary file,
// which the next writer (holding the lock, so no live writer owns it) deletes.
//
// An entry is checked on every load: JSON and field types, the format version, the SHA-256 of the
// CUBIN, and the key. Bad JSON / a hash mismatch is Corrupt, other versions are Stale; both are
// reported to the caller, who re-tunes and overwrites the entry ("rebuilt").
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/codegen/KernelAbi.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/spec/Spec.h"
#include "tilefuse/tuner/Captures.h"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tilefuse::tuner {

/// An I/O failure of the cache (cannot create the directory, write, rename, lock) or a malformed
/// archive; what() names the path.
class CacheError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// An entry file of another format version (entryFromJson): stale, not corrupt.
class CacheFormatVersionError : public CacheError {
public:
  using CacheError::CacheError;
};

// ---------------------------------------------------------------------------------------------
// Location.

/// The cache root: $TILEFUSE_CACHE_DIR when set and non-empty; else $XDG_CACHE_HOME/tilefuse when
/// XDG_CACHE_HOME is an absolute path (the XDG spec says to ignore relative ones); else
/// $HOME/.cache/tilefuse; else <home directory from the password database>/.cache/tilefuse.
/// Throws CacheError when none of these exist.
std::filesystem::path cacheRoot();
/// cacheRoot() reading the environment through `getenv` (tests pass a fake environment).
std::filesystem::path cacheRootFrom(const std::function<const char *(const char *)> &getenv);

// ---------------------------------------------------------------------------------------------
// The key.

/// The GPU and driver a kernel was tuned on (runtime::deviceInfo + runtime::driverVersion).
struct DeviceIdentity {
  std::string name;  ///< "NVIDIA H100 80GB HBM3"
  int ccMajor = 0, ccMinor = 0;
  int smCount = 0;
  int driverVersion = 0; ///< CUDA driver API version, e.g. 13000; 0 = unknown (no GPU here)
  /// NVRTC target, "sm_90".
  std::string arch() const;
  /// The cache directory of this GPU: the name with every run of characters outside
  /// [A-Za-z0-9._] replaced by '-' and leading '.' / '-' dropped, then "_sm<cc>_<n>sm", e.g.
  /// "NVIDIA-H100-80GB-HBM3_sm90_132sm".
  std::string directoryName() const;
  bool operator==(const DeviceIdentity &) const = default;
};

/// Sequence lengths and B are bucketed by spec::bucketSeqLen / spec::bucketBatch (spec/Shape.h:
/// 197 -> 256, 8000 -> 8192, B 3 -> 4), the rule the runtime's decision table uses too; Hq, Hkv, D
/// and Dv are exact.
using spec::bucketBatch;
using spec::bucketSeqLen;
/// Names the rule above; stored in every key, so a new rule makes older entries stale.
inline constexpr const char *kBucketRule = "seq:max(128,pow2)<=4096,ceil1024>4096;B:pow2;v1";

/// A shape after bucketing (spec::bucketShape).
using ShapeBucket = spec::Shape;
using spec::bucketShape;

/// What tuning minimises (`tilefuse tune --objective`). Time is the default and the tie-breaker.
///   Time:   median ms per call
///   Energy: J per call (NVML's energy counter, runtime/Energy.h)
///   Edp:    energy-delay product, J per call x s per call (J*s)
enum class Objective { Time, Energy, Edp };
std::string_view spelling(Objective o); ///< "time", "energy", "edp"
/// The objective spelled `text` ("time", "energy" or "edp"); throws std::invalid_argument naming
/// the value and the allowed ones.
Objective objectiveFromString(std::string_view text);
/// The number `o` minimises, from one measurement: `ms` (median ms per call) for Time,
/// `joulesPerCall` (J) for Energy, joulesPerCall x ms / 1000 (J*s) for Edp.
double objectiveScore(Objective o, double ms, double joulesPerCall);

struct CacheKey {
  DeviceIdentity device;
  std::string nvrtcVersion;    ///< runtime::nvrtcVersion(), "13.0"
  std::string tilefuseVersion; ///< tilefuseVersion(), "0.2.0"
  std::string bucketRule = kBucketRule;
  std::string specName; ///< Spec::name; part of the file name only (the content hash decides)
  std::string specHash; ///< spec::contentHashHex
  spec::DType dtype = spec::DType::BF16;
  ShapeBucket shape;
  Objective objective = Objective::Time; ///< what the entry's schedule minimises
  /// The mask density class (Captures.h) of a spec whose mask_mod reads captured tensors
  /// (codegen::maskReadsCapture): the fraction of unmasked scores is about 1 / maskDensity, a power of two
  /// 1..128 (128: 1/128 or sparser). 0 for every other spec: not part of the key.
  int maskDensity = 0;

  /// "<spec>-<hash>-<dtype>-B<B>-Hq<Hq>-Hkv<Hkv>-Sq<Sq>-Sk<Sk>-D<D>-Dv<Dv>.json" (bucketed sizes) for
  /// the time objective; "...-Dv<Dv>-energy.json" / "...-Dv<Dv>-edp.json" for the others. With a mask
  /// density class, "-density<N>" follows "-Dv<Dv>" ("...-Dv128-density8.json").
  std::string fileName() const;
  /// Every field as canonical JSON text (keys sorted, no whitespace). "objective" is written only
  /// when it is not time, and "mask_density" only when it is not 0, so the key text of a time entry
  /// of a spec whose mask reads no captures is the one of entries made before either existed.
  std::string toJson() const;
  bool operator==(const CacheKey &) const = default;
};

/// The key of (spec, shape, objective) on `device` with the running toolchain (tilefuseVersion(),
/// `nvrtc`). The one place keys are made: lookups and tuning both call it.
/// When the spec's mask_mod reads captured tensors (codegen::maskReadsCapture), the key's maskDensity is the
/// class of `captures` (the caller's, of `shape`), or without them of the synthetic captures the tuner
/// times on (syntheticCaptures(spec, shape, kSyntheticCaptureSeed)); a host computation of
/// kMaskDensitySamples mask evaluations (about 3 ms). Other specs ignore `captures`.
/// Throws CaptureError when a synthetic capture would exceed 2^53 bytes (captureElements).
CacheKey makeKey(const DeviceIdentity &device, const std::string &nvrtc, const spec::Spec &spec,
                 const spec::Shape &shape, Objective objective = Objective::Time,
                 const HostCaptures *captures = nullptr);

// ---------------------------------------------------------------------------------------------
// The value.

/// Everything the runtime needs to launch the CUBIN without regenerating it (codegen's
/// GeneratedKernel minus the source).
using LaunchInfo = codegen::LaunchDescription;

/// How the winner was found.
struct TuningRecord {
  spec::Shape tunedShape;       ///< the exact shape it was timed at (inside the key's bucket)
  double medianMs = 0;          ///< the winner, median of the timed runs, ms
  double tflops = 0;            ///< usefulFlops / medianMs, TFLOP/s
  double defaultMs = 0;         ///< the default schedule at the same shape, ms (0: not timed)
  codegen::Schedule defaultSchedule;
  double usefulFlops = 0;       ///< FLOPs counted for TFLOP/s
  std::string flopsRule;        ///< "tiles" (IO report: skipped tiles not counted) or "dense"
  double tuningSeconds = 0;     ///< wall time of the whole tuning
  int candidatesTimed = 0, candidatesPruned = 0, candidatesFailed = 0;
  int registers = 0;            ///< per thread (ptxas), 0 if unknown
  int spillBytes = 0;           ///< spill stores + loads per thread (ptxas)
  std::string createdAt;        ///< UTC, "2025-01-31T12:00:00Z"
  /// The winner's energy, measured when the key's objective is not time (NVML counter of the whole
  /// GPU around its timed runs, Tuner.h EnergyMeasurement); 0 = not measured.
  double joulesPerCall = 0;     ///< J per call
  double watts = 0;             ///< W, average over the measured runs
};

struct CacheEntry {
  CacheKey key;
  codegen::Schedule schedule;
  TuningRecord tuning;
  LaunchInfo launch;
  std::vector<char> cubin; ///< ELF for key.device.arch(); never empty in a stored entry
};

/// The entry file's JSON (format "tilefuse-cache-entry", version kEntryFormatVersion) with the
/// CUBIN base64-encoded next to its SHA-256.
inline constexpr int kEntryFormatVersion = 2; // 2: grid.persistent, TMA tensor-map fields
std::string entryToJson(const CacheEntry &entry, int indent = 1);
/// Checks the fields a key's file and directory names are built from: a 16-digit lowercase hex
/// spec hash, a non-empty GPU name, a shape bucket within the limits of spec/Shape.h, a mask density
/// of 0 or a power of two 1..kMaskDensityMaxDenominator. Throws
/// CacheError naming the field. entryFromJson and Cache::store call it.
void validateKey(const CacheKey &key);

/// Parses and checks an entry file's text. Throws CacheError saying what is wrong: not JSON, a
/// missing or mistyped field, a CUBIN whose SHA-256 differs; CacheFormatVersionError for another
/// format version.
CacheEntry entryFromJson(const std::string &text);

/// The toolchain a lookup compares entries with; an empty / 0 field is not compared (e.g. the
/// driver version on a machine without a GPU).
struct CurrentVersions {
  int driverVersion = 0;
  std::string nvrtcVersion;
  std::string tilefuseVersion;
};

/// Why an entry cannot be used although it parses: "" when it can, else e.g.
/// "driver 12080 (entry) != 13000 (this machine)". Compares versions, bucket rule and the GPU.
std::string staleReason(const CacheKey &entryKey, const CurrentVersions &now,
                        const DeviceIdentity *device = nullptr);

// ---------------------------------------------------------------------------------------------
// The cache.

enum class LookupStatus {
  Hit,     ///< entry is usable
  Miss,    ///< no file
  Stale,   ///< parses, but other versions / bucket rule / GPU: re-tune
  Corrupt, ///< bad JSON, a missing field, a CUBIN hash mismatch, or the key inside differs
};
std::string_view spelling(LookupStatus s); ///< "hit", "miss", "stale", "corrupt"

struct LookupResult {
  LookupStatus status = LookupStatus::Miss;
  std::filesystem::path path;       ///< the entry file looked at
  std::string problem;              ///< why Stale / Corrupt
  std::optional<CacheEntry> entry;  ///< for Hit (and Stale: what was there)
  bool hit() const { return status == LookupStatus::Hit; }
};

/// One file in `ls`.
struct ListedEntry {
  std::string gpuDir;
  std::filesystem::path path;
  LookupStatus status = LookupStatus::Hit; ///< Hit = valid, Stale or Corrupt
  std::string problem;
  std::optional<CacheEntry> entry; ///< absent when Corrupt
};

enum class StoreMode {
  Replace,    ///< overwrite whatever is there
  /// Keep a valid existing entry with the same key if it is not worse by the key's objective
  /// (objectiveScore: median ms for time, J per call for energy, J*s for edp).
  KeepFaster,
};

struct StoreResult {
  std::filesystem::path path;
  bool written = false; ///< false: KeepFaster kept the existing entry
  std::string note;     ///< "replaced a stale entry (...)", "kept the existing, faster entry"
};

/// Summary of import / export / clear.
struct TransferReport {
  int entries = 0;                   ///< written (import), archived (export), removed (clear)
  std::vector<std::string> problems; ///< skipped entries with the reason
};

class Cache {
public:
  /// A cache rooted at `root` (created on first store).
  explicit Cache(std::filesystem::path root);
  /// Cache(cacheRoot()).
  static Cache openDefault();

  const std::filesystem::path &root() const { return root_; }
  /// False when the root does not exist yet (nothing stored); throws CacheError naming the root
  /// when it is not a directory or cannot be read.
  bool checkRoot() const;
  /// root / gpuDirName / fileName; throws CacheError when either part could leave the root.
  std::filesystem::path pathInside(const std::filesystem::path &gpuDirName,
                                   const std::string &fileName) const;
  std::filesystem::path gpuDir(const DeviceIdentity &device) const;
  std::filesystem::path entryPath(const CacheKey &key) const;

  /// The entry for `key`: Hit when it parses, its CUBIN hash matches, and its key equals `key`
  /// (versions included). Never throws for a bad file: that is Corrupt with the reason.
  LookupResult lookup(const CacheKey &key) const;

  /// Entries usable for `key` on any GPU of the same compute capability, best (lowest
  /// objectiveScore of the key's objective) first, for machines without a GPU (`tilefuse emit --arch sm_90`): the device name, SM count
  /// and driver are not compared, everything else is.
  std::vector<LookupResult> findForArch(const CacheKey &key) const;

  /// Publishes `entry` atomically under the directory lock (see the file comment). The CUBIN must
  /// not be empty. Throws CacheError on an I/O error (the old entry, if any, is left intact).
  StoreResult store(const CacheEntry &entry, StoreMode mode = StoreMode::Replace);

  /// Every entry file under the root, checked against `now` (sorted by GPU dir, then file name).
  std::vector<ListedEntry> list(const CurrentVersions &now) const;

  /// Deletes entry files (and leftover temporary files): all of them, or only those whose GPU dir or
  /// file name contains `match` (empty: all), or only stale / corrupt ones when `onlyInvalid`.
  TransferReport clear(const std::string &match, bool onlyInvalid, const CurrentVersions &now);

  /// Writes every valid entry (any GPU) into one archive file (format in tuner/README.md: JSON
  /// lines, a header then one entry per line), atomically. Corrupt entries are skipped and reported.
  TransferReport exportTo(const std::filesystem::path &archive) const;
  /// Stores every entry of an archive (each checked as on load: corrupt ones are skipped and
  /// reported) with StoreMode `mode`. Throws CacheError when the file is not a Tilefuse archive.
  TransferReport importFrom(const std::filesystem::path &archive, StoreMode mode = StoreMode::Replace);

  /// Test hook: called by store() after half of the temporary file is written (the lock held);
  /// tests fork a writer and `_exit` here to simulate a kill mid-write.
  std::function<void()> afterPartialWriteForTest;

private:
  std::filesystem::path root_;
};

} // namespace tilefuse::tuner
