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

template <typename T>
void log_add_wave(int64_t n, const T* left, const T* x, const T* down, const T* y, T* out) {
  using Vec = Vectorized<T>;
  const Vec neg_inf(-std::numeric_limits<T>::infinity());
  static_assert(kMaxLanes % Vec::size() == 0);
  for (int64_t i = 0; i < n; i += Vec::size()) {  // whole vectors: see kMaxLanes
    const Vec a = Vec::loadu(left + i) + Vec::loadu(x + i);
    const Vec b = Vec::loadu(down + i) + Vec::loadu(y + i);
    const Vec hi = at::vec::maximum(a, b);
    const Vec lo = at::vec::minimum(a, b);
    const Vec sum = hi + (lo - hi).exp().log1p();
    // hi == -inf: both terms impossible; (lo - hi) would be NaN.
    Vec::blendv(sum, neg_inf, hi == neg_inf).store(out + i);
  }
}

template <typename T>
void split_occupancy_wave(int64_t n, const T* left, const T* x, const T* down, const T* y,
                          const T* p, const T* occ, T* x_occ, T* y_occ) {
  using Vec = Vectorized<T>;
  const Vec neg_inf(-std::numeric_limits<T>::infinity());
  const Vec zero(0);
  for (int64_t i = 0; i < n; i += Vec::size()) {  // whole vectors: see kMaxLanes
    const Vec pi = Vec::loadu(p + i);
    const Vec oi = Vec::loadu(occ + i);
    const Vec dead = pi == neg_inf;
    const Vec xo = oi * (Vec::loadu(left + i) + Vec::loadu(x + i) - pi).exp();
    const Vec yo = oi * (Vec::loadu(down + i) + Vec::loadu(y + i) - pi).exp();
    Vec::blendv(xo, zero, dead).store(x_occ + i);
    Vec::blendv(yo, zero, dead).store(y_occ + i);
  }
}

}  // namespace

template <typename T>
LogSemiringKernels<T> log_semiring_kernels() {
  return {&log_add_wave<T>, &split_occupancy_wave<T>};
}

template LogSemiringKernels<float> log_semiring_kernels<float>();
template LogSemiringKernels<double> log_semiring_kernels<double>();

}  // namespace fast_rnnt::cpu::FAST_RNNT_ISA
