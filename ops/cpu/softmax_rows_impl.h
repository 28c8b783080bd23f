#pragma once
// Included once per instruction set by simd_<isa>.cpp, inside namespace
// fast_rnnt::cpu::FAST_RNNT_ISA. Only the SIMD row loops live here: the translation unit may be
// compiled with -mavx2, and inline code it instantiates must not leak into the rest of the
// library.
#include <ATen/cpu/vec/vec.h>

#include <cmath>
#include <limits>

#include "ops/cpu/softmax_rows.h"

namespace fast_rnnt::cpu::FAST_RNNT_ISA {
namespace {

using at::vec::Vectorized;

template <typename T>
T log_sum_exp(int64_t n, const T* x) {
  using Vec = Vectorized<T>;
  if (n <= 0) return -std::numeric_limits<T>::infinity();
  // Pass 1: the max (4 independent accumulators hide the latency of maximum()).
  T max = x[0];
  int64_t i = 0;
  if (n >= 4 * Vec::size()) {
    Vec m0 = Vec::loadu(x), m1 = Vec::loadu(x + Vec::size());
    Vec m2 = Vec::loadu(x + 2 * Vec::size()), m3 = Vec::loadu(x + 3 * Vec::size());
    for (i = 4 * Vec::size(); i + 4 * Vec::size() <= n; i += 4 * Vec::size()) {
      m0 = at::vec::maximum(m0, Vec::loadu(x + i));
      m1 = at::vec::maximum(m1, Vec::loadu(x + i + Vec::size()));
      m2 = at::vec::maximum(m2, Vec::loadu(x + i + 2 * Vec::size()));
      m3 = at::vec::maximum(m3, Vec::loadu(x + i + 3 * Vec::size()));
    }
    const Vec m = at::vec::maximum(at::vec::maximum(m0, m1), at::vec::maximum(m2, m3));
    max = at::vec::vec_reduce_all<T>([](Vec a, Vec b) { return at::vec::maximum(a, b); }, m);
  }
  for (; i < n; ++i) {
    // NaN-propagating, like at::vec::maximum.
    max = (x[i] > max || std::isnan(x[i])) ? x[i] : max;
  }
  if (!std::isfinite(max)) return max;
  // Pass 2 (the row is in L1 by now): sum of exp(x - max).
  const Vec vmax(max);
  Vec s0(0), s1(0);
  i = 0;
  for (; i + 2 * Vec::size() <= n; i += 2 * Vec::size()) {
    s0 = s0 + (Vec::loadu(x + i) - vmax).exp();
    s1 = s1 + (Vec::loadu(x + i + Vec::size()) - vmax).exp();
  }
  if (i + Vec::size() <= n) {
    s0 = s0 + (Vec::loadu(x + i) - vmax).exp();
    i += Vec::size();
  }
  T sum = at::vec::vec_reduce_all<T>([](Vec a, Vec b) { return a + b; }, s0 + s1);
  for (; i < n; ++i) sum += std::exp(x[i] - max);
  return max + std::log(sum);
}

template <typename T>
void scaled_exp(int64_t n, const T* x, T lse, T scale, T* out) {
  using Vec = Vectorized<T>;
  const Vec vlse(lse), vscale(scale);
  int64_t i = 0;
  for (; i + Vec::size() <= n; i += Vec::size()) {
    (vscale * (Vec::loadu(x + i) - vlse).exp()).store(out + i);
  }
  for (; i < n; ++i) out[i] = scale * std::exp(x[i] - lse);
}

template <typename T>
T shifted_exp(int64_t n, const T* x, T* out, T* sum) {
  using Vec = Vectorized<T>;
  T max = x[0];
  int64_t i = 0;
  if (n >= 2 * Vec::size()) {
    Vec m0 = Vec::loadu(x), m1 = Vec::loadu(x + Vec::size());
    for (i = 2 * Vec::size(); i + 2 * Vec::size() <= n; i += 2 * Vec::size()) {
      m0 = at::vec::maximum(m0, Vec::loadu(x + i));
      m1 = at::vec::maximum(m1, Vec::loadu(x + i + Vec::size()));
    }
    max = at::vec::vec_reduce_all<T>([](Vec a, Vec b) { return at::vec::maximum(a, b); },
                                     at::vec::maximum(m0, m1));
  }
  for (; i < n; ++i) max = (x[i] > max || std::isnan(x[i])) ? x[i] : max;
  const T shift = std::isinf(max) ? T(0) : max;
  const Vec vshift(shift);
  Vec s0(0);
  i = 0;
  for (; i + Vec::size() <= n; i += Vec::size()) {
    const Vec e = (Vec::loadu(x + i) - vshift).exp();
    e.store(out + i);
    s0 = s0 + e;
  }
  T total = at::vec::vec_reduce_all<T>([](Vec a, Vec b) { return a + b; }, s0);
  for (; i < n; ++i) {
    out[i] = std::exp(x[i] - shift);
    total += out[i];
  }
  *sum = total;
  return shift;
}

template <typename T>
void add_scaled_log(int64_t n, const T* z, T offset, T scale, T* out) {
  using Vec = Vectorized<T>;
  const Vec voffset(offset), vscale(scale);
  int64_t i = 0;
  for (; i + Vec::size() <= n; i += Vec::size()) {
    (Vec::loadu(out + i) + vscale * (Vec::loadu(z + i) + voffset).log()).store(out + i);
  }
  for (; i < n; ++i) out[i] += scale * std::log(z[i] + offset);
}

}  // namespace

template <typename T>
SoftmaxRowKernels<T> softmax_row_kernels() {
  return {&log_sum_exp<T>, &scaled_exp<T>, &shifted_exp<T>, &add_scaled_log<T>};
}

template SoftmaxRowKernels<float> softmax_row_kernels<float>();
template SoftmaxRowKernels<double> softmax_row_kernels<double>();

}  // namespace fast_rnnt::cpu::FAST_RNNT_ISA
