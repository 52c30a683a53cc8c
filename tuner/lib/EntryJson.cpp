//===- EntryJson.cpp - cache entry <-> JSON, checked on the way in --------===//
//
// {"format": "tilefuse-cache-entry", "format_version": 1,
//  "key": {...CacheKey::toJson...},
//  "schedule": {...Schedule::toJson...},
//  "tuning": {"tuned_shape": {...}, "median_ms", "tflops", "default_ms", "default_schedule", ...,
//             "objective", and when measured "joules_per_call" (J), "watts" (W)},
//  "launch": {"kernel_name", "threads_per_block", "dynamic_smem_bytes", "grid": {...}, "params": {...}},
//  "cubin": {"bytes": N, "sha256": "...", "base64": "..."}}
//
#include "tilefuse/tuner/Cache.h"
#include "tilefuse/spec/Json.h"

#include "Encoding.h"

#include <nlohmann/json.hpp>

#include <cstdio>

namespace tilefuse::tuner {
namespace {

using nlohmann::json;

constexpr const char *kFormat = "tilefuse-cache-entry";

json shapeJson(const spec::Shape &s) {
  return {{"B", s.B}, {"Hq", s.Hq}, {"Hkv", s.Hkv}, {"Sq", s.Sq},
          {"Sk", s.Sk}, {"D", s.D}, {"Dv", s.Dv}};
}

std::string_view sourceSpelling(codegen::ParamSource s) {
  switch (s) {
  case codegen::ParamSource::TensorPointer: return "pointer";
  case codegen::ParamSource::TensorStride: return "stride";
  case codegen::ParamSource::TensorExtent: return "extent";
  case codegen::ParamSource::Size: return "size";
  case codegen::ParamSource::TensorMap: return "tensor_map";
  case codegen::ParamSource::BlockMask: return "block_mask";
  case codegen::ParamSource::SeqStarts: return "seq_starts";
  case codegen::ParamSource::TileCounter: return "tile_counter";
  }
  return "?";
}

json gridDimJson(const codegen::GridDimRule &r) { return {{"size", r.size}, {"divisor", r.divisor}}; }

json launchJson(const LaunchInfo &l) {
  json tensors = json::array();
  for (const codegen::TensorAbi &t : l.params.tensors)
    tensors.push_back({{"role", std::string(codegen::spelling(t.arg.role))},
                       {"name", t.arg.name},
                       {"rank", t.rank},
                       {"element_bytes", t.elementBytes},
                       {"element_type", t.elementType},
                       {"dim_names", t.dimNames},
                       {"written", t.written},
                       {"needs_16_byte_rows", t.needs16ByteRows}});
  json fields = json::array();
  for (const codegen::ParamField &f : l.params.fields) {
    json field = {{"name", f.name},     {"source", std::string(sourceSpelling(f.source))},
                  {"tensor", f.tensor}, {"dim", f.dim},
                  {"size", f.size},     {"offset", f.offset}};
    if (f.source == codegen::ParamSource::TensorMap) // the TMA box, in elements
      field["box_rows"] = f.boxRows, field["box_cols"] = f.boxCols;
    fields.push_back(std::move(field));
  }
  json params = {{"tensors", tensors}, {"fields", fields}, {"bytes", l.params.bytes}};
  if (l.params.packed) // absent in every entry of a kernel for batched tensors
    params["packed"] = true;
  if (l.params.blockMask.present) // absent in entries of kernels without one (and before format 2's masks)
    params["block_mask"] = {{"block_m", l.params.blockMask.blockM},
                            {"block_n", l.params.blockMask.blockN},
                            {"per_head", l.params.blockMask.perHead}};
  json out = {{"kernel_name", l.kernelName},
              {"threads_per_block", l.threadsPerBlock},
              {"dynamic_smem_bytes", l.dynamicSmemBytes},
              {"grid",
               {{"x", gridDimJson(l.grid.x)},
                {"y", gridDimJson(l.grid.y)},
                {"z", gridDimJson(l.grid.z)},
                {"persistent", l.grid.persistent}}},
              {"params", params}};
  if (l.grid.cluster != 1) // absent in every entry of a kernel without clusters
    out["grid"]["cluster"] = l.grid.cluster;
  if (l.grid.packedTiles) // absent in every other entry (and in packed entries before v0.15: their kernels
    out["grid"]["packed_tiles"] = true; // map a grid of (max_seqlen_q tiles, Hq, B) blocks)
  return out;
}

/// Reads fields of a JSON object, naming the path of a missing or mistyped one.
class Reader {
public:
  Reader(const json &j, std::string path) : j_(j), path_(std::move(path)) {
    if (!j_.is_object())
      fail("", "is not an object");
  }
  const json &at(const char *key) const {
    auto it = j_.find(key);
    if (it == j_.end())
      fail(key, "is missing");
    return *it;
  }
  Reader object(const char *key) const { return Reader(at(key), name(key)); }
  std::string str(const char *key) const {
    const json &v = at(key);
    if (!v.is_string())
      fail(key, "must be a string");
    return v.get<std::string>();
  }
  int64_t integer(const char *key) const {
    const json &v = at(key);
    if (!v.is_number_integer() ||
        (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t{INT64_MAX}))
      fail(key, "must be an integer within int64");
    return v.get<int64_t>();
  }
  /// An integer field stored in an int: out-of-range values are errors, not truncated.
  int smallInt(const char *key) const {
    int64_t v = integer(key);
    if (v < INT32_MIN || v > INT32_MAX)
      fail(key, "is " + std::to_string(v) + ", out of the range of int");
    return static_cast<int>(v);
  }
  double number(const char *key) const {
    const json &v = at(key);
    if (!v.is_number())
      fail(key, "must be a number");
    return v.get<double>();
  }
  bool has(const char *key) const { return j_.contains(key); }
  bool boolean(const char *key) const {
    const json &v = at(key);
    if (!v.is_boolean())
      fail(key, "must be true or false");
    return v.get<bool>();
  }
  const json &array(const char *key) const {
    const json &v = at(key);
    if (!v.is_array())
      fail(key, "must be an array");
    return v;
  }
  std::string name(const std::string &key) const { return path_.empty() ? key : path_ + "." + key; }
  [[noreturn]] void fail(const std::string &key, const std::string &what) const {
    throw CacheError("field '" + (key.empty() ? path_ : name(key)) + "' " + what);
  }

private:
  const json &j_;
  std::string path_;
};

spec::Shape readShape(const Reader &r) {
  spec::Shape s;
  s.B = r.integer("B"), s.Hq = r.integer("Hq"), s.Hkv = r.integer("Hkv");
  s.Sq = r.integer("Sq"), s.Sk = r.integer("Sk"), s.D = r.integer("D"), s.Dv = r.integer("Dv");
  return s;
}

spec::DType readDType(const Reader &r, const char *key) {
  std::string d = r.str(key);
  if (d == "bf16")
    return spec::DType::BF16;
  if (d == "fp16")
    return spec::DType::FP16;
  r.fail(key, "must be \"bf16\" or \"fp16\", got \"" + d + "\"");
}

codegen::Schedule readSchedule(const Reader &r, const char *key) {
  try {
    codegen::Schedule s = codegen::scheduleFromJson(tilefuse::spec::dumpJson(r.at(key)));
    s.validate();
    return s;
  } catch (const codegen::ScheduleError &e) {
    r.fail(key, std::string("is not a valid schedule: ") + e.what());
  }
}

/// An optional objective field: absent means time (entries made before objectives existed).
Objective readObjective(const Reader &r, const char *key) {
  if (!r.has(key))
    return Objective::Time;
  std::string text = r.str(key);
  try {
    return objectiveFromString(text);
  } catch (const std::invalid_argument &) {
    r.fail(key, "must be \"time\", \"energy\" or \"edp\", got \"" + text.substr(0, 40) + "\"");
  }
}

CacheKey readKey(const Reader &r) {
  CacheKey k;
  k.device.name = r.str("gpu");
  std::string cc = r.str("cc");
  if (std::sscanf(cc.c_str(), "%d.%d", &k.device.ccMajor, &k.device.ccMinor) != 2)
    r.fail("cc", "must be \"<major>.<minor>\", got \"" + cc + "\"");
  k.device.smCount = r.smallInt("sm_count");
  k.device.driverVersion = r.smallInt("driver");
  k.nvrtcVersion = r.str("nvrtc");
  k.tilefuseVersion = r.str("tilefuse");
  k.bucketRule = r.str("bucket_rule");
  k.specName = r.str("spec");
  k.specHash = r.str("spec_hash");
  k.dtype = readDType(r, "dtype");
  spec::Shape s = readShape(r.object("shape_bucket"));
  k.shape = {s.B, s.Hq, s.Hkv, s.Sq, s.Sk, s.D, s.Dv};
  k.objective = readObjective(r, "objective");
  if (r.has("mask_density")) { // absent: a spec whose mask reads no captures (validateKey checks the value)
    k.maskDensity = r.smallInt("mask_density");
    if (k.maskDensity == 0)
      r.fail("mask_density", "is 0; expected a power of two from 1 to " + std::to_string(kMaskDensityMaxDenominator));
  }
  validateKey(k);
  return k;
}

codegen::GridDimRule readGridDim(const Reader &r) {
  return {r.str("size"), r.integer("divisor")};
}

LaunchInfo readLaunch(const Reader &r) {
  LaunchInfo l;
  l.kernelName = r.str("kernel_name");
  l.threadsPerBlock = r.smallInt("threads_per_block");
  l.dynamicSmemBytes = static_cast<std::size_t>(r.integer("dynamic_smem_bytes"));
  Reader grid = r.object("grid");
  l.grid = {readGridDim(grid.object("x")), readGridDim(grid.object("y")), readGridDim(grid.object("z"))};
  l.grid.persistent = grid.boolean("persistent");
  l.grid.packedTiles = grid.has("packed_tiles") && grid.boolean("packed_tiles");
  if (grid.has("cluster")) {
    l.grid.cluster = grid.smallInt("cluster");
    if (l.grid.cluster != 1 && l.grid.cluster != 2)
      grid.fail("cluster", "must be 1 or 2");
  }
  Reader params = r.object("params");
  l.params.bytes = static_cast<std::size_t>(params.integer("bytes"));
  // Packed sequences (ParamLayout::packed): before v0.19 an entry lost the flag, and a cached packed kernel
  // was then refused at launch ("cu_seqlens given, but the kernel is for batched tensors").
  l.params.packed = params.has("packed") && params.boolean("packed");
  if (params.has("block_mask")) {
    Reader bm = params.object("block_mask");
    l.params.blockMask.present = true;
    l.params.blockMask.blockM = bm.smallInt("block_m");
    l.params.blockMask.blockN = bm.smallInt("block_n");
    l.params.blockMask.perHead = bm.boolean("per_head");
    if (l.params.blockMask.blockM < 1 || l.params.blockMask.blockM > 1024)
      bm.fail("block_m", "must be in [1, 1024]");
    if (l.params.blockMask.blockN < 1 || l.params.blockMask.blockN > 1024)
      bm.fail("block_n", "must be in [1, 1024]");
  }
  const json &tensors = params.array("tensors");
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    Reader t(tensors[i], params.name("tensors[" + std::to_string(i) + "]"));
    codegen::TensorAbi abi;
    std::string role = t.str("role");
    using codegen::TensorRole;
    bool known = false;
    for (TensorRole cand : {TensorRole::Q, TensorRole::K, TensorRole::V, TensorRole::O,
                            TensorRole::LSE, TensorRole::Capture})
      if (codegen::spelling(cand) == role)
        abi.arg.role = cand, known = true;
    if (!known)
      t.fail("role", "is not a tensor role: \"" + role + "\"");
    abi.arg.name = t.str("name");
    abi.rank = t.smallInt("rank");
    abi.elementBytes = t.smallInt("element_bytes");
    abi.elementType = t.str("element_type");
    for (const json &d : t.array("dim_names")) {
      if (!d.is_string())
        t.fail("dim_names", "must hold strings");
      abi.dimNames.push_back(d.get<std::string>());
    }
    abi.written = t.boolean("written");
    abi.needs16ByteRows = t.boolean("needs_16_byte_rows");
    l.params.tensors.push_back(std::move(abi));
  }
  const json &fields = params.array("fields");
  for (std::size_t i = 0; i < fields.size(); ++i) {
    Reader f(fields[i], params.name("fields[" + std::to_string(i) + "]"));
    codegen::ParamField field;
    field.name = f.str("name");
    std::string source = f.str("source");
    using codegen::ParamSource;
    bool known = false;
    for (ParamSource cand : {ParamSource::TensorPointer, ParamSource::TensorStride,
                             ParamSource::TensorExtent, ParamSource::Size, ParamSource::TensorMap,
                             ParamSource::BlockMask, ParamSource::SeqStarts, ParamSource::TileCounter})
      if (sourceSpelling(cand) == source)
        field.source = cand, known = true;
    if (!known)
      f.fail("source", "is not a parameter source: \"" + source + "\"");
    field.tensor = f.smallInt("tensor");
    field.dim = f.smallInt("dim");
    field.size = f.str("size");
    field.offset = static_cast<std::size_t>(f.integer("offset"));
    if (field.tensor >= static_cast<int>(l.params.tensors.size()))
      f.fail("tensor", "is out of range");
    if (field.source == ParamSource::BlockMask && (!l.params.blockMask.present || field.dim < 0 || field.dim > 3))
      f.fail("dim", "must name one of the four lists (0 to 3) of a kernel with a \"block_mask\"");
    if (field.source == ParamSource::TensorMap) {
      if (field.tensor < 0)
        f.fail("tensor", "is out of range");
      field.boxRows = f.smallInt("box_rows");
      field.boxCols = f.smallInt("box_cols");
      // cuTensorMapEncodeTiled: box extents in [1, 256].
      if (field.boxRows < 1 || field.boxRows > 256)
        f.fail("box_rows", "must be in [1, 256]");
      if (field.boxCols < 1 || field.boxCols > 256)
        f.fail("box_cols", "must be in [1, 256]");
    }
    l.params.fields.push_back(std::move(field));
  }
  return l;
}

} // namespace

