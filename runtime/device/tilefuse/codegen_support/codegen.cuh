// Helpers that generated kernels (compiler/lib/codegen) use on top of the device library: element-wise
// maps over register fragments addressed by position, reductions without a running value, exp via exp2,
// clamped reads of captured tables, stores of 16-bit register tiles, integer ops with MLIR `arith`
// semantics (unsigned division, floor division). NVRTC-safe: no host headers.
//
// A generated kernel refers to this namespace as `tfcg`.
#pragma once
#include "../device.cuh"
#include "tile_order.h"

namespace tilefuse {
namespace codegen_support {

using namespace tilefuse::device;

// ---------------------------------------------------------------------------------------------------
// Fragment positions and element-wise maps

/// Position of one element in a register tile held by this lane: base tile (i, j), pair p, element e
/// (types.cuh). The same position names the same (row, col) in every tile of one shape and layout, so
/// a map reads its inputs at the position it writes.
struct fidx {
  int i, j, p, e;
};

/// The element of `t` at `x`.
template <typename T, int R, int C, typename L> TF_DEVICE T &at(rt<T, R, C, L> &t, fidx x) {
  return x.e ? t.tiles[x.i][x.j][x.p].y : t.tiles[x.i][x.j][x.p].x;
}
template <typename T, int R, int C, typename L> TF_DEVICE const T &at(const rt<T, R, C, L> &t, fidx x) {
  return x.e ? t.tiles[x.i][x.j][x.p].y : t.tiles[x.i][x.j][x.p].x;
}
/// The row value of `v` for the row of position `x` (a row vector broadcast along the columns).
template <int R> TF_DEVICE float &at(rv<R> &v, fidx x) { return v.data[x.i][x.p & 1]; }
template <int R> TF_DEVICE const float &at(const rv<R> &v, fidx x) { return v.data[x.i][x.p & 1]; }

/// Two computed values as one packed pair of T: f32 values are rounded to nearest (the `arith.truncf`
/// a map ends with is folded into this conversion).
template <typename T> struct pack_pair {
  static TF_DEVICE typename packed2<T>::type make(float a, float b) {
    return packed2<T>::from_float2(make_float2(a, b));
  }
  template <typename U> static TF_DEVICE typename packed2<T>::type make(U a, U b) {
    typename packed2<T>::type out;
    out.x = a;
    out.y = b;
    return out;
  }
};

/// dst(row, col) = f(x, row, col) for every element this lane holds, row-layout tile. `row0` is the
/// tile row of this warp's first fragment row (the warp's slice of the row block); `row`, `col` are
/// coordinates in the block's tile. f reads inputs of the same shape with at(tile, x); it may read
/// dst itself (in place): both elements of a pair are computed before the pair is written.
template <typename T, int R, int C, typename F> TF_DEVICE void map(rt<T, R, C, layout::row> &dst, int row0, F &&f) {
  using Tile = rt<T, R, C, layout::row>;
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int j = 0; j < C / 16; ++j)
#pragma unroll
      for (int p = 0; p < 4; ++p) {
        const int row = row0 + Tile::row_of(i, p, 0);
        const int col = Tile::col_of(j, p, 0);
        const auto a = f(fidx{i, j, p, 0}, row, col);
        const auto b = f(fidx{i, j, p, 1}, row, col + 1);
        dst.tiles[i][j][p] = pack_pair<T>::make(a, b);
      }
}

/// The column of position x as col_base(x) + col_offset(x): the part that depends on the lane only
/// (2 (lane & 3)) and the compile-time part of position x. An element code that multiplies a column by a
/// tile-uniform u adds u * col_base_f32(x) into its per-row term, leaving u times a constant per element
/// (one FFMA with an immediate). ElementCode writes a position comparison `col PRED r` as
/// `col_offset(x) PRED r - col_base(x)`: the right side is the same for every element of a row (two values
/// per lane and row block), so each element costs one compare with an immediate.
TF_DEVICE int col_base(fidx) { return 2 * (laneid() & 3); }
TF_DEVICE int col_offset(fidx x) { return 16 * x.j + 8 * (x.p >> 1) + x.e; }
TF_DEVICE float col_base_f32(fidx x) { return static_cast<float>(col_base(x)); }
TF_DEVICE float col_offset_f32(fidx x) { return static_cast<float>(col_offset(x)); }

/// The column of position x of a row-layout tile (map's `col`) as f32: one conversion per thread
/// (2 (lane & 3)) plus a constant once the map's loops are unrolled, not one conversion per element.
TF_DEVICE float col_f32(fidx x) { return col_base_f32(x) + col_offset_f32(x); }

/// The diagonal of position x in the lane's fragment: col - row = 2 (lane & 3) - (lane >> 2) + 8 diag_of(x) + x.e
/// (row, col relative to the warp's first row), diag_of(x) in [1 - R / 8, C / 8 - 1] for rt<., R, C>. A value
/// that depends on the position only through kv_idx - q_idx is computed once per (diagonal, e) into a
/// table the element code indexes with it (compiler/lib/codegen/ElementCode.cpp, diagonal tables).
TF_DEVICE int diag_of(fidx x) { return 2 * x.j + (x.p >> 1) - 2 * x.i - (x.p & 1); }

/// dst(row) = f(x, row, 0) for every row value this lane holds (x.p & 1 selects the row half).
template <int R, typename F> TF_DEVICE void map(rv<R> &dst, int row0, F &&f) {
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) dst.data[i][h] = f(fidx{i, 0, h, 0}, row0 + rv<R>::row_of(i, h), 0);
}

