// Offline ptxas runs and `-v` report parsing (see Ptxas.h).
#include "tilefuse/runtime/Ptxas.h"

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>

#ifndef TILEFUSE_CUDA_BIN_DIR
#error "TILEFUSE_CUDA_BIN_DIR must be defined by the build (runtime/CMakeLists.txt)"
#endif

namespace tilefuse::runtime {
namespace {

std::string shellQuote(const std::string &s) {
  std::string out = "'";
  for (char c : s) out += (c == '\'') ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Runs `command` through /bin/sh, returns its exit status and fills `output` (stdout + stderr).
int runCommand(const std::string &command, std::string &output) {
  FILE *pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed for: " + command);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

PtxasFunctionReport *current(std::vector<PtxasFunctionReport> &fs, const std::string &name) {
  for (auto &f : fs)
    if (f.name == name) return &f;
  return nullptr;
}

} // namespace

PtxasReport parsePtxasReport(std::string output) {
  PtxasReport report;
  report.output = std::move(output);
  static const std::regex entry(R"(Compiling entry function '([^']+)')");
  static const std::regex props(R"(Function properties for (\S+))");
  static const std::regex frame(R"((\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads)");
  static const std::regex used(R"(Used (\d+) registers)");
  static const std::regex smem(R"((\d+) bytes smem)");
  PtxasFunctionReport *f = nullptr;
  std::istringstream lines(report.output);
  std::string line;
  std::smatch m;
  while (std::getline(lines, line)) {
    if (std::regex_search(line, m, entry)) {
      if (!(f = current(report.functions, m[1]))) {
        report.functions.push_back({});
        report.functions.back().name = m[1];
        f = &report.functions.back();
      }
    } else if (std::regex_search(line, m, props)) {
      f = current(report.functions, m[1]); // nullptr for non-entry (device) functions
    }
    if (!f) continue;
    if (std::regex_search(line, m, frame)) {
      f->stackFrameBytes = std::stoi(m[1]);
      f->spillStoreBytes = std::stoi(m[2]);
      f->spillLoadBytes = std::stoi(m[3]);
    }
    if (std::regex_search(line, m, used)) f->registers = std::stoi(m[1]);
    if (std::regex_search(line, m, smem)) f->sharedBytes = std::stoi(m[1]);
  }
  return report;
}

const PtxasFunctionReport *PtxasReport::find(const std::string &name) const {
  for (const auto &f : functions)
    if (f.name == name) return &f;
  return nullptr;
}

std::string findPtxas() {
  if (const char *env = std::getenv("TILEFUSE_PTXAS"); env && *env) {
    if (::access(env, X_OK) == 0) return env;
    throw std::runtime_error(std::string("TILEFUSE_PTXAS=") + env + " is not executable");
  }
  const std::string bundled = std::string(TILEFUSE_CUDA_BIN_DIR) + "/ptxas";
  if (::access(bundled.c_str(), X_OK) == 0) return bundled;
  std::string out;
  if (runCommand("command -v ptxas", out) == 0) return "ptxas";
  throw std::runtime_error("ptxas not found: set TILEFUSE_PTXAS, or install the CUDA Toolkit (looked in " +
                           std::string(TILEFUSE_CUDA_BIN_DIR) + " and PATH)");
}

PtxasReport runPtxas(const std::string &ptx, const std::string &arch) {
  const char *tmp = std::getenv("TMPDIR");
  std::string path = std::string(tmp && *tmp ? tmp : "/tmp") + "/tilefuse-ptxas-XXXXXX";
  const int fd = ::mkstemp(path.data());
  if (fd < 0) throw std::runtime_error("mkstemp failed for " + path);
  ::close(fd);
  {
    std::ofstream out(path);
    out << ptx;
  }
  std::string output;
  const auto start = std::chrono::steady_clock::now();
  const int status = runCommand(
      shellQuote(findPtxas()) + " -arch=" + shellQuote(arch) + " -v " + shellQuote(path) + " -o /dev/null", output);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  if (status != 0) {
    const std::string kept = path + ".ptx";
    std::rename(path.c_str(), kept.c_str());
    throw CompileError("ptxas -arch=" + arch + " failed (exit " + std::to_string(status) + ")", output, kept);
  }
  std::remove(path.c_str());
  PtxasReport report = parsePtxasReport(std::move(output));
  report.ms = ms;
  return report;
}

} // namespace tilefuse::runtime
