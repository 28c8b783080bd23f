// CUDA launchers of the fused logits read of the duration-lattice losses: checks (shared with
// the CPU kernels), device guard and stream, then the host code of duration_arc_logprobs_host.h
// (launch configuration from duration_lattice_launch.h), whose kernels
// (duration_arc_logprobs_kernels.cuh) also run under emulation in
// cpp_tests/emulation/test_emulated_duration_arc_logprobs.cpp.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/cuda/cuda_launch.cuh"
#include "ops/cuda/duration_arc_logprobs_host.h"
#include "ops/duration_lattice_checks.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "duration_arc_logprobs";

std::tuple<at::Tensor, at::Tensor, at::Tensor> duration_arc_logprobs_forward_kernel(
    const at::Tensor& logits_in, const at::Tensor& symbols, at::IntArrayRef blanks,
    int64_t num_durations, double sigma) {
  const DurationArcSizes n = check_duration_arc_inputs(kOpName, logits_in, symbols, blanks,
                                                       num_durations, /*fastemit_lambda=*/0.0);
  TORCH_INTERNAL_ASSERT(logits_in.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(logits_in.device());
  const CudaLaunch launch{at::cuda::getCurrentCUDAStream()};
  return duration_arc_logprobs_forward_on(launch, kOpName, logits_in, symbols, blanks, n, sigma);
}

at::Tensor duration_arc_logprobs_backward_kernel(const at::Tensor& logits_in,
                                                 const at::Tensor& symbols,
                                                 at::IntArrayRef blanks, int64_t num_durations,
                                                 const at::Tensor& normalizer,
                                                 const at::Tensor& symbol_grad,
                                                 const at::Tensor& blank_grad,
                                                 double fastemit_lambda) {
  constexpr char op[] = "_duration_arc_logprobs_backward";
  // No host sync for the symbol values: the forward checked them, and an out-of-range symbol
  // only drops its term here (c == v never holds), it is never an address.
  const DurationArcSizes n =
      check_duration_arc_inputs(op, logits_in, symbols, blanks, num_durations, fastemit_lambda,
                                /*check_values=*/false);
  check_duration_arc_grads(op, logits_in, n, normalizer, symbol_grad, blank_grad);
  TORCH_INTERNAL_ASSERT(logits_in.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(logits_in.device());
  const CudaLaunch launch{at::cuda::getCurrentCUDAStream()};
  return duration_arc_logprobs_backward_on(launch, op, logits_in, symbols, blanks, n, normalizer,
                                           symbol_grad, blank_grad, fastemit_lambda);
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CUDA, m) {
  m.impl("_duration_arc_logprobs_forward", TORCH_FN(duration_arc_logprobs_forward_kernel));
  m.impl("_duration_arc_logprobs_backward", TORCH_FN(duration_arc_logprobs_backward_kernel));
}

}  // namespace fast_rnnt
