#pragma once
// The two inner loops of the fused joiner-logits kernels (arc_logprobs_kernel.cpp), one row of C
// logits at a time. Like log_semiring.h they are compiled once per instruction set
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
