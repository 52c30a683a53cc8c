//===- main.cpp - the tilefuse command line -------------------------------===//
//
// tilefuse lower SPEC    print the unfused block program
// tilefuse run SPEC      the main job (see --help)
//
// Arguments are parsed with CLI11; the work is done by tilefuse/driver (no MLIR in this file).
//
#include "tilefuse/driver/Driver.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <optional>
#include <random>

namespace {

using tilefuse::driver::Problem;

/// Shape and schedule flags shared by every command that takes a spec.
void addProblemOptions(CLI::App *cmd, Problem &p, std::optional<int64_t> &seqBoth) {
  cmd->add_option("spec", p.specPath, "Spec file (JSON), e.g. specs/causal.json")
      ->required()
      ->check(CLI::ExistingFile);
  auto size = [&](const char *flag, std::optional<int64_t> &field, const char *what) {
    cmd->add_option(flag, field, what)->check(CLI::PositiveNumber);
  };
  size("--B", p.overrides.B, "Batch size (default: the spec's shape.B)");
  size("--Hq", p.overrides.Hq, "Query heads");
  size("--Hkv", p.overrides.Hkv, "Key/value heads (must divide Hq)");
  size("--Sq", p.overrides.Sq, "Query sequence length");
  size("--Sk", p.overrides.Sk, "Key/value sequence length");
  size("--S", seqBoth, "Sets both Sq and Sk");
  size("--D", p.overrides.D, "HEAD_DIM of Q and K");
  size("--Dv", p.overrides.Dv, "Head dim of V and O");
  cmd->add_option("--block-m", p.blockM, "BLOCK_M: query rows per program instance")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--block-n", p.blockN, "BLOCK_N: key/value rows per tile after fusion")
      ->check(CLI::PositiveNumber);
}

void applySeq(Problem &p, const std::optional<int64_t> &seqBoth) {
  if (seqBoth) {
    p.overrides.Sq = p.overrides.Sq.value_or(*seqBoth);
    p.overrides.Sk = p.overrides.Sk.value_or(*seqBoth);
  }
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
          {"tolerance", r.tolerance}, {"interp_ms", r.interpMs}, {"passed", r.passed()}};
}

