//===- KernelAbi.cpp - signatures, grid rules, the Params layout ----------===//
#include "tilefuse/codegen/KernelAbi.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>

namespace tilefuse::codegen {

std::string_view spelling(TensorRole r) {
  switch (r) {
  case TensorRole::Q: return "Q";
  case TensorRole::K: return "K";
  case TensorRole::V: return "V";
  case TensorRole::O: return "O";
  case TensorRole::LSE: return "LSE";
  case TensorRole::Capture: return "capture";
  case TensorRole::Operand: return "operand";
  }
  return "?";
}

KernelSignature KernelSignature::standard(bool lse, const std::vector<std::string> &captureNames) {
  KernelSignature s;
  s.tensors = {{TensorRole::Q, "Q"}, {TensorRole::K, "K"}, {TensorRole::V, "V"}, {TensorRole::O, "O"}};
  if (lse)
    s.tensors.push_back({TensorRole::LSE, "LSE"});
  for (const std::string &c : captureNames)
    s.tensors.push_back({TensorRole::Capture, c});
  return s;
}

KernelSignature KernelSignature::operands(const std::vector<std::string> &names) {
  KernelSignature s;
  for (const std::string &n : names)
    s.tensors.push_back({TensorRole::Operand, n});
  return s;
}

bool KernelSignature::isChain() const {
  return !tensors.empty() &&
         std::all_of(tensors.begin(), tensors.end(), [](const TensorArg &t) { return t.role == TensorRole::Operand; });
}

KernelSignature KernelSignature::fromSpec(const spec::Spec &spec) {
  std::vector<std::string> names;
  for (const spec::Capture &c : spec.captures)
    names.push_back(c.name);
  KernelSignature sig = standard(spec.lse, names);
  sig.packed = spec.layout == spec::Layout::Packed;
  return sig;
}

std::string KernelSignature::toString() const {
  std::string s = "(";
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (i)
      s += ", ";
    s += tensors[i].name;
    if (tensors[i].role == TensorRole::Capture)
      s += ": capture";
  }
  return s + ")" + (packed ? " packed" : "") + (kernelName.empty() ? "" : " -> " + kernelName);
}

int64_t ProblemSizes::get(std::string_view name) const {
  if (name == "B") return B;
  if (name == "Hq") return Hq;
  if (name == "Hkv") return Hkv;
  if (name == "Sq") return Sq;
  if (name == "Sk") return Sk;
  std::string known = "B, Hq, Hkv, Sq, Sk";
  for (const auto &[n, v] : named) {
    if (n == name)
      return v;
    known += ", " + n;
  }
  throw std::invalid_argument("unknown problem size '" + std::string(name) + "' (known: " + known + ")");
}

int64_t GridDimRule::evaluate(const ProblemSizes &p) const {
  if (size.empty())
    return 1;
  const int64_t n = p.get(size);
  return (n + divisor - 1) / divisor;
}

std::string GridDimRule::toString() const {
  if (size.empty())
    return "1";
  if (divisor == 1)
    return size;
  return "ceil(" + size + " / " + std::to_string(divisor) + ")";
}

std::array<int64_t, 3> GridRule::tiles(const ProblemSizes &p) const {
  return {x.evaluate(p), y.evaluate(p), z.evaluate(p)};
}

