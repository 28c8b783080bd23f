// Autograd of the fused lm/am op. The forward keeps what its backward reuses: the shifted
// probabilities of lm (and the unigram row) and of am, and the sums of their product; the
// backward is _smoothed_arc_logprobs_backward (two batched products and one pass over each of lm
// and am), in the compute dtype, cast back to the inputs' dtype.
#include <torch/autograd.h>
#include <torch/library.h>

#include "fast_rnnt/smoothed_arc_logprobs.h"

namespace fast_rnnt {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class SmoothedArcLogprobsFunction
    : public torch::autograd::Function<SmoothedArcLogprobsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& lm, const at::Tensor& am,
                               const at::Tensor& symbols, int64_t termination_symbol,
                               double lm_only_scale, double am_only_scale) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [px, py, lm_rows, am_probs, sums] = detail::_smoothed_arc_logprobs_forward(
        lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale);
    ctx->save_for_backward({symbols, lm_rows, am_probs, sums});
    ctx->saved_data["termination_symbol"] = termination_symbol;
    ctx->saved_data["lm_only_scale"] = lm_only_scale;
    ctx->saved_data["am_only_scale"] = am_only_scale;
    ctx->saved_data["lm_dtype"] = lm.scalar_type();
    ctx->saved_data["am_dtype"] = am.scalar_type();
    return {px, py};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto dtype = saved[2].scalar_type();
    // Undefined output gradients arrive as zeros (materialize_grads, the default).
    auto [lm_grad, am_grad] = detail::_smoothed_arc_logprobs_backward(
        grads[0].to(dtype), grads[1].to(dtype), saved[0],
        ctx->saved_data["termination_symbol"].toInt(), ctx->saved_data["lm_only_scale"].toDouble(),
        ctx->saved_data["am_only_scale"].toDouble(), saved[1], saved[2], saved[3]);
    return {lm_grad.to(ctx->saved_data["lm_dtype"].toScalarType()),
            am_grad.to(ctx->saved_data["am_dtype"].toScalarType()), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor()};  // one per forward input
  }
};

std::tuple<at::Tensor, at::Tensor> smoothed_arc_logprobs_autograd(
    const at::Tensor& lm, const at::Tensor& am, const at::Tensor& symbols,
    int64_t termination_symbol, double lm_only_scale, double am_only_scale) {
  if (at::GradMode::is_enabled() && (lm.requires_grad() || am.requires_grad())) {
    const auto out = SmoothedArcLogprobsFunction::apply(lm, am, symbols, termination_symbol,
                                                        lm_only_scale, am_only_scale);
    return {out[0], out[1]};
  }
  // Nothing to differentiate: nothing to keep.
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return smoothed_arc_logprobs(lm, am, symbols, termination_symbol, lm_only_scale,
                               am_only_scale);
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, Autograd, m) {
  m.impl("smoothed_arc_logprobs", TORCH_FN(smoothed_arc_logprobs_autograd));
}

}  // namespace fast_rnnt
