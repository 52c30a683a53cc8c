//===- Launch.cpp - Params packing and the launch of a generated kernel -------===//
//
// The per-call path of the runtime library: validate the arguments, pack `struct Params` into a
// stack buffer, cuLaunchKernel. Nothing here allocates on success (the error path builds a message).
//
#include "Launch.h"

#include "tilefuse/runtime/CudaDriver.h"
#include "tilefuse/spec/Eval.h"
#include "tilefuse/spec/Spec.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace tilefuse::detail {
namespace {

using codegen::ParamSource;
using codegen::TensorRole;

bool sizeIdOf(const std::string &name, SizeId &out) {
  static constexpr const char *names[] = {"B", "Hq", "Hkv", "Sq", "Sk"};
  for (int i = 0; i < 5; ++i)
    if (name == names[i]) {
      out = static_cast<SizeId>(i);
      return true;
    }
  return false;
}

int64_t sizeOf(const AttentionArgs &a, SizeId id) {
  switch (id) {
  case SizeId::B: return a.B;
  case SizeId::Hq: return a.Hq;
  case SizeId::Hkv: return a.Hkv;
  case SizeId::Sq: return a.Sq;
  case SizeId::Sk: return a.Sk;
  }
  return 0;
}

[[noreturn]] void unsupported(const std::string &kernel, const std::string &message) {
  throw UnsupportedError("kernel " + kernel + ": " + message);
}

[[noreturn]] void bad(const PackPlan &plan, const std::string &message) {
  throw LaunchError("launch of " + plan.kernelName + ": " + message);
}

std::string dimLabel(const PackTensor &t, int d) {
  return "dim " + std::to_string(d) + " (" + t.dims[d].name + ")";
}

} // namespace

