//===- tilefuse_codegen_main.cpp - tilefuse-codegen, a test driver ---------===//
//
// Prints what code generation makes of a fused block program, for lit tests and debugging (until
// `tilefuse emit` exists):
//
//   tilefuse-codegen FILE.mlir|- [--dump=cuda|prepare|resolve|plan|params|launch|all]
//                    [--schedule=JSON] [--warps=N] [--kv-stages=N] [--q=registers|smem]
//                    [--func=NAME] [--kernel-name=NAME]
//
// BLOCK_M / BLOCK_N come from the program (matchProgram); the other schedule fields from --schedule
// and the flags (warps default to BLOCK_M / 16: 16 query rows per warp). Argument roles are inferred (inferSignature). Exit code 1 and the error on stderr
// when the program cannot be generated.
//
#include "tilefuse/codegen/CodeGen.h"

#include "blk/BlkDialect.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/SourceMgr.h"

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

using namespace tilefuse::codegen;

namespace {

bool startsWith(const std::string &s, const std::string &prefix) { return s.rfind(prefix, 0) == 0; }

int usage() {
  std::cerr << "usage: tilefuse-codegen FILE.mlir|- [--dump=cuda|prepare|resolve|plan|params|launch|all] "
               "[--schedule=JSON] [--warps=N] [--kv-stages=N] [--q=registers|smem] [--func=NAME] "
               "[--kernel-name=NAME]\n";
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  std::string input, dump = "cuda", funcName, kernelName;
  Schedule schedule;
  bool haveWarps = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto value = [&](const char *flag) { return a.substr(std::string(flag).size()); };
      if (startsWith(a, "--dump="))
        dump = value("--dump=");
      else if (startsWith(a, "--schedule="))
        schedule = scheduleFromJson(value("--schedule=")), haveWarps = true;
      else if (startsWith(a, "--warps="))
        schedule.warps = std::stoi(value("--warps=")), haveWarps = true;
      else if (startsWith(a, "--kv-stages="))
        schedule.kvStages = std::stoi(value("--kv-stages="));
      else if (startsWith(a, "--q="))
        schedule.q = value("--q=") == "smem" ? QPlacement::Smem : QPlacement::Registers;
      else if (startsWith(a, "--func="))
        funcName = value("--func=");
      else if (startsWith(a, "--kernel-name="))
        kernelName = value("--kernel-name=");
      else if (a == "-h" || a == "--help")
        return usage(), 0;
      else if (input.empty() && (a == "-" || a[0] != '-'))
        input = a;
      else
        return usage();
    }
  } catch (const std::exception &e) {
    std::cerr << "tilefuse-codegen: " << e.what() << "\n";
    return 2;
  }
  if (input.empty())
    return usage();

  mlir::MLIRContext context;
  context.loadDialect<tilefuse::blk::BlkDialect, mlir::func::FuncDialect, mlir::scf::SCFDialect,
                      mlir::arith::ArithDialect, mlir::math::MathDialect>();
  llvm::SourceMgr sourceMgr;
  mlir::SourceMgrDiagnosticHandler diagnostics(sourceMgr, &context);
  mlir::OwningOpRef<mlir::ModuleOp> module = mlir::parseSourceFile<mlir::ModuleOp>(input, sourceMgr, &context);
  if (!module)
    return 1;
  mlir::func::FuncOp func;
  module->walk([&](mlir::func::FuncOp f) {
    if (!func && (funcName.empty() || f.getSymName() == funcName))
      func = f;
  });
  if (!func) {
    std::cerr << "tilefuse-codegen: no func.func" << (funcName.empty() ? "" : " @" + funcName) << " in " << input
              << "\n";
    return 1;
  }
  try {
    if (dump == "prepare") {
      std::cout << dumpPrepare(func);
      return 0;
    }
    KernelSignature sig = inferSignature(func);
    sig.kernelName = kernelName;
    Schedule s = matchProgram(func, schedule);
    s.warps = haveWarps ? schedule.warps : std::min(16, s.blockM / 16); // default: 16 rows per warp
    if (dump == "resolve" || dump == "all")
      std::cout << dumpResolve(func, sig);
    if (dump == "plan" || dump == "all")
      std::cout << dumpPlan(func, s, sig);
    if (dump == "cuda" || dump == "params" || dump == "launch" || dump == "all") {
      GeneratedKernel k = generateKernel(func, s, sig);
      if (dump == "cuda" || dump == "all")
        std::cout << k.source;
      if (dump == "params" || dump == "all")
        std::cout << k.params.toString();
      if (dump == "launch" || dump == "all")
        std::cout << "kernel " << k.kernelName << ": grid (" << k.grid.toString() << "), " << k.threadsPerBlock
                  << " threads, " << k.dynamicSmemBytes << " bytes dynamic shared memory, schedule "
                  << k.schedule.toJson() << "\n";
    } else if (dump != "resolve" && dump != "plan") {
      return usage();
    }
  } catch (const std::exception &e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}
