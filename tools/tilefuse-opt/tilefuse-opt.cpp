//===- tilefuse-opt.cpp - mlir-opt for block programs ---------------------===//
//
// Parses, verifies, transforms and prints blk block programs. Registers the blk
// dialect, the upstream dialects block programs use (func, scf, arith, math),
// MLIR's generic transforms (canonicalize, cse, ...) and every Tilefuse pass.
//
// MLIR's parser, verifier and walkers recurse once per level of nesting, so an input nested
// 10^5 levels deep (regions, parentheses, brackets) overflowed the stack. The input file is
// checked first: at most kMaxNesting levels, else an error with its line and column.
//
#include "blk/BlkDialect.h"
#include "tilefuse/compiler/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <utility>

namespace {

/// Deeper than any block program (func > kernel > for > if > map > ...: about 10) by far, and
/// shallow enough for the parser's recursion on the default 8 MiB stack.
constexpr int kMaxNesting = 256;

/// The 1-based line and column of the first '{', '(' or '[' (outside string literals and
/// comments) nested deeper than kMaxNesting, or {0, 0}.
std::pair<int, int> tooDeep(llvm::StringRef text) {
  int depth = 0, line = 1, column = 0;
  bool inString = false, inComment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    ++column;
    if (c == '\n') {
      ++line, column = 0, inComment = false;
      continue;
    }
    if (inComment)
      continue;
    if (inString) {
      if (c == '\\')
        ++i, ++column;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"')
      inString = true;
    else if (c == '/' && i + 1 < text.size() && text[i + 1] == '/')
      inComment = true;
    else if (c == '{' || c == '(' || c == '[') {
      if (++depth > kMaxNesting)
        return {line, column};
    } else if ((c == '}' || c == ')' || c == ']') && depth > 0)
      --depth;
  }
  return {0, 0};
}

} // namespace

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  registry.insert<tilefuse::blk::BlkDialect, mlir::func::FuncDialect, mlir::scf::SCFDialect,
                  mlir::arith::ArithDialect, mlir::math::MathDialect>();
  mlir::registerTransformsPasses();
  tilefuse::registerPasses();
  auto [input, output] = mlir::registerAndParseCLIOptions(
      argc, argv, "Tilefuse block-program optimizer\n", registry);
  if (input != "-") { // stdin can be read only once: MLIR reads it unchecked
    auto buffer = llvm::MemoryBuffer::getFile(input, /*IsText=*/true);
    if (buffer) {
      if (auto [line, column] = tooDeep((*buffer)->getBuffer()); line > 0) {
        llvm::errs() << input << ":" << line << ":" << column
                     << ": error: nested more than " << kMaxNesting
                     << " levels deep ('{', '(' or '['); expected at most " << kMaxNesting
                     << "\n";
        return 1;
      }
    }
  }
  return mlir::asMainReturnCode(mlir::MlirOptMain(argc, argv, input, output, registry));
}