PackPlan makePackPlan(const codegen::ParamLayout &layout, const spec::Spec &spec, int64_t group,
                      const std::string &kernelName) {
  // Packed sequences (spec "layout": "packed"): the plan binds Q, K, V, O as [total, H, D] and LSE as
  // [Hq, total_q] (batch stride 0: the kernel offsets rows by cu_seqlens). A run-time block mask's lists
  // are per (batch, Q tile) of one padded length, which packed sequences do not have.
  if (layout.packed && layout.blockMask.present)
    throw UnsupportedError("kernel " + kernelName + ": spec '" + spec.name +
                           "' is packed (\"layout\": \"packed\") and its mask_mod needs a run-time block mask "
                           "(it reads a captured tensor); the packed layout takes masks the compiler classifies");
  PackPlan plan;
  plan.packed = layout.packed;
  plan.kernelName = kernelName;
  plan.group = group;
  plan.bytes = layout.bytes;
  plan.captureCount = static_cast<int>(spec.captures.size());
  if (layout.bytes > kMaxParamBytes)
    unsupported(kernelName, "Params is " + std::to_string(layout.bytes) + " bytes, more than the " +
                                std::to_string(kMaxParamBytes) + " a launch packs");
  if (layout.tensors.size() > static_cast<size_t>(kMaxTensors))
    unsupported(kernelName, "takes " + std::to_string(layout.tensors.size()) + " tensors, at most " +
                                std::to_string(kMaxTensors) + " are supported");
  for (const codegen::TensorAbi &abi : layout.tensors) {
    PackTensor t;
    t.role = abi.arg.role;
    t.name = abi.arg.name;
    t.rank = abi.rank;
    t.elementBytes = abi.elementBytes;
    t.f16 = abi.elementType == "f16";
    t.needs16ByteRows = abi.needs16ByteRows;
    t.pairedStores = abi.written && abi.elementBytes == 2;
    if (t.rank < 1 || t.rank > kMaxRank || static_cast<int>(abi.dimNames.size()) != t.rank)
      unsupported(kernelName, "tensor " + t.name + " has rank " + std::to_string(t.rank) + " (supported: 1.." +
                                  std::to_string(kMaxRank) + ")");
    const int expectedRank = t.role == TensorRole::LSE ? 3 : t.role == TensorRole::Capture ? t.rank : 4;
    if (t.rank != expectedRank)
      unsupported(kernelName, "tensor " + t.name + " has rank " + std::to_string(t.rank) + ", expected " +
                                  std::to_string(expectedRank));
    if (t.role == TensorRole::LSE)
      plan.writesLse = true;
    if (t.role == TensorRole::Capture) {
      for (size_t slot = 0; slot < spec.captures.size(); ++slot)
        if (spec.captures[slot].name == t.name)
          t.captureSlot = static_cast<int>(slot);
      if (t.captureSlot < 0)
        unsupported(kernelName, "captured tensor " + t.name + " is not a capture of spec '" + spec.name + "'");
      t.captureShape = spec.captures[t.captureSlot].shape;
      if (static_cast<int>(t.captureShape.size()) != t.rank)
        unsupported(kernelName, "captured tensor " + t.name + " has rank " + std::to_string(t.rank) +
                                    ", the spec gives " + std::to_string(t.captureShape.size()) + " dims");
    }
    for (int d = 0; d < t.rank; ++d) {
      DimSource s;
      s.name = abi.dimNames[d];
      if (t.role == TensorRole::Capture) {
        s.kind = DimSource::CaptureExpr; // the spec's expression is the truth for capture extents
        s.exprIndex = d;
      } else if (!s.name.empty() && std::isdigit(static_cast<unsigned char>(s.name[0]))) {
        s.kind = DimSource::Static;
        s.value = std::stoll(s.name);
      } else if (sizeIdOf(s.name, s.size)) {
        s.kind = DimSource::Size;
      } else {
        unsupported(kernelName, "tensor " + t.name + " dim " + std::to_string(d) + " is '" + s.name +
                                    "', neither a problem size nor a static extent");
      }
      t.dims.push_back(std::move(s));
    }
    plan.tensors.push_back(std::move(t));
  }
  for (const codegen::ParamField &f : layout.fields) {
    PackField p;
    p.source = f.source;
    p.tensor = f.tensor;
    p.dim = f.dim;
    p.offset = f.offset;
    p.boxRows = f.boxRows, p.boxCols = f.boxCols;
    if (f.source == ParamSource::TensorMap &&
        (f.offset % 64 != 0 || f.offset + 128 > layout.bytes || f.tensor < 0 ||
         f.tensor >= static_cast<int>(plan.tensors.size()) || plan.tensors[f.tensor].elementBytes != 2))
      unsupported(kernelName, "field " + f.name + ": a TMA tensor map must be 128 bytes at a 64-byte aligned "
                                                   "offset inside Params, of a tensor with 16-bit elements");
    if (f.offset + 8 > layout.bytes)
      unsupported(kernelName, "field " + f.name + " lies outside Params");
    if (f.source == ParamSource::Size && !sizeIdOf(f.size, p.size))
      unsupported(kernelName, "field " + f.name + " reads unknown size '" + f.size + "'");
    if (f.source == ParamSource::SeqStarts) {
      if (!layout.packed || f.dim < 0 || f.dim > 1)
        unsupported(kernelName, "field " + f.name + " is a cu_seqlens pointer of a kernel that is not packed, or "
                                                    "neither cu_seqlens_q nor cu_seqlens_k");
      plan.fields.push_back(p);
      continue;
    }
    if (f.source == ParamSource::TileCounter) {
      if (plan.tileCounterOffset >= 0)
        unsupported(kernelName, "field " + f.name + " is a second tile counter");
      plan.tileCounterOffset = static_cast<int64_t>(f.offset);
      plan.fields.push_back(p);
      continue;
    }
    if (f.source == ParamSource::BlockMask) {
      if (!layout.blockMask.present || f.dim < 0 || f.dim > 3)
        unsupported(kernelName, "field " + f.name + " is a block-mask list of a kernel without one, or not one of the four");
      plan.fields.push_back(p);
      continue;
    }
    if (f.source != ParamSource::Size &&
        (f.tensor < 0 || f.tensor >= static_cast<int>(plan.tensors.size()) ||
         (f.source != ParamSource::TensorPointer && f.source != ParamSource::TensorMap && (f.dim < 0 || f.dim >= plan.tensors[f.tensor].rank))))
      unsupported(kernelName, "field " + f.name + " refers to a tensor or dim that does not exist");
    plan.fields.push_back(p);
  }
  return plan;
}

