//===- ReportFormat.cpp - dims parsing, text table and JSON of an IOReport ===//
#include "tilefuse/analysis/IOReport.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <charconv>

namespace tilefuse::analysis {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

std::string dimsText(const Dims &dims) {
  std::string s;
  for (auto &[k, v] : dims)
    s += fmt::format("{}{}={}", s.empty() ? "" : " ", k, v);
  return s;
}

double gib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0); }

nlohmann::ordered_json bytesJson(const TierBytes &b) {
  return {{"hbm_to_smem", b.hbmToSmem}, {"hbm_to_reg", b.hbmToReg}, {"smem_to_reg", b.smemToReg},
          {"reg_to_smem", b.regToSmem}, {"reg_to_hbm", b.regToHbm}, {"smem_to_hbm", b.smemToHbm},
          {"table_read", b.tableRead},  {"hbm_read", b.hbmRead()},  {"hbm_write", b.hbmWrite()}};
}

nlohmann::ordered_json flopsJson(const Flops &f) {
  return {{"matmul", f.matmul}, {"elementwise", f.elementwise}, {"sfu", f.sfu},
          {"reduce", f.reduce}, {"select", f.select},           {"non_matmul", f.nonMatmul()},
          {"total", f.total()}};
}

} // namespace

Dims parseDims(std::string_view text) {
  Dims dims;
  if (trim(text).empty())
    return dims;
  size_t pos = 0;
  while (true) {
    size_t comma = text.find(',', pos);
    std::string_view item =
        trim(comma == std::string_view::npos ? text.substr(pos) : text.substr(pos, comma - pos));
    if (item.empty())
      throw AnalysisError("dims '" + std::string(text) + "': empty entry");
    size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      throw AnalysisError("dims entry '" + std::string(item) + "' is not NAME=EXTENT");
    std::string name(trim(item.substr(0, eq)));
    std::string_view value = trim(item.substr(eq + 1));
    int64_t extent = -1;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), extent);
    if (name.empty() || ec != std::errc() || end != value.data() + value.size() || extent < 0)
      throw AnalysisError("dims entry '" + std::string(item) +
                          "': expected NAME=EXTENT with a non-negative integer extent");
    if (!dims.emplace(name, extent).second)
      throw AnalysisError("dims: '" + name + "' is given twice");
    if (comma == std::string_view::npos)
      return dims;
    pos = comma + 1;
  }
}

std::string formatTable(const IOReport &r) {
  std::string out =
      fmt::format("IO report for @{} at {} (bytes; FLOPs)\n", r.function, dimsText(r.dims));
  const char *rowFmt = "{:<16}{:>10}{:>16}{:>16}{:>16}{:>16}{:>16}{:>16}{:>12}{:>18}{:>17}{:>16}\n";
  out += fmt::format(fmt::runtime(rowFmt), "kernel", "instances", "HBM->SMEM", "HBM->REG",
                     "SMEM->REG", "REG->SMEM", "REG->HBM", "SMEM->HBM", "table-read", "matmul-FLOP",
                     "other-FLOP", "SFU-FLOP");
  auto row = [&](const std::string &name, const std::string &instances, const TierBytes &b,
                 const Flops &f) {
    out += fmt::format(fmt::runtime(rowFmt), name, instances, b.hbmToSmem, b.hbmToReg, b.smemToReg,
                       b.regToSmem, b.regToHbm, b.smemToHbm, b.tableRead, f.matmul, f.nonMatmul(),
                       f.sfu);
  };
  for (const KernelIO &k : r.kernels)
    row(k.name, std::to_string(k.instances), k.bytes, k.flops);
  row("total", "", r.bytes, r.flops);
  const int64_t hbm = r.bytes.hbmRead() + r.bytes.hbmWrite();
  out += fmt::format("HBM read {} B ({:.3f} GiB), written {} B ({:.3f} GiB); FLOPs matmul {}, "
                     "other {}; arithmetic intensity {:.2f} FLOP/B\n",
                     r.bytes.hbmRead(), gib(r.bytes.hbmRead()), r.bytes.hbmWrite(),
                     gib(r.bytes.hbmWrite()), r.flops.matmul, r.flops.nonMatmul(),
                     hbm ? static_cast<double>(r.flops.total()) / static_cast<double>(hbm) : 0.0);
  for (const std::string &why : r.upperBound)
    out += "upper bound: " + why + "\n";
  return out;
}

std::string toJson(const IOReport &r, int indent) {
  nlohmann::ordered_json j;
  j["function"] = r.function;
  j["dims"] = nlohmann::ordered_json::object();
  for (auto &[k, v] : r.dims)
    j["dims"][k] = v;
  j["kernels"] = nlohmann::ordered_json::array();
  for (const KernelIO &k : r.kernels)
    j["kernels"].push_back({{"name", k.name},
                            {"grid", k.grid},
                            {"instances", k.instances},
                            {"bytes", bytesJson(k.bytes)},
                            {"flops", flopsJson(k.flops)}});
  j["total"] = {{"bytes", bytesJson(r.bytes)}, {"flops", flopsJson(r.flops)}};
  j["upper_bound"] = r.upperBound;
  return j.dump(indent);
}

} // namespace tilefuse::analysis
