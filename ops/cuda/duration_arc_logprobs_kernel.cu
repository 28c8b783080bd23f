// Host launchers of the fused logits read of the duration-lattice losses on CUDA: checks
// (shared with the CPU kernels), device guard, stream, dispatch, launch. Device code and
// parallel scheme: duration_arc_logprobs_kernels.cuh; launch configuration:
// duration_lattice_launch.h.
#include <ATen/ATen.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <vector>

#include "ops/cuda/duration_arc_logprobs_kernels.cuh"
#include "ops/cuda/duration_lattice_launch.h"
#include "ops/duration_lattice_checks.h"

namespace fast_rnnt {
namespace {

constexpr char kOpName[] = "duration_arc_logprobs";

at::Tensor with_unit_class_stride(const at::Tensor& logits) {
  return logits.size(3) <= 1 || logits.stride(3) == 1 ? logits : logits.contiguous();
}

cuda::DurationArcArgs arc_args(const at::Tensor& logits, const at::Tensor& symbols,
                               const at::Tensor& blanks, const DurationArcSizes& n) {
  return {{n.T, n.K, logits.stride(0), logits.stride(1), logits.stride(2)},
          {n.T, n.K, symbols.stride(0), symbols.stride(1), symbols.stride(2)},
          symbols.const_data_ptr<int64_t>(),
          blanks.const_data_ptr<int64_t>(),
          n.rows(),
          n.C,
          n.D,
          n.blank_columns()};
}

at::Tensor blanks_on_device(at::IntArrayRef blanks, const at::Tensor& like) {
  const std::vector<int64_t> v(blanks.begin(), blanks.end());
  return at::tensor(v, at::TensorOptions().dtype(at::kLong)).to(like.device());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> duration_arc_logprobs_forward_kernel(
    const at::Tensor& logits_in, const at::Tensor& symbols, at::IntArrayRef blanks,
    int64_t num_durations, double sigma) {
  const DurationArcSizes n =
      check_duration_arc_inputs(kOpName, logits_in, symbols, blanks, num_durations);
  TORCH_INTERNAL_ASSERT(logits_in.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(logits_in.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const at::Tensor logits = with_unit_class_stride(logits_in);
  const auto options =
      logits.options().dtype(logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
  at::Tensor sym_out = at::empty({n.B, n.T, n.K, n.symbol_columns()}, options);
  at::Tensor blank_out = at::empty({n.B, n.T, n.K, n.blank_columns()}, options);
  at::Tensor norm_out = at::empty({n.B, n.T, n.K, 2}, options);
  if (n.rows() == 0) return {sym_out, blank_out, norm_out};
  const at::Tensor blank_ids = blanks_on_device(blanks, logits);
  const auto launch = cuda::duration_arc_logprobs_launch(n.rows());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "duration_arc_logprobs_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    cuda::duration_arc_logprobs_forward_rows<scalar_t, acc_t>
        <<<launch.blocks, launch.threads, 0, stream>>>(
            /*logits=*/logits.const_data_ptr<scalar_t>(),
            /*a=*/arc_args(logits, symbols, blank_ids, n), /*sigma=*/static_cast<acc_t>(sigma),
            /*sym_out=*/sym_out.data_ptr<acc_t>(), /*blank_out=*/blank_out.data_ptr<acc_t>(),
            /*norm_out=*/norm_out.data_ptr<acc_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {sym_out, blank_out, norm_out};
}

std::tuple<at::Tensor, at::Tensor> duration_arc_logprobs_kernel(const at::Tensor& logits,
                                                                const at::Tensor& symbols,
                                                                at::IntArrayRef blanks,
                                                                int64_t num_durations,
                                                                double sigma) {
  auto [sym_out, blank_out, norm_out] =
      duration_arc_logprobs_forward_kernel(logits, symbols, blanks, num_durations, sigma);
  return {sym_out, blank_out};
}

at::Tensor duration_arc_logprobs_backward_kernel(const at::Tensor& logits_in,
                                                 const at::Tensor& symbols,
                                                 at::IntArrayRef blanks, int64_t num_durations,
                                                 const at::Tensor& normalizer,
                                                 const at::Tensor& symbol_grad,
                                                 const at::Tensor& blank_grad) {
  constexpr char op[] = "_duration_arc_logprobs_backward";
  // No host sync for the symbol values: the forward checked them, and an out-of-range symbol
  // only drops its term here (c == v never holds), it is never an address.
  const DurationArcSizes n = check_duration_arc_inputs(op, logits_in, symbols, blanks,
                                                       num_durations, /*check_values=*/false);
  check_duration_arc_grads(op, logits_in, n, normalizer, symbol_grad, blank_grad);
  TORCH_INTERNAL_ASSERT(logits_in.device().is_cuda());
  const c10::cuda::CUDAGuard device_guard(logits_in.device());
  const cudaStream_t stream = at::cuda::getCurrentCUDAStream();
  const at::Tensor logits = with_unit_class_stride(logits_in);
  at::Tensor grad = at::empty(logits.sizes(), logits.options());
  if (n.rows() == 0) return grad;
  const at::Tensor norm = normalizer.contiguous(), gs = symbol_grad.contiguous(),
                   gb = blank_grad.contiguous();
  const at::Tensor blank_ids = blanks_on_device(blanks, logits);
  const auto launch = cuda::duration_arc_logprobs_launch(n.rows());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "duration_arc_logprobs_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    cuda::duration_arc_logprobs_backward_rows<scalar_t, acc_t>
        <<<launch.blocks, launch.threads, 0, stream>>>(
            /*logits=*/logits.const_data_ptr<scalar_t>(),
            /*a=*/arc_args(logits, symbols, blank_ids, n), /*norm=*/norm.const_data_ptr<acc_t>(),
            /*sym_grad=*/gs.const_data_ptr<acc_t>(), /*blank_grad=*/gb.const_data_ptr<acc_t>(),
            /*grad=*/grad.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, CUDA, m) {
  m.impl("duration_arc_logprobs", TORCH_FN(duration_arc_logprobs_kernel));
  m.impl("_duration_arc_logprobs_forward", TORCH_FN(duration_arc_logprobs_forward_kernel));
  m.impl("_duration_arc_logprobs_backward", TORCH_FN(duration_arc_logprobs_backward_kernel));
}

}  // namespace fast_rnnt