// ---------------------------------------------------------------------------------------------------
// Reductions and the exponential

TF_DEVICE float inf() { return __int_as_float(0x7f800000); }

/// dst[r] = max_c src[r][c] (-inf for an all -inf row).
template <int R, int C> TF_DEVICE void row_max(rv<R> &dst, const rt<float, R, C> &src) {
  rv<R> identity;
  warp::fill(identity, -inf());
  warp::row_max(dst, src, identity);
}

/// dst[r] = sum_c src[r][c].
template <int R, int C> TF_DEVICE void row_sum(rv<R> &dst, const rt<float, R, C> &src) {
  rv<R> identity;
  warp::fill(identity, 0.0f);
  warp::row_sum(dst, src, identity);
}

namespace detail {
/// Reduces f over this lane's elements of each row of an R x C row-layout fragment, then across the
/// quad (the 4 lanes sharing a row), then with `accum` when given.
template <typename Op, int C, int R, typename F>
TF_DEVICE void row_reduce_of(rv<R> &dst, const rv<R> *accum, int row0, F &&f) {
  using Tile = rt<float, R, C>;
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int h = 0; h < 2; ++h) { // pairs h and h + 2 hold row 16i + g + 8h
      const int row = row0 + Tile::row_of(i, h, 0);
      float x = f(fidx{i, 0, h, 0}, row, Tile::col_of(0, h, 0));
      x = Op::apply(x, f(fidx{i, 0, h, 1}, row, Tile::col_of(0, h, 1)));
#pragma unroll
      for (int j = 0; j < C / 16; ++j)
#pragma unroll
        for (int p = h; p < 4; p += 2)
#pragma unroll
          for (int e = 0; e < 2; ++e)
            if (j != 0 || p != h)
              x = Op::apply(x, f(fidx{i, j, p, e}, row, Tile::col_of(j, p, e)));
      x = Op::apply(x, __shfl_xor_sync(0xffffffffu, x, 1));
      x = Op::apply(x, __shfl_xor_sync(0xffffffffu, x, 2));
      dst.data[i][h] = accum ? Op::apply(x, accum->data[i][h]) : x;
    }
}
} // namespace detail

/// dst[r] = max(accum[r], max_c f(x, row, col)) over the columns of a C-column row block: the row max of
/// an element-wise value that is never kept (the masked scores of a tile go straight into the max).
/// dst may alias accum.
template <int C, int R, typename F> TF_DEVICE void row_max_of(rv<R> &dst, const rv<R> &accum, int row0, F &&f) {
  detail::row_reduce_of<warp::detail::op_max, C>(dst, &accum, row0, f);
}
template <int C, int R, typename F> TF_DEVICE void row_max_of(rv<R> &dst, int row0, F &&f) {
  detail::row_reduce_of<warp::detail::op_max, C>(dst, static_cast<const rv<R> *>(nullptr), row0, f);
}
/// dst[r] = accum[r] + sum_c f(x, row, col) (see row_max_of).
template <int C, int R, typename F> TF_DEVICE void row_sum_of(rv<R> &dst, const rv<R> &accum, int row0, F &&f) {
  detail::row_reduce_of<warp::detail::op_sum, C>(dst, &accum, row0, f);
}
template <int C, int R, typename F> TF_DEVICE void row_sum_of(rv<R> &dst, int row0, F &&f) {
  detail::row_reduce_of<warp::detail::op_sum, C>(dst, static_cast<const rv<R> *>(nullptr), row0, f);
}