AttentionArgs resolveArgs(const PackPlan &plan, const AttentionArgs &a) {
  const bool anyPacked = a.cuSeqlensQ || a.cuSeqlensK || a.totalQ || a.totalK || a.maxSeqlenQ || a.maxSeqlenK;
  if (!plan.packed) {
    if (anyPacked)
      bad(plan, "cuSeqlensQ / cuSeqlensK / totalQ / totalK / maxSeqlenQ / maxSeqlenK are set, but the kernel's spec "
                "is batched (no \"layout\": \"packed\"); leave them null / 0");
    return a;
  }
  auto checkOffsets = [&](const int32_t *cu, const char *field, const char *rows) {
    if (!cu)
      bad(plan, std::string("packed launch: ") + field + " is null; it must be the device address of the int32 [B + 1] "
                "offsets of the rows of " + rows + (field[9] == 'K' ? " (pass cuSeqlensQ again for self-attention)" : ""));
    if (reinterpret_cast<uint64_t>(cu) % 4 != 0)
      bad(plan, std::string("packed launch: ") + field + " is not 4-byte aligned (int32 offsets)");
  };
  checkOffsets(a.cuSeqlensQ, "cuSeqlensQ", "Q, O and LSE");
  checkOffsets(a.cuSeqlensK, "cuSeqlensK", "K and V");
  auto checkTotal = [&](int64_t total, const char *field, const char *what) {
    if (total < 0 || total > INT32_MAX)
      bad(plan, std::string("packed launch: ") + field + " = " + std::to_string(total) + " (" + what +
                    "); allowed: 0 to 2^31 - 1 (the kernel's row offsets are int32)");
  };
  checkTotal(a.totalQ, "totalQ", "cu_seqlens_q[B], the rows of Q and O");
  checkTotal(a.totalK, "totalK", "cu_seqlens_k[B], the rows of K and V");
  // max_seqlen_q / max_seqlen_k size the grid and are the packed call's Sq / Sk; Sq, Sk may repeat them.
  AttentionArgs r = a;
  auto maxLen = [&](int64_t maxSeqlen, int64_t S, const char *field, const char *sizeName) {
    const int64_t v = maxSeqlen ? maxSeqlen : S;
    if (maxSeqlen && S && S != maxSeqlen)
      bad(plan, std::string("packed launch: ") + sizeName + " = " + std::to_string(S) + " but " + field + " = " +
                    std::to_string(maxSeqlen) + "; for a packed call " + sizeName + " is max_seqlen: set " + sizeName +
                    " to 0 or to " + field);
    if (v < 1)
      bad(plan, std::string("packed launch: ") + field + " = " + std::to_string(v) +
                    "; it must be >= 1 and >= every sequence's length (it sizes the grid)");
    return v;
  };
  r.Sq = maxLen(a.maxSeqlenQ, a.Sq, "maxSeqlenQ", "Sq");
  r.Sk = maxLen(a.maxSeqlenK, a.Sk, "maxSeqlenK", "Sk");
  r.maxSeqlenQ = r.Sq, r.maxSeqlenK = r.Sk;
  if (plan.writesLse && a.lse.data && a.lse.headStride < a.totalQ)
    bad(plan, "packed launch: lse.headStride = " + std::to_string(a.lse.headStride) + " is less than totalQ = " +
                  std::to_string(a.totalQ) + ": LSE is [Hq, total_q] (LseRef::packed(lse, totalQ)), heads would overlap");
  return r;
}

