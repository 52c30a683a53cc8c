//===- main.cpp - the tilefuse command line -------------------------------===//
//
// tilefuse lower SPEC    print the unfused block program
// tilefuse fuse SPEC     print the fused block program
// tilefuse run SPEC      the main job (see --help)
// tilefuse emit SPEC     CUDA / PTX / CUBIN of the kernel (no GPU needed)
// tilefuse tune SPEC     autotune on this GPU and write the cache
// tilefuse bench SPEC    time and check the (tuned) kernel
// tilefuse cache ...     ls | show | clear | export | import | dir
//
// Arguments are parsed with CLI11; the work is done by tilefuse/driver and tilefuse/tuner's
// Commands.h (no MLIR in this file).
//
#include "tilefuse/driver/Driver.h"
#include "tilefuse/spec/Json.h"
#include "tilefuse/tuner/Commands.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include "tilefuse/runtime/CudaDriver.h"

#include "tilefuse/spec/Json.h"

#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <optional>
#include <random>

namespace {

using tilefuse::driver::Problem;

/// A size flag: an integer from 1 to `limit`, checked on the text before CLI11 converts it (its
/// conversion clamps out-of-range values, and CLI::PositiveNumber prints a 309-digit range).
CLI::Validator sizeFlag(int64_t limit) {
  return CLI::Validator(
      [limit](std::string &text) -> std::string {
        int64_t v = 0;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        std::string allowed = fmt::format("expected an integer from 1 to {}", limit);
        if (ec == std::errc::result_out_of_range)
          return fmt::format("{} is out of range; {}", text, allowed);
        if (ec != std::errc() || ptr != text.data() + text.size())
          return fmt::format("'{}' is not an integer; {}", text, allowed);
        if (v < 1 || v > limit)
          return fmt::format("{} is not allowed; {}", v, allowed);
        return "";
      },
      fmt::format("INT in [1, {}]", limit));
}

/// The spec positional and the size flags of every command that takes a spec.
void addSpecAndSizes(CLI::App *cmd, std::string &specPath, tilefuse::spec::ShapeOverrides &o,
                     std::optional<int64_t> &seqBoth) {
  cmd->add_option("spec", specPath,
                  "Spec file (JSON): specs/*.json or a model file specs/models/*.json; emit and bench also take "
                  "a block program (.mlir, e.g. examples/chains/*.mlir)")
      ->required()
      ->check(CLI::ExistingFile);
  namespace s = tilefuse::spec;
  auto size = [&](const char *flag, std::optional<int64_t> &field, const char *what,
                  int64_t limit) { cmd->add_option(flag, field, what)->check(sizeFlag(limit)); };
  size("--B", o.B, "Batch size (default: the spec's shape.B)", s::kMaxBatch);
  size("--Hq", o.Hq, "Query heads", s::kMaxHeads);
  size("--Hkv", o.Hkv, "Key/value heads (must divide Hq)", s::kMaxHeads);
  size("--Sq", o.Sq, "Query sequence length", s::kMaxSeqLen);
  size("--Sk", o.Sk, "Key/value sequence length", s::kMaxSeqLen);
  size("--S", seqBoth, "Sets both Sq and Sk", s::kMaxSeqLen);
  size("--D", o.D, "HEAD_DIM of Q and K", s::kMaxHeadDim);
  size("--Dv", o.Dv, "Head dim of V and O", s::kMaxHeadDim);
}

/// `--S` sets Sq and Sk where they were not given themselves.
void applySeq(tilefuse::spec::ShapeOverrides &o, const std::optional<int64_t> &seqBoth) {
  if (seqBoth) {
    o.Sq = o.Sq.value_or(*seqBoth);
    o.Sk = o.Sk.value_or(*seqBoth);
  }
}

/// Spec, sizes and the BLOCK_M / BLOCK_N of lowering and fusion (lower, fuse, run).
void addProblemOptions(CLI::App *cmd, Problem &p, std::optional<int64_t> &seqBoth) {
  addSpecAndSizes(cmd, p.specPath, p.overrides, seqBoth);
  cmd->add_option("--block-m", p.blockM, "BLOCK_M: query rows per program instance")
      ->check(sizeFlag(tilefuse::driver::kMaxBlock));
  cmd->add_option("--block-n", p.blockN, "BLOCK_N: key/value rows per tile after fusion")
      ->check(sizeFlag(tilefuse::driver::kMaxBlock));
}

/// Prints to stdout, or writes the file atomically when `output` is set.
void emitText(const std::string &text, const std::string &output) {
  if (output.empty())
    fmt::print("{}", text);
  else
    tilefuse::driver::writeFileAtomically(output, text);
}

std::string shapeText(const tilefuse::spec::Shape &s) {
  return fmt::format("B={} Hq={} Hkv={} Sq={} Sk={} D={} Dv={}", s.B, s.Hq, s.Hkv, s.Sq, s.Sk,
                     s.D, s.Dv);
}

nlohmann::json shapeJson(const tilefuse::spec::Shape &s) {
  return {{"B", s.B}, {"Hq", s.Hq}, {"Hkv", s.Hkv}, {"Sq", s.Sq}, {"Sk", s.Sk}, {"D", s.D},
          {"Dv", s.Dv}};
}

nlohmann::json checkJson(const tilefuse::driver::CheckResult &r) {
  return {{"shape", shapeJson(r.shape)}, {"seed", r.seed},
          {"max_abs_err_O", r.maxAbsErrO}, {"rel_err_O", r.relErrO},
          {"max_abs_err_LSE", r.maxAbsErrLSE}, {"lse_inf_match", r.lseMatchesInf},
          {"tolerance", r.tolerance}, {"interp_ms", r.interpMs}, {"passed", r.passed()},
          {"worst_element", r.worstText()}};
}

/// Packed-sequence flags (a spec with "layout": "packed"): --cu-seqlens [--cu-seqlens-k] or
/// --seqlens-file.
struct PackedFlags {
  std::string cuQ, cuK, file, random;
  bool given() const { return !cuQ.empty() || !cuK.empty() || !file.empty() || !random.empty(); }
};

/// `--capture NAME=FILE` (repeatable) of emit, tune and bench: the caller's captured tensors (tuner/Captures.h).
void addCaptureOption(CLI::App *cmd, std::vector<std::string> &files) {
  cmd->add_option("--capture", files,
                  "A captured tensor's values, NAME=FILE (repeat per capture): text numbers separated by "
                  "whitespace or commas, row-major, or raw little-endian elements of its dtype when FILE ends "
                  "in .bin. The cache entry is that of their mask density class, and tune / bench run on "
                  "them (default: synthetic document ids of mean 32 tokens)")
      ->type_name("NAME=FILE")
      ->allow_extra_args(false);
}

void addPackedOptions(CLI::App *cmd, PackedFlags &f) {
  auto *q = cmd->add_option("--cu-seqlens", f.cuQ,
                            "Packed specs: cu_seqlens_q (and _k unless --cu-seqlens-k), e.g. 0,5,12,20");
  cmd->add_option("--cu-seqlens-k", f.cuK, "Packed specs: cu_seqlens_k when it differs from cu_seqlens_q");
  cmd->add_option("--seqlens-file", f.file,
                  "Packed specs: a file of offsets ('0,5,12' or lines 'q: ...' and 'k: ...')")
      ->excludes(q)
      ->check(CLI::ExistingFile);
}

/// `--seqlens-random` of tune and bench: a random packed batch.
void addRandomSeqlensOption(CLI::App *cmd, PackedFlags &f) {
  cmd->add_option("--seqlens-random", f.random,
                  "Packed specs: lengths uniform in [MIN, MAX] until TOTAL tokens (the last one cut), "
                  "MIN,MAX,TOTAL[,SEED], e.g. 128,4096,65536");
}

/// The packed batch the flags describe (none given: nullopt). Throws spec::PackedError.
std::optional<tilefuse::spec::PackedSeqs> packedFrom(const PackedFlags &f) {
  namespace s = tilefuse::spec;
  if (!f.random.empty()) {
    if (!f.cuQ.empty() || !f.cuK.empty() || !f.file.empty())
      throw s::PackedError("--seqlens-random excludes --cu-seqlens, --cu-seqlens-k and --seqlens-file");
    return s::makePackedSeqs(s::parseRandomSeqlens("--seqlens-random", f.random));
  }
  if (!f.file.empty()) {
    std::ifstream in(f.file);
    std::stringstream text;
    text << in.rdbuf();
    return s::parseSeqlensFile(f.file, text.str());
  }
  if (f.cuQ.empty() && !f.cuK.empty())
    throw s::PackedError("--cu-seqlens-k needs --cu-seqlens (cu_seqlens_q)");
  if (f.cuQ.empty())
    return std::nullopt;
  return s::makePackedSeqs(s::parseIntList("--cu-seqlens", f.cuQ),
                           f.cuK.empty() ? std::vector<int64_t>{} : s::parseIntList("--cu-seqlens-k", f.cuK));
}

/// `tilefuse run`: every stage of the chain that exists, on one spec. Exit 1 if a check fails.
int runMainJob(const Problem &problem, bool quietIR, uint64_t seed, bool json,
               const std::string &emitDir, const PackedFlags &packedFlags) {
  namespace drv = tilefuse::driver;
  drv::Loaded loaded = drv::load(problem);
  const bool packed = loaded.spec.layout == tilefuse::spec::Layout::Packed;
  std::optional<tilefuse::spec::PackedSeqs> seqs = packedFrom(packedFlags);
  if (seqs && !packed)
    throw drv::DriverError("--cu-seqlens / --seqlens-file: spec '" + loaded.spec.name +
                           "' is batched; packed sequences need \"layout\": \"packed\" in the spec");
  if (packed && !seqs)
    seqs = drv::defaultCheckSeqs();
  if (seed == 0)
    seed = std::random_device{}() | 1;
  nlohmann::json out = {{"spec", loaded.spec.name}, {"file", problem.specPath},
                        {"dtype", std::string(tilefuse::spec::spelling(loaded.spec.dtype))},
                        {"shape", shapeJson(loaded.shape)}};
  auto section = [&](const std::string &title) {
    if (!json)
      fmt::print("\n== {} ==\n", title);
  };
  if (!json)
    fmt::print("tilefuse run: spec '{}' ({}), {}, {}\n", loaded.spec.name, problem.specPath,
               tilefuse::spec::spelling(loaded.spec.dtype), shapeText(loaded.shape));

  std::string unfused = drv::unfusedIR(loaded);
  // The texts the checks parse keep every op's location, so the interpreter names the spec field.
  std::string unfusedLocated = drv::unfusedIR(loaded, /*locations=*/true);
  section(fmt::format("1. unfused block program (BLOCK_M={}): S and P go through HBM",
                      loaded.blockM));
  if (!quietIR && !json)
    fmt::print("{}", unfused);
  out["unfused_ir"] = unfused;

  drv::FuseResult fused = drv::fuse(loaded, unfusedLocated);
  section(fmt::format("2. fused block program (--tilefuse-fuse, BLOCK_N={}): {} kernel(s), {} "
                      "HBM scratch tensor(s){}",
                      loaded.blockN, fused.kernels, fused.hbmScratch,
                      fused.untiled ? fmt::format(", {} op(s) on untiled `?` tiles (not done)", fused.untiled) : ""));
  if (!quietIR && !json)
    fmt::print("{}", fused.ir);
  if (!json && !fused.diagnostics.empty())
    fmt::print("fusion diagnostics:\n{}", fused.diagnostics);
  out["fused_ir"] = fused.ir;
  out["fusion_diagnostics"] = fused.diagnostics;
  out["fused_kernels"] = fused.kernels;
  out["fused_untiled_ops"] = fused.untiled;

  // The shapes of the fp64 check (drv::checkShapes): the requested sizes when small, else small ones
  // of the same Sq - Sk sign, and always Sq > Sk and Sq = 1 too. A packed spec runs one batch of
  // sequences instead.
  std::vector<tilefuse::spec::Shape> shapes = drv::checkShapes(loaded);
  std::string packedText;
  if (packed) {
    shapes.resize(1);
    tilefuse::spec::Shape &small = shapes.front();
    small.B = seqs->batch();
    small.Sq = std::max<int64_t>(seqs->maxLenQ(), 1);
    small.Sk = std::max<int64_t>(seqs->maxLenK(), 1);
    std::string q, k;
    for (size_t b = 0; b < seqs->cuQ.size(); ++b) {
      q += (b ? "," : "") + std::to_string(seqs->cuQ[b]);
      k += (b ? "," : "") + std::to_string(seqs->cuK[b]);
    }
    packedText = fmt::format(", packed: cu_seqlens_q = {}, cu_seqlens_k = {}", q, k);
    out["cu_seqlens_q"] = seqs->cuQ;
    out["cu_seqlens_k"] = seqs->cuK;
  }
  std::string shapeList;
  for (const tilefuse::spec::Shape &sh : shapes)
    shapeList += (shapeList.empty() ? "" : "; ") + shapeText(sh);
  section(fmt::format("3. fp64 interpreter vs naive reference at {}{} (seed {})", shapeList, packedText, seed));
  bool ok = true;
  std::string failed; // "the fp64 check of the fused program failed ..." when a check fails
  nlohmann::json checks = nlohmann::json::array();
  for (const tilefuse::spec::Shape &small : shapes) {
    nlohmann::json entry = {{"shape", shapeJson(small)}};
    const bool extra = &small != &shapes.front();
    for (auto [name, text] : {std::pair{"unfused", &unfusedLocated}, std::pair{"fused", &fused.located}}) {
      drv::CheckResult check;
      try {
        check = packed ? drv::checkPackedProgram(loaded, *text, small, *seqs, seed)
                       : drv::checkProgram(loaded, *text, small, seed);
      } catch (const std::exception &e) {
        if (extra) {
          // A shape the user did not ask for that the spec does not define (document_mask reads
          // doc_ids[b, q_idx + Sk - Sq], out of range when Sq > Sk): said, not a failure. A wrong
          // result there is still a failure below.
          entry[name] = {{"not_checked", e.what()}};
          if (!json)
            fmt::print("{:<8} program at Sq={} Sk={}: not checked: {}\n", name, small.Sq, small.Sk, e.what());
          continue;
        }
        // Say that the sizes in the message are the check's, and what they stand for. An error
        // at a place in the spec ("causal.json:8:15: error: field 'mask_mod', column 9: ...", an
        // op lowered from an expression) keeps that place first, like any compiler diagnostic.
        const std::string what = e.what();
        const size_t located = what.find(": error: ");
        const std::string context = fmt::format("the fp64 check of the {} program at {} (the interpreter's "
                                                "small shape for your {})",
                                                name, shapeText(small), shapeText(loaded.shape));
        if (located != std::string::npos && what.find(' ') > located)
          throw drv::DriverError(fmt::format("{}; in {}", what, context));
        throw drv::DriverError(fmt::format(
            "the fp64 check of the {} program failed at {} (the interpreter's small shape for "
            "your {}): {}",
            name, shapeText(small), shapeText(loaded.shape), what));
      }
      entry[name] = checkJson(check);
      if (&small == &shapes.front())
        out[std::string("check_") + name] = checkJson(check);
      ok = ok && check.passed();
      if (!check.passed() && failed.empty())
        failed = fmt::format("the fp64 check of the {} program failed at {}: max|dO| = {:.3e}, "
                             "rel = {:.3e}, max|dLSE| = {:.3e}, -inf rows {}; expected errors within "
                             "{:.0e}; worst element {}",
                             name, shapeText(small), check.maxAbsErrO, check.relErrO,
                             check.maxAbsErrLSE, check.lseMatchesInf ? "match" : "differ",
                             check.tolerance, check.worstText());
      if (!json)
        fmt::print("{:<8} program{}: max|dO| = {:.3e}  rel = {:.3e}  max|dLSE| = {:.3e}  "
                   "-inf rows {}  -> {} (tolerance {:.0e}, {:.0f} ms)\n",
                   name, shapes.size() > 1 ? fmt::format(" at Sq={} Sk={}", small.Sq, small.Sk) : "",
                   check.maxAbsErrO, check.relErrO, check.maxAbsErrLSE,
                   check.lseMatchesInf ? "match" : "DIFFER", check.passed() ? "PASS" : "FAIL",
                   check.tolerance, check.interpMs);
    }
    checks.push_back(std::move(entry));
  }
  out["checks"] = std::move(checks);

  section(fmt::format("4. IO / FLOP report at {}", shapeText(loaded.shape)));
  for (auto [name, text] : {std::pair{"unfused", &unfused}, std::pair{"fused", &fused.ir}}) {
    if (json) {
      out[std::string("io_") + name] =
          nlohmann::json::parse(drv::ioReport(loaded, *text, loaded.shape, true));
    } else {
      fmt::print("-- {} --\n{}", name, drv::ioReport(loaded, *text, loaded.shape, false));
    }
  }
  drv::IOTotals u = drv::ioTotals(loaded, unfused, loaded.shape);
  drv::IOTotals f = drv::ioTotals(loaded, fused.ir, loaded.shape);
  out["hbm_bytes"] = {{"unfused", u.hbmBytes}, {"fused", f.hbmBytes}, {"unfused_upper_bound", u.upperBound},
                      {"fused_upper_bound", f.upperBound}};
  if (!json)
    // An upper bound (data-dependent tiles counted as run) is marked "<=": the fused program's when a
    // run-time block mask decides its tiles; then the saving is "at least" (when the unfused is exact).
    fmt::print("HBM traffic: unfused {}{:.3f} GiB -> fused {}{:.3f} GiB ({}); matmul "
               "FLOPs {}{:.3e} -> {}{:.3e}{}\n",
               u.upperBound ? "<= " : "", u.hbmBytes / (1 << 30), f.upperBound ? "<= " : "",
               f.hbmBytes / (1 << 30),
               f.hbmBytes > 0 ? fmt::format("{:.1f}x less{}", u.hbmBytes / f.hbmBytes,
                                            f.upperBound && !u.upperBound ? " at least" : "")
                              : std::string("no fused traffic"),
               u.upperBound ? "<= " : "", u.matmulFlops, f.upperBound ? "<= " : "", f.matmulFlops,
               f.upperBound ? " (fused: an upper bound, the tiles skipped at run time are data-dependent)" : "");
  // A failed check is an error: on stderr (and in the JSON), not only in the table.
  auto checkFailed = [&] {
    if (!failed.empty())
      fmt::print(stderr, "tilefuse run: error: {}\n", failed);
  };
  if (json) {
    if (!failed.empty())
      out["error"] = failed;
    fmt::print("{}\n", tilefuse::spec::dumpJson(out, 2));
    checkFailed();
    return ok ? 0 : 1;
  }

  // 5. The kernel: tuned and benchmarked on a GPU; emitted with the default schedule without one.
  namespace tcli = tilefuse::tuner::cli;
  tcli::ProblemArgs pa{problem.specPath, problem.overrides};
  std::string reason;
  if (tilefuse::runtime::gpuAvailable(&reason)) {
    section("5. tune and benchmark on this GPU");
    std::fflush(stdout); // the tuner's commands also write to stderr: keep the order on a pipe
    tcli::TuneArgs tune;
    tune.problem = pa;
    int rc = tcli::runTune(tune);
    tcli::BenchArgs bench;
    bench.problem = pa;
    rc = rc ? rc : tcli::runBench(bench);
    checkFailed();
    return ok && rc == 0 ? 0 : 1;
  }
  section("5. CUDA kernel (no GPU here: " + reason + ")");
  std::fflush(stdout);
  tcli::EmitArgs emit;
  emit.problem = pa;
  emit.output = emitDir + "/" + loaded.spec.name + ".cu";
  std::filesystem::create_directories(emitDir);
  int rc = tcli::runEmit(emit);
  if (rc == 0)
    fmt::print("wrote {}; tuning and benchmarking need a GPU (tilefuse tune / tilefuse bench).\n",
               emit.output);
  checkFailed();
  return ok && rc == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"tilefuse: an attention-kernel compiler and autotuner.\n"
               "Lowers an attention variant (a JSON spec) to a block program, fuses it into\n"
               "tiled online-softmax attention, and generates CUDA kernels."};
  app.require_subcommand(1);
  app.footer("Examples:\n"
             "  tilefuse lower specs/causal.json --S 1024\n"
             "  tilefuse lower specs/gqa.json -o gqa.mlir --json\n"
             "  tilefuse emit specs/causal.json --arch sm_90 > causal.cu\n"
             "  tilefuse tune specs/models/llama3_8b_prefill.json\n"
             "  tilefuse bench specs/models/llama3_8b_prefill.json\n"
             "  tilefuse cache ls");

