//===- EngineC.cpp - the C ABI (tilefuse_c.h) over tilefuse::Engine -----------===//
//
// Every entry point catches everything: the exception becomes a status code and its what() the
// thread's last error message. Nothing is thrown across the boundary.
//
#include "tilefuse/tilefuse_c.h"

#include "tilefuse/tilefuse.h"

#include "tilefuse/spec/Spec.h"

#include <exception>
#include <new>
#include <string>

struct tilefuse_engine {
  tilefuse::Engine engine;
  explicit tilefuse_engine(int device) : engine(device) {}
};

namespace {

thread_local std::string lastError;

tilefuse_status_t fail(tilefuse_status_t status, const char *message) {
  try {
    lastError = message;
  } catch (...) {
  }
  return status;
}

/// Maps the exception in flight to a status code and records its message.
tilefuse_status_t translate() noexcept {
  try {
    throw;
  } catch (const tilefuse::NoGpuError &e) {
    return fail(TILEFUSE_ERROR_NO_GPU, e.what());
  } catch (const tilefuse::CudaError &e) {
    return fail(TILEFUSE_ERROR_CUDA, e.what());
  } catch (const tilefuse::CompileError &e) {
    return fail(TILEFUSE_ERROR_COMPILE, e.what());
  } catch (const tilefuse::spec::SpecError &e) {
    return fail(TILEFUSE_ERROR_SPEC, e.what());
  } catch (const tilefuse::CacheMissError &e) {
    return fail(TILEFUSE_ERROR_CACHE_MISS, e.what());
  } catch (const tilefuse::UnsupportedError &e) {
    return fail(TILEFUSE_ERROR_UNSUPPORTED, e.what());
  } catch (const tilefuse::LaunchError &e) {
    return fail(TILEFUSE_ERROR_LAUNCH, e.what());
  } catch (const std::invalid_argument &e) {
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, e.what());
  } catch (const std::bad_alloc &) {
    return fail(TILEFUSE_ERROR_INTERNAL, "out of host memory");
  } catch (const std::exception &e) {
    return fail(TILEFUSE_ERROR_INTERNAL, e.what());
  } catch (...) {
    return fail(TILEFUSE_ERROR_INTERNAL, "unknown exception");
  }
}

tilefuse_status_t ok() {
  lastError.clear();
  return TILEFUSE_OK;
}

bool toPolicy(tilefuse_policy_t p, tilefuse::Policy &out) {
  switch (p) {
  case TILEFUSE_POLICY_HEURISTIC: out = tilefuse::Policy::Heuristic; return true;
  case TILEFUSE_POLICY_TUNE_ON_MISS: out = tilefuse::Policy::TuneOnMiss; return true;
  case TILEFUSE_POLICY_FAIL_ON_MISS: out = tilefuse::Policy::FailOnMiss; return true;
  }
  return false;
}

/// The spec's sizes with the non-zero members of `shape` applied (resolveShape checks them).
tilefuse::spec::Shape resolve(const tilefuse::spec::Spec &spec, const tilefuse_shape_t *shape) {
  tilefuse::spec::ShapeOverrides o;
  if (shape) {
    auto set = [](std::optional<int64_t> &field, int64_t v) {
      if (v != 0)
        field = v;
    };
    set(o.B, shape->B), set(o.Hq, shape->Hq), set(o.Hkv, shape->Hkv), set(o.Sq, shape->Sq), set(o.Sk, shape->Sk);
    set(o.D, shape->D), set(o.Dv, shape->Dv);
  }
  return tilefuse::spec::resolveShape(spec, o);
}

tilefuse_status_t getKernel(tilefuse_engine_t engine, const tilefuse::spec::Spec &spec, const tilefuse_shape_t *shape,
                            tilefuse_policy_t policy, tilefuse_kernel_t *out,
                            std::span<const tilefuse::HostCaptureRef> captures = {}) {
  tilefuse::Policy p;
  if (!toPolicy(policy, p))
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, "tilefuse_get_kernel: unknown policy value");
  tilefuse::KernelHandle h = engine->engine.getKernel(spec, resolve(spec, shape), p, captures);
  *out = reinterpret_cast<tilefuse_kernel_t>(h.get());
  return ok();
}

tilefuse::TensorRef tensor(const tilefuse_tensor_t &t) { return {t.data, t.batch_stride, t.head_stride, t.row_stride}; }

