#pragma once
// Host side of the fused logits read of the duration-lattice losses on CUDA: the op bodies after
// the checks, templated on how a kernel is launched. ops/cuda/duration_arc_logprobs_kernel.cu
// instantiates them with CudaLaunch (ops/cuda/cuda_launch.cuh), the emulation tests with
// EmulatedLaunch. Include after the launch policy's header. Internal linkage: one translation
// unit per build includes it.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include <tuple>
#include <vector>

#include "ops/cuda/duration_arc_logprobs_kernels.cuh"
#include "ops/cuda/duration_lattice_launch.h"
#include "ops/duration_lattice_checks.h"

namespace fast_rnnt {
namespace {

inline at::Tensor with_unit_class_stride(const at::Tensor& logits) {
  return logits.size(3) <= 1 || logits.stride(3) == 1 ? logits : logits.contiguous();
}

inline at::Tensor blanks_on_device(at::IntArrayRef blanks, const at::Tensor& like) {
  const std::vector<int64_t> v(blanks.begin(), blanks.end());
  return at::tensor(v, at::TensorOptions().dtype(at::kLong)).to(like.device());
}

template <typename Launch>
cuda::DurationArcArgs arc_args(const Launch& launch, const at::Tensor& logits,
                               const at::Tensor& symbols, const at::Tensor& blanks,
                               const DurationArcSizes& n) {
  return {{n.T, n.K, logits.stride(0), logits.stride(1), logits.stride(2)},
          {n.T, n.K, symbols.stride(0), symbols.stride(1), symbols.stride(2)},
          global_ptr<const int64_t>(launch, symbols, "symbols"),
          global_ptr<const int64_t>(launch, blanks, "blanks"),
          n.rows(),
          n.C,
          n.D,
          n.blank_columns()};
}

// (symbol arc weights, blank arc weights, normalizers). Inputs already checked.
template <typename Launch>
std::tuple<at::Tensor, at::Tensor, at::Tensor> duration_arc_logprobs_forward_on(
    const Launch& launch, const char* op, const at::Tensor& logits_in, const at::Tensor& symbols,
    at::IntArrayRef blanks, const DurationArcSizes& n, double sigma) {
  const at::Tensor logits = with_unit_class_stride(logits_in);
  const auto options =
      logits.options().dtype(logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat);
  at::Tensor sym_out = at::empty({n.B, n.T, n.K, n.symbol_columns()}, options);
  at::Tensor blank_out = at::empty({n.B, n.T, n.K, n.blank_columns()}, options);
  at::Tensor norm_out = at::empty({n.B, n.T, n.K, 2}, options);
  if (n.rows() == 0) return {sym_out, blank_out, norm_out};
  const LaunchConfig config = duration_arc_logprobs_launch_config(op, n.rows());
  const at::Tensor blank_ids = blanks_on_device(blanks, logits);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "duration_arc_logprobs_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    launch("duration_arc_logprobs_forward_rows", config,
           cuda::duration_arc_logprobs_forward_rows<scalar_t, acc_t>,
           /*logits=*/global_ptr<const scalar_t>(launch, logits, "logits"),
           /*a=*/arc_args(launch, logits, symbols, blank_ids, n),
           /*sigma=*/static_cast<acc_t>(sigma),
           /*sym_out=*/global_ptr<acc_t>(launch, sym_out, "sym_out"),
           /*blank_out=*/global_ptr<acc_t>(launch, blank_out, "blank_out"),
           /*norm_out=*/global_ptr<acc_t>(launch, norm_out, "norm_out"));
  });
  return {sym_out, blank_out, norm_out};
}

// grad_logits in the dtype of logits. Inputs already checked.
template <typename Launch>
at::Tensor duration_arc_logprobs_backward_on(const Launch& launch, const char* op,
                                             const at::Tensor& logits_in,
                                             const at::Tensor& symbols, at::IntArrayRef blanks,
                                             const DurationArcSizes& n,
                                             const at::Tensor& normalizer,
                                             const at::Tensor& symbol_grad,
                                             const at::Tensor& blank_grad,
                                             double fastemit_lambda) {
  const at::Tensor logits = with_unit_class_stride(logits_in);
  at::Tensor grad = at::empty(logits.sizes(), logits.options());
  if (n.rows() == 0) return grad;
  const LaunchConfig config = duration_arc_logprobs_launch_config(op, n.rows());
  const at::Tensor norm = normalizer.contiguous(), gs = symbol_grad.contiguous(),
                   gb = blank_grad.contiguous();
  const at::Tensor blank_ids = blanks_on_device(blanks, logits);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "duration_arc_logprobs_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    launch("duration_arc_logprobs_backward_rows", config,
           cuda::duration_arc_logprobs_backward_rows<scalar_t, acc_t>,
           /*logits=*/global_ptr<const scalar_t>(launch, logits, "logits"),
           /*a=*/arc_args(launch, logits, symbols, blank_ids, n),
           /*norm=*/global_ptr<const acc_t>(launch, norm, "normalizer"),
           /*sym_grad=*/global_ptr<const acc_t>(launch, gs, "symbol_grad"),
           /*blank_grad=*/global_ptr<const acc_t>(launch, gb, "blank_grad"),
           /*fastemit=*/static_cast<acc_t>(1.0 + fastemit_lambda),
           /*grad=*/global_ptr<scalar_t>(launch, grad, "grad_logits"));
  });
  return grad;
}

}  // namespace
}  // namespace fast_rnnt