std::array<int64_t, 3> GridRule::evaluate(const ProblemSizes &p, int64_t smCount) const {
  const std::array<int64_t, 3> t = tiles(p);
  if (packedTiles && !persistent) {
    // Within the shape limits the products stay below 2^63; total_q < 2^31 (cu_seqlens are int32).
    const int64_t perSequence = t[0] * t[2];
    int64_t n = perSequence;
    if (p.totalQ > 0)
      n = std::min(n, (p.totalQ + p.B * (x.divisor - 1)) / x.divisor);
    if (perSequence <= 4 * n && t[2] <= 65535)
      return t; // at most 3 in 4 blocks exit at once: no scan of cu_seqlens per block
    if (n > std::numeric_limits<int32_t>::max())
      throw std::invalid_argument("packed sequences of " + std::to_string(n) + " Q tiles exceed CUDA's grid limit "
                                  "(2^31 - 1 blocks along x); grid " + toString());
    return {n, t[1], 1};
  }
  if (cluster < 1)
    throw std::invalid_argument("grid: cluster = " + std::to_string(cluster) + "; allowed: 1 or 2");
  const int64_t clusters = (t[0] + cluster - 1) / cluster; // of Q tiles, along x
  if (!persistent)
    return {clusters * cluster, t[1], t[2]};
  if (smCount < cluster)
    throw std::invalid_argument("a persistent grid needs the number of blocks that can run at once (the SM count, "
                                "or the resident clusters times " + std::to_string(cluster) + "), got " +
                                std::to_string(smCount));
  // Within the shape limits (spec::checkShapeLimits) the product stays below 2^56: no overflow. The
  // kernel's tile loop is 32-bit (EmitSm90.cpp tileLoop), and its last step goes past the last tile by up to
  // one round of blocks, so tiles + blocks must stay below 2^31.
  const int64_t n = clusters * t[1] * t[2];
  const int64_t blocks = std::min(n, smCount / cluster) * cluster;
  if (n > std::numeric_limits<int32_t>::max() - blocks)
    throw std::invalid_argument("a persistent grid runs at most 2^31 - 1 - " + std::to_string(blocks) +
                                " tiles (2^31 - 1 minus its blocks), this shape has " + std::to_string(n) + " (" +
                                toString() + "); use a schedule without \"persistent\"");
  return {blocks, 1, 1};
}

std::string GridRule::toString() const {
  if (packedTiles && !persistent) {
    const std::string bm = std::to_string(x.divisor);
    return "x = " + x.toString() + ", y = " + y.toString() + ", z = " + z.toString() +
           ", or x = the sequences' Q tiles <= min(" + x.toString() + " * " + z.toString() + ", (total_q + " +
           std::to_string(x.divisor - 1) + " B) / " + bm + "), y = " + y.toString() +
           ", z = 1 when over 3 in 4 of those blocks would exit";
  }
  if (persistent && cluster > 1)
    return "persistent, clusters of " + std::to_string(cluster) + ": " + std::to_string(cluster) + " * min(ceil(" +
           x.toString() + " / " + std::to_string(cluster) + ") * " + y.toString() + " * " + z.toString() +
           ", resident clusters)";
  if (persistent)
    return "persistent: min(" + x.toString() + " * " + y.toString() + " * " + z.toString() + ", SMs)";
  if (cluster > 1)
    return "x = " + std::to_string(cluster) + " * ceil(" + x.toString() + " / " + std::to_string(cluster) +
           "), y = " + y.toString() + ", z = " + z.toString() + ", clusters of " + std::to_string(cluster) +
           " along x";
  return "x = " + x.toString() + ", y = " + y.toString() + ", z = " + z.toString();
}

namespace {

std::string cType(const TensorAbi &t) {
  const std::string &e = t.elementType;
  std::string base = e == "bf16"  ? "__nv_bfloat16"
                     : e == "f16" ? "__half"
                     : e == "f32" ? "float"
                     : e == "i32" ? "int"
                     : e == "i64" ? "long long"
                                  : "unsigned char";
  return (t.written ? "" : "const ") + base + " *";
}

std::string dims(const TensorAbi &t) {
  std::string s = "[";
  for (size_t i = 0; i < t.dimNames.size(); ++i)
    s += (i ? ", " : "") + t.dimNames[i];
  return s + "]";
}

} // namespace