/// Captured tensors a C launch converts on the stack (a kernel takes at most 16 tensors in all).
constexpr size_t kMaxCaptures = 16;

/// tilefuse_launch and tilefuse_launch_packed (`packed` null: a batched call).
tilefuse_status_t launchC(tilefuse_engine_t engine, tilefuse_kernel_t kernel, const tilefuse_attention_args_t *args,
                          const tilefuse_packed_args_t *packed, CUstream stream, const char *who) noexcept {
  if (!engine || !kernel || !args)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, (std::string(who) + ": engine, kernel and args must not be NULL").c_str());
  if (args->num_captures && !args->captures)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, (std::string(who) + ": num_captures > 0 but captures is NULL").c_str());
  if (args->num_captures > kMaxCaptures)
    return fail(TILEFUSE_ERROR_LAUNCH, (std::string(who) + ": more than 16 captured tensors").c_str());
  try {
    tilefuse::AttentionArgs a;
    a.B = args->B, a.Hq = args->Hq, a.Hkv = args->Hkv, a.Sq = args->Sq, a.Sk = args->Sk;
    a.q = tensor(args->q), a.k = tensor(args->k), a.v = tensor(args->v), a.o = tensor(args->o);
    a.lse = {args->lse, args->lse_batch_stride, args->lse_head_stride};
    if (packed) {
      a.cuSeqlensQ = packed->cu_seqlens_q, a.cuSeqlensK = packed->cu_seqlens_k;
      a.totalQ = packed->total_q, a.totalK = packed->total_k;
      a.maxSeqlenQ = packed->max_seqlen_q, a.maxSeqlenK = packed->max_seqlen_k;
    }
    tilefuse::CaptureRef captures[kMaxCaptures];
    for (size_t i = 0; i < args->num_captures; ++i)
      captures[i] = {args->captures[i].data, args->captures[i].strides};
    a.captures = {captures, args->num_captures};
    engine->engine.launch(tilefuse::KernelHandle(reinterpret_cast<const tilefuse::detail::Kernel *>(kernel)), a,
                          stream);
    return ok();
  } catch (...) {
    return translate();
  }
}

} // namespace

extern "C" {

const char *tilefuse_last_error(void) { return lastError.c_str(); }

const char *tilefuse_status_string(tilefuse_status_t status) {
  switch (status) {
  case TILEFUSE_OK: return "TILEFUSE_OK";
  case TILEFUSE_ERROR_INVALID_ARGUMENT: return "TILEFUSE_ERROR_INVALID_ARGUMENT";
  case TILEFUSE_ERROR_NO_GPU: return "TILEFUSE_ERROR_NO_GPU";
  case TILEFUSE_ERROR_CUDA: return "TILEFUSE_ERROR_CUDA";
  case TILEFUSE_ERROR_SPEC: return "TILEFUSE_ERROR_SPEC";
  case TILEFUSE_ERROR_COMPILE: return "TILEFUSE_ERROR_COMPILE";
  case TILEFUSE_ERROR_UNSUPPORTED: return "TILEFUSE_ERROR_UNSUPPORTED";
  case TILEFUSE_ERROR_CACHE_MISS: return "TILEFUSE_ERROR_CACHE_MISS";
  case TILEFUSE_ERROR_LAUNCH: return "TILEFUSE_ERROR_LAUNCH";
  case TILEFUSE_ERROR_INTERNAL: return "TILEFUSE_ERROR_INTERNAL";
  }
  return "TILEFUSE_ERROR_UNKNOWN";
}

const char *tilefuse_version(void) { return tilefuse::version(); }

tilefuse_status_t tilefuse_engine_create(int device, tilefuse_engine_t *out) {
  if (!out)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, "tilefuse_engine_create: out is NULL");
  *out = nullptr;
  try {
    *out = new tilefuse_engine(device);
    return ok();
  } catch (...) {
    return translate();
  }
}

void tilefuse_engine_destroy(tilefuse_engine_t engine) { delete engine; }

tilefuse_status_t tilefuse_get_kernel(tilefuse_engine_t engine, const char *spec_path, const tilefuse_shape_t *shape,
                                      tilefuse_policy_t policy, tilefuse_kernel_t *out) {
  if (!engine || !spec_path || !out)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, "tilefuse_get_kernel: engine, spec_path and out must not be NULL");
  *out = nullptr;
  try {
    return getKernel(engine, tilefuse::spec::parseSpecFile(spec_path), shape, policy, out);
  } catch (...) {
    return translate();
  }
}

