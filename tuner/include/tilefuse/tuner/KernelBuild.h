//===- KernelBuild.h - spec + schedule -> CUDA source (no MLIR in this header) -*- C++ -*-===//
//
// The compiler chain for one schedule: lower the spec with BLOCK_M (lowering/Lowering.h), run the
// fusion pipeline with BLOCK_N (`--tilefuse-fuse`), generate the kernel (codegen/CodeGen.h). The
// fused program of a (BLOCK_M, BLOCK_N) pair is built once and reused for the other schedule fields.
// This header keeps MLIR out of its includers (the CLI's main.cpp, the runtime).
//
//===----------------------------------------------------------------------------------------===//
#pragma once

#include "tilefuse/codegen/KernelAbi.h"
#include "tilefuse/codegen/Schedule.h"
#include "tilefuse/spec/Spec.h"
#include "tilefuse/tuner/Cache.h"

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace tilefuse::tuner {

/// The chain rejected the spec or schedule: a spec the fusion rules cannot fuse into one kernel, an
/// op code generation cannot translate, a head dim it does not support. what() says which stage and
/// why, and names the spec, e.g. "spec 'gemma2_9b' (D=256, bf16), schedule BLOCK_M=64 ...: code
/// generation: head_dim = 256 is not supported; allowed values: ...".
class KernelBuildError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A generated kernel, as codegen::GeneratedKernel without MLIR types.
struct KernelSource {
  std::string source;     ///< CUDA C++ for NVRTC (includes <tilefuse/device.cuh>)
  std::string kernelName; ///< extern "C" __global__ void <kernelName>(const Params p)
  int threadsPerBlock = 0;
  std::size_t dynamicSmemBytes = 0;
  codegen::GridRule grid;
  codegen::ParamLayout params;
  codegen::Schedule schedule;

  LaunchInfo launch() const { return {kernelName, threadsPerBlock, dynamicSmemBytes, grid, params}; }
};

/// Builds kernels of one spec at one shape's static sizes (D, Dv, GQA group). Each builder owns its
/// MLIR context; calls are serialised by a process-wide lock (the MLIR part takes tens of ms per
/// (BLOCK_M, BLOCK_N) pair; NVRTC, which the tuner runs in parallel, dominates).
class KernelBuilder {
public:
  KernelBuilder(spec::Spec spec, spec::Shape shape);
  ~KernelBuilder();
  KernelBuilder(const KernelBuilder &) = delete;
  KernelBuilder &operator=(const KernelBuilder &) = delete;

  const spec::Spec &spec() const;
  const spec::Shape &shape() const;

  /// The kernel for `schedule` (validated first). Throws KernelBuildError (ScheduleError's message
  /// for an invalid schedule).
  KernelSource generate(const codegen::Schedule &schedule);

  /// The fused program for (BLOCK_M, BLOCK_N) as MLIR text (for `tilefuse emit --format mlir`).
  std::string fusedIR(int blockM, int blockN);

  /// Matmul FLOPs the kernel of (BLOCK_M, BLOCK_N) performs at `shape`, read from the IO report of
  /// its fused program (tiles the fusion pass proves fully masked are not counted). Throws
  /// KernelBuildError when the analysis fails (callers fall back to denseFlops).
  double tileFlops(int blockM, int blockN, const spec::Shape &shape);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// 2 * B * Hq * Sq * Sk * (D + Dv): both matmuls of dense attention (= 4 B Hq Sq Sk D when Dv = D).
double denseFlops(const spec::Shape &shape);

/// "spec 'causal' (D=128, bf16)" for messages.
std::string describe(const spec::Spec &spec, const spec::Shape &shape);

} // namespace tilefuse::tuner
