#pragma once
// The two inner loops of the mutual-information recursion on the CPU, one wave of lattice cells
// at a time (see mutual_information_kernel.cpp for what a wave is). They are compiled once per
// instruction set (simd_<isa>.cpp, with ATen's Vectorized<T>; see isa.h) and chosen at run time.
#include <cstdint>

#include "ops/cpu/isa.h"

namespace fast_rnnt::cpu {

// The loops work on whole SIMD vectors only: every buffer passed to them must have room for n
// rounded up to a multiple of kMaxLanes elements. Outputs past n are unspecified.
constexpr int64_t kMaxLanes = 16;

inline int64_t padded(int64_t n) { return (n + kMaxLanes - 1) / kMaxLanes * kMaxLanes; }

template <typename T>
struct LogSemiringKernels {
  // out[i] = log(exp(left[i] + x[i]) + exp(down[i] + y[i])); -inf when both terms are -inf.
  void (*log_add_wave)(int64_t n, const T* left, const T* x, const T* down, const T* y, T* out);
  // The share of cell i's occupancy that arrives by each of its two arcs:
  //   x_occ[i] = occ[i] * exp(left[i] + x[i] - p[i]),  y_occ[i] = occ[i] * exp(down[i] + y[i] - p[i]),
  // both 0 where p[i] == -inf (an unreachable cell carries no occupancy).
  void (*split_occupancy_wave)(int64_t n, const T* left, const T* x, const T* down, const T* y,
                               const T* p, const T* occ, T* x_occ, T* y_occ);
};

namespace isa_default {
template <typename T>
LogSemiringKernels<T> log_semiring_kernels();
}  // namespace isa_default

namespace isa_avx2 {
template <typename T>
LogSemiringKernels<T> log_semiring_kernels();
}  // namespace isa_avx2

// The fastest variant this CPU runs.
template <typename T>
const LogSemiringKernels<T>& log_semiring_kernels() {
  static const LogSemiringKernels<T> kernels =
      fastest(&isa_avx2::log_semiring_kernels<T>, &isa_default::log_semiring_kernels<T>);
  return kernels;
}

}  // namespace fast_rnnt::cpu
