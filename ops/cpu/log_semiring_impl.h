#pragma once
// Included once per instruction set by simd_<isa>.cpp, inside namespace
// fast_rnnt::cpu::FAST_RNNT_ISA. Keep this file free of anything but the SIMD loops: its
// translation unit may be compiled with -mavx2, and inline code it instantiates must not leak
// into the rest of the library.
#include <ATen/cpu/vec/vec.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "ops/cpu/log_semiring.h"
#include "ops/log_semiring_math.h"

namespace fast_rnnt::cpu::FAST_RNNT_ISA {
namespace {

using at::vec::Vectorized;

// The number-type operations of ops/log_semiring_math.h for Vectorized<float>. The fused
// multiply-add must round once, as fmaf does on the CUDA side: the AVX2 build has the instruction,
// the portable one takes std::fma per lane (slow, but it only runs on CPUs without FMA).
struct VecFloatOps {
  using Vec = Vectorized<float>;
  static Vec fma(const Vec& a, const Vec& b, const Vec& c) {
#if defined(CPU_CAPABILITY_AVX2)
    return at::vec::fmadd(a, b, c);
#else
    float la[Vec::size()], lb[Vec::size()], lc[Vec::size()];
    a.store(la);
    b.store(lb);
    c.store(lc);
    for (int i = 0; i < Vec::size(); ++i) la[i] = std::fma(la[i], lb[i], lc[i]);
    return Vec::loadu(la);
#endif
  }
  static Vec pow2_of_shifted(const Vec& t) {
#if defined(CPU_CAPABILITY_AVX2)
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_castps_si256(t), 23));
#else
    return at::vec::cast<float>(at::vec::cast<int32_t>(t) << Vectorized<int32_t>(23));
#endif
  }
  static Vec zero_below(const Vec& y, const Vec& x, float c) {
    return Vec::blendv(y, Vec(0.0f), x < Vec(c));
  }
};

// exp(x) for x <= 0 and log1p(e) for e in [0, 1]: in float the shared definitions (bit for bit
// those of the CUDA kernels), in double ATen's.
template <typename T>
Vectorized<T> exp_nonpositive(const Vectorized<T>& x) {
  if constexpr (std::is_same_v<T, float>) {
    return log_semiring::exp_nonpositive<VecFloatOps>(x);
  } else {
    return x.exp();
  }
}

template <typename T>
Vectorized<T> log1p_unit(const Vectorized<T>& e) {
  if constexpr (std::is_same_v<T, float>) {
    return log_semiring::log1p_unit<VecFloatOps>(e);
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
    const Vec e = exp_nonpositive(lo - hi);
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