void bind(const PackPlan &plan, const AttentionArgs &a, Bindings &out) {
  // 1. Sizes: within the limits getKernel checks (spec::checkShapeLimits: 1 to the limit of
  //    spec/Shape.h, tensors at most 2^53 bytes; it allocates nothing unless they are not), and the
  //    GQA group compiled into the kernel.
  try {
    spec::checkShapeLimits({a.B, a.Hq, a.Hkv, a.Sq, a.Sk, plan.headDim, plan.valueDim});
  } catch (const spec::SpecError &e) {
    bad(plan, "sizes: " + e.message());
  }
  if (a.Hq / a.Hkv != plan.group)
    bad(plan, "Hq = " + std::to_string(a.Hq) + ", Hkv = " + std::to_string(a.Hkv) +
                  ": the kernel was compiled for a GQA group size Hq / Hkv = " + std::to_string(plan.group));
  if (static_cast<int>(a.captures.size()) != plan.captureCount)
    bad(plan, std::to_string(a.captures.size()) + " captured tensors given, the spec has " +
                  std::to_string(plan.captureCount));

  // 2. One binding per tensor argument, in ParamLayout order.
  out.count = static_cast<int>(plan.tensors.size());
  spec::EvalEnv env; // capture extents are expressions over B, Hq, Hkv, Sq, Sk
  env.shape.B = a.B, env.shape.Hq = a.Hq, env.shape.Hkv = a.Hkv, env.shape.Sq = a.Sq, env.shape.Sk = a.Sk;
  for (size_t i = 0; i < plan.tensors.size(); ++i) {
    const PackTensor &t = plan.tensors[i];
    Binding &b = out.tensors[i];
    b.rank = t.rank;
    const TensorRef *ref = nullptr;
    switch (t.role) {
    case TensorRole::Q: ref = &a.q; break;
    case TensorRole::K: ref = &a.k; break;
    case TensorRole::V: ref = &a.v; break;
    case TensorRole::O: ref = &a.o; break;
    case TensorRole::Operand: // a chain's kernel (examples/chains) is built from a .mlir file, never by the engine
      throw std::invalid_argument("the engine launches attention kernels; this kernel takes operands of a chain");
    case TensorRole::LSE:
      b.address = reinterpret_cast<uint64_t>(a.lse.data);
      // Packed: LSE [Hq, total_q] as [B, Hq, max_seqlen_q] with batch stride 0 (rows offset by cu_seqlens_q).
      b.strides = {plan.packed ? 0 : a.lse.batchStride, a.lse.headStride, 1, 0};
      break;
    case TensorRole::Capture: {
      const CaptureRef &c = a.captures[t.captureSlot];
      b.address = reinterpret_cast<uint64_t>(c.data);
      for (int d = t.rank - 1; d >= 0; --d) {
        int64_t extent = 0;
        try {
          extent = spec::evaluate(t.captureShape[d], env).asInt();
        } catch (const std::exception &e) {
          bad(plan, "captured tensor " + t.name + ": " + dimLabel(t, d) + ": " + e.what());
        }
        if (extent <= 0)
          bad(plan, "captured tensor " + t.name + ": " + dimLabel(t, d) + " evaluates to " + std::to_string(extent) +
                        " at these sizes");
        b.shape[d] = extent;
        if (d + 1 == t.rank)
          b.strides[d] = 1; // the last dim is contiguous
        else
          b.strides[d] = c.strides ? c.strides[d] : b.strides[d + 1] * b.shape[d + 1]; // given, or dense
      }
      break;
    }
    }
    if (ref) {
      b.address = reinterpret_cast<uint64_t>(ref->data);
      // Packed: [total, H, D] as [B, H, max_seqlen, D] with batch stride 0 (rows offset by cu_seqlens).
      b.strides = {plan.packed ? 0 : ref->batchStride, ref->headStride, ref->rowStride, 1};
    }
    if (t.role != TensorRole::Capture)
      for (int d = 0; d < t.rank; ++d) {
        const DimSource &s = t.dims[d];
        b.shape[d] = s.kind == DimSource::Static ? s.value : sizeOf(a, s.size);
      }

    // 3. Checks: a pointer, strides >= 0, and the alignment cp.async and paired stores need.
    if (b.address == 0)
      bad(plan, "tensor " + t.name + ": null pointer");
    for (int d = 0; d + 1 < t.rank; ++d)
      if (b.strides[d] < 0)
        bad(plan, "tensor " + t.name + ": stride of " + dimLabel(t, d) + " is " + std::to_string(b.strides[d]) +
                      " (must be >= 0)");
    if (t.needs16ByteRows) {
      if (b.address % 16 != 0)
        bad(plan, "tensor " + t.name + ": base address must be 16-byte aligned (cp.async / TMA), got address % 16 = " +
                      std::to_string(b.address % 16));
      for (int d = 0; d + 1 < t.rank; ++d)
        if ((b.strides[d] * t.elementBytes) % 16 != 0)
          bad(plan, "tensor " + t.name + ": stride of " + dimLabel(t, d) + " is " + std::to_string(b.strides[d]) +
                        " elements (" + std::to_string(b.strides[d] * t.elementBytes) +
                        " bytes), must be a multiple of 16 bytes");
    } else if (b.address % static_cast<uint64_t>(t.elementBytes) != 0) {
      bad(plan, "tensor " + t.name + ": base address is not aligned to its " + std::to_string(t.elementBytes) +
                    "-byte elements");
    }
    if (t.pairedStores) { // as codegen::packParams checks
      if (b.address % 4 != 0)
        bad(plan, "tensor " + t.name + ": base address must be 4-byte aligned (outputs are stored in pairs of elements)");
      for (int d = 0; d + 1 < t.rank; ++d)
        if (b.strides[d] % 2 != 0)
          bad(plan, "tensor " + t.name + ": stride of " + dimLabel(t, d) + " is " + std::to_string(b.strides[d]) +
                        " elements, must be even (outputs are stored in pairs of elements)");
    }
  }
}

