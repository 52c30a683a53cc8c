// causal_attention: runs a Tilefuse attention variant (default: the shipped causal spec, bf16,
// bottom-right aligned mask, writes LSE) on device buffers this program allocates and fills itself,
// then prints a checksum of O and the time per call.
//
//   causal_attention [spec.json] [B Hq Sq D] [policy]   (defaults: causal.json, 4 16 4096 128, heuristic)
//
// policy: heuristic (compile the default schedule), tune-on-miss or fail-on-miss (the tuner's cache,
// $TILEFUSE_CACHE_DIR else ~/.cache/tilefuse: a hit loads the cached CUBIN without compiling; run
// `tilefuse tune <spec> --B .. --Hq .. --Sq .. --D ..` first for fail-on-miss).
//
// Exit codes: 0 done, 1 error, 77 no GPU (printed as "SKIPPED: ..."; ctest treats 77 as skipped).
#include <tilefuse/spec/Spec.h>
#include <tilefuse/tilefuse.h>

#include <cuda_runtime.h>

#include <chrono>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

#define CHECK_CUDA(call)                                                                                     \
  do {                                                                                                       \
    cudaError_t err_ = (call);                                                                               \
    if (err_ != cudaSuccess) {                                                                               \
      std::fprintf(stderr, "%s failed: %s\n", #call, cudaGetErrorString(err_));                              \
      std::exit(1);                                                                                          \
    }                                                                                                        \
  } while (0)

/// float -> bf16 / fp16 bits, round to nearest even (host side, no CUDA headers needed).
std::uint16_t toBits(float f, bool bf16) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  if (bf16) {
    u += 0x7fffu + ((u >> 16) & 1u);
    return static_cast<std::uint16_t>(u >> 16);
  }
  const _Float16 h = static_cast<_Float16>(f);
  std::uint16_t b;
  std::memcpy(&b, &h, 2);
  return b;
}
float fromBits(std::uint16_t b, bool bf16) {
  if (bf16) {
    const std::uint32_t u = static_cast<std::uint32_t>(b) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  _Float16 h;
  std::memcpy(&h, &b, 2);
  return static_cast<float>(h);
}

/// A device buffer of n 16-bit values ~ N(0, 1), filled from the host.
void *randomDevice(std::size_t n, bool bf16, std::mt19937 &rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::uint16_t> host(n);
  for (auto &x : host)
    x = toBits(normal(rng), bf16);
  void *d = nullptr;
  CHECK_CUDA(cudaMalloc(&d, n * 2));
  CHECK_CUDA(cudaMemcpy(d, host.data(), n * 2, cudaMemcpyHostToDevice));
  return d;
}

} // namespace