  Problem problem;
  std::optional<int64_t> seqBoth;
  std::string output;
  bool json = false;
  bool locations = false; // lower / fuse --locations

  CLI::App *lower = app.add_subcommand("lower", "Print the unfused block program of a spec");
  addProblemOptions(lower, problem, seqBoth);
  lower->add_option("-o,--output", output, "Write the program to this file instead of stdout");
  lower->add_flag("--json", json, "Print a JSON object {spec, shape, ir}");
  lower->add_flag("--locations", locations,
                  "Print each op's location: the spec field and expression column it comes from");
  lower->footer("Example:\n  tilefuse lower specs/causal.json --Sq 1000 --Sk 1200 --block-m 128");

  CLI::App *fuseCmd =
      app.add_subcommand("fuse", "Print the fused block program of a spec, or fuse a block program (.mlir)");
  addProblemOptions(fuseCmd, problem, seqBoth);
  fuseCmd->add_option("-o,--output", output, "Write the program to this file instead of stdout");
  fuseCmd->add_flag("--json", json, "Print a JSON object {spec, ir, diagnostics, kernels}");
  fuseCmd->add_flag("--locations", locations,
                    "Print each op's location: the spec field and expression column it comes from");
  fuseCmd->footer("Examples:\n  tilefuse fuse specs/sliding_window.json --block-n 128\n"
                  "  tilefuse fuse tests/lit/fusion/Inputs/rmsnorm_matmul.mlir   # any blk program: prints it fused, and\n"
                  "                                                             # on stderr whether it fully fused");

