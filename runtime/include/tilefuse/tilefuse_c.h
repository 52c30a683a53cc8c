/*===- tilefuse_c.h - the Tilefuse runtime library (C API) ------------*- C -*-===
 *
 * A C ABI over tilefuse.h for applications in C or other languages' FFIs: opaque handles, status
 * codes, and tilefuse_last_error() for the message. No exception crosses this boundary; every
 * function is noexcept and reports failures through its return value.
 *
 *   tilefuse_engine_t e;
 *   if (tilefuse_engine_create(0, &e) != TILEFUSE_OK) { puts(tilefuse_last_error()); ... }
 *   tilefuse_shape_t shape = {0};  shape.Sq = 4096;  shape.Sk = 4096;   // 0: the spec's value
 *   tilefuse_kernel_t k;
 *   tilefuse_get_kernel(e, "specs/causal.json", &shape, TILEFUSE_POLICY_HEURISTIC, &k);
 *   tilefuse_attention_args_t a = {0};  ... fill sizes, pointers, strides (elements) ...
 *   tilefuse_launch(e, k, &a, stream);
 *   tilefuse_engine_destroy(e);
 *
 * Semantics, allocations and thread safety are those of tilefuse::Engine (tilefuse.h): kernels are
 * compiled once and memoized; tilefuse_launch allocates nothing. Kernel handles stay valid until
 * their engine is destroyed.
 *
 *===----------------------------------------------------------------------------------------===*/
#ifndef TILEFUSE_TILEFUSE_C_H
#define TILEFUSE_TILEFUSE_C_H

#include <stddef.h>
#include <stdint.h>

/* The CUDA driver's stream type, declared as cuda.h declares it; a cudaStream_t is the same type. */
typedef struct CUstream_st *CUstream;

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tilefuse_status {
  TILEFUSE_OK = 0,
  TILEFUSE_ERROR_INVALID_ARGUMENT = 1, /* a null handle or pointer argument, a bad enum value */
  TILEFUSE_ERROR_NO_GPU = 2,           /* no CUDA driver (libcuda.so.1) or no device */
  TILEFUSE_ERROR_CUDA = 3,             /* a CUDA driver call failed */
  TILEFUSE_ERROR_SPEC = 4,             /* the spec file or shape is invalid (message has file:line:col) */
  TILEFUSE_ERROR_COMPILE = 5,          /* NVRTC rejected the generated kernel (source dumped) */
  TILEFUSE_ERROR_UNSUPPORTED = 6,      /* the generator cannot build this spec / shape / schedule */
  TILEFUSE_ERROR_CACHE_MISS = 7,       /* TILEFUSE_POLICY_FAIL_ON_MISS and no cached schedule */
  TILEFUSE_ERROR_LAUNCH = 8,           /* bad launch arguments (names the tensor and dim) */
  TILEFUSE_ERROR_INTERNAL = 99         /* anything else */
} tilefuse_status_t;

typedef enum tilefuse_policy {
  TILEFUSE_POLICY_HEURISTIC = 0,
  TILEFUSE_POLICY_TUNE_ON_MISS = 1,
  TILEFUSE_POLICY_FAIL_ON_MISS = 2
} tilefuse_policy_t;

typedef struct tilefuse_engine *tilefuse_engine_t;       /* owns kernels; destroy with tilefuse_engine_destroy */
typedef const struct tilefuse_kernel *tilefuse_kernel_t; /* owned by its engine */

/* Problem size for tilefuse_get_kernel. A member that is 0 takes the spec's value (its default
 * shape, head_dim, value_dim, heads). D, Dv and Hq / Hkv are compiled in. */
typedef struct tilefuse_shape {
  int64_t B, Hq, Hkv, Sq, Sk, D, Dv;
} tilefuse_shape_t;

/* A Q, K, V or O operand: address of element [0,0,0,0]; strides in ELEMENTS of the batch, head and
 * sequence dims; the head dim is contiguous. 16-byte aligned address, strides multiples of 8. */
