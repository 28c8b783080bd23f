#pragma once
// Included once per instruction set by simd_<isa>.cpp, inside namespace
// fast_rnnt::cpu::FAST_RNNT_ISA. Keep this file free of anything but the SIMD loops: its
// translation unit may be compiled with -mavx2, and inline code it instantiates must not leak
// into the rest of the library.
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <limits>
#include <type_traits>

#include "ops/cpu/log_semiring.h"

namespace fast_rnnt::cpu::FAST_RNNT_ISA {
namespace {

using at::vec::Vectorized;

// log1p(e) for e in [0, 1] (and NaN for NaN), as 2 atanh(u) with u = e / (2 + e) <= 1/3, by its
// series to u^15 (truncation below 2e-9 relative) in float: within 1.1 ulp of the exact value
// (mean 0.33 ulp, no bias), as ATen's general log1p, for a fraction of its cost. The quotient is
// corrected by its residual, exact but for the small error of 1 / (2 + e) taken as a quadratic in
// e - 1/2 (a correction of a correction). double keeps ATen's.
template <typename T>
Vectorized<T> log1p_unit(const Vectorized<T>& e) {
  using Vec = Vectorized<T>;
  if constexpr (std::is_same_v<T, float>) {
    using at::vec::fmadd;
    const Vec two(2.0f);
    const Vec d = two + e;
    const Vec d_low = e - (d - two);  // d - two is exact: 2 <= d <= 3
    Vec u = e / d;
    const Vec residual = fmadd(Vec(0.0f) - u, d, e) - u * d_low;  // e - u (2 + e)
    const Vec h = e - Vec(0.5f);
    const Vec inv_d = fmadd(fmadd(h, Vec(0.064f), Vec(-0.16f)), h, Vec(0.4f));  // ~ 1 / (2.5 + h)
    u = fmadd(residual, inv_d, u);
    const Vec z = u * u;
    Vec p(1.0f / 15);
    for (const float c : {1.0f / 13, 1.0f / 11, 1.0f / 9, 1.0f / 7, 1.0f / 5, 1.0f / 3}) {
      p = fmadd(p, z, Vec(c));
    }
    const Vec two_u = u + u;
    return fmadd(two_u * z, p, two_u);  // the small correction rounded on its own
  } else {
    return e.log1p();
  }
}

template <typename T, bool kSaveRatio>
T log_add_wave(int64_t n, const T* left, const T* x, const T* down, const T* y, T shift, T* out,
               T* q) {
  using Vec = Vectorized<T>;
  const Vec neg_inf(-std::numeric_limits<T>::infinity());
  const Vec zero(0), one(1), vshift(shift), vn(static_cast<T>(n));
  static_assert(kMaxLanes % Vec::size() == 0);
  Vec vmax = neg_inf;
  for (int64_t i = 0; i < n; i += Vec::size()) {  // whole vectors: see kMaxLanes
    const Vec a = Vec::loadu(left + i) + Vec::loadu(x + i);
    const Vec b = Vec::loadu(down + i) + Vec::loadu(y + i);
    // maximum/minimum propagate NaN, so a NaN term gives a NaN cell.
    const Vec hi = at::vec::maximum(a, b);
    const Vec lo = at::vec::minimum(a, b);
    // hi == -inf: both terms impossible; (lo - hi) would be NaN.
    const Vec dead = hi == neg_inf;
    const Vec e = (lo - hi).exp();
    const Vec sum = Vec::blendv((hi - vshift) + log1p_unit(e), neg_inf, dead);
    sum.store(out + i);
    if constexpr (kSaveRatio) {
      // exp(a - b): e where a is the smaller term, 1 / e where it is the larger.
      Vec::blendv(Vec::blendv(one / e, e, a <= b), one, dead).store(q + i);
    }
    Vec finite = (sum - sum) == zero;  // false for +-inf and NaN
    if (i + Vec::size() > n) finite = finite & (Vec::arange(static_cast<T>(i), 1) < vn);
    vmax = at::vec::maximum(vmax, Vec::blendv(neg_inf, sum, finite));
  }
  T lanes[Vec::size()];
  vmax.store(lanes);
  T m = lanes[0];
  for (int k = 1; k < Vec::size(); ++k) m = lanes[k] > m ? lanes[k] : m;
  return m;
}

template <typename T>
T log_add_wave_dispatch(int64_t n, const T* left, const T* x, const T* down, const T* y, T shift,
                        T* out, T* q) {
  return q ? log_add_wave<T, true>(n, left, x, down, y, shift, out, q)
           : log_add_wave<T, false>(n, left, x, down, y, shift, out, q);
}

template <typename T>
void split_occupancy_wave(int64_t n, const T* x_in, const T* y_in, const T* q, T* x_occ,
                          T* y_occ) {
  using Vec = Vectorized<T>;
  const Vec one(1);
  for (int64_t i = 0; i < n; i += Vec::size()) {  // whole vectors: see kMaxLanes
    const Vec occ = Vec::loadu(x_in + i) + Vec::loadu(y_in + i);
    const Vec qi = Vec::loadu(q + i);
    const Vec y_part = occ / (one + qi);  // the py share, accurate where it is the smaller
    const Vec x_part = y_part * qi;       // the px share, accurate where it is the smaller
    const Vec x_small = qi <= one;        // false for NaN: both shares NaN then
    Vec::blendv(occ - y_part, x_part, x_small).store(x_occ + i);
    Vec::blendv(y_part, occ - x_part, x_small).store(y_occ + i);
  }
}

// Copies element (r, c) of m to or from waves[w * width + r] (see LogSemiringKernels). Blocks of
// kBlock x kBlock go through a transposition in registers: in wave order, row r0 + i of a block
// starts at column cb - i (diagonal) or cb, so the block's rows are kBlock - 1 (diagonal) or
// kBlock elements apart in m, and column j of the block is one contiguous piece of wave
// (diagonal ? r0 : 0) + cb + j + 1. The rest of each row (the ends, a last partial band of rows)
// is copied one element at a time.
template <bool kToWaves, typename T>
void copy_waves(std::conditional_t<kToWaves, const T*, T*> m, int64_t ld, int64_t rows,
                int64_t cols, bool diagonal, std::conditional_t<kToWaves, T*, const T*> waves,
                int64_t width) {
  constexpr int64_t kBlock = 8;
  const int64_t skew = diagonal ? 1 : 0;
  const int64_t first = skew * (kBlock - 1);  // the first block's cb
  const int64_t blocks = cols - kBlock >= first ? (cols - kBlock - first) / kBlock + 1 : 0;
  auto copy_one = [&](int64_t r, int64_t c) {
    auto* wave = waves + (skew * r + c + 1) * width + r;
    if constexpr (kToWaves) {
      *wave = m[r * ld + c];
    } else {
      m[r * ld + c] = *wave;
    }
  };
  for (int64_t r0 = 0; r0 < rows; r0 += kBlock) {
    if (r0 + kBlock > rows) {  // a partial band
      for (int64_t r = r0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) copy_one(r, c);
      }
      break;
    }
    for (int64_t k = 0; k < blocks; ++k) {
      const int64_t cb = first + k * kBlock;
      auto* block = m + r0 * ld + cb;  // row i at block + i * (ld - skew)
      auto* wave = waves + (skew * r0 + cb + 1) * width + r0;
      for (int64_t i = 0; i < kBlock; ++i) {  // the next blocks of these rows
        __builtin_prefetch(block + i * (ld - skew) + 8 * kBlock, kToWaves ? 0 : 1);
      }
      if constexpr (kToWaves) {
        at::vec::transpose_mxn<T, kBlock, kBlock>(block, ld - skew, wave, width);
      } else {
        at::vec::transpose_mxn<T, kBlock, kBlock>(wave, width, block, ld - skew);
      }
    }
    for (int64_t i = 0; i < kBlock; ++i) {  // what the blocks left of row r0 + i
      const int64_t begin = first - skew * i, end = begin + blocks * kBlock;
      for (int64_t c = 0; c < std::min(begin, cols); ++c) copy_one(r0 + i, c);
      for (int64_t c = std::max<int64_t>(end, 0); c < cols; ++c) copy_one(r0 + i, c);
    }
  }
}

}  // namespace

template <typename T>
LogSemiringKernels<T> log_semiring_kernels() {
  return {&log_add_wave_dispatch<T>, &split_occupancy_wave<T>, &copy_waves<true, T>,
          &copy_waves<false, T>};
}

template LogSemiringKernels<float> log_semiring_kernels<float>();
template LogSemiringKernels<double> log_semiring_kernels<double>();

}  // namespace fast_rnnt::cpu::FAST_RNNT_ISA