  CLI::App *run = app.add_subcommand(
      "run", "The main job: lower, fuse, check both in the fp64 interpreter, report IO");
  addProblemOptions(run, problem, seqBoth);
  bool quietIR = false;
  uint64_t seed = 0;
  run->add_flag("--no-ir", quietIR, "Do not print the block programs");
  run->add_option("--seed", seed, "Seed of the random check inputs (default: random)");
  run->add_flag("--json", json, "Print one JSON object instead of text (stages 1-4 only)");
  std::string emitDir = "tilefuse-out";
  run->add_option("--emit-dir", emitDir, "Where the CUDA kernel is written without a GPU");
  PackedFlags runPacked;
  addPackedOptions(run, runPacked);
  run->footer("Example:\n  tilefuse run specs/causal.json --S 4096 --Hq 16 --Hkv 16 --B 1\n"
              "  tilefuse run specs/varlen_causal.json --cu-seqlens 0,1,64,129,193");

  namespace cli = tilefuse::tuner::cli;
  std::optional<int64_t> tunerSeq;

  cli::EmitArgs emitArgs;
  CLI::App *emit = app.add_subcommand(
      "emit", "Print the CUDA source, PTX or CUBIN of a spec's kernel (no GPU needed)");
  addSpecAndSizes(emit, emitArgs.problem.specPath, emitArgs.problem.overrides, tunerSeq);
  PackedFlags emitPacked;
  addPackedOptions(emit, emitPacked);
  emit->add_option("--arch", emitArgs.arch,
                   "NVRTC target, sm_80 or newer (default: this machine's GPU, else sm_90)");
  emit->add_option("--format", emitArgs.format, "cuda, ptx, cubin (needs -o) or mlir (the fused program)")
      ->check(CLI::IsMember({"cuda", "ptx", "cubin", "mlir"}));
  emit->add_option("-o,--output", emitArgs.output, "Write to this file instead of stdout");
  emit->add_option("--schedule", emitArgs.scheduleJson,
                   "Schedule JSON, e.g. '{\"block_m\":128,\"block_n\":64,\"warps\":8}' (default: the "
                   "tuning cache's entry, else the heuristic default)");
  addCaptureOption(emit, emitArgs.captureFiles);
  emit->add_flag("--json", emitArgs.json, "Print one JSON object (schedule, its source, launch, text)");
  emit->footer("Uses the cached schedule for the spec and shape if there is one (any GPU of the arch),\n"
               "else the heuristic default, and says which on stderr.\n"
               "Examples:\n"
               "  tilefuse emit specs/causal.json --S 4096 --arch sm_90 > causal.cu\n"
               "  tilefuse emit specs/models/llama3_8b_prefill.json --format ptx --arch sm_80 -o llama.ptx\n"
               "  tilefuse emit specs/gqa.json --format cubin -o gqa.cubin --schedule '{\"block_m\":64}'\n"
               "  tilefuse emit examples/chains/rmsnorm_matmul.mlir --arch sm_90   # a block program: fused, generated");

