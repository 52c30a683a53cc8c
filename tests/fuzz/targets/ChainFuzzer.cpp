//===- ChainFuzzer.cpp - fuzz target: a whole spec through the chain ------===//
//
// Input: a spec file's text. ChainCheck.h runs it through lowering, fusion, the fp64 check of the fused
// program against the unfused one, and code generation, at a small shape with 16 x 16 tiles. About 100
// inputs per second (most mutated specs are refused by the reader): run it longer than the others.
//
//===----------------------------------------------------------------------------------------===//
#include "ChainCheck.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tilefuse::fuzz::chain::checkChain("chain", tilefuse::fuzz::asText(data, size));
  return 0;
}
