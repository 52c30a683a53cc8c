#include "BlockMaskReference.h"

#include "tilefuse/spec/Eval.h"

#include <stdexcept>

namespace tilefuse::test {

HostBlockMask hostBlockMask(const SpecProblem &p, int blockM, int blockN, bool perHead) {
  const spec::Shape &s = p.shape;
  const int64_t qTiles = (s.Sq + blockM - 1) / blockM, heads = perHead ? s.Hq : 1;
  HostBlockMask m;
  m.kvTiles = (s.Sk + blockN - 1) / blockN;
  m.rows = s.B * heads * qTiles;
  m.kvNumBlocks.assign(std::size_t(m.rows), 0);
  m.fullKvNumBlocks.assign(std::size_t(m.rows), 0);
  m.kvIndices.assign(std::size_t(m.rows * m.kvTiles), -1);
  m.fullKvIndices.assign(std::size_t(m.rows * m.kvTiles), -1);
  parallelFor(std::size_t(m.rows), [&](std::size_t r) {
    const int64_t qt = int64_t(r) % qTiles, h = (int64_t(r) / qTiles) % heads, b = int64_t(r) / qTiles / heads;
    spec::EvalEnv env;
    env.shape = s;
    for (const HostCapture &c : p.captures)
      env.captures.push_back({c.shape, c.values});
    env.b = b, env.h = h;
    for (int64_t t = 0; t < m.kvTiles; ++t) {
      bool any = false, all = (t + 1) * blockN <= s.Sk;
      for (int64_t q = qt * blockM; q < std::min((qt + 1) * blockM, s.Sq); ++q)
        for (int64_t kv = t * blockN; kv < std::min((t + 1) * blockN, s.Sk); ++kv) {
          env.q_idx = q, env.kv_idx = kv;
          const bool keep = p.spec->maskMod ? spec::evaluate(*p.spec->maskMod, env).asBool() : true;
          any |= keep;
          all &= keep;
        }
      if (!any)
        continue;
      if (all)
        m.fullKvIndices[r * std::size_t(m.kvTiles) + std::size_t(m.fullKvNumBlocks[r]++)] = int32_t(t);
      else
        m.kvIndices[r * std::size_t(m.kvTiles) + std::size_t(m.kvNumBlocks[r]++)] = int32_t(t);
    }
  });
  return m;
}

std::vector<int> tileClasses(const std::vector<int32_t> &num, const std::vector<int32_t> &idx,
                             const std::vector<int32_t> &fullNum, const std::vector<int32_t> &fullIdx, int64_t row,
                             int64_t kvTiles) {
  std::vector<int> c(std::size_t(kvTiles), 0);
  auto mark = [&](const std::vector<int32_t> &n, const std::vector<int32_t> &ix, int cls) {
    const int32_t count = n.at(std::size_t(row));
    if (count < 0 || count > kvTiles)
      throw std::runtime_error("block mask row " + std::to_string(row) + ": count " + std::to_string(count) +
                               " outside [0, " + std::to_string(kvTiles) + "]");
    for (int32_t i = 0; i < count; ++i) {
      const int32_t t = ix.at(std::size_t(row * kvTiles + i));
      if (t < 0 || t >= kvTiles || c[std::size_t(t)] != 0)
        throw std::runtime_error("block mask row " + std::to_string(row) + ": tile " + std::to_string(t) +
                                 " out of range or listed twice");
      c[std::size_t(t)] = cls;
    }
  };
  mark(num, idx, 1);
  mark(fullNum, fullIdx, 2);
  return c;
}

} // namespace tilefuse::test