constexpr float LOG2E = 1.4426950408889634f;

/// e^x = 2^(x log2 e) with MUFU.EX2 (relative error about 2^-22; e^-inf = 0).
TF_DEVICE float exp(float x) { return fast_exp2(x * LOG2E); }

constexpr float LN2 = 0.6931471805599453f;

/// ln x = log2(x) ln 2 with MUFU.LG2 (lg2.approx.ftz: absolute error at most 2^-22 on [0.5, 2], 2 ulp of
/// log2 x elsewhere; CUDA C++ Programming Guide, intrinsic functions). ln 0 = -inf.
TF_DEVICE float log(float x) { return fast_log2(x) * LN2; }

/// ln(1 + x) with one MUFU.LG2: for |x| < 1/64 the series x - x^2/2 + ... - x^6/6 (truncation below 2^-40
/// relative), else ln of the rounded 1 + x (absolute error about 2^-22, which is relative error below 2^-16
/// there). Softplus, log1p(e^-|s|), is its main user.
TF_DEVICE float log1p(float x) {
  const float series = x * fmaf(x, fmaf(x, fmaf(x, fmaf(x, fmaf(x, -1.0f / 6, 0.2f), -0.25f), 1.0f / 3), -0.5f), 1.0f);
  return fabsf(x) < 0.015625f ? series : fast_log2(1.0f + x) * LN2;
}