std::string ParamLayout::deviceStruct() const {
  std::ostringstream os;
  os << "// Kernel parameters, passed by value. Host mirror: tilefuse::codegen::ParamLayout.\n"
     << "// Strides are in elements (the last dim of every tensor is contiguous).\n"
     << "struct Params {\n";
  size_t i = 0;
  while (i < fields.size()) {
    const ParamField &f = fields[i];
    if (f.source == ParamSource::TensorPointer) {
      const TensorAbi &t = tensors[f.tensor];
      os << "  " << cType(t) << f.name << "; // " << t.elementType << " " << dims(t)
         << (t.arg.role == TensorRole::Capture ? " (captured)" : "") << "\n";
      ++i;
      continue;
    }
    if (f.source == ParamSource::Size) {
      os << "  long long " << f.name << ";\n";
      ++i;
      continue;
    }
    if (f.source == ParamSource::SeqStarts) {
      os << "  const int *" << f.name << "; // int32 [B + 1]: packed sequence " << (f.dim == 0 ? "b's rows of Q, O, LSE"
                                                                                                : "b's rows of K, V")
         << " are [" << f.name << "[b], " << f.name << "[b + 1])\n";
      ++i;
      continue;
    }
    if (f.source == ParamSource::BlockMask) {
      os << "  int *" << f.name << "; // run-time block mask (BlockMaskAbi), null when the launch has none\n";
      ++i;
      continue;
    }
    if (f.source == ParamSource::TileCounter) {
      os << "  int *" << f.name << "; // dynamic tile scheduler: [0] the next tile, [1] the blocks done; 0, 0 before "
                                    "the launch, reset by its last block\n";
      ++i;
      continue;
    }
    if (f.source == ParamSource::TensorMap) {
      os << "  tilefuse::device::TmaDescriptor " << f.name << "; // TMA tensor map of "
         << tensors[f.tensor].arg.name << ": box [" << f.boxRows << " x " << f.boxCols
         << "] of its last two dims, 128B swizzle\n";
      ++i;
      continue;
    }
    // An array field: TensorStride / TensorExtent runs of one tensor.
    size_t n = 1;
    while (i + n < fields.size() && fields[i + n].source == f.source && fields[i + n].tensor == f.tensor)
      ++n;
    const std::string base = f.name.substr(0, f.name.find('['));
    os << "  long long " << base << "[" << n << "];"
       << (f.source == ParamSource::TensorStride ? " // strides of dims " : " // extents of dims ");
    for (size_t k = 0; k < n; ++k)
      os << (k ? ", " : "") << tensors[f.tensor].dimNames[fields[i + k].dim];
    os << "\n";
    i += n;
  }
  os << "};\n";
  return os.str();
}

int64_t ParamLayout::tileCounterOffset() const {
  for (const ParamField &f : fields)
    if (f.source == ParamSource::TileCounter)
      return static_cast<int64_t>(f.offset);
  return -1;
}

int64_t BlockMaskAbi::kvTiles(const ProblemSizes &s) const { return (s.Sk + blockN - 1) / blockN; }

int64_t BlockMaskAbi::rows(const ProblemSizes &s) const {
  return s.B * (perHead ? s.Hq : 1) * ((s.Sq + blockM - 1) / blockM);
}

int64_t BlockMaskAbi::bytes(const ProblemSizes &s) const { return 4 * rows(s) * (2 + 2 * kvTiles(s)); }

std::string_view BlockMaskAbi::listName(int list) {
  static constexpr std::string_view names[] = {"kv_num_blocks", "kv_indices", "full_kv_num_blocks",
                                               "full_kv_indices"};
  return list >= 0 && list < 4 ? names[list] : "?";
}

std::string ParamLayout::toString() const {
  std::ostringstream os;
  os << "Params: " << bytes << " bytes\n";
  for (const ParamField &f : fields)
    os << "  +" << f.offset << "\t" << f.name << "\n";
  return os.str();
}