typedef struct tilefuse_tensor {
  const void *data;
  int64_t batch_stride, head_stride, row_stride;
} tilefuse_tensor_t;

/* A captured tensor: address and strides (elements) of every dim but the last; NULL strides: dense. */
typedef struct tilefuse_capture {
  const void *data;
  const int64_t *strides;
} tilefuse_capture_t;

/* A HOST copy of one captured tensor for tilefuse_get_kernel_captures (tilefuse::HostCaptureRef): dense
 * row-major elements of the capture's dtype (i32: int32_t, i64: int64_t, f32: float, f16 / bf16: 16-bit
 * patterns), extents of the spec's shape expressions at the kernel's shape; bytes = elements x element size. */
typedef struct tilefuse_host_capture {
  const void *data;
  size_t bytes;
} tilefuse_host_capture_t;

/* One call: Q [B,Hq,Sq,D], K [B,Hkv,Sk,D], V [B,Hkv,Sk,Dv], O [B,Hq,Sq,Dv] in the spec's dtype;
 * LSE [B,Hq,Sq] fp32 (required when the spec writes it; Sq contiguous). */
typedef struct tilefuse_attention_args {
  int64_t B, Hq, Hkv, Sq, Sk;
  tilefuse_tensor_t q, k, v, o;
  float *lse;
  int64_t lse_batch_stride, lse_head_stride;
  const tilefuse_capture_t *captures; /* num_captures entries, in spec order (sorted by name) */
  size_t num_captures;
} tilefuse_attention_args_t;

/* Packed variable-length sequences (a spec with "layout": "packed"; FlashAttention's varlen API), for
 * tilefuse_launch_packed. B (in tilefuse_attention_args_t) is the number of sequences; Sq / Sk there
 * must be 0 or equal to max_seqlen_q / max_seqlen_k.
 *   cu_seqlens_q  device int32 [B + 1]: sequence b is rows cu_seqlens_q[b] .. cu_seqlens_q[b + 1] - 1 of Q,
 *                 O and LSE; 0 = cu_seqlens_q[0] <= ... <= cu_seqlens_q[B] = total_q (not read by the launch:
 *                 the caller guarantees them). 4-byte aligned.
 *   cu_seqlens_k  the same for K and V (pass cu_seqlens_q again for self-attention).
 *   total_q/_k    cu_seqlens_q[B], cu_seqlens_k[B], 0 .. 2^31 - 1.
 *   max_seqlen_q/_k >= every sequence's length, >= 1: the grid is ceil(max_seqlen_q / BLOCK_M) x Hq x B, or
 *                 one block per Q tile of all sequences when most of those would exit (KernelAbi.h
 *                 GridRule::packedTiles).
 * The tensors of tilefuse_attention_args_t are then Q [total_q, Hq, D], K [total_k, Hkv, D],
 * V [total_k, Hkv, Dv], O [total_q, Hq, Dv] (row_stride steps one token, head_stride one head,
 * batch_stride ignored: dense is head_stride = D, row_stride = H * D) and LSE fp32 [Hq, total_q]
 * (lse_head_stride >= total_q, lse_batch_stride ignored). Rows of O / LSE outside [0, total_q) are never
 * written. A new struct and entry point (tilefuse_attention_args_t keeps its layout and size), so
 * applications built against an earlier tilefuse_c.h keep working. */
typedef struct tilefuse_packed_args {
  const int32_t *cu_seqlens_q, *cu_seqlens_k;
  int64_t total_q, total_k;
  int64_t max_seqlen_q, max_seqlen_k;
} tilefuse_packed_args_t;

/* What a kernel is; the strings live as long as the kernel's engine. */
typedef struct tilefuse_kernel_info {
  const char *spec_name, *kernel_name, *arch, *schedule_json, *grid;
  int threads_per_block;
  size_t dynamic_smem_bytes;
  int registers;
  double compile_ms; /* NVRTC time, ms; 0 when the CUBIN came from the tuner's cache */
  double load_ms;    /* module load, ms */
  const char *origin; /* "compiled", or where the CUBIN came from ("cache: <entry path>") */
} tilefuse_kernel_info_t;