  cli::TuneArgs tuneArgs;
  CLI::App *tuneCmd = app.add_subcommand("tune", "Autotune a spec's kernel on this GPU and write the cache");
  addSpecAndSizes(tuneCmd, tuneArgs.problem.specPath, tuneArgs.problem.overrides, tunerSeq);
  tuneCmd->add_option("--max-candidates", tuneArgs.options.maxCandidates,
                      "Schedules timed after pruning, per backend (sm80, sm90; default 24)")
      ->check(CLI::PositiveNumber);
  tuneCmd->add_option("--compile-extra", tuneArgs.options.compileExtra,
                      "Schedules compiled beyond that, to replace ones pruned after compiling (default 12)")
      ->check(CLI::NonNegativeNumber);
  tuneCmd->add_option("--budget", tuneArgs.options.timeBudgetSeconds, "Time budget, seconds (default 60)")
      ->check(CLI::PositiveNumber);
  tuneCmd->add_option("--threads", tuneArgs.options.threads, "NVRTC threads (default: all cores)");
  tuneCmd->add_option("--seed", tuneArgs.options.seed, "Seed of the inputs (default: random)");
  tuneCmd->add_option("--device", tuneArgs.options.device, "CUDA device ordinal (default 0)");
  tuneCmd->add_flag("--clusters", tuneArgs.options.clusters,
                    "Also time the sm90 default (and its Q-in-registers twin) on clusters of 2 blocks that share "
                    "each K/V tile by TMA multicast (mask-free batched specs only; not yet measured on a GPU)");
  tuneCmd->add_flag("--dynamic-tiles,!--no-dynamic-tiles", tuneArgs.options.dynamicTiles,
                    "Also time the sm90 default (and its Q-in-registers twin) on a persistent grid whose blocks claim "
                    "their tiles from a counter (\"q_tile_order\": \"dynamic\"; packed specs and specs with a "
                    "mask_mod). On by default; --no-dynamic-tiles leaves it out (for CUDA graphs, see tilefuse.h)");
  tuneCmd->add_option("--finalists", tuneArgs.options.finalists,
                      "Time the fastest candidates (within 6%, at most this many) again in steady state, after "
                      "500 ms of launches, in 3 interleaved rounds, and pick by that; 0 or 1: off (default 4; "
                      "objective time only)")
      ->check(CLI::NonNegativeNumber);
  bool noCache = false, keepFaster = false;
  tuneCmd->add_option("--dry-run", tuneArgs.options.dryRunArch,
                      "No GPU: prune for this arch (e.g. sm_90), generate and compile every candidate, "
                      "time nothing, cache nothing");
  std::string objective = "time";
  tuneCmd->add_option("--objective", objective,
                      "What the winner minimises: time (median ms per call), energy (J per call) or edp "
                      "(J per call x s per call); energy and edp need NVML (default time)")
      ->check(CLI::IsMember({"time", "energy", "edp"}));
  tuneCmd->add_flag("--no-cache", noCache, "Do not write the cache");
  tuneCmd->add_flag("--keep-faster", keepFaster,
                    "Keep an existing cache entry if it is not worse by the objective (faster, for time)");
  addCaptureOption(tuneCmd, tuneArgs.captureFiles);
  PackedFlags tunePacked;
  addPackedOptions(tuneCmd, tunePacked);
  addRandomSeqlensOption(tuneCmd, tunePacked);
  tuneCmd->add_flag("-v,--verbose", tuneArgs.verbose, "List every pruned schedule with the reason");
  tuneCmd->add_flag("--json", tuneArgs.json, "Print one JSON object (every candidate, pruned ones with reasons)");
  tuneCmd->footer("Needs a GPU (exit status 2 without one). Prints a progress bar, then a table of\n"
                  "the candidates (schedule, ms, TFLOP/s, pass/fail) and writes the winner to the cache\n"
                  "($TILEFUSE_CACHE_DIR, else $XDG_CACHE_HOME/tilefuse, else ~/.cache/tilefuse).\n"
                  "--objective energy|edp also reads the GPU's NVML energy counter around every candidate's\n"
                  "runs (>= 1 s each; libnvidia-ml.so.1, $TILEFUSE_NVML_LIBRARY overrides it) and fails\n"
                  "without NVML; the cache keeps one entry per objective.\n"
                  "Examples:\n"
                  "  tilefuse tune specs/models/llama3_8b_prefill.json\n"
                  "  tilefuse tune specs/causal.json --S 8000 --B 2 --verbose\n"
                  "  tilefuse tune specs/models/gpt2_small.json --json > gpt2.tune.json\n"
                  "  tilefuse tune specs/models/llama3_8b_prefill.json --objective energy\n"
                  "  tilefuse tune specs/models/mistral_7b_prefill.json --dry-run sm_90 --verbose\n"
                  "  tilefuse tune specs/document_mask.json --B 4 --S 4096 --capture doc_ids=docs.txt\n"
                  "  tilefuse tune specs/varlen/causal.json --seqlens-random 128,4096,65536   # packed: tuned on this batch");

