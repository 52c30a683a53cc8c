// EnergyCounter against a fake NVML (FakeNvml.cpp, found through $TILEFUSE_NVML_LIBRARY); CPU only.
#include "ScopedEnv.h"
#include "tilefuse/runtime/Energy.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <stdexcept>
#include <string>

using tilefuse::runtime::EnergyCounter;
using Catch::Matchers::Contains;

using tilefuse::runtime::test::ScopedEnv;

TEST_CASE("available with the fake NVML and millijoules grow per read", "[energy]") {
  ScopedEnv lib("TILEFUSE_NVML_LIBRARY", FAKE_NVML_PATH);
  EnergyCounter counter(0);
  INFO(counter.error());
  REQUIRE(counter.available());
  CHECK(counter.error().empty());
  const unsigned long long a = counter.millijoules();
  const unsigned long long b = counter.millijoules();
  const unsigned long long c = counter.millijoules();
  CHECK(a >= 1000000);
  CHECK(b - a == 250);
  CHECK(c - b == 250);
}

TEST_CASE("the ordinal selects the NVML index", "[energy]") {
  ScopedEnv lib("TILEFUSE_NVML_LIBRARY", FAKE_NVML_PATH);
  ScopedEnv devices("FAKE_NVML_DEVICES", "2");
  EnergyCounter first(0), second(1);
  REQUIRE(first.available());
  REQUIRE(second.available());
  // The fake offsets GPU i's counter by i * 1e6 mJ (one shared step counter underneath).
  const unsigned long long a = first.millijoules();
  const unsigned long long b = second.millijoules();
  CHECK(b - a == 1000000 + 250);
  EnergyCounter missing(2);
  CHECK_FALSE(missing.available());
  CHECK_THAT(missing.error(), Contains("nvmlDeviceGetHandleByIndex_v2 failed: NVML error 2 (Invalid Argument)") &&
                                  Contains("index 2"));
}

TEST_CASE("a missing library is reported, not thrown", "[energy]") {
  ScopedEnv lib("TILEFUSE_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1");
  EnergyCounter counter(0);
  CHECK_FALSE(counter.available());
  CHECK_THAT(counter.error(), Contains("dlopen(/nonexistent/libnvidia-ml.so.1)"));
  CHECK_THROWS_WITH(counter.millijoules(), Contains("unavailable") && Contains("dlopen("));
}

TEST_CASE("a missing symbol is reported", "[energy]") {
  ScopedEnv lib("TILEFUSE_NVML_LIBRARY", FAKE_NVML_NO_ENERGY_PATH);
  EnergyCounter counter(0);
  CHECK_FALSE(counter.available());
  CHECK_THAT(counter.error(), Contains("lacks nvmlDeviceGetTotalEnergyConsumption"));
  CHECK_THROWS_AS(counter.millijoules(), std::runtime_error);
}

TEST_CASE("nvmlInit failure gives the NVML error code and string", "[energy]") {
  ScopedEnv lib("TILEFUSE_NVML_LIBRARY", FAKE_NVML_PATH);
  ScopedEnv fail("FAKE_NVML_INIT_ERROR", "9");
  EnergyCounter counter(0);
  CHECK_FALSE(counter.available());
  CHECK(counter.error() == "nvmlInit_v2 failed: NVML error 9 (Driver Not Loaded)");
  CHECK_THROWS_WITH(counter.millijoules(), Contains("Driver Not Loaded"));
}

TEST_CASE("init and shutdown are paired", "[energy]") {
  ScopedEnv lib("TILEFUSE_NVML_LIBRARY", FAKE_NVML_PATH);
  { EnergyCounter counter(0); REQUIRE(counter.available()); }
  // Every counter above shut NVML down again: a handle without nvmlInit fails (NVML_ERROR_UNINITIALIZED)
  // in the fake, so a counter constructed now must init again and work.
  EnergyCounter again(0);
  REQUIRE(again.available());
  CHECK(again.millijoules() > 0);
}