/// tanh(x) by tanh.approx.f32 (sm_75+; PTX ISA 9.7.4.x): one MUFU.TANH, maximum relative error about
/// 2^-11 (ptxas documentation), so a soft-cap c * tanh(s / c) costs two FMULs and one MUFU per score.
TF_DEVICE float fast_tanh(float x) {
  float y;
  asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

/// 1 / d for d >= 1 (or NaN) on the FMA pipe, where __fdividef would spend a MUFU.RCP: the generator
/// picks it for a denominator it proves >= 1, such as sigmoid's 1 + e^-x, whose e^-x already takes
/// the score's MUFU slot. The seed 0x7EF311C7 - bits(d) (the exponent negated, the mantissa roughly
/// reflected; relative error <= 5.1e-2 over every binade) and two Newton steps r += r (1 - d r), each
/// squaring the error: relative error <= 6.6e-6 for d < 2^125, fp32 rounding included (emulated over
/// 800k points of [1, 2^125)); MUFU.RCP's is about 1 ulp, P's bf16 rounding 2^-9. A result below
/// 2^-125 is subnormal (or 0 where subnormals flush). d is clamped to 2^126 first (the seed of a larger
/// d, or of +inf, would not be a positive float), and min.NaN keeps a NaN d NaN. Two ALU instructions
/// and four FFMAs.
TF_DEVICE float rcp_ge1(float d) {
  float dc;
  asm("min.NaN.f32 %0, %1, %2;" : "=f"(dc) : "f"(d), "f"(0x1p126f));
  float r = __int_as_float(0x7EF311C7 - __float_as_int(dc));
  float e = fmaf(-dc, r, 1.0f);
  r = fmaf(r, e, r);
  e = fmaf(-dc, r, 1.0f);
  return fmaf(r, e, r);
}

/// e^(a - b) = 2^(a log2 e - b log2 e): one FFMA and one MUFU.EX2 per element, b log2 e is shared by
/// a row (FlashAttention-2's base-2 softmax, Dao 2023, Sec. 3.1). Same value as exp(a - b) up to
/// rounding; a = -inf gives 0.
TF_DEVICE float exp_diff(float a, float b) { return fast_exp2(fmaf(a, LOG2E, -b * LOG2E)); }

/// e^(x c - b) = 2^(x (c log2 e) - b log2 e) for a constant c > 0: still one FFMA per element (c log2 e
/// folds at compile time). Same value as exp(x * c - b) up to the rounding of c log2 e; x = -inf gives 0.
TF_DEVICE float exp_diff_scaled(float x, float c, float b) { return fast_exp2(fmaf(x, c * LOG2E, -b * LOG2E)); }

/// e^(x c + b) = 2^(x (c log2 e) + b log2 e) for a constant c: one FFMA (c log2 e folds at compile
/// time, b log2 e is shared by the elements) and one MUFU.EX2, where e^(-(x c - b)) written out costs
/// an FFMA, an FMUL by -log2 e and the EX2 (sigmoid's 1 / (1 + e^-(s c - b))). Same value up to the
/// rounding of c log2 e and b log2 e.
TF_DEVICE float exp_affine(float x, float c, float b) { return fast_exp2(fmaf(x, c * LOG2E, b * LOG2E)); }

/// 2^x on the FMA pipe instead of MUFU.EX2 (FlashAttention-4's software exponential): x = n + f with
/// n = floor(x), 2^f by the cubic 1 + f (a + f (b + f c)) through (0, 1) and (1, 2), fitted for relative
/// error (at most 1.03e-4 on [0, 1), far below the 2^-8 of P's bf16 / fp16 rounding), and n added to
/// the exponent bits. For x <= 127 (the softmax's x <= 0); x < -126 gives 0 (as ex2.approx.ftz flushes
/// the subnormals), -inf too; NaN stays NaN. Seven FMA-pipe instructions against one MUFU slot, whose
/// 16 results per clock per SM are a quarter of the FMA pipe's rate.
TF_DEVICE float exp2_fma(float x) {
  const float xc = x < -127.0f ? -127.0f : x;
  const float n = floorf(xc);
  const float f = xc - n;
  const float p = fmaf(fmaf(fmaf(0.0782679682f, f, 0.226307680f), f, 0.695424351f), f, 1.0f);
  const float r = __int_as_float(__float_as_int(p) + (static_cast<int>(n) << 23));
  return x < -126.0f ? 0.0f : r;
}

/// exp_diff_scaled for the element at x of a map, with QUARTERS of every four 8-column groups on the FMA
/// pipe (exp2_fma) and the rest on MUFU.EX2 (Schedule::exp2FmaQuarters). x is a compile-time position
/// once map's loops are unrolled, so the choice costs nothing at run time.
template <int QUARTERS> TF_DEVICE float exp_diff_scaled_split(fidx x, float s, float c, float b) {
  const float y = fmaf(s, c * LOG2E, -b * LOG2E);
  return (2 * x.j + (x.p >> 1)) % 4 < QUARTERS ? exp2_fma(y) : fast_exp2(y);
}

// ---------------------------------------------------------------------------------------------------
// Captured tables (blk.read)

/// A read-only tensor of RANK dims (last dim contiguous) read one element at a time (blk.read). An
/// index outside [0, extent) reads 0, as the dialect defines it: a fused kernel also evaluates
/// score_mod / mask_mod at the padded positions of tail tiles (q_idx >= Sq or kv_idx >= Sk), whose
/// results are masked or never stored, and those evaluations must not fault.
template <typename T, int RANK> struct table {
  const T *ptr;
  long long extent[RANK];
  long long stride[RANK]; // elements; stride[RANK - 1] == 1

  template <typename... I> TF_DEVICE T operator()(I... indices) const {
    static_assert(sizeof...(I) == RANK, "one index per dim");
    const long long idx[RANK] = {static_cast<long long>(indices)...};
    long long offset = 0;
    bool inside = true;
#pragma unroll
    for (int d = 0; d < RANK; ++d) {
      inside &= static_cast<unsigned long long>(idx[d]) < static_cast<unsigned long long>(extent[d]);
      offset += idx[d] * stride[d];
    }
    return inside ? __ldg(ptr + offset) : T(0);
  }
};

// ---------------------------------------------------------------------------------------------------
// Run-time block masks (KernelAbi.h: BlockMaskAbi)

/// The K/V loop iteration of a Q tile's it-th visited tile: its partial tiles first (partial_idx, n_partial
/// of them), then its full ones; `row_base` is the Q tile's first entry in the index lists.
TF_DEVICE int block_mask_tile(const int *partial_idx, const int *full_idx, int row_base, int n_partial, int it) {
  return it < n_partial ? __ldg(partial_idx + row_base + it) : __ldg(full_idx + row_base + (it - n_partial));
}

/// The position of one element in the block-classification kernel, where element code written for
/// register fragments names its column through col_f32(x).
struct element_pos {
  int col;
};
TF_DEVICE float col_f32(element_pos x) { return static_cast<float>(x.col); }
TF_DEVICE float col_base_f32(element_pos) { return 0.0f; }
TF_DEVICE float col_offset_f32(element_pos x) { return static_cast<float>(x.col); }

// ---------------------------------------------------------------------------------------------------
// Packed sequences (KernelAbi.h: GridRule::packedTiles)

/// One Q tile of packed sequences: sequence `batch` (-1: none), its `tile`-th Q tile of `tiles` = ceil(length
/// / BLOCK_M), and the sequence's first rows and lengths in Q (cu_seqlens_q) and K (cu_seqlens_k).
struct packed_tile {
  int batch, tile, tiles;
  int start_q, len_q, start_k, len_k;
};

/// The t-th Q tile of the sequences laid end to end: sequence b holds ceil((cu_q[b + 1] - cu_q[b]) /
/// block_m) tiles (none when empty; a negative length, which the caller's checks rule out, counts as
/// empty). Every lane of the calling warp must be active and gets the same answer. The warp walks the
/// offsets in rounds of 128 sequences (4 per lane; the loads of cu_q and cu_k issued together), an
/// inclusive scan of the per-lane tile counts (__shfl_up_sync) and a ballot for the sequence whose range
/// holds t: ceil(B / 128) rounds of one L2 latency each (FlashAttention-3's variable-length tile scheduler
/// counts the tiles the same way).
TF_DEVICE packed_tile packed_tile_of(const int *cu_q, const int *cu_k, int B, int block_m, int t) {
  constexpr int kPerLane = 4;
  const int lane = laneid();
  long long base = 0; // tiles of the sequences before this round (64-bit: lengths are not trusted)
  for (int b0 = 0; b0 < B; b0 += 32 * kPerLane) {
    const int first = b0 + kPerLane * lane;
    int sq[kPerLane + 1], sk[kPerLane + 1], n[kPerLane];
#pragma unroll
    for (int j = 0; j <= kPerLane; ++j) {
      sq[j] = first + j <= B ? __ldg(cu_q + first + j) : 0;
      sk[j] = first + j <= B ? __ldg(cu_k + first + j) : 0;
    }
    long long mine = 0;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int len = first + j < B ? sq[j + 1] - sq[j] : 0;
      n[j] = len > 0 ? (len - 1) / block_m + 1 : 0;
      mine += n[j];
    }
    long long incl = mine; // inclusive scan over the lanes
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      const long long v = __shfl_up_sync(0xffffffffu, incl, d);
      if (lane >= d)
        incl += v;
    }
    const unsigned hit = __ballot_sync(0xffffffffu, t < base + incl);
    if (hit) {
      const int l = __ffs(hit) - 1;
      long long before = base + incl - mine; // tiles before this lane's first sequence
      packed_tile r{-1, 0, 0, 0, 0, 0, 0};
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) {
        if (r.batch < 0 && t < before + n[j])
          r = {first + j, static_cast<int>(t - before), n[j], sq[j], sq[j + 1] - sq[j], sk[j], sk[j + 1] - sk[j]};
        before += n[j];
      }
      return {__shfl_sync(0xffffffffu, r.batch, l),   __shfl_sync(0xffffffffu, r.tile, l),
              __shfl_sync(0xffffffffu, r.tiles, l),   __shfl_sync(0xffffffffu, r.start_q, l),
              __shfl_sync(0xffffffffu, r.len_q, l),   __shfl_sync(0xffffffffu, r.start_k, l),
              __shfl_sync(0xffffffffu, r.len_k, l)};
    }
    base += __shfl_sync(0xffffffffu, incl, 31);
  }
  return {-1, 0, 0, 0, 0, 0, 0};
}