/* The error message of the last tilefuse_* call on the calling thread ("" when it succeeded). Valid
 * until the next tilefuse_* call on this thread. */
const char *tilefuse_last_error(void);
/* "TILEFUSE_OK", "TILEFUSE_ERROR_NO_GPU", ... */
const char *tilefuse_status_string(tilefuse_status_t status);
/* "0.2.0" */
const char *tilefuse_version(void);

/* Creates an engine on CUDA device `device` (its primary context). */
tilefuse_status_t tilefuse_engine_create(int device, tilefuse_engine_t *out);
/* Unloads every kernel of the engine; NULL is ignored. */
void tilefuse_engine_destroy(tilefuse_engine_t engine);

/* The kernel for the spec file at `spec_path` and `shape` (NULL: the spec's default shape). */
tilefuse_status_t tilefuse_get_kernel(tilefuse_engine_t engine, const char *spec_path, const tilefuse_shape_t *shape,
                                      tilefuse_policy_t policy, tilefuse_kernel_t *out);
/* As tilefuse_get_kernel, for a spec given as JSON text. */
tilefuse_status_t tilefuse_get_kernel_json(tilefuse_engine_t engine, const char *spec_json,
                                           const tilefuse_shape_t *shape, tilefuse_policy_t policy,
                                           tilefuse_kernel_t *out);
/* As tilefuse_get_kernel, with host copies of the spec's captured tensors (num_captures entries in spec
 * order, or 0): under TILEFUSE_POLICY_TUNE_ON_MISS / FAIL_ON_MISS the schedule is looked up for, and tuned
 * on, their mask density class when the mask reads them (Engine::getKernel). `spec_path` or, when it is
 * NULL, `spec_json`. TILEFUSE_ERROR_INVALID_ARGUMENT (message names the capture) for another count of
 * captures than the spec has, a byte size that does not match its shape and dtype, a NULL data pointer. */
tilefuse_status_t tilefuse_get_kernel_captures(tilefuse_engine_t engine, const char *spec_path, const char *spec_json,
                                               const tilefuse_shape_t *shape, tilefuse_policy_t policy,
                                               const tilefuse_host_capture_t *captures, size_t num_captures,
                                               tilefuse_kernel_t *out);
tilefuse_status_t tilefuse_kernel_info(tilefuse_kernel_t kernel, tilefuse_kernel_info_t *out);

/* Enqueues one call on `stream` (NULL: the legacy default stream); does not wait. */
tilefuse_status_t tilefuse_launch(tilefuse_engine_t engine, tilefuse_kernel_t kernel,
                                  const tilefuse_attention_args_t *args, CUstream stream);

/* tilefuse_launch for a packed kernel (tilefuse_packed_args_t above). TILEFUSE_ERROR_LAUNCH when a
 * packed field is bad (the message names it) or the kernel is batched; tilefuse_launch of a packed
 * kernel fails the same way (it passes no offsets). */
tilefuse_status_t tilefuse_launch_packed(tilefuse_engine_t engine, tilefuse_kernel_t kernel,
                                         const tilefuse_attention_args_t *args, const tilefuse_packed_args_t *packed,
                                         CUstream stream);

/* Run-time block masks (a kernel whose mask_mod reads a captured tensor, e.g. document ids): the first
 * tilefuse_launch for given capture addresses, strides and sizes builds the kernel's block mask and the
 * engine keeps it for later launches with the same key. The key does not see the captures' contents. */
/* *out = 1 when `kernel` runs with a run-time block mask, else 0. */
tilefuse_status_t tilefuse_kernel_block_mask(tilefuse_kernel_t kernel, int *out);
/* Forgets the block masks the engine kept: call it after writing a captured tensor in place, or before
 * a capture's memory holds other contents; the next launch builds the mask again. Waits for all work on
 * the engine's device context first (launches in flight may read the lists it frees). */
tilefuse_status_t tilefuse_clear_block_masks(tilefuse_engine_t engine);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TILEFUSE_TILEFUSE_C_H */
