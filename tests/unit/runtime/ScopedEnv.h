// An environment variable set for one scope, for the tests that point the runtime at the fake NVML
// (FakeNvml.cpp: TILEFUSE_NVML_LIBRARY, FAKE_NVML_*). Used by tests/unit/runtime and tests/unit/tuner.
#pragma once

#include <cstdlib>
#include <string>

namespace tilefuse::runtime::test {

/// Sets `name` to `value` until the end of the scope, then restores its old value (or unsets it).
struct ScopedEnv {
  std::string name, old;
  bool had = false;
  ScopedEnv(const char *n, const std::string &value) : name(n) {
    if (const char *v = std::getenv(n))
      old = v, had = true;
    setenv(n, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (had)
      setenv(name.c_str(), old.c_str(), 1);
    else
      unsetenv(name.c_str());
  }
  ScopedEnv(const ScopedEnv &) = delete;
  ScopedEnv &operator=(const ScopedEnv &) = delete;
};

} // namespace tilefuse::runtime::test
