#pragma once
// Host side of the CUDA fused joiner-logits ops: the launch configuration and the op bodies,
// templated on how a kernel is launched. ops/cuda/arc_logprobs_kernel.cu instantiates them with
// CudaLaunch (ops/cuda/cuda_launch.cuh); the emulation tests with EmulatedLaunch. Include after
// the launch policy's header. Internal linkage: one translation unit per build includes it.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>

#include <tuple>

#include "ops/arc_logprobs_checks.h"
#include "ops/cuda/arc_logprobs_kernels.cuh"
#include "ops/cuda/launch_config.h"

namespace fast_rnnt {
namespace {

// One warp per row, kArcWarps rows per block; checked against CUDA's grid limit.
inline LaunchConfig arc_logprobs_launch_config(const char* op, int64_t rows) {
  return checked_launch_config(op, {/*grid=*/{(rows + kArcWarps - 1) / kArcWarps},
                                    /*block=*/{kArcThreads}, /*shared_bytes=*/0});
}

inline at::Tensor with_unit_class_stride(const at::Tensor& logits) {
  return logits.size(3) <= 1 || logits.stride(3) == 1 ? logits : logits.contiguous();
}

inline RowAddress row_address(const at::Tensor& t, const ArcLogprobsSizes& n) {
  return {n.T, n.K, t.stride(0), t.stride(1), t.stride(2)};
}

// (symbol log-probs, blank log-probs, normalizers), each (B, T, K). Inputs already checked.
template <typename Launch>
std::tuple<at::Tensor, at::Tensor, at::Tensor> arc_logprobs_forward_on(
    const Launch& launch, const char* op, const at::Tensor& logits_in, const at::Tensor& symbols,
    const ArcLogprobsSizes& n, int64_t termination_symbol, bool use_hat_loss) {
  const at::Tensor logits = with_unit_class_stride(logits_in);
  const auto out_type = logits.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto options = logits.options().dtype(out_type);
  at::Tensor sym_out = at::empty({n.B, n.T, n.K}, options);
  at::Tensor blank_out = at::empty({n.B, n.T, n.K}, options);
  at::Tensor norm_out = at::empty({n.B, n.T, n.K}, options);
  if (n.rows() == 0) return {sym_out, blank_out, norm_out};
  const LaunchConfig config = arc_logprobs_launch_config(op, n.rows());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "arc_logprobs_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    launch("arc_logprobs_forward_rows", config, arc_logprobs_forward_rows<scalar_t, acc_t>,
           /*logits=*/global_ptr<const scalar_t>(launch, logits, "logits"),
           /*logit_row=*/row_address(logits, n),
           /*symbols=*/global_ptr<const int64_t>(launch, symbols, "symbols"),
           /*symbol_at=*/row_address(symbols, n), /*rows=*/n.rows(), /*C=*/n.C,
           /*blank=*/termination_symbol, /*hat=*/use_hat_loss,
           /*sym_out=*/global_ptr<acc_t>(launch, sym_out, "sym_out"),
           /*blank_out=*/global_ptr<acc_t>(launch, blank_out, "blank_out"),
           /*norm_out=*/global_ptr<acc_t>(launch, norm_out, "norm_out"));
  });
  return {sym_out, blank_out, norm_out};
}

// grad_logits (B, T, K, C) in the dtype of logits. Inputs already checked.
template <typename Launch>
at::Tensor arc_logprobs_backward_on(const Launch& launch, const char* op,
                                    const at::Tensor& logits_in, const at::Tensor& symbols,
                                    const ArcLogprobsSizes& n, int64_t termination_symbol,
                                    bool use_hat_loss, const at::Tensor& normalizer,
                                    const at::Tensor& symbol_grad, const at::Tensor& blank_grad) {
  const at::Tensor logits = with_unit_class_stride(logits_in);
  at::Tensor grad = at::empty({n.B, n.T, n.K, n.C}, logits.options());
  if (n.rows() == 0) return grad;
  const LaunchConfig config = arc_logprobs_launch_config(op, n.rows());
  const at::Tensor norm = normalizer.contiguous(), gs = symbol_grad.contiguous(),
                   gb = blank_grad.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "arc_logprobs_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    launch("arc_logprobs_backward_rows", config, arc_logprobs_backward_rows<scalar_t, acc_t>,
           /*logits=*/global_ptr<const scalar_t>(launch, logits, "logits"),
           /*logit_row=*/row_address(logits, n),
           /*symbols=*/global_ptr<const int64_t>(launch, symbols, "symbols"),
           /*symbol_at=*/row_address(symbols, n), /*rows=*/n.rows(), /*C=*/n.C,
           /*blank=*/termination_symbol, /*hat=*/use_hat_loss,
           /*norm=*/global_ptr<const acc_t>(launch, norm, "normalizer"),
           /*sym_grad=*/global_ptr<const acc_t>(launch, gs, "symbol_grad"),
           /*blank_grad=*/global_ptr<const acc_t>(launch, gb, "blank_grad"),
           /*grad=*/global_ptr<scalar_t>(launch, grad, "grad_logits"));
  });
  return grad;
}

}  // namespace
}  // namespace fast_rnnt
