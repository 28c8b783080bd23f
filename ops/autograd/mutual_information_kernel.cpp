// Autograd of the recursion. The gradient of scores[b] w.r.t. px[b], py[b] is the arc
// occupancy that mutual_information_with_grad computes in the same call as the scores, so the
// backward is a per-sequence scaling of saved occupancies: no second pass over the lattice.
#include <torch/autograd.h>
#include <torch/library.h>

#include "fast_rnnt/mutual_information.h"

namespace fast_rnnt {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class MutualInformationFunction : public torch::autograd::Function<MutualInformationFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& px, const at::Tensor& py,
                               const std::optional<at::Tensor>& boundary) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [scores, px_grad, py_grad] = mutual_information_recursion_with_grad(px, py, boundary);
    ctx->save_for_backward({px_grad, py_grad});
    ctx->mark_non_differentiable({px_grad, py_grad});
    // The occupancy outputs have no gradient: no zero tensors of their size for them.
    ctx->set_materialize_grads(false);
    return {scores, px_grad, py_grad};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& scores_grad = grads[0];
    if (!scores_grad.defined()) return {at::Tensor(), at::Tensor(), at::Tensor()};
    const auto scale = scores_grad.reshape({-1, 1, 1});
    return {saved[0] * scale, saved[1] * scale, at::Tensor()};  // one per forward input
  }
};

at::Tensor mutual_information_autograd(const at::Tensor& px, const at::Tensor& py,
                                       const std::optional<at::Tensor>& boundary) {
  if (at::GradMode::is_enabled() && (px.requires_grad() || py.requires_grad())) {
    return MutualInformationFunction::apply(px, py, boundary)[0];
  }
  // Nothing to differentiate: skip the occupancy pass.
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return mutual_information_recursion(px, py, boundary);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mutual_information_with_grad_autograd(
    const at::Tensor& px, const at::Tensor& py, const std::optional<at::Tensor>& boundary) {
  const auto out = MutualInformationFunction::apply(px, py, boundary);
  return {out[0], out[1], out[2]};
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, Autograd, m) {
  m.impl("mutual_information", TORCH_FN(mutual_information_autograd));
  m.impl("mutual_information_with_grad", TORCH_FN(mutual_information_with_grad_autograd));
}

}  // namespace fast_rnnt