namespace {

/// A packed binding (Q, O [total_q, H, D]; K, V [total_k, Hkv, D]; LSE [Hq, total_q]) as the batched
/// one the kernel's fields describe: B extent `sizes.B` with stride 0 (the kernel offsets rows by
/// cu_seqlens), the sequence dim of extent Sq / Sk (the max lengths) with the token stride. Throws
/// AbiError when the rank or the token extent is wrong.
TensorBinding unpackBinding(const TensorAbi &abi, const TensorBinding &b, const ProblemSizes &sizes,
                            const PackedBinding &pk) {
  const std::string who = "packParams: packed tensor " + abi.arg.name;
  const bool lse = abi.arg.role == TensorRole::LSE;
  const int rank = abi.rank - 1;
  if (static_cast<int>(b.shape.size()) != rank || static_cast<int>(b.strides.size()) != rank)
    throw AbiError(who + " has rank " + std::to_string(b.shape.size()) + ", the packed layout takes rank " +
                   std::to_string(rank) + (lse ? " ([Hq, total_q])" : " ([total, H, D])"));
  const bool keys = abi.arg.role == TensorRole::K || abi.arg.role == TensorRole::V;
  const int64_t total = keys ? pk.totalK : pk.totalQ;
  const int tokenDim = lse ? 1 : 0;
  if (b.shape[tokenDim] != total)
    throw AbiError(who + ": dim " + std::to_string(tokenDim) + " (tokens) is " + std::to_string(b.shape[tokenDim]) +
                   ", expected " + (keys ? "total_k = cu_seqlens_k[B] = " : "total_q = cu_seqlens_q[B] = ") +
                   std::to_string(total));
  TensorBinding out;
  out.address = b.address;
  const int64_t S = keys ? sizes.Sk : sizes.Sq;
  if (lse) { // [Hq, total_q] -> [B, Hq, Sq]
    out.shape = {sizes.B, b.shape[0], S};
    out.strides = {0, b.strides[0], b.strides[1]};
  } else { // [total, H, D] -> [B, H, S, D]
    out.shape = {sizes.B, b.shape[1], S, b.shape[2]};
    out.strides = {0, b.strides[1], b.strides[0], b.strides[2]};
  }
  return out;
}

/// The binding a packed tensor's TMA map covers: the whole [total, H, D] tensor as [1, H, total, D] (the
/// kernel adds cu_seqlens[b] to the token coordinate); the batch dim's stride, never stepped, is the
/// token stride (a valid TMA stride).
TensorBinding packedTmaBinding(const TensorBinding &b) {
  TensorBinding out;
  out.address = b.address;
  out.shape = {1, b.shape[1], std::max<int64_t>(b.shape[0], 1), b.shape[2]};
  out.strides = {b.strides[0], b.strides[1], b.strides[0], b.strides[2]};
  return out;
}

} // namespace