/// This block's Q tile of packed sequences: packed_tile_of's fields with `tile` the q_tile, counted from the
/// sequence's first row, or from its last when `descending` (a causal sequence's longest tiles first);
/// batch -1: none, the block exits. The launch (GridRule::evaluate) picks one of two grids, and gridDim
/// tells which:
///  - (ceil(max_seqlen_q / BLOCK_M), Hq, B) blocks: block (x, y, b) runs tile x of sequence b, and those past
///    the sequence's end exit at once. One L2 latency (the four offsets loaded together), no scan. Also
///    every grid with B = 1.
///  - (a bound on the tiles, Hq, 1) with B > 1, when most blocks of the first would exit: block x runs the
///    x-th tile of the sequences laid end to end (packed_tile_of), so a batch of one long sequence and many
///    short ones does not launch max_seqlen_q / BLOCK_M blocks for each short one.
/// Every thread of the block must call it (whole warps) and gets the same answer.
TF_DEVICE packed_tile packed_block_tile(const int *cu_q, const int *cu_k, int B, int block_m, bool descending) {
  if (gridDim.z > 1 || B <= 1) {
    const int b = static_cast<int>(blockIdx.z);
    const int q0 = __ldg(cu_q + b), q1 = __ldg(cu_q + b + 1), k0 = __ldg(cu_k + b), k1 = __ldg(cu_k + b + 1);
    const int q = static_cast<int>(descending ? gridDim.x - 1 - blockIdx.x : blockIdx.x);
    return {q * block_m < q1 - q0 ? b : -1, q, 0, q0, q1 - q0, k0, k1 - k0};
  }
  packed_tile r = packed_tile_of(cu_q, cu_k, B, block_m, static_cast<int>(blockIdx.x));
  r.tile = descending ? r.tiles - 1 - r.tile : r.tile;
  return r;
}

