// Autograd of the fused joiner-logits op. The forward keeps only the per-row normalizer
// (B*T*K values) next to the inputs it already holds; the backward is one pass over logits
// (_arc_logprobs_backward) that writes grad_logits in the dtype of logits.
#include <torch/autograd.h>
#include <torch/library.h>

#include "fast_rnnt/arc_logprobs.h"

namespace fast_rnnt {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class ArcLogprobsFunction : public torch::autograd::Function<ArcLogprobsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& logits,
                               const at::Tensor& symbols, int64_t termination_symbol,
                               bool use_hat_loss) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [symbol_logprobs, blank_logprobs, normalizer] =
        detail::_arc_logprobs_forward(logits, symbols, termination_symbol, use_hat_loss);
    ctx->save_for_backward({logits, symbols, normalizer});
    ctx->saved_data["termination_symbol"] = termination_symbol;
    ctx->saved_data["use_hat_loss"] = use_hat_loss;
    return {symbol_logprobs, blank_logprobs};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    // Undefined output gradients arrive as zeros (materialize_grads, the default).
    at::Tensor grad_logits = detail::_arc_logprobs_backward(
        saved[0], saved[1], ctx->saved_data["termination_symbol"].toInt(),
        ctx->saved_data["use_hat_loss"].toBool(), saved[2], grads[0], grads[1]);
    return {grad_logits, at::Tensor(), at::Tensor(), at::Tensor()};  // one per forward input
  }
};

std::tuple<at::Tensor, at::Tensor> arc_logprobs_autograd(const at::Tensor& logits,
                                                         const at::Tensor& symbols,
                                                         int64_t termination_symbol,
                                                         bool use_hat_loss) {
  if (at::GradMode::is_enabled() && logits.requires_grad()) {
    const auto out = ArcLogprobsFunction::apply(logits, symbols, termination_symbol, use_hat_loss);
    return {out[0], out[1]};
  }
  // Nothing to differentiate: no normalizer to keep.
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return arc_logprobs(logits, symbols, termination_symbol, use_hat_loss);
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, Autograd, m) {
  m.impl("arc_logprobs", TORCH_FN(arc_logprobs_autograd));
}

}  // namespace fast_rnnt
