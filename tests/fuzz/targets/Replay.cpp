//===- Replay.cpp - main() of a fuzz target built without libFuzzer ----------===//
//
// usage: tilefuse-fuzz-<target> PATH...
// Runs LLVMFuzzerTestOneInput once on every regular file under each PATH (directories recursively,
// in sorted order) and prints how many ran. ctest runs each target over its seeds and saved crash
// inputs this way; a broken promise aborts (FuzzTarget.h), which fails the test.
//
//===----------------------------------------------------------------------------------------===//
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv) {
  namespace fs = std::filesystem;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH... (files or directories of inputs)\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path root = argv[i];
    std::error_code ec;
    if (fs::is_directory(root, ec)) {
      for (const fs::directory_entry &e : fs::recursive_directory_iterator(root))
        if (e.is_regular_file())
          inputs.push_back(e.path());
    } else if (fs::is_regular_file(root, ec)) {
      inputs.push_back(root);
    } else {
      std::fprintf(stderr, "%s: '%s' is neither a file nor a directory\n", argv[0], argv[i]);
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const fs::path &p : inputs) {
    std::ifstream in(p, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::fprintf(stderr, "%s: cannot read '%s'\n", argv[0], p.c_str());
      return 2;
    }
    std::fprintf(stderr, "input %s\n", p.c_str());
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t *>(bytes.data()), bytes.size());
  }
  std::printf("%zu inputs ran, none broke a promise\n", inputs.size());
  return inputs.empty() ? 1 : 0;
}