std::string entryToJson(const CacheEntry &e, int indent) {
  const TuningRecord &t = e.tuning;
  json j = {
      {"format", kFormat},
      {"format_version", kEntryFormatVersion},
      {"key", json::parse(e.key.toJson())},
      {"schedule", json::parse(e.schedule.toJson())},
      {"tuning",
       {{"tuned_shape", shapeJson(t.tunedShape)},
        {"median_ms", t.medianMs},
        {"tflops", t.tflops},
        {"default_ms", t.defaultMs},
        {"default_schedule", json::parse(t.defaultSchedule.toJson())},
        {"useful_flops", t.usefulFlops},
        {"flops_rule", t.flopsRule},
        {"tuning_seconds", t.tuningSeconds},
        {"candidates_timed", t.candidatesTimed},
        {"candidates_pruned", t.candidatesPruned},
        {"candidates_failed", t.candidatesFailed},
        {"registers", t.registers},
        {"spill_bytes", t.spillBytes},
        {"created_at", t.createdAt},
        {"objective", std::string(spelling(e.key.objective))}}},
      {"launch", launchJson(e.launch)},
      {"cubin",
       {{"bytes", e.cubin.size()},
        {"sha256", detail::sha256Hex(e.cubin.data(), e.cubin.size())},
        {"base64", detail::base64Encode(e.cubin.data(), e.cubin.size())}}}};
  if (t.joulesPerCall > 0) // measured (objective energy or edp)
    j["tuning"]["joules_per_call"] = t.joulesPerCall, j["tuning"]["watts"] = t.watts;
  return tilefuse::spec::dumpJson(j, indent) + "\n";
}

