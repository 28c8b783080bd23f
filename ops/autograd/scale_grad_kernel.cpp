// Autograd of _scale_grad: the backward multiplies the output's gradient by scale (with ATen
// ops, so double backward works).
#include <torch/autograd.h>
#include <torch/library.h>

#include "fast_rnnt/scale_grad.h"

namespace fast_rnnt {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class ScaleGradFunction : public torch::autograd::Function<ScaleGradFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, double scale) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    ctx->saved_data["scale"] = scale;
    return {detail::_scale_grad(x, scale)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    return {grads[0] * ctx->saved_data["scale"].toDouble(), at::Tensor()};  // one per input
  }
};

at::Tensor scale_grad_autograd(const at::Tensor& x, double scale) {
  return ScaleGradFunction::apply(x, scale)[0];
}

}  // namespace

TORCH_LIBRARY_IMPL(fast_rnnt, Autograd, m) {
  m.impl("_scale_grad", TORCH_FN(scale_grad_autograd));
}

}  // namespace fast_rnnt
