#include "TunerTestSupport.h"

#include "tilefuse/tuner/Version.h"

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace tilefuse::tuner::test {
namespace fs = std::filesystem;

TempDir::TempDir() {
  static int counter = 0;
  std::random_device rd;
  path_ = fs::temp_directory_path() /
          ("tilefuse-tuner-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
           std::to_string(rd()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

DeviceIdentity h100() { return {"NVIDIA H100 80GB HBM3", 9, 0, 132, 13000}; }

CacheKey makeTestKey(const DeviceIdentity &device, int id, int64_t seq) {
  CacheKey k;
  k.device = device;
  k.nvrtcVersion = "13.0";
  k.tilefuseVersion = tilefuseVersion();
  k.specName = "spec" + std::to_string(id);
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx", 0x1234567800000000ull + static_cast<unsigned long long>(id));
  k.specHash = hash;
  k.dtype = spec::DType::BF16;
  spec::Shape s{2, 16, 16, seq, seq, 128, 128};
  k.shape = bucketShape(s);
  return k;
}

CacheEntry makeTestEntry(const CacheKey &key, double medianMs, std::size_t cubinBytes) {
  CacheEntry e;
  e.key = key;
  e.schedule.blockM = 128;
  e.schedule.blockN = 64;
  e.schedule.warps = 8;
  e.schedule.kvStages = 2;
  TuningRecord &t = e.tuning;
  t.tunedShape = {2, key.shape.Hq, key.shape.Hkv, key.shape.Sq, key.shape.Sk, key.shape.D, key.shape.Dv};
  t.medianMs = medianMs;
  t.tflops = 100.0 / medianMs;
  t.defaultMs = medianMs * 1.2;
  t.usefulFlops = 1e12;
  t.flopsRule = "tiles";
  t.tuningSeconds = 12.5;
  t.candidatesTimed = 20;
  t.candidatesPruned = 500;
  t.registers = 200;
  t.createdAt = "2025-01-01T00:00:00Z";
  e.launch.kernelName = "tilefuse_" + key.specName;
  e.launch.threadsPerBlock = 256;
  e.launch.dynamicSmemBytes = 98304;
  e.launch.grid = {{"Sq", 128}, {"Hq", 1}, {"B", 1}};
  codegen::TensorAbi q;
  q.arg = {codegen::TensorRole::Q, "Q"};
  q.rank = 4;
  q.elementBytes = 2;
  q.elementType = "bf16";
  q.dimNames = {"B", "Hq", "Sq", "128"};
  q.needs16ByteRows = true;
  e.launch.params.tensors = {q};
  e.launch.params.fields = {{"Q", codegen::ParamSource::TensorPointer, 0, -1, "", 0},
                            {"Q_stride[0]", codegen::ParamSource::TensorStride, 0, 0, "", 8},
                            {"Sq", codegen::ParamSource::Size, -1, -1, "Sq", 16}};
  e.launch.params.bytes = 24;
  std::mt19937 rng(static_cast<unsigned>(medianMs * 1000) + static_cast<unsigned>(cubinBytes));
  e.cubin.resize(cubinBytes);
  for (char &c : e.cubin)
    c = static_cast<char>(rng());
  return e;
}

int countTempFiles(const fs::path &root) {
  int n = 0;
  std::error_code ec;
  for (const fs::directory_entry &f : fs::recursive_directory_iterator(root, ec))
    if (f.path().filename().string().rfind(".tmp-", 0) == 0)
      ++n;
  return n;
}

std::string readText(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot read " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void writeText(const fs::path &path, const std::string &text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

} // namespace tilefuse::tuner::test
