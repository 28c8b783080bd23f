// Autograd of the duration-lattice leaf ops.
//  - duration_lattice: the backward is _duration_lattice_backward, a second sweep over the
//    lattice from the saved weights (nothing of the lattice's size is kept between the passes).
//    FastEmit lives here: the backward scales every symbol arc's gradient by
//    (1 + fastemit_lambda), so C++ trainers get it exactly as Python does.
//  - duration_arc_logprobs: the forward keeps only the per-row normalizers next to the inputs it
//    already holds; the backward is one pass over logits writing grad_logits.
#include <torch/autograd.h>
#include <torch/library.h>

#include "fast_rnnt/duration_lattice.h"

namespace fast_rnnt {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

std::vector<int64_t> to_vector(at::IntArrayRef v) { return {v.begin(), v.end()}; }

class DurationLatticeFunction : public torch::autograd::Function<DurationLatticeFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& symbol_w,
                               const at::Tensor& blank_w, at::IntArrayRef symbol_durations,
                               at::IntArrayRef blank_durations,
                               const std::optional<at::Tensor>& boundary,
                               double fastemit_lambda) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    ctx->save_for_backward({symbol_w, blank_w, boundary.value_or(at::Tensor())});
    ctx->saved_data["symbol_durations"] = to_vector(symbol_durations);
    ctx->saved_data["blank_durations"] = to_vector(blank_durations);
    ctx->saved_data["fastemit_lambda"] = fastemit_lambda;
    return {duration_lattice(symbol_w, blank_w, symbol_durations, blank_durations, boundary,
                             fastemit_lambda)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    std::optional<at::Tensor> boundary;
    if (saved[2].defined()) boundary = saved[2];
    const auto symbol_durations = ctx->saved_data["symbol_durations"].toIntVector();
    const auto blank_durations = ctx->saved_data["blank_durations"].toIntVector();
    auto [symbol_grad, blank_grad] = detail::_duration_lattice_backward(
        saved[0], saved[1], symbol_durations, blank_durations, boundary,
        grads[0].to(saved[0].scalar_type()), ctx->saved_data["fastemit_lambda"].toDouble());
    return {symbol_grad, blank_grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor duration_lattice_autograd(const at::Tensor& symbol_w, const at::Tensor& blank_w,
                                     at::IntArrayRef symbol_durations,
                                     at::IntArrayRef blank_durations,
                                     const std::optional<at::Tensor>& boundary,
                                     double fastemit_lambda) {
  return DurationLatticeFunction::apply(symbol_w, blank_w, symbol_durations, blank_durations,
                                        boundary, fastemit_lambda)[0];
}

class DurationArcLogprobsFunction
    : public torch::autograd::Function<DurationArcLogprobsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& logits,
                               const at::Tensor& symbols, at::IntArrayRef blanks,
                               int64_t num_durations, double sigma) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [symbol_logprobs, blank_logprobs, normalizer] =
        detail::_duration_arc_logprobs_forward(logits, symbols, blanks, num_durations, sigma);
    ctx->save_for_backward({logits, symbols, normalizer});
    ctx->saved_data["blanks"] = to_vector(blanks);
    ctx->saved_data["num_durations"] = num_durations;
    return {symbol_logprobs, blank_logprobs};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    // Undefined output gradients arrive as zeros (materialize_grads, the default).
    at::Tensor grad_logits = detail::_duration_arc_logprobs_backward(
        saved[0], saved[1], ctx->saved_data["blanks"].toIntVector(),
        ctx->saved_data["num_durations"].toInt(), saved[2], grads[0].contiguous(),
        grads[1].contiguous());
    return {grad_logits, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> duration_arc_logprobs_autograd(const at::Tensor& logits,
                                                                  const at::Tensor& symbols,
                                                                  at::IntArrayRef blanks,
                                                                  int64_t num_durations,
                                                                  double sigma) {
  if (at::GradMode::is_enabled() && logits.requires_grad()) {
    const auto out =
        DurationArcLogprobsFunction::apply(logits, symbols, blanks, num_durations, sigma);
    return {out[0], out[1]};
  }
  at::AutoDispatchBelowADInplaceOrView below_autograd;  // nothing to differentiate
  return duration_arc_logprobs(logits, symbols, blanks, num_durations, sigma);
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, Autograd, m) {
  m.impl("duration_lattice", TORCH_FN(duration_lattice_autograd));
  m.impl("duration_arc_logprobs", TORCH_FN(duration_arc_logprobs_autograd));
}

}  // namespace fast_rnnt
