// Device buffers and Fa2Params for one attention problem, shared by the FA2 reference and wgmma
// kernel tests: Q, K, V random (never zeros), O and LSE poisoned with NaN before every launch.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "AttentionReference.h"
#include "GpuTest.h"
#include "fa2_params.h"
#include "tilefuse/runtime/Resources.h"

namespace tilefuse::test {

/// Device buffers for one problem: Q [B,Sq,Hq,D] (BSHD), K/V [B,Hkv,Sk,D] (BHSD), O [B,Sq,Hq,D] with
/// 8 padding elements per row, LSE [B,Hq,Sq]; everything poisoned/filled and params set.
struct DeviceProblem {
  AttentionProblem p;
  AttentionInputs in;
  Strides os;
  std::size_t oElems = 0, lseElems = 0;
  runtime::DeviceBuffer q, k, v, o, lse;
  Fa2Params params{};

  explicit DeviceProblem(const AttentionProblem &problem) : p(problem) {
    const long long D = p.headDim;
    in.qs = {p.seqQ * p.headsQ * D, D, p.headsQ * D};
    in.ks = in.vs = {p.headsKv * p.seqK * D, p.seqK * D, D};
    os = {0, D, p.headsQ * D + 8};
    os.batch = p.seqQ * os.row;
    in.q = randomHalves(p.dtype, std::size_t(p.batch) * in.qs.batch);
    in.k = randomHalves(p.dtype, std::size_t(p.batch) * in.ks.batch);
    in.v = randomHalves(p.dtype, std::size_t(p.batch) * in.vs.batch);
    oElems = std::size_t(p.batch) * os.batch;
    lseElems = std::size_t(p.batch) * p.headsQ * p.seqQ;
    using runtime::DeviceBuffer;
    q = DeviceBuffer(in.q.size() * 2), k = DeviceBuffer(in.k.size() * 2), v = DeviceBuffer(in.v.size() * 2);
    o = DeviceBuffer(oElems * 2), lse = DeviceBuffer(lseElems * 4); // bytes: 16-bit O, fp32 LSE
    q.upload(in.q), k.upload(in.k), v.upload(in.v);
    o.fill(0xFF), lse.fill(0xFF); // NaN
    params.q = reinterpret_cast<const void *>(q.get());
    params.k = reinterpret_cast<const void *>(k.get());
    params.v = reinterpret_cast<const void *>(v.get());
    params.o = reinterpret_cast<void *>(o.get());
    params.lse = reinterpret_cast<float *>(lse.get());
    params.q_batch_stride = in.qs.batch, params.q_head_stride = in.qs.head, params.q_row_stride = in.qs.row;
    params.k_batch_stride = in.ks.batch, params.k_head_stride = in.ks.head, params.k_row_stride = in.ks.row;
    params.v_batch_stride = in.vs.batch, params.v_head_stride = in.vs.head, params.v_row_stride = in.vs.row;
    params.o_batch_stride = os.batch, params.o_head_stride = os.head, params.o_row_stride = os.row;
    params.lse_batch_stride = std::int64_t(p.headsQ) * p.seqQ, params.lse_head_stride = p.seqQ;
    params.batch = p.batch, params.heads_q = p.headsQ, params.heads_kv = p.headsKv;
    params.seqlen_q = p.seqQ, params.seqlen_k = p.seqK;
    params.softmax_scale = float(p.scale());
    params.scale_log2 = float(p.scale() * M_LOG2E);
  }
};

} // namespace tilefuse::test