void packInto(const PackPlan &plan, const AttentionArgs &a, const Bindings &bindings, std::span<std::byte> out) {
  std::memset(out.data(), 0, plan.bytes); // the tensor maps (encodeTensorMaps) and sm90's tail padding
  for (const PackField &f : plan.fields) {
    int64_t value = 0;
    uint64_t address = 0;
    const Binding *b = f.tensor >= 0 ? &bindings.tensors[f.tensor] : nullptr;
    switch (f.source) {
    case ParamSource::TensorPointer: address = b->address; break;
    case ParamSource::TensorStride: value = b->strides[f.dim]; break;
    case ParamSource::TensorExtent: value = b->shape[f.dim]; break;
    case ParamSource::Size: value = sizeOf(a, f.size); break;
    case ParamSource::TensorMap: continue; // encodeTensorMaps
    case ParamSource::BlockMask: continue;  // null unless patchBlockMask writes the lists
    case ParamSource::TileCounter: continue; // launch writes the stream's counter
    case ParamSource::SeqStarts:
      address = reinterpret_cast<uint64_t>(f.dim == 0 ? a.cuSeqlensQ : a.cuSeqlensK);
      break;
    }
    if (f.source == ParamSource::TensorPointer || f.source == ParamSource::SeqStarts)
      std::memcpy(out.data() + f.offset, &address, 8);
    else
      std::memcpy(out.data() + f.offset, &value, 8);
  }
}

TmaMap tmaMapOf(const PackPlan &plan, const AttentionArgs &args, const Bindings &bindings, const PackField &f) {
  const PackTensor &t = plan.tensors[f.tensor];
  const Binding &b = bindings.tensors[f.tensor];
  TmaMap m;
  m.rank = b.rank, m.shape = b.shape, m.strides = b.strides;
  if (plan.packed && t.role != TensorRole::Capture && t.rank == 4) {
    // Packed [total, H, D] (bound as [B, H, max_seqlen, D], batch stride 0): the map covers the whole
    // tensor as [1, H, total, D]; the kernel adds cu_seqlens[b] to the token coordinate. The batch dim
    // has extent 1 (its stride is never stepped: the token stride, a valid TMA stride). total = 0 (every
    // sequence empty: no tile is loaded) still needs an extent of 1.
    const bool keys = t.role == TensorRole::K || t.role == TensorRole::V;
    m.shape[0] = 1;
    m.shape[2] = std::max<int64_t>(keys ? args.totalK : args.totalQ, 1);
    m.strides[0] = m.strides[2];
  }
  // What cuTensorMapEncodeTiled takes (CUDA driver API, "Tensor Map Object Management"): extents in
  // [1, 2^32], strides multiples of 16 bytes below 2^40. bind() checked the 16-byte multiples.
  for (int d = 0; d < m.rank; ++d) {
    if (m.shape[d] < 1 || m.shape[d] > (int64_t{1} << 32))
      bad(plan, "tensor " + t.name + ": " + dimLabel(t, d) + " has extent " + std::to_string(m.shape[d]) +
                    "; the TMA (sm90 backend) maps extents from 1 to 2^32");
    const bool copiedStride = d == 0 && plan.packed; // the token stride again, checked at dim 2
    if (d + 1 < m.rank && !copiedStride && m.strides[d] * t.elementBytes >= (int64_t{1} << 40))
      bad(plan, "tensor " + t.name + ": stride of " + dimLabel(t, d) + " is " + std::to_string(m.strides[d]) +
                    " elements; the TMA (sm90 backend) maps strides below 2^40 bytes");
  }
  return m;
}