/// `tilefuse run`: every stage of the chain that exists, on one spec. Exit 1 if a check fails.
int runMainJob(const Problem &problem, bool quietIR, uint64_t seed, bool json) {
  namespace drv = tilefuse::driver;
  drv::Loaded loaded = drv::load(problem);
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
  section(fmt::format("1. unfused block program (BLOCK_M={}): S and P go through HBM",
                      loaded.blockM));
  if (!quietIR && !json)
    fmt::print("{}", unfused);
  out["unfused_ir"] = unfused;

  drv::FuseResult fused = drv::fuse(loaded, unfused);
  section(fmt::format("2. fused block program (--tilefuse-fuse, BLOCK_N={}): {} kernel(s), {} "
                      "HBM scratch tensor(s)",
                      loaded.blockN, fused.kernels, fused.hbmScratch));
  if (!quietIR && !json)
    fmt::print("{}", fused.ir);
  if (!json && !fused.diagnostics.empty())
    fmt::print("fusion diagnostics:\n{}", fused.diagnostics);
  out["fused_ir"] = fused.ir;
  out["fusion_diagnostics"] = fused.diagnostics;
  out["fused_kernels"] = fused.kernels;

  tilefuse::spec::Shape small = drv::smallCheckShape(loaded);
  section(fmt::format("3. fp64 interpreter vs naive reference at {} (seed {})", shapeText(small),
                      seed));
  bool ok = true;
  for (auto [name, text] : {std::pair{"unfused", &unfused}, std::pair{"fused", &fused.ir}}) {
    drv::CheckResult check = drv::checkProgram(loaded, *text, small, seed);
    out[std::string("check_") + name] = checkJson(check);
    ok = ok && check.passed();
    if (!json)
      fmt::print("{:<8} program: max|dO| = {:.3e}  rel = {:.3e}  max|dLSE| = {:.3e}  "
                 "-inf rows {}  -> {} (tolerance {:.0e}, {:.0f} ms)\n",
                 name, check.maxAbsErrO, check.relErrO, check.maxAbsErrLSE,
                 check.lseMatchesInf ? "match" : "DIFFER", check.passed() ? "PASS" : "FAIL",
                 check.tolerance, check.interpMs);
  }

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
  out["hbm_bytes"] = {{"unfused", u.hbmBytes}, {"fused", f.hbmBytes}};
  if (!json)
    fmt::print("HBM traffic: unfused {:.3f} GiB -> fused {:.3f} GiB ({:.1f}x less); matmul "
               "FLOPs {:.3e} -> {:.3e}\n",
               u.hbmBytes / (1 << 30), f.hbmBytes / (1 << 30), u.hbmBytes / f.hbmBytes,
               u.matmulFlops, f.matmulFlops);
  if (json)
    fmt::print("{}\n", out.dump(2));
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"tilefuse: an attention-kernel compiler and autotuner.\n"
               "Lowers an attention variant (a JSON spec) to a block program, fuses it into\n"
               "tiled online-softmax attention, and generates CUDA kernels."};
  app.require_subcommand(1);
  app.footer("Examples:\n"
             "  tilefuse lower specs/causal.json --S 1024\n"
             "  tilefuse lower specs/gqa.json -o gqa.mlir --json");

  Problem problem;
  std::optional<int64_t> seqBoth;
  std::string output;
  bool json = false;

  CLI::App *lower = app.add_subcommand("lower", "Print the unfused block program of a spec");
  addProblemOptions(lower, problem, seqBoth);
  lower->add_option("-o,--output", output, "Write the program to this file instead of stdout");
  lower->add_flag("--json", json, "Print a JSON object {spec, shape, ir}");
  lower->footer("Example:\n  tilefuse lower specs/causal.json --Sq 1000 --Sk 1200 --block-m 128");

  CLI::App *fuseCmd = app.add_subcommand("fuse", "Print the fused block program of a spec");
  addProblemOptions(fuseCmd, problem, seqBoth);
  fuseCmd->add_option("-o,--output", output, "Write the program to this file instead of stdout");
  fuseCmd->add_flag("--json", json, "Print a JSON object {spec, ir, diagnostics, kernels}");
  fuseCmd->footer("Example:\n  tilefuse fuse specs/sliding_window.json --block-n 128");

  CLI::App *run = app.add_subcommand(
      "run", "The main job: lower, fuse, check both in the fp64 interpreter, report IO");
  addProblemOptions(run, problem, seqBoth);
  bool quietIR = false;
  uint64_t seed = 0;
  run->add_flag("--no-ir", quietIR, "Do not print the block programs");
  run->add_option("--seed", seed, "Seed of the random check inputs (default: random)");
  run->add_flag("--json", json, "Print one JSON object instead of text");
  run->footer("Example:\n  tilefuse run specs/causal.json --S 4096 --Hq 16 --Hkv 16 --B 1");

  CLI11_PARSE(app, argc, argv);
  applySeq(problem, seqBoth);

  try {
    if (lower->parsed()) {
      auto loaded = tilefuse::driver::load(problem);
      std::string ir = tilefuse::driver::unfusedIR(loaded);
      if (json) {
        nlohmann::json j = {{"spec", loaded.spec.name},
                            {"shape",
                             {{"B", loaded.shape.B}, {"Hq", loaded.shape.Hq},
                              {"Hkv", loaded.shape.Hkv}, {"Sq", loaded.shape.Sq},
                              {"Sk", loaded.shape.Sk}, {"D", loaded.shape.D},
                              {"Dv", loaded.shape.Dv}}},
                            {"ir", ir}};
        emitText(j.dump(2) + "\n", output);
      } else {
        emitText(ir, output);
      }
    }
    if (fuseCmd->parsed()) {
      auto loaded = tilefuse::driver::load(problem);
      auto fused = tilefuse::driver::fuse(loaded, tilefuse::driver::unfusedIR(loaded));
      if (json) {
        nlohmann::json j = {{"spec", loaded.spec.name}, {"ir", fused.ir},
                            {"diagnostics", fused.diagnostics}, {"kernels", fused.kernels}};
        emitText(j.dump(2) + "\n", output);
      } else {
        if (!fused.diagnostics.empty())
          fmt::print(stderr, "{}", fused.diagnostics);
        emitText(fused.ir, output);
      }
    }
    if (run->parsed())
      return runMainJob(problem, quietIR, seed, json);
  } catch (const std::exception &e) {
    fmt::print(stderr, "tilefuse: {}\n", e.what());
    return 1;
  }
  return 0;
}
