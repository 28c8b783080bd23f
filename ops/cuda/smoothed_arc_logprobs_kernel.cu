// CUDA kernels of the fused lm/am op: checks, device guard, then the ATen formulation of
// ops/smoothed_arc_logprobs_aten.h on the current stream (cuBLAS for the three batched products,
// ATen's kernels for the passes over lm, am and the lattice). The CPU kernels are the oracle
// (cpp_tests/test_smoothed_arc_logprobs.cpp runs the same formulation against them).
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/smoothed_arc_logprobs_aten.h"
#include "ops/smoothed_arc_logprobs_checks.h"

namespace fast_rnnt {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
smoothed_arc_logprobs_forward_kernel(const at::Tensor& lm, const at::Tensor& am,
                                     const at::Tensor& symbols, int64_t termination_symbol,
                                     double lm_only_scale, double am_only_scale) {
  const SmoothedSizes n = check_smoothed_inputs("smoothed_arc_logprobs", lm, am, symbols,
                                                termination_symbol, lm_only_scale, am_only_scale);
  TORCH_INTERNAL_ASSERT(lm.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(lm.device());
  auto [px, py, lm_rows, am_probs, sums] = aten_impl::forward(
      lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, n);
  return {px.to(lm.scalar_type()), py.to(lm.scalar_type()), lm_rows, am_probs, sums};
}

std::tuple<at::Tensor, at::Tensor> smoothed_arc_logprobs_kernel(
    const at::Tensor& lm, const at::Tensor& am, const at::Tensor& symbols,
    int64_t termination_symbol, double lm_only_scale, double am_only_scale) {
  auto out = smoothed_arc_logprobs_forward_kernel(lm, am, symbols, termination_symbol,
                                                  lm_only_scale, am_only_scale);
  return {std::get<0>(out), std::get<1>(out)};
}

std::tuple<at::Tensor, at::Tensor> smoothed_arc_logprobs_backward_kernel(
    const at::Tensor& px_grad, const at::Tensor& py_grad, const at::Tensor& symbols,
    int64_t termination_symbol, double lm_only_scale, double am_only_scale,
    const at::Tensor& lm_rows, const at::Tensor& am_probs, const at::Tensor& sums) {
  const SmoothedSizes n = check_smoothed_backward_inputs(
      "_smoothed_arc_logprobs_backward", px_grad, py_grad, symbols, termination_symbol,
      lm_only_scale, am_only_scale, lm_rows, am_probs, sums, /*check_values=*/false);
  TORCH_INTERNAL_ASSERT(am_probs.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(am_probs.device());
  return aten_impl::backward(px_grad, py_grad, symbols, termination_symbol, lm_only_scale,
                             am_only_scale, lm_rows, am_probs, sums, n);
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CUDA, m) {
  m.impl("smoothed_arc_logprobs", TORCH_FN(smoothed_arc_logprobs_kernel));
  m.impl("_smoothed_arc_logprobs_forward", TORCH_FN(smoothed_arc_logprobs_forward_kernel));
  m.impl("_smoothed_arc_logprobs_backward", TORCH_FN(smoothed_arc_logprobs_backward_kernel));
}

}  // namespace fast_rnnt
