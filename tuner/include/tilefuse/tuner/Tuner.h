//===- Tuner.h - autotuning, benchmarking, and kernels by cache policy --*- C++ -*-===//
//
// tune():  build the search space (SearchSpace.h), generate every candidate (KernelBuild.h),
//          compile them in parallel with NVRTC on a pool of std::threads (hardware_concurrency),
//          and on the GPU, in order as they finish compiling:
//            1. correctness gate: run at a small shape (the first of driver::checkShapes' rules: B = 1, at
//               most 2 K/V heads, Sq = 113, Sk = 203) on fresh inputs, every row checked with the
//               rule of Check.h; a failing candidate is rejected and reported, never cached;
//            2. time: CUDA events around each launch on inputs rotated over enough copies to cover
//               several times the L2 cache (TuneOptions::l2Multiple), `warmup` launches first,
//               then as many runs as fit in msPerCandidate (between minReps and maxReps); median.
//          With TuneOptions::objective energy or edp, NVML's energy counter (runtime/Energy.h) is
//          also read around each candidate's timed runs, which are repeated until they last
//          kEnergyMinSeconds (the counter's resolution), as bench --energy does.
//          For time, the candidates within 6% of the fastest (at most 4) are then timed again in steady
//          state, after 500 ms of launches, in 3 interleaved rounds, and ranked by that (steadyFinalists,
//          orderBySteadyTime; TuneOptions::finalists).
//          The best by the objective (rankCandidates: ms, J per call or J*s; ties by ms) is checked
//          once more at the tuned shape itself on sampled rows (Check.h) before it is stored in the
//          cache, under a key that holds the objective, with the default schedule's time.
//          Whole tuning stays within timeBudgetSeconds (60 s): candidates not timed by then are
//          reported as pruned by rule "time".
// bench(): time one kernel (the cached one, or the default schedule, or a given schedule) and check
//          it against the fp64 reference at the small shape and on sampled rows of the real shape.
// chooseSchedule(): the schedule `emit` and `bench` use (given, cached, or default).
// The runtime library's Policy::TuneOnMiss / FailOnMiss reach the cache through
// tuner::CacheScheduleSource (runtime/lib/CacheScheduleSource.h, part of the engine library).
//
// TFLOP/s = usefulFlops / time, with usefulFlops the matmul FLOPs of the tiles the kernel computes
// (IO report of the default schedule's fused program: tiles proven fully masked are not counted),
// or dense 2*B*Hq*Sq*Sk*(D+Dv) when the analysis fails ("flops_rule": "tiles" | "dense"). One count
// per problem, so TFLOP/s of different candidates compare as their times do.
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/spec/Spec.h"
#include "tilefuse/tuner/Cache.h"
#include "tilefuse/tuner/Check.h"
#include "tilefuse/tuner/SearchSpace.h"

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tilefuse::tuner {

/// Tuning or benchmarking was asked for on a machine without a usable GPU.
class NeedsGpuError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Tuning for energy or EDP was asked for, but NVML's energy counter cannot be read (the library
/// is missing or lacks the call, NVML fails to start, or the GPU does not support the counter).
/// what() says why, names NVML and TILEFUSE_NVML_LIBRARY. Never a silent fallback to time.
class EnergyUnavailableError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The GPU this process runs on (device 0), with its driver version. Throws NeedsGpuError.
DeviceIdentity currentDevice(int ordinal = 0);
/// Limits of device `ordinal` (runtime::deviceInfo). Throws NeedsGpuError.
DeviceLimits currentLimits(int ordinal = 0);
/// The versions entries are compared with on this machine (driver 0 without a GPU).
CurrentVersions currentVersions();

/// The small shape of correctness gates: B = 1, Hkv = min(Hkv, 2) with the spec's GQA group,
/// Sq = 113, Sk = 203, the shape's D and Dv (as the first of driver::checkShapes for a large shape).
spec::Shape gateShape(const spec::Shape &shape);

struct TuneProgress {
  std::string phase; ///< "generate", "compile", "time", "verify"
  int done = 0, total = 0;
  std::string message; ///< the candidate just finished, e.g. "BLOCK_M=128 ... 1.234 ms"
};

/// Energy of the timed runs (BenchOptions::energy, and every timed candidate of a tuning whose
/// TuneOptions::objective is not time), from the GPU's NVML counter read before the warmup and after
/// the last timed run. The counter is per GPU: other processes' work on it counts too.
struct EnergyMeasurement {
  std::string error;         ///< why there is no measurement (e.g. NVML missing); empty when measured
  double joulesPerCall = 0;  ///< J: counter delta / calls
  double watts = 0;          ///< W: counter delta / seconds (average power, idle gaps included)
  double seconds = 0;        ///< wall time between the two counter reads (steady clock)
  long long calls = 0;       ///< kernel launches between them (warmup and sizing runs included)
  bool extended = false;     ///< the timed loop was repeated to last >= kEnergyMinSeconds
};
/// The counter updates only every so often (tens of ms or more): shorter runs are repeated until this long.
inline constexpr double kEnergyMinSeconds = 1.0;

struct TuneOptions {
  int device = 0;                   ///< CUDA ordinal
  int maxCandidates = 24;           ///< timed at most, per backend (sm80, sm90)
  int compileExtra = 12;            ///< compiled beyond that, replacing post-compile prunes
  double timeBudgetSeconds = 60;    ///< whole tuning, wall clock
  int warmup = 3;
  int minReps = 5, maxReps = 50;
  double msPerCandidate = 300;      ///< timed-run budget per candidate
  double l2Multiple = 4;            ///< rotated input copies cover at least this many times L2
  int threads = 0;                  ///< NVRTC workers; 0: std::thread::hardware_concurrency()
  uint64_t seed = 0;                ///< inputs; 0: random
  int sampleRows = 128;             ///< rows of the tuned shape checked for the winner
  bool writeCache = true;
  StoreMode storeMode = StoreMode::Replace;
  /// What the winner minimises, and part of the cache key: Time (median ms, the default), Energy
  /// (J per call) or Edp (J per call x s per call). Energy and Edp read NVML's energy counter around
  /// every candidate's timed runs, each lasting >= kEnergyMinSeconds (about 1 s more per candidate);
  /// tune() throws EnergyUnavailableError when the counter cannot be read (not in a dry run).
  Objective objective = Objective::Time;
  /// The caller's captured tensors at the tuned shape (readCaptureFiles, capturesFromBytes): candidates
  /// are timed on them and, when the mask reads them (codegen::maskReadsCapture), the key's mask density class is
  /// theirs. Absent: syntheticCaptures(spec, shape, kSyntheticCaptureSeed) (document ids of geometric
  /// runs of mean 32 tokens), whose class makeKey computes too. The small-shape gate always draws fresh ones.
  std::optional<HostCaptures> captures;
  /// Packed sequences for a spec with "layout": "packed" (required then, refused otherwise; the shape's B, Sq,
  /// Sk must be its batch and max lengths, as BenchOptions::packed): candidates are timed on this batch, the
  /// gate checks every row of a fixed small packed batch (lengths {1, 63, 64, 65, 0, 130}), and the winner is
  /// stored under the key of the shape (B sequences, max lengths), which bench and the Engine look up.
  std::optional<spec::PackedSeqs> packed;
  /// Non-empty ("sm_90"): a dry run without a GPU: the limits of this arch
  /// (DeviceLimits::forArch), every candidate generated and compiled, nothing run, timed or cached.
  std::string dryRunArch;
  /// Also time the sm90 default and its Q-in-registers twin with codegen::Schedule::cluster = 2
  /// (SearchOptions::clusters), for specs without a mask_mod in the batched layout. Off by default until
  /// the clustered kernels have been run and timed on a GPU (docs/results/v0.17/README.md).
  bool clusters = false;
  /// Also time the sm90 default and its Q-in-registers twin with the dynamic tile scheduler
  /// (SearchOptions::dynamicTiles: "persistent": true, "q_tile_order": "dynamic"), for packed specs and specs
  /// with a mask_mod. On by default: on the H200 it ran the packed 64k-token batch 2-6% faster than the plain
  /// grid (non-causal 2.64 against 2.81 ms, causal 1.51 against 1.53) and lost to the static orders on
  /// batched causal, ALiBi and sliding-window specs, where the tuner keeps those (docs/results/v0.25). Off:
  /// for CUDA graphs captured on a stream no kernel has run on yet (tilefuse.h).
  bool dynamicTiles = true;
  /// Steady-state re-timing of the finalists (objective time only; 0 or 1: off). Candidates are first timed
  /// in a burst (`warmup` launches, then msPerCandidate), so a kernel whose clock falls once the board
  /// reaches its power limit can look faster than it will run (docs/results/v0.20: 10% between two packed
  /// schedules). The timed candidates within finalistMargin of the best burst median, at most `finalists`
  /// of them (steadyFinalists), are timed again: steadyWarmupMs of untimed launches first, then
  /// steadyRounds interleaved rounds, each candidate's round a short warm-up (kSteadyRoundWarmupMs) and
  /// msPerCandidate / 2 of timed runs. They are ranked by the median of their round medians
  /// (orderBySteadyTime), ahead of the rest. Their time is kept out of the candidate loop's budget.
  int finalists = 4;
  double finalistMargin = 0.06;    ///< a fraction of the best burst median (0.06: within 6%)
  double steadyWarmupMs = 500;     ///< untimed launches before the first round, GPU ms
  int steadyRounds = 3;
  std::function<void(const TuneProgress &)> progress; ///< called on the calling thread
};
/// Each finalist's untimed launches before its timed runs in a steady-state round, GPU ms.
inline constexpr double kSteadyRoundWarmupMs = 20;

enum class CandidateStatus {
  Timed,         ///< passed the gate and was timed
  Compiled,      ///< compiled in a dry run (not run)
  Pruned,        ///< by its real resources after compiling (rule)
  CompileFailed, ///< generation or NVRTC failed (message)
  WrongResult,   ///< failed an accuracy check (message)
  LaunchFailed,  ///< the driver rejected it
};
std::string_view spelling(CandidateStatus s); ///< "timed", "compiled", "pruned", "compile-failed", ...

struct CandidateResult {
  codegen::Schedule schedule;
  bool isDefault = false;
  CandidateStatus status = CandidateStatus::Timed;
  std::string message;   ///< why it failed / was pruned after compiling
  std::string rule;      ///< for Pruned: the rule (SearchSpace.h)
  double compileMs = 0;
  int registers = 0, spillBytes = 0;
  std::size_t smemBytes = 0;
  int blocksPerSm = 0;
  double medianMs = 0, minMs = 0, maxMs = 0;
  int reps = 0;
  double tflops = 0;
  /// A finalist (TuneOptions::finalists): the median of its steady-state round medians, ms; 0 otherwise.
  double steadyMs = 0;
  /// Timed with an objective other than time: the energy of its timed runs (J per call, W).
  std::optional<EnergyMeasurement> energy;
  Accuracy gate; ///< the small-shape check (rows = 0 when it did not run)
};

/// The order in which tune() tries winners: indices of the Timed candidates, best first by
/// objectiveScore(objective, medianMs, energy->joulesPerCall) (ms, J or J*s), ties by median ms, then
/// by position. For Energy and Edp, a candidate without an energy measurement (none, one with an
/// error, or one of 0 J: the counter did not move) is left out. Pure: no GPU.
std::vector<int> rankCandidates(const std::vector<CandidateResult> &candidates, Objective objective);

/// The finalists that tune() re-times in steady state: the first entries of `ranked` (rankCandidates for
/// time) whose medianMs is within `margin` of the first one's (<= (1 + margin) x best), at most
/// `maxFinalists`. Empty when fewer than two qualify or maxFinalists < 2: nothing to re-rank. Pure: no GPU.
std::vector<int> steadyFinalists(const std::vector<CandidateResult> &candidates, const std::vector<int> &ranked,
                                 int maxFinalists, double margin);
/// `ranked` reordered: the candidates with a steadyMs > 0 first, by steadyMs (ties keep their order in
/// `ranked`), then the others in their order. Pure: no GPU.
std::vector<int> orderBySteadyTime(const std::vector<CandidateResult> &candidates, const std::vector<int> &ranked);

struct TuneResult {
  spec::Spec spec;
  spec::Shape shape;
  DeviceIdentity device;
  CacheKey key;
  std::vector<CandidateResult> candidates; ///< compiled ones, in search order
  std::vector<PrunedCandidate> pruned;     ///< pruned before compiling (and by "time")
  int enumerated = 0;
  int winner = -1;                         ///< index into candidates; -1: none passed
  double defaultMs = 0;
  double usefulFlops = 0;
  std::string flopsRule;
  Accuracy winnerCheck;                    ///< the winner at the tuned shape, sampled rows
  double seconds = 0;
  std::optional<StoreResult> stored;       ///< when the cache was written
  std::string cacheNote;                   ///< what the lookup found before tuning (stale, corrupt)
  /// The steady-state re-timing (TuneOptions::finalists), one line: warm-up, rounds, each finalist's burst
  /// and steady ms. Empty when it did not run (one finalist, objective not time, dry run).
  std::string steadyNote;
  const CandidateResult *best() const { return winner >= 0 ? &candidates[winner] : nullptr; }
};

/// Tunes (spec, shape) on GPU options.device for options.objective and stores the winner in `cache`
/// under makeKey(..., options.objective) (when options.writeCache).
/// With options.dryRunArch, only generates and compiles (winner = -1, nothing cached, no GPU used).
/// Throws EnergyUnavailableError (objective energy / edp, checked first, before the GPU) when NVML's
/// counter cannot be read, NeedsGpuError without a GPU (and no dry run), KernelBuildError when even the
/// default schedule cannot be generated (an unsupported spec), std::runtime_error when no candidate passes.
TuneResult tune(const spec::Spec &spec, const spec::Shape &shape, const TuneOptions &options,
                Cache &cache);

struct BenchOptions {
  int device = 0;                            ///< CUDA ordinal
  std::optional<codegen::Schedule> schedule; ///< else the cached one, else the default
  int warmup = 5;
  /// Then untimed launches until this much GPU time (ms) has passed: under sustained load the board
  /// reaches its power limit within about half a second, and a long D128 kernel then runs 10-15% slower
  /// than in its first launches (docs/results/v0.14, calls 5-9). The times are those of that steady state.
  /// 0: only the `warmup` launches (the first burst). Throws std::invalid_argument when negative.
  double warmupMs = 500;
  int reps = 50;
  double l2Multiple = 4;
  uint64_t seed = 0;
  int sampleRows = 256;
  /// Packed sequences for a spec with "layout": "packed" (required then, refused otherwise): the shape's
  /// B, Sq, Sk must be its batch and max lengths. The small check runs every row of a fixed packed batch
  /// of lengths {1, 63, 64, 65, 0, 130} (an empty sequence included); TFLOP/s counts real tokens only.
  std::optional<spec::PackedSeqs> packed;
  /// The caller's captured tensors at the benchmarked shape (readCaptureFiles): the timed runs and the
  /// sampled check use them, and the cache entry looked up is the one of their mask density class.
  /// Absent: syntheticCaptures(spec, shape, kSyntheticCaptureSeed), as tune() uses.
  std::optional<HostCaptures> captures;
  /// Also measure energy with NVML's counter (runtime/Energy.h) around the timed runs; NVML missing is
  /// reported in BenchResult::energy, never thrown.
  bool energy = false;
};


struct BenchResult {
  spec::Spec spec;
  spec::Shape shape;
  DeviceIdentity device;
  codegen::Schedule schedule;
  std::string scheduleSource; ///< "cache", "default", "--schedule"
  std::string note;           ///< e.g. why the cache was not used
  double medianMs = 0, minMs = 0, maxMs = 0;
  int reps = 0;
  double usefulFlops = 0, tflops = 0;
  std::string flopsRule;
  double cachedMs = 0;        ///< the cache entry's median, when from the cache
  /// A kernel with a run-time block mask: its classification kernel's time at this shape (built once,
  /// before the timed runs, which iterate its lists), ms; 0 without one.
  double blockMaskBuildMs = 0;
  Accuracy small;             ///< every row at gateShape (packed: of the fixed small batch)
  Accuracy sampled;           ///< sampled rows at the real shape
  /// Packed: the sequences benchmarked. usefulFlops is then the sum over sequences b of
  /// min(2 Hq Sq_b Sk_b (D + Dv), the tiles rule at B = 1, Sq_b, Sk_b): real tokens only, about half for causal.
  std::optional<spec::PackedSeqs> packed;
  std::optional<EnergyMeasurement> energy; ///< with BenchOptions::energy
  bool passed() const { return small.passed && sampled.passed; }
};

/// Times and checks one kernel on GPU options.device. Throws NeedsGpuError, KernelBuildError, CompileError.
BenchResult bench(const spec::Spec &spec, const spec::Shape &shape, const BenchOptions &options,
                  Cache &cache);

// ---------------------------------------------------------------------------------------------
// Which schedule a command uses.

struct ScheduleChoice {
  codegen::Schedule schedule;
  std::string source; ///< "cache" (this GPU), "cache:<gpu dir>" (another GPU of the arch),
                      ///< "default" (codegen::defaultSchedule), "--schedule" (given)
  std::string note;   ///< why the cache was not used ("no entry", "stale: driver ...")
  std::optional<CacheEntry> entry; ///< when from the cache
};

/// The schedule for (spec, shape) on `arch`: `given` when set; else the cache entry of `device`
/// (when non-null: this machine's GPU) or, without a GPU, the best entry of any GPU of `arch`'s
/// compute capability (Cache::findForArch); else codegen::defaultSchedule. The key's mask density class
/// is that of `captures` (of `shape`; null: the synthetic ones, makeKey). Never throws for a bad
/// entry (it is reported in `note`); throws codegen::ScheduleError for a head dim the default
/// schedule does not support.
ScheduleChoice chooseSchedule(const spec::Spec &spec, const spec::Shape &shape, const std::string &arch,
                              const Cache &cache, const DeviceIdentity *device,
                              const std::optional<codegen::Schedule> &given = std::nullopt,
                              const HostCaptures *captures = nullptr);

} // namespace tilefuse::tuner
