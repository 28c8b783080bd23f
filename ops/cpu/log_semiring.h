#pragma once
// The inner loops of the mutual-information recursion on the CPU: one wave of lattice cells at a
// time, and the copies of px/py into waves and back (see mutual_information_kernel.cpp). They are compiled once per
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
  // One forward wave, relative to the previous wave's largest value `shift`:
  //   out[i] = log(exp(left[i] + x[i]) + exp(down[i] + y[i])) - shift,
  // -inf where both terms are -inf, NaN where either is NaN. When q is not null it also saves
  //   q[i] = exp((left[i] + x[i]) - (down[i] + y[i]))   (1 where both terms are -inf),
  // by which the backward splits the cell's occupancy (mutual_information_lattice.h).
  // Returns the largest finite out[i], i < n, or -inf if there is none.
  T (*log_add_wave)(int64_t n, const T* left, const T* x, const T* down, const T* y, T shift,
                    T* out, T* q);
  // One backward wave: cell i's occupancy occ = x_in[i] + y_in[i] (what its two outgoing arcs
  // carry back from the next wave) split between its incoming arcs by q[i]:
  //   x_occ = occ * q / (1 + q) where q <= 1, else occ minus y_occ;
  //   y_occ = occ / (1 + q) where q > 1, else occ minus x_occ.
  void (*split_occupancy_wave)(int64_t n, const T* x_in, const T* y_in, const T* q, T* x_occ,
                               T* y_occ);
  // The copies between a rows x cols matrix m (row stride ld) of px or py and its wave rows
  // (mutual_information_kernel.cpp): element (r, c) is waves[w * width + r], its wave
  // w = r + c + 1 when `diagonal` (a regular lattice), c + 1 otherwise (a modified one).
  void (*copy_to_waves)(const T* m, int64_t ld, int64_t rows, int64_t cols, bool diagonal,
                        T* waves, int64_t width);
  void (*copy_from_waves)(T* m, int64_t ld, int64_t rows, int64_t cols, bool diagonal,
                          const T* waves, int64_t width);
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