void encodeTensorMaps(const PackPlan &plan, const AttentionArgs &args, const Bindings &bindings,
                      std::span<std::byte> out) {
  for (const PackField &f : plan.fields) {
    if (f.source != ParamSource::TensorMap)
      continue;
    const PackTensor &t = plan.tensors[f.tensor];
    const TmaMap map = tmaMapOf(plan, args, bindings, f);
    runtime::TensorMapRequest m;
    m.dataType = t.f16 ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16 : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
    m.rank = map.rank, m.address = bindings.tensors[f.tensor].address, m.shape = map.shape.data();
    m.strides = map.strides.data();
    m.elementBytes = t.elementBytes, m.boxRows = f.boxRows, m.boxCols = f.boxCols;
    runtime::encodeTensorMap(out.data() + f.offset, m);
  }
}

std::vector<codegen::TensorBinding> toTensorBindings(const Bindings &bs) {
  std::vector<codegen::TensorBinding> out;
  for (int i = 0; i < bs.count; ++i) {
    const Binding &b = bs.tensors[i];
    out.push_back({b.address, std::vector<int64_t>(b.shape.begin(), b.shape.begin() + b.rank),
                   std::vector<int64_t>(b.strides.begin(), b.strides.begin() + b.rank)});
  }
  return out;
}

codegen::ProblemSizes problemSizes(const AttentionArgs &a) { return {a.B, a.Hq, a.Hkv, a.Sq, a.Sk, a.totalQ}; }

void patchBlockMask(const PackPlan &plan, const std::array<uint64_t, 4> *lists, std::span<std::byte> out) {
  for (const PackField &f : plan.fields)
    if (f.source == ParamSource::BlockMask) {
      const uint64_t address = lists ? (*lists)[f.dim] : 0;
      std::memcpy(out.data() + f.offset, &address, 8);
    }
}

std::shared_ptr<BlockMaskData> buildBlockMask(const Kernel &k, const AttentionArgs &args, CUstream stream) {
  if (!k.blockMask.present || !k.blockMaskFunction)
    bad(k.plan, "buildBlockMask: this kernel has no run-time block mask (its mask is classified at compile time, "
                "or it has none)");
  // 1. Params of the call (validated as a launch's), with the lists of a new buffer.
  alignas(16) std::byte params[kMaxParamBytes];
  pack(k.plan, args, std::span<std::byte>(params, kMaxParamBytes));
  const codegen::ProblemSizes sizes = problemSizes(args);
  auto m = std::make_shared<BlockMaskData>();
  m->kernel = &k;
  m->B = args.B, m->Hq = args.Hq, m->Sq = args.Sq, m->Sk = args.Sk;
  m->rows = k.blockMask.rows(sizes);
  m->kvTiles = k.blockMask.kvTiles(sizes);
  if (m->rows * m->kvTiles >= (int64_t{1} << 31))
    bad(k.plan, "buildBlockMask: " + std::to_string(m->rows) + " list rows of " + std::to_string(m->kvTiles) +
                    " K/V tiles exceed the 2^31 entries the kernel indexes (fewer batches per call)");
  runtime::setCurrentContext(k.context);
  m->buffer = runtime::DeviceBuffer(static_cast<std::size_t>(k.blockMask.bytes(sizes)));
  const uint64_t base = m->buffer.get();
  const uint64_t counts = 4 * static_cast<uint64_t>(m->rows), lists = counts * static_cast<uint64_t>(m->kvTiles);
  m->lists = {base, base + counts, base + counts + lists, base + 2 * counts + lists};
  patchBlockMask(k.plan, &m->lists, std::span<std::byte>(params, kMaxParamBytes));
  // 2. One block per list row: (Q tile, head or 1, batch).
  const int64_t qTiles = (args.Sq + k.blockMask.blockM - 1) / k.blockMask.blockM;
  const int64_t heads = k.blockMask.perHead ? args.Hq : 1;
  if (qTiles > 0x7fffffff || heads > 65535 || args.B > 65535)
    bad(k.plan, "buildBlockMask: grid (" + std::to_string(qTiles) + ", " + std::to_string(heads) + ", " +
                    std::to_string(args.B) + ") exceeds CUDA's limits");
  void *argv[] = {params};
  runtime::launchKernel(k.blockMaskFunction,
                        {static_cast<unsigned>(qTiles), static_cast<unsigned>(heads), static_cast<unsigned>(args.B)},
                        {static_cast<unsigned>(codegen::BlockMaskAbi::kThreads), 1, 1}, 0, stream, argv);
  return m;
}