  cli::BenchArgs benchArgs;
  CLI::App *benchCmd = app.add_subcommand(
      "bench", "Time the tuned kernel of a spec on this GPU and check it against the fp64 reference");
  addSpecAndSizes(benchCmd, benchArgs.problem.specPath, benchArgs.problem.overrides, tunerSeq);
  benchCmd->add_option("--schedule", benchArgs.scheduleJson,
                       "Schedule JSON (default: the cache's entry, else the heuristic default)");
  benchCmd->add_option("--reps", benchArgs.options.reps, "Timed runs (default 50)")->check(CLI::PositiveNumber);
  benchCmd->add_option("--warmup", benchArgs.options.warmup, "Untimed runs first (default 5)");
  benchCmd->add_option("--warmup-ms", benchArgs.options.warmupMs,
                       "Then untimed runs until this much GPU time has passed, so the board has reached its power "
                       "limit and the times are its steady state's (default 500; 0: the first burst)")
      ->check(CLI::Range(0.0, 600000.0));
  benchCmd->add_option("--seed", benchArgs.options.seed, "Seed of the inputs (default: random)");
  benchCmd->add_option("--device", benchArgs.options.device, "CUDA device ordinal (default 0)");
  benchCmd->add_flag("--energy", benchArgs.options.energy,
                     "Also report joules per call and average watts (NVML energy counter of the whole GPU; "
                     "runs last >= 1 s)");
  benchCmd->add_flag("--json", benchArgs.json, "Print one JSON object");
  benchCmd->add_option("--size", benchArgs.sizes,
                       "A block program's run-time size, NAME=VALUE, repeatable (.mlir only), e.g. --size T=4096");
  PackedFlags benchPacked;
  addPackedOptions(benchCmd, benchPacked);
  addCaptureOption(benchCmd, benchArgs.captureFiles);
  addRandomSeqlensOption(benchCmd, benchPacked);
  benchCmd->footer("Needs a GPU (exit status 2 without one); exit status 1 when the accuracy check fails.\n"
                   "Packed specs (\"layout\": \"packed\") need --cu-seqlens, --seqlens-file or --seqlens-random;\n"
                   "TFLOP/s then counts real tokens only (per sequence, see tuner/README.md).\n"
                   "--energy reads libnvidia-ml.so.1 ($TILEFUSE_NVML_LIBRARY overrides it); without NVML the\n"
                   "bench still runs and reports why there is no energy.\n"
                   "Examples:\n"
                   "  tilefuse bench specs/models/llama3_70b_prefill.json\n"
                   "  tilefuse bench specs/varlen/causal.json --seqlens-random 128,4096,65536\n"
                   "  tilefuse bench specs/causal.json --S 8192 --energy --json\n"
                   "  tilefuse bench specs/causal.json --S 4096 --schedule '{\"block_m\":64,\"warps\":4}'\n"
                   "  tilefuse bench examples/chains/rmsnorm_matmul.mlir --size T=4096 --size D=4096 --size F=14336");