tilefuse_status_t tilefuse_get_kernel_json(tilefuse_engine_t engine, const char *spec_json,
                                           const tilefuse_shape_t *shape, tilefuse_policy_t policy,
                                           tilefuse_kernel_t *out) {
  if (!engine || !spec_json || !out)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT,
                "tilefuse_get_kernel_json: engine, spec_json and out must not be NULL");
  *out = nullptr;
  try {
    return getKernel(engine, tilefuse::spec::parseSpecString(spec_json, "<spec json>"), shape, policy, out);
  } catch (...) {
    return translate();
  }
}

tilefuse_status_t tilefuse_get_kernel_captures(tilefuse_engine_t engine, const char *spec_path, const char *spec_json,
                                               const tilefuse_shape_t *shape, tilefuse_policy_t policy,
                                               const tilefuse_host_capture_t *captures, size_t num_captures,
                                               tilefuse_kernel_t *out) {
  if (!engine || (!spec_path && !spec_json) || !out)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT,
                "tilefuse_get_kernel_captures: engine, out and spec_path or spec_json must not be NULL");
  if (num_captures && !captures)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, "tilefuse_get_kernel_captures: num_captures > 0 but captures is NULL");
  if (num_captures > kMaxCaptures)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, "tilefuse_get_kernel_captures: num_captures is more than 16");
  *out = nullptr;
  try {
    tilefuse::HostCaptureRef refs[kMaxCaptures];
    for (size_t i = 0; i < num_captures; ++i)
      refs[i] = {captures[i].data, captures[i].bytes};
    const tilefuse::spec::Spec spec = spec_path ? tilefuse::spec::parseSpecFile(spec_path)
                                                : tilefuse::spec::parseSpecString(spec_json, "<spec json>");
    return getKernel(engine, spec, shape, policy, out, std::span(refs, num_captures));
  } catch (...) {
    return translate();
  }
}

tilefuse_status_t tilefuse_kernel_info(tilefuse_kernel_t kernel, tilefuse_kernel_info_t *out) {
  if (!kernel || !out)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, "tilefuse_kernel_info: kernel and out must not be NULL");
  try {
    const tilefuse::KernelInfo &i =
        tilefuse::KernelHandle(reinterpret_cast<const tilefuse::detail::Kernel *>(kernel)).info();
    out->spec_name = i.specName.c_str();
    out->kernel_name = i.kernelName.c_str();
    out->arch = i.arch.c_str();
    out->schedule_json = i.scheduleJson.c_str();
    out->grid = i.grid.c_str();
    out->threads_per_block = i.threadsPerBlock;
    out->dynamic_smem_bytes = i.dynamicSmemBytes;
    out->registers = i.registers;
    out->compile_ms = i.compileMs;
    out->load_ms = i.loadMs;
    out->origin = i.origin.c_str();
    return ok();
  } catch (...) {
    return translate();
  }
}

tilefuse_status_t tilefuse_launch(tilefuse_engine_t engine, tilefuse_kernel_t kernel,
                                  const tilefuse_attention_args_t *args, CUstream stream) {
  return launchC(engine, kernel, args, nullptr, stream, "tilefuse_launch");
}

tilefuse_status_t tilefuse_launch_packed(tilefuse_engine_t engine, tilefuse_kernel_t kernel,
                                         const tilefuse_attention_args_t *args, const tilefuse_packed_args_t *packed,
                                         CUstream stream) {
  if (!packed)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, "tilefuse_launch_packed: packed must not be NULL");
  return launchC(engine, kernel, args, packed, stream, "tilefuse_launch_packed");
}

tilefuse_status_t tilefuse_kernel_block_mask(tilefuse_kernel_t kernel, int *out) {
  if (!kernel || !out)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, "tilefuse_kernel_block_mask: kernel and out must not be NULL");
  try {
    *out = tilefuse::KernelHandle(reinterpret_cast<const tilefuse::detail::Kernel *>(kernel)).info().blockMask ? 1 : 0;
    return ok();
  } catch (...) {
    return translate();
  }
}

tilefuse_status_t tilefuse_clear_block_masks(tilefuse_engine_t engine) {
  if (!engine)
    return fail(TILEFUSE_ERROR_INVALID_ARGUMENT, "tilefuse_clear_block_masks: engine must not be NULL");
  try {
    engine->engine.clearBlockMasks();
    return ok();
  } catch (...) {
    return translate();
  }
}

} // extern "C"
