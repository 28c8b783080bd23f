#pragma once
// Included once per instruction set by simd_<isa>.cpp, inside namespace
// fast_rnnt::cpu::FAST_RNNT_ISA. Keep this file free of anything but the SIMD loops: its
// translation unit may be compiled with -mavx2, and inline code it instantiates must not leak
// into the rest of the library.
#include <ATen/cpu/vec/vec.h>

#include <limits>

#include "ops/cpu/log_semiring.h"

namespace fast_rnnt::cpu::FAST_RNNT_ISA {
namespace {

using at::vec::Vectorized;

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
    const Vec sum = Vec::blendv((hi - vshift) + e.log1p(), neg_inf, dead);
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

}  // namespace

template <typename T>
LogSemiringKernels<T> log_semiring_kernels() {
  return {&log_add_wave_dispatch<T>, &split_occupancy_wave<T>};
}

template LogSemiringKernels<float> log_semiring_kernels<float>();
template LogSemiringKernels<double> log_semiring_kernels<double>();

}  // namespace fast_rnnt::cpu::FAST_RNNT_ISA
