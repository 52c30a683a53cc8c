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
  } catch (const std::exception &e) {
    fmt::print(stderr, "tilefuse: {}\n", e.what());
    return 1;
  }
  return 0;
}
