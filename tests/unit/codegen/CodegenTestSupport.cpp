#include "CodegenTestSupport.h"

#include "blk/BlkDialect.h"

#include "mlir/Parser/Parser.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#ifndef TILEFUSE_CODEGEN_INPUTS
#error "TILEFUSE_CODEGEN_INPUTS must be defined by tests/unit/codegen/CMakeLists.txt"
#endif

namespace tilefuse::codegen::test {

mlir::func::FuncOp Program::func() const {
  mlir::func::FuncOp f;
  module->walk([&](mlir::func::FuncOp g) {
    if (!f)
      f = g;
  });
  return f;
}

Program parseProgram(const std::string &text, const std::string &name) {
  Program p;
  p.context = std::make_unique<mlir::MLIRContext>();
  p.context->loadDialect<blk::BlkDialect, mlir::func::FuncDialect, mlir::scf::SCFDialect, mlir::arith::ArithDialect,
                         mlir::math::MathDialect>();
  mlir::ParserConfig config(p.context.get());
  p.module = mlir::parseSourceString<mlir::ModuleOp>(text, config, name);
  INFO("parsing " << name);
  REQUIRE(p.module);
  REQUIRE(p.func());
  return p;
}

std::string readInput(const std::string &file) {
  std::ifstream in(std::string(TILEFUSE_CODEGEN_INPUTS) + "/" + file);
  INFO("reading " << file);
  REQUIRE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Program loadInput(const std::string &file) { return parseProgram(readInput(file), file); }

std::vector<std::string> inputFiles() {
  std::vector<std::string> out;
  for (const auto &e : std::filesystem::directory_iterator(TILEFUSE_CODEGEN_INPUTS))
    if (e.path().extension() == ".mlir")
      out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

Schedule scheduleFor(const Program &p, Schedule base, bool keepWarps) {
  Schedule s = matchProgram(p.func(), base);
  if (!keepWarps)
    s.warps = std::min(16, s.blockM / 16);
  return s;
}

GeneratedKernel generate(const Program &p, const Schedule &base, bool keepWarps) {
  mlir::func::FuncOp f = p.func();
  return generateKernel(f, scheduleFor(p, base, keepWarps), inferSignature(f));
}

bool contains(const std::string &text, const std::string &needle) { return text.find(needle) != std::string::npos; }

} // namespace tilefuse::codegen::test
