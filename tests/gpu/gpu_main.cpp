// Catch2 main for the [gpu] tests: exits 77 (ctest SKIP_RETURN_CODE: "Skipped") when tests ran and
// every failure-free run skipped for lack of a GPU; listing (test discovery) is unaffected.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "GpuTest.h"

int main(int argc, char **argv) {
  const int rc = Catch::Session().run(argc, argv);
  if (rc == 0 && tilefuse::test::skippedTests() > 0) return 77;
  return rc;
}