uint64_t TileCounters::forStream(CUstream stream) {
  // Lock-free: an entry is written before fastCount_ publishes it, and never changes after.
  const int published = fastCount_.load(std::memory_order_acquire);
  for (int i = 0; i < published; ++i)
    if (fastStreams_[i].load(std::memory_order_relaxed) == stream)
      return fastCounters_[i];
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto &[s, buffer] : perStream_)
    if (s == stream)
      return buffer.get();
  perStream_.emplace_back(stream, runtime::zeroedDeviceBuffer(8));
  const uint64_t counter = perStream_.back().second.get();
  if (const int n = fastCount_.load(std::memory_order_relaxed); n < kFast) {
    fastStreams_[n].store(stream, std::memory_order_relaxed);
    fastCounters_[n] = counter;
    fastCount_.store(n + 1, std::memory_order_release);
  }
  return counter;
}

void launch(const Kernel &k, const AttentionArgs &given, const BlockMaskData *mask, CUstream stream) {
  // 1. Params on the stack: validated and packed (LaunchError before anything is enqueued). A packed
  //    call's Sq, Sk are its max_seqlen_q, max_seqlen_k from here on.
  const AttentionArgs args = resolveArgs(k.plan, given);
  alignas(16) std::byte params[kMaxParamBytes];
  pack(k.plan, args, std::span<std::byte>(params, kMaxParamBytes));
  if (mask) {
    if (mask->kernel != &k)
      bad(k.plan, "launch: the block mask was built for another kernel");
    if (mask->B != args.B || mask->Hq != args.Hq || mask->Sq != args.Sq || mask->Sk != args.Sk)
      bad(k.plan, "launch: the block mask was built for B = " + std::to_string(mask->B) + ", Hq = " +
                      std::to_string(mask->Hq) + ", Sq = " + std::to_string(mask->Sq) + ", Sk = " +
                      std::to_string(mask->Sk) + ", not for this call's sizes");
    patchBlockMask(k.plan, &mask->lists, std::span<std::byte>(params, kMaxParamBytes));
  }
  // 2. The grid of the program (x = ceil(Sq / BLOCK_M), y = Hq, z = B for FA2 programs; packed:
  //    the same with x = ceil(max_seqlen_q / BLOCK_M), or one block per Q tile of all sequences,
  //    GridRule::packedTiles).
  const std::array<int64_t, 3> grid = k.grid.evaluate(problemSizes(args), k.smCount);
  if (grid[0] > 0x7fffffff || grid[1] > 65535 || grid[2] > 65535)
    bad(k.plan, "grid (" + std::to_string(grid[0]) + ", " + std::to_string(grid[1]) + ", " +
                    std::to_string(grid[2]) + ") exceeds CUDA's limits (2^31-1, 65535, 65535); grid " +
                    k.grid.toString());
  // 3. cuLaunchKernel in the engine's context; the kernel's one argument is Params by value, with the
  //    stream's tile counter for a dynamic tile scheduler.
  runtime::setCurrentContext(k.context);
  if (k.plan.tileCounterOffset >= 0) {
    const uint64_t counter = k.tileCounters.forStream(stream);
    std::memcpy(params + k.plan.tileCounterOffset, &counter, 8);
  }
  void *argv[] = {params};
  runtime::launchKernel(k.function,
                        {static_cast<unsigned>(grid[0]), static_cast<unsigned>(grid[1]),
                         static_cast<unsigned>(grid[2])},
                        {k.threads, 1, 1}, k.smemBytes, stream, argv);
}

} // namespace tilefuse::detail
