//===- BlkDialect.cpp - the blk dialect -----------------------------------===//
#include "blk/BlkDialect.h"

using namespace mlir;
using namespace tilefuse::blk;

#include "blk/BlkDialect.cpp.inc"
#include "blk/BlkEnums.cpp.inc"

void BlkDialect::initialize() {
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "blk/BlkOps.cpp.inc"
      >();
}