CacheEntry entryFromJson(const std::string &text) {
  json j;
  try {
    j = spec::parseUntrustedJson(text);
  } catch (const spec::JsonInputError &e) {
    throw CacheError(std::string("not valid JSON (") + e.what() + ")");
  }
  Reader r(j, "");
  if (r.str("format") != kFormat)
    r.fail("format", "is not \"" + std::string(kFormat) + "\"");
  if (int64_t v = r.integer("format_version"); v != kEntryFormatVersion)
    throw CacheFormatVersionError("field 'format_version' is " + std::to_string(v) + ", this Tilefuse reads " +
                                  std::to_string(kEntryFormatVersion));
  CacheEntry e;
  e.key = readKey(r.object("key"));
  e.schedule = readSchedule(r, "schedule");
  Reader t = r.object("tuning");
  TuningRecord &rec = e.tuning;
  rec.tunedShape = readShape(t.object("tuned_shape"));
  rec.medianMs = t.number("median_ms");
  rec.tflops = t.number("tflops");
  rec.defaultMs = t.number("default_ms");
  rec.defaultSchedule = readSchedule(t, "default_schedule");
  rec.usefulFlops = t.number("useful_flops");
  rec.flopsRule = t.str("flops_rule");
  rec.tuningSeconds = t.number("tuning_seconds");
  rec.candidatesTimed = t.smallInt("candidates_timed");
  rec.candidatesPruned = t.smallInt("candidates_pruned");
  rec.candidatesFailed = t.smallInt("candidates_failed");
  rec.registers = t.smallInt("registers");
  rec.spillBytes = t.smallInt("spill_bytes");
  rec.createdAt = t.str("created_at");
  if (readObjective(t, "objective") != e.key.objective)
    t.fail("objective", "is \"" + t.str("objective") + "\" but the key's objective is " +
                            std::string(spelling(e.key.objective)));
  if (t.has("joules_per_call")) {
    rec.joulesPerCall = t.number("joules_per_call");
    rec.watts = t.number("watts");
    if (!(rec.joulesPerCall > 0) || !(rec.watts >= 0))
      t.fail("joules_per_call", "must be > 0 J (with watts >= 0 W)");
  }
  e.launch = readLaunch(r.object("launch"));
  Reader c = r.object("cubin");
  std::string expected = c.str("sha256");
  if (!detail::base64Decode(c.str("base64"), e.cubin))
    c.fail("base64", "is not valid base64");
  if (static_cast<int64_t>(e.cubin.size()) != c.integer("bytes"))
    c.fail("bytes", "is " + std::to_string(c.integer("bytes")) + " but the CUBIN has " +
                        std::to_string(e.cubin.size()) + " bytes");
  if (e.cubin.empty())
    c.fail("bytes", "is 0 (an entry always holds a CUBIN)");
  std::string actual = detail::sha256Hex(e.cubin.data(), e.cubin.size());
  if (actual != expected)
    throw CacheError("CUBIN SHA-256 mismatch: entry says " + expected + ", content is " + actual);
  if (!(rec.medianMs > 0))
    t.fail("median_ms", "must be > 0");
  return e;
}

} // namespace tilefuse::tuner
