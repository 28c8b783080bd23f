// CUDA launcher of the fused joiner-logits ops: checks, device guard, stream, then the host code
// of ops/cuda/arc_logprobs_host.h, whose kernels (ops/cuda/arc_logprobs_kernels.cuh) also run
// under emulation in cpp_tests/test_emulated_arc_logprobs.cpp.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/arc_logprobs_checks.h"
#include "ops/cuda/cuda_launch.cuh"
#include "ops/cuda/arc_logprobs_host.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "arc_logprobs";

std::tuple<at::Tensor, at::Tensor, at::Tensor> arc_logprobs_forward_kernel(
    const at::Tensor& logits, const at::Tensor& symbols, int64_t termination_symbol,
    bool use_hat_loss) {
  const ArcLogprobsSizes n =
      check_arc_logprobs_inputs(kOpName, logits, symbols, termination_symbol, use_hat_loss);
  TORCH_INTERNAL_ASSERT(logits.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(logits.device());
  const CudaLaunch launch{at::cuda::getCurrentCUDAStream()};
  return arc_logprobs_forward_on(launch, kOpName, logits, symbols, n, termination_symbol,
                                 use_hat_loss);
}

std::tuple<at::Tensor, at::Tensor> arc_logprobs_kernel(const at::Tensor& logits,
                                                       const at::Tensor& symbols,
                                                       int64_t termination_symbol,
                                                       bool use_hat_loss) {
  auto [sym_out, blank_out, norm_out] =
      arc_logprobs_forward_kernel(logits, symbols, termination_symbol, use_hat_loss);
  return {sym_out, blank_out};
}

at::Tensor arc_logprobs_backward_kernel(const at::Tensor& logits, const at::Tensor& symbols,
                                        int64_t termination_symbol, bool use_hat_loss,
                                        const at::Tensor& normalizer,
                                        const at::Tensor& symbol_grad,
                                        const at::Tensor& blank_grad) {
  constexpr char op[] = "_arc_logprobs_backward";
  const ArcLogprobsSizes n =
      // No host sync for the symbol values here: the forward checked them, and a symbol out of
      // range only drops its term in the kernel (c == v never holds), it is never an address.
      check_arc_logprobs_inputs(op, logits, symbols, termination_symbol, use_hat_loss,
                                /*check_values=*/false);
  check_arc_logprobs_grads(op, logits, normalizer, symbol_grad, blank_grad);
  TORCH_INTERNAL_ASSERT(logits.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(logits.device());
  const CudaLaunch launch{at::cuda::getCurrentCUDAStream()};
  return arc_logprobs_backward_on(launch, op, logits, symbols, n, termination_symbol,
                                  use_hat_loss, normalizer, symbol_grad, blank_grad);
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CUDA, m) {
  m.impl("arc_logprobs", TORCH_FN(arc_logprobs_kernel));
  m.impl("_arc_logprobs_forward", TORCH_FN(arc_logprobs_forward_kernel));
  m.impl("_arc_logprobs_backward", TORCH_FN(arc_logprobs_backward_kernel));
}

}  // namespace fast_rnnt