std::vector<std::byte> packParams(const ParamLayout &layout, const ProblemSizes &sizes,
                                  const std::vector<TensorBinding> &given, TensorMapEncoder encodeMap,
                                  const PackedBinding *packed) {
  if (given.size() != layout.tensors.size())
    throw AbiError("packParams: " + std::to_string(given.size()) + " tensors given, the kernel takes " +
                   std::to_string(layout.tensors.size()));
  if (layout.packed && !packed)
    throw AbiError("packParams: the kernel takes packed sequences (spec \"layout\": \"packed\"); pass the "
                   "cu_seqlens_q / cu_seqlens_k addresses and totals (PackedBinding)");
  if (!layout.packed && packed)
    throw AbiError("packParams: cu_seqlens given, but the kernel is for batched tensors");
  std::vector<TensorBinding> tensors = given;
  if (packed)
    for (size_t t = 0; t < tensors.size(); ++t)
      if (layout.tensors[t].arg.role != TensorRole::Capture)
        tensors[t] = unpackBinding(layout.tensors[t], given[t], sizes, *packed);
  for (size_t t = 0; t < tensors.size(); ++t) {
    const TensorAbi &abi = layout.tensors[t];
    const TensorBinding &b = tensors[t];
    const std::string who = "packParams: tensor " + abi.arg.name;
    if (static_cast<int>(b.shape.size()) != abi.rank || static_cast<int>(b.strides.size()) != abi.rank)
      throw AbiError(who + " has rank " + std::to_string(b.shape.size()) + " (strides: " +
                     std::to_string(b.strides.size()) + "), the kernel expects " + std::to_string(abi.rank));
    if (abi.rank > 0 && b.strides.back() != 1)
      throw AbiError(who + ": the last dim must be contiguous (stride 1), got stride " +
                     std::to_string(b.strides.back()));
    for (int d = 0; d < abi.rank; ++d) {
      const std::string &name = abi.dimNames[d];
      int64_t expected = -1;
      if (!name.empty() && std::isdigit(static_cast<unsigned char>(name[0])))
        expected = std::stoll(name);
      else if (name == "B" || name == "Hq" || name == "Hkv" || name == "Sq" || name == "Sk")
        expected = sizes.get(name);
      else if (abi.arg.role == TensorRole::Operand) { // a chain's dims are its named sizes (T, D, F)
        try {
          expected = sizes.get(name);
        } catch (const std::invalid_argument &e) {
          throw AbiError(who + ": dim " + std::to_string(d) + " (" + name + "): " + e.what());
        }
      }
      if (expected >= 0 && b.shape[d] != expected)
        throw AbiError(who + ": dim " + std::to_string(d) + " (" + name + ") is " + std::to_string(b.shape[d]) +
                       ", expected " + std::to_string(expected));
    }
    // Written 16-bit tensors are stored in 4-byte pairs (warp::store, tfcg::store): pairs must be aligned.
    if (abi.written && abi.elementBytes == 2) {
      if (b.address % 4 != 0)
        throw AbiError(who + ": base address must be 4-byte aligned (outputs are stored in pairs of elements)");
      for (int d = 0; d + 1 < abi.rank; ++d)
        if (b.strides[d] % 2 != 0)
          throw AbiError(who + ": stride of dim " + std::to_string(d) + " (" + std::to_string(b.strides[d]) +
                         " elements) must be even (outputs are stored in pairs of elements)");
    }
    if (abi.needs16ByteRows) {
      if (b.address % 16 != 0)
        throw AbiError(who + ": base address must be 16-byte aligned (cp.async / TMA)");
      // A run-time last dim (a chain's D) ends inside a tile: loads zero-fill whole 16-byte chunks past it
      // (gvb), so it must end on a chunk boundary.
      const std::string &last = abi.dimNames.empty() ? std::string() : abi.dimNames.back();
      if (!last.empty() && !std::isdigit(static_cast<unsigned char>(last[0])) &&
          (b.shape.back() * abi.elementBytes) % 16 != 0)
        throw AbiError(who + ": dim " + std::to_string(abi.rank - 1) + " (" + last + ") is " +
                       std::to_string(b.shape.back()) + "; the last dim of a loaded tensor must be a multiple of " +
                       std::to_string(16 / abi.elementBytes) + " elements (loads move 16-byte chunks)");
      for (int d = 0; d + 1 < abi.rank; ++d)
        if ((b.strides[d] * abi.elementBytes) % 16 != 0)
          throw AbiError(who + ": stride of dim " + std::to_string(d) + " (" + std::to_string(b.strides[d]) +
                         " elements) must be a multiple of 16 bytes");
    }
  }
  const bool chain = std::all_of(layout.tensors.begin(), layout.tensors.end(),
                                 [](const TensorAbi &t) { return t.arg.role == TensorRole::Operand; });
  if (!chain && (sizes.Hkv <= 0 || sizes.Hq % sizes.Hkv != 0)) // a chain has no heads
    throw AbiError("packParams: Hq = " + std::to_string(sizes.Hq) + " must be a multiple of Hkv = " +
                   std::to_string(sizes.Hkv));

  std::vector<std::byte> out(layout.bytes);
  for (const ParamField &f : layout.fields) {
    int64_t value = 0;
    uint64_t address = 0;
    switch (f.source) {
    case ParamSource::TensorPointer: address = tensors[f.tensor].address; break;
    case ParamSource::TensorStride: value = tensors[f.tensor].strides[f.dim]; break;
    case ParamSource::TensorExtent: value = tensors[f.tensor].shape[f.dim]; break;
    case ParamSource::Size: value = sizes.get(f.size); break;
    case ParamSource::BlockMask: continue; // null: the launch passes its lists separately
    case ParamSource::TileCounter: continue; // null: the launcher writes its counter (tileCounterOffset)
    case ParamSource::SeqStarts: address = f.dim == 0 ? packed->cuSeqlensQ : packed->cuSeqlensK; break;
    case ParamSource::TensorMap:
      if (encodeMap)
        encodeMap(out.data() + f.offset, f, layout.tensors[f.tensor],
                  packed && layout.tensors[f.tensor].arg.role != TensorRole::Capture ? packedTmaBinding(given[f.tensor])
                                                                                     : tensors[f.tensor]);
      continue;
    }
    if (f.source == ParamSource::TensorPointer || f.source == ParamSource::SeqStarts)
      std::memcpy(out.data() + f.offset, &address, 8);
    else
      std::memcpy(out.data() + f.offset, &value, 8);
  }
  return out;
}

} // namespace tilefuse::codegen