int main(int argc, char **argv) {
  std::string specPath = std::string(TILEFUSE_SPECS_DIR) + "/causal.json";
  int64_t B = 4, H = 16, S = 4096, D = 128;
  if (argc > 1)
    specPath = argv[1];
  if (argc > 5)
    B = std::atoll(argv[2]), H = std::atoll(argv[3]), S = std::atoll(argv[4]), D = std::atoll(argv[5]);
  tilefuse::Policy policy = tilefuse::Policy::Heuristic;
  if (argc > 6) {
    const std::string p = argv[6];
    if (p == "tune-on-miss")
      policy = tilefuse::Policy::TuneOnMiss;
    else if (p == "fail-on-miss")
      policy = tilefuse::Policy::FailOnMiss;
    else if (p != "heuristic") {
      std::fprintf(stderr, "policy '%s' is not one of heuristic, tune-on-miss, fail-on-miss\n", p.c_str());
      return 1;
    }
  }

  int devices = 0;
  if (cudaError_t e = cudaGetDeviceCount(&devices); e != cudaSuccess || devices == 0) {
    std::printf("SKIPPED: no GPU (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device");
    return 77;
  }

  try {
    // 1. The kernel: spec + shape -> lowered, fused, generated, compiled for this GPU (once).
    const tilefuse::spec::Spec spec = tilefuse::spec::parseSpecFile(specPath);
    if (!spec.captures.empty()) {
      std::fprintf(stderr, "%s reads captured tensors; this example passes none\n", specPath.c_str());
      return 1;
    }
    tilefuse::spec::ShapeOverrides sizes;
    sizes.B = B, sizes.Hq = H, sizes.Hkv = H / (spec.headsQ / spec.headsKv), sizes.Sq = S, sizes.Sk = S, sizes.D = D;
    const tilefuse::spec::Shape shape = tilefuse::spec::resolveShape(spec, sizes);
    const auto engineStart = std::chrono::steady_clock::now();
    tilefuse::Engine engine(0); // driver init + the device's primary context
    const auto getStart = std::chrono::steady_clock::now();
    tilefuse::KernelHandle kernel = engine.getKernel(spec, shape, policy);
    const auto getEnd = std::chrono::steady_clock::now();
    const double engineMs = std::chrono::duration<double, std::milli>(getStart - engineStart).count();
    const double getMs = std::chrono::duration<double, std::milli>(getEnd - getStart).count();
    const tilefuse::KernelInfo &info = kernel.info();
    std::printf("%s on %s: kernel %s, %s, %d threads, %zu B smem, %d registers\n", spec.name.c_str(),
                engine.device().name.c_str(), info.kernelName.c_str(), info.scheduleJson.c_str(),
                info.threadsPerBlock, info.dynamicSmemBytes, info.registers);
    std::printf("kernel origin: %s (policy %s); generate %.1f ms, NVRTC %.1f ms, module load %.2f ms\n",
                info.origin.c_str(), tilefuse::spelling(policy), info.generateMs, info.compileMs, info.loadMs);
    std::printf("Engine constructor (driver + context): %.1f ms; getKernel in this fresh process: %.2f ms (wall)\n",
                engineMs, getMs);

    // 2. The application's own buffers: Q, K, V random, dense [B, H, S, D]; O and LSE outputs.
    const bool bf16 = spec.dtype == tilefuse::spec::DType::BF16;
    std::mt19937 rng(1234);
    const std::size_t nq = std::size_t(shape.B) * shape.Hq * shape.Sq * shape.D;
    const std::size_t nk = std::size_t(shape.B) * shape.Hkv * shape.Sk * shape.D;
    const std::size_t nv = std::size_t(shape.B) * shape.Hkv * shape.Sk * shape.Dv;
    const std::size_t no = std::size_t(shape.B) * shape.Hq * shape.Sq * shape.Dv;
    void *q = randomDevice(nq, bf16, rng), *k = randomDevice(nk, bf16, rng), *v = randomDevice(nv, bf16, rng);
    void *o = nullptr;
    float *lse = nullptr;
    CHECK_CUDA(cudaMalloc(&o, no * 2));
    CHECK_CUDA(cudaMalloc(reinterpret_cast<void **>(&lse), std::size_t(shape.B) * shape.Hq * shape.Sq * 4));
    cudaStream_t stream;
    CHECK_CUDA(cudaStreamCreate(&stream));

    tilefuse::AttentionArgs args;
    args.B = shape.B, args.Hq = shape.Hq, args.Hkv = shape.Hkv, args.Sq = shape.Sq, args.Sk = shape.Sk;
    args.q = tilefuse::TensorRef::bhsd(q, shape.Hq, shape.Sq, shape.D);
    args.k = tilefuse::TensorRef::bhsd(k, shape.Hkv, shape.Sk, shape.D);
    args.v = tilefuse::TensorRef::bhsd(v, shape.Hkv, shape.Sk, shape.Dv);
    args.o = tilefuse::TensorRef::bhsd(o, shape.Hq, shape.Sq, shape.Dv);
    args.lse = tilefuse::LseRef::dense(lse, shape.Hq, shape.Sq);

    // 3. Warm up, then time 20 calls with events on the application's stream.
    engine.launch(kernel, args, stream);
    CHECK_CUDA(cudaStreamSynchronize(stream));
    cudaEvent_t start, stop;
    CHECK_CUDA(cudaEventCreate(&start));
    CHECK_CUDA(cudaEventCreate(&stop));
    std::vector<float> ms;
    for (int i = 0; i < 20; ++i) {
      CHECK_CUDA(cudaEventRecord(start, stream));
      engine.launch(kernel, args, stream);
      CHECK_CUDA(cudaEventRecord(stop, stream));
      CHECK_CUDA(cudaEventSynchronize(stop));
      float t = 0;
      CHECK_CUDA(cudaEventElapsedTime(&t, start, stop));
      ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    const double median = ms[ms.size() / 2];

    // Host overhead per launch: wall time of 200 back-to-back engine.launch calls (argument checks,
    // Params packing, cuLaunchKernel), measured on the host while the GPU queue fills.
    const auto hostStart = std::chrono::steady_clock::now();
    for (int i = 0; i < 200; ++i)
      engine.launch(kernel, args, stream);
    const double hostUs =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - hostStart).count() / 200;
    CHECK_CUDA(cudaStreamSynchronize(stream));
    std::printf("host overhead per launch: %.2f us (mean of 200 enqueues)\n", hostUs);

    // 4. Checksum of O (sum and sum of |x|), and of the finite LSE entries.
    std::vector<std::uint16_t> out(no);
    std::vector<float> lseHost(std::size_t(shape.B) * shape.Hq * shape.Sq);
    CHECK_CUDA(cudaMemcpy(out.data(), o, no * 2, cudaMemcpyDeviceToHost));
    CHECK_CUDA(cudaMemcpy(lseHost.data(), lse, lseHost.size() * 4, cudaMemcpyDeviceToHost));
    double sum = 0, sumAbs = 0, lseSum = 0;
    long nonFinite = 0;
    for (std::uint16_t b : out) {
      const float x = fromBits(b, bf16);
      nonFinite += !std::isfinite(x);
      sum += x, sumAbs += std::fabs(x);
    }
    for (float x : lseHost)
      if (std::isfinite(x))
        lseSum += x;
    // Causal: about half of the 4 B H Sq Sk D multiply-adds are done (S = Q K^T and O = P V).
    const double flops = 4.0 * shape.B * shape.Hq * shape.Sq * shape.Sk * shape.D * (spec.maskMod ? 0.5 : 1.0);
    std::printf("B=%lld Hq=%lld Hkv=%lld Sq=%lld Sk=%lld D=%lld: checksum sum(O) %.6e  sum|O| %.6e  sum(LSE) %.6e"
                "  non-finite %ld\n",
                (long long)shape.B, (long long)shape.Hq, (long long)shape.Hkv, (long long)shape.Sq,
                (long long)shape.Sk, (long long)shape.D, sum, sumAbs, lseSum, nonFinite);
    std::printf("time: %.3f ms median of 20 (%.1f TFLOP/s)\n", median, flops / (median * 1e-3) / 1e12);
    cudaFree(q), cudaFree(k), cudaFree(v), cudaFree(o), cudaFree(lse);
    cudaStreamDestroy(stream);
    return nonFinite == 0 ? 0 : 1;
  } catch (const tilefuse::NoGpuError &e) {
    std::printf("SKIPPED: %s\n", e.what());
    return 77;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
