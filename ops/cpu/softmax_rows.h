#pragma once
// The inner loops of the fused joiner-logits kernels (arc_logprobs_kernel.cpp) and of the lm/am
// kernels (smoothed_arc_logprobs_kernel.cpp), one row of C values at a time. Like log_semiring.h they are compiled once per instruction set
// (simd_<isa>.cpp, with ATen's Vectorized<T>; see isa.h) and chosen at run time.
#include <cstdint>

#include "ops/cpu/isa.h"

namespace fast_rnnt::cpu {

template <typename T>
struct SoftmaxRowKernels {
  // log(sum_i exp(x[i])) for n >= 1, computed as max + log(sum_i exp(x[i] - max)); returns the
  // max itself when it is +-inf or NaN (as torch.logsumexp), -inf for n == 0.
  T (*log_sum_exp)(int64_t n, const T* x);
  // out[i] = scale * exp(x[i] - lse).
  void (*scaled_exp)(int64_t n, const T* x, T lse, T scale, T* out);
  // shift = max_i x[i] (NaN-propagating), or 0 where that max is +-inf (a row of -inf gives
  // zeros, not NaN); out[i] = exp(x[i] - shift), *sum = sum_i out[i]. Returns shift; n >= 1.
  T (*shifted_exp)(int64_t n, const T* x, T* out, T* sum);
  // out[i] += scale * log(z[i] + offset).
  void (*add_scaled_log)(int64_t n, const T* z, T offset, T scale, T* out);
};

namespace isa_default {
template <typename T>
SoftmaxRowKernels<T> softmax_row_kernels();
}  // namespace isa_default

namespace isa_avx2 {
template <typename T>
SoftmaxRowKernels<T> softmax_row_kernels();
}  // namespace isa_avx2

// The fastest variant this CPU runs.
template <typename T>
const SoftmaxRowKernels<T>& softmax_row_kernels() {
  static const SoftmaxRowKernels<T> kernels =
      fastest(&isa_avx2::softmax_row_kernels<T>, &isa_default::softmax_row_kernels<T>);
  return kernels;
}

}  // namespace fast_rnnt::cpu