  cli::CacheArgs cacheArgs;
  CLI::App *cacheCmd = app.add_subcommand("cache", "List, show, clear, export or import tuned kernels");
  cacheCmd->require_subcommand(1);
  cacheCmd->footer("The cache lives in $TILEFUSE_CACHE_DIR, else $XDG_CACHE_HOME/tilefuse, else\n"
                   "~/.cache/tilefuse, one directory per GPU. Examples:\n"
                   "  tilefuse cache ls\n"
                   "  tilefuse cache show causal-\n"
                   "  tilefuse cache clear --invalid\n"
                   "  tilefuse cache export h100.tfcache && tilefuse cache import h100.tfcache");
  CLI::App *cacheLs = cacheCmd->add_subcommand("ls", "List entries with their status (ok, stale, corrupt)");
  CLI::App *cacheShow = cacheCmd->add_subcommand("show", "Print one entry");
  cacheShow->add_option("entry", cacheArgs.target, "File name, path, or a substring of exactly one entry")
      ->required();
  CLI::App *cacheClear = cacheCmd->add_subcommand("clear", "Delete entries");
  cacheClear->add_option("match", cacheArgs.target, "Only entries whose GPU dir/file name contains this");
  cacheClear->add_flag("--invalid", cacheArgs.onlyInvalid, "Only stale or corrupt entries");
  CLI::App *cacheExport = cacheCmd->add_subcommand(
      "export", "Write every valid entry to one archive file (JSON lines, see tuner/README.md)");
  cacheExport->add_option("file", cacheArgs.target, "Archive to write")->required();
  CLI::App *cacheImport = cacheCmd->add_subcommand("import", "Add the entries of an archive to the cache");
  cacheImport->add_option("file", cacheArgs.target, "Archive made by `tilefuse cache export`")
      ->required()
      ->check(CLI::ExistingFile);
  cacheImport->add_flag("--keep-faster", cacheArgs.keepFaster, "Keep an existing entry if it is faster");
  CLI::App *cacheDir = cacheCmd->add_subcommand("dir", "Print the cache directory");
  for (CLI::App *sub : {cacheLs, cacheShow, cacheClear, cacheExport, cacheImport, cacheDir})
    sub->add_flag("--json", cacheArgs.json, "Print one JSON object");
  cacheLs->footer("Example:\n  TILEFUSE_CACHE_DIR=/tmp/tf tilefuse cache ls --json");
  cacheShow->footer("Examples:\n  tilefuse cache show llama3_8b_prefill\n"
                    "  tilefuse cache show NVIDIA-H100-80GB-HBM3_sm90_132sm/causal- --json");
  cacheClear->footer("Examples:\n  tilefuse cache clear --invalid\n  tilefuse cache clear A100");
  cacheExport->footer("Example:\n  tilefuse cache export h100.tfcache");
  cacheImport->footer("Example:\n  tilefuse cache import h100.tfcache --keep-faster");
  cacheDir->footer("Example:\n  ls \"$(tilefuse cache dir)\"");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    int rc = app.exit(e); // --help and friends exit 0; errors print "--S: ..." to stderr
    bool wantsJson = false;
    for (int i = 1; i < argc; ++i)
      wantsJson = wantsJson || std::string_view(argv[i]) == "--json";
    if (rc != 0 && wantsJson)
      fmt::print("{}\n", tilefuse::spec::dumpJson({{"error", std::string(e.what())}}, 2));
    return rc;
  }
  applySeq(problem.overrides, seqBoth);

  // Packed flags of emit / tune / bench: the batch's sizes (B = sequences, Sq / Sk = the max lengths), and the
  // batch itself into `batch` when given. Returns the exit status (1 for bad flags, with the message).
  auto packedSizes = [&](const PackedFlags &f, tilefuse::spec::ShapeOverrides &o,
                         std::optional<tilefuse::spec::PackedSeqs> *batch = nullptr) -> int {
    try {
      if (auto seqs = packedFrom(f)) {
        o.B = seqs->batch();
        o.Sq = std::max<int64_t>(seqs->maxLenQ(), 1);
        o.Sk = std::max<int64_t>(seqs->maxLenK(), 1);
        if (batch)
          *batch = std::move(seqs);
      }
      return 0;
    } catch (const std::exception &e) {
      fmt::print(stderr, "tilefuse: error: {}\n", e.what());
      return 1;
    }
  };
  if (emit->parsed()) {
    applySeq(emitArgs.problem.overrides, tunerSeq);
    if (int rc = packedSizes(emitPacked, emitArgs.problem.overrides))
      return rc;
    return cli::runEmit(emitArgs);
  }
  if (tuneCmd->parsed()) {
    applySeq(tuneArgs.problem.overrides, tunerSeq);
    if (int rc = packedSizes(tunePacked, tuneArgs.problem.overrides, &tuneArgs.options.packed))
      return rc;
    tuneArgs.options.writeCache = !noCache;
    tuneArgs.options.objective = tilefuse::tuner::objectiveFromString(objective); // checked by IsMember
    if (keepFaster)
      tuneArgs.options.storeMode = tilefuse::tuner::StoreMode::KeepFaster;
    return cli::runTune(tuneArgs);
  }
  if (benchCmd->parsed()) {
    applySeq(benchArgs.problem.overrides, tunerSeq);
    if (int rc = packedSizes(benchPacked, benchArgs.problem.overrides, &benchArgs.options.packed))
      return rc;
    return cli::runBench(benchArgs);
  }
  if (cacheCmd->parsed()) {
    for (auto [sub, name] : {std::pair{cacheLs, "ls"}, std::pair{cacheShow, "show"}, std::pair{cacheClear, "clear"},
                             std::pair{cacheExport, "export"}, std::pair{cacheImport, "import"},
                             std::pair{cacheDir, "dir"}})
      if (sub->parsed())
        cacheArgs.action = name;
    return cli::runCache(cacheArgs);
  }

  try {
    if (lower->parsed()) {
      auto loaded = tilefuse::driver::load(problem);
      std::string ir = tilefuse::driver::unfusedIR(loaded, locations);
      if (json) {
        nlohmann::json j = {{"spec", loaded.spec.name},
                            {"shape",
                             {{"B", loaded.shape.B}, {"Hq", loaded.shape.Hq},
                              {"Hkv", loaded.shape.Hkv}, {"Sq", loaded.shape.Sq},
                              {"Sk", loaded.shape.Sk}, {"D", loaded.shape.D},
                              {"Dv", loaded.shape.Dv}}},
                            {"ir", ir}};
        emitText(tilefuse::spec::dumpJson(j, 2) + "\n", output);
      } else {
        emitText(ir, output);
      }
    }
    if (fuseCmd->parsed() && std::filesystem::path(problem.specPath).extension() == ".mlir") {
      // A block program (docs/FUSION.md): the same rules, attention or not; no spec, so no sizes.
      const auto fused = tilefuse::driver::fuseProgramFile(problem.specPath, problem.blockN);
      const bool done = fused.fullyFused();
      if (json) {
        nlohmann::json j = {{"file", problem.specPath}, {"ir", fused.ir},
                            {"diagnostics", fused.diagnostics}, {"kernels", fused.kernels},
                            {"hbm_scratch", fused.hbmScratch}, {"untiled", fused.untiled},
                            {"fully_fused", done}};
        emitText(tilefuse::spec::dumpJson(j, 2) + "\n", output);
      } else {
        fmt::print(stderr, "{}", fused.diagnostics);
        fmt::print(stderr, "tilefuse fuse: {}: {} kernel(s), {} HBM scratch buffer(s), {} op(s) on untiled `?` "
                           "tiles: {}\n", problem.specPath, fused.kernels, fused.hbmScratch, fused.untiled,
                   done ? "fully fused" : "not fully fused (the remarks above name the rules that did not apply)");
        emitText(fused.ir, output);
      }
    } else if (fuseCmd->parsed()) {
      auto loaded = tilefuse::driver::load(problem);
      auto fused = tilefuse::driver::fuse(loaded, tilefuse::driver::unfusedIR(loaded, /*locations=*/true));
      const std::string &ir = locations ? fused.located : fused.ir;
      if (json) {
        nlohmann::json j = {{"spec", loaded.spec.name}, {"ir", ir},
                            {"diagnostics", fused.diagnostics}, {"kernels", fused.kernels}};
        emitText(tilefuse::spec::dumpJson(j, 2) + "\n", output);
      } else {
        if (!fused.diagnostics.empty())
          fmt::print(stderr, "{}", fused.diagnostics);
        emitText(ir, output);
      }
    }
    if (run->parsed())
      return runMainJob(problem, quietIR, seed, json, emitDir, runPacked);
  } catch (const std::exception &e) {
    // Nothing here may throw: the message is plain text and dumpJson never throws.
    std::string what = e.what();
    if (dynamic_cast<const std::bad_alloc *>(&e))
      what = "out of memory (the sizes need more memory than this machine has)";
    else if (dynamic_cast<const nlohmann::json::exception *>(&e))
      what = "invalid JSON value: " + what.substr(what.find("] ") == std::string::npos
                                                      ? 0
                                                      : what.find("] ") + 2);
    const char *command = lower->parsed() ? "lower" : fuseCmd->parsed() ? "fuse" : "run";
    // A message that begins with its place ("spec.json:3:5: error: ...") already says "error".
    size_t located = what.find(": error: ");
    bool saysError = located != std::string::npos && what.find(' ') > located;
    fmt::print(stderr, "tilefuse {}: {}{}\n", command, saysError ? "" : "error: ", what);
    if (json)
      fmt::print("{}\n", tilefuse::spec::dumpJson({{"command", command}, {"error", what}}, 2));
    return 1;
  }
  return 0;
}