// ---------------------------------------------------------------------------------------------------
// Stores

/// dst[row0 + r][col0 + c] = src[r][c] for rows row0 + r < dst.rows (and, for a gvb, columns < dst.cols; a
/// pair straddling it stores its first element), a 16-bit row-layout register tile (device::warp::store
/// takes f32 accumulators and converts; this one stores pairs as they are). View: gv<T> or gvb<T>.
template <template <typename> class View, typename T, int R, int C>
TF_DEVICE void store(const View<T> &dst, const rt<T, R, C, layout::row> &src, int row0, int col0) {
  using Tile = rt<T, R, C, layout::row>;
#pragma unroll
  for (int i = 0; i < R / 16; ++i)
#pragma unroll
    for (int p = 0; p < 4; ++p) {
      const int r = row0 + Tile::row_of(i, p, 0);
      if (r >= dst.rows) continue;
#pragma unroll
      for (int j = 0; j < C / 16; ++j) {
        const int c = col0 + Tile::col_of(j, p, 0);
        if constexpr (!has_col_bound<View<T>>)
          *reinterpret_cast<typename packed2<T>::type *>(dst.row(r) + col0 + Tile::col_of(j, p, 0)) = src.tiles[i][j][p];
        else if (col_in_bounds(dst, c + 1))
          *reinterpret_cast<typename packed2<T>::type *>(dst.row(r) + c) = src.tiles[i][j][p];
        else if (col_in_bounds(dst, c))
          dst.row(r)[c] = src.tiles[i][j][p].x;
      }
    }
}

// ---------------------------------------------------------------------------------------------------
// Integer ops with MLIR arith semantics (index and iN values are two's complement; the `u` ops read
// the bits as unsigned of the same width).

template <typename T> struct unsigned_of;
template <> struct unsigned_of<bool> { using type = bool; };
template <> struct unsigned_of<signed char> { using type = unsigned char; };
template <> struct unsigned_of<short> { using type = unsigned short; };
template <> struct unsigned_of<int> { using type = unsigned; };
template <> struct unsigned_of<long long> { using type = unsigned long long; };

/// The bits of a as an unsigned number of the same width (for unsigned compares).
template <typename T> TF_DEVICE typename unsigned_of<T>::type u(T a) {
  return static_cast<typename unsigned_of<T>::type>(a);
}
template <typename T> TF_DEVICE T divu(T a, T b) { return static_cast<T>(u(a) / u(b)); }
template <typename T> TF_DEVICE T remu(T a, T b) { return static_cast<T>(u(a) % u(b)); }
template <typename T> TF_DEVICE T ceildivu(T a, T b) { return a == 0 ? T(0) : static_cast<T>((u(a) - 1) / u(b) + 1); }
template <typename T> TF_DEVICE T ceildivs(T a, T b) {
  const T q = a / b;
  return (a % b != 0 && ((a < 0) == (b < 0))) ? q + 1 : q;
}
template <typename T> TF_DEVICE T floordivs(T a, T b) {
  const T q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}
template <typename T> TF_DEVICE T smax(T a, T b) { return a > b ? a : b; }
template <typename T> TF_DEVICE T smin(T a, T b) { return a < b ? a : b; }
/// The tile-uniform side of a position comparison `a row + b col PRED bound` (ElementCode::region,
/// affine compares), clamped to [-2^30, 2^30] so that the per-element compare is 32-bit. The clamp
/// never changes the result: each side's coefficients are at most 4, so |a row + b col| <= 8 (BLOCK_M +
/// BLOCK_N) <= 2^12, far inside it.
TF_DEVICE int position_bound(long long v) {
  return static_cast<int>(v < -(1ll << 30) ? -(1ll << 30) : v > (1ll << 30) ? (1ll << 30) : v);
}
template <typename T> TF_DEVICE T umax(T a, T b) { return u(a) > u(b) ? a : b; }
template <typename T> TF_DEVICE T umin(T a, T b) { return u(a) < u(b) ? a : b; }

} // namespace codegen_support
} // namespace tilefuse
