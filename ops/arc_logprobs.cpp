// Schemas of the fused joiner-logits ops and their C++ entry points, which call through the
// dispatcher so that C++ callers get the same device and autograd handling as Python.
#include <torch/library.h>

#include "fast_rnnt/arc_logprobs.h"

namespace fast_rnnt {

std::tuple<at::Tensor, at::Tensor> arc_logprobs(const at::Tensor& logits, const at::Tensor& symbols,
                                                int64_t termination_symbol, bool use_hat_loss) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::arc_logprobs", "")
                       .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                                 int64_t, bool)>();
  return op.call(logits, symbols, termination_symbol, use_hat_loss);
}

namespace detail {

std::tuple<at::Tensor, at::Tensor, at::Tensor> _arc_logprobs_forward(const at::Tensor& logits,
                                                                     const at::Tensor& symbols,
                                                                     int64_t termination_symbol,
                                                                     bool use_hat_loss) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::_arc_logprobs_forward", "")
                       .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
                           const at::Tensor&, const at::Tensor&, int64_t, bool)>();
  return op.call(logits, symbols, termination_symbol, use_hat_loss);
}

at::Tensor _arc_logprobs_backward(const at::Tensor& logits, const at::Tensor& symbols,
                                  int64_t termination_symbol, bool use_hat_loss,
                                  const at::Tensor& normalizer, const at::Tensor& symbol_grad,
                                  const at::Tensor& blank_grad) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::_arc_logprobs_backward", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, bool,
                                         const at::Tensor&, const at::Tensor&, const at::Tensor&)>();
  return op.call(logits, symbols, termination_symbol, use_hat_loss, normalizer, symbol_grad,
                 blank_grad);
}

}  // namespace detail

TORCH_LIBRARY_FRAGMENT(fast_rnnt, m) {
  m.def("arc_logprobs(Tensor logits, Tensor symbols, int termination_symbol, "
        "bool use_hat_loss=False) -> (Tensor symbol_logprobs, Tensor blank_logprobs)");
  m.def("_arc_logprobs_forward(Tensor logits, Tensor symbols, int termination_symbol, "
        "bool use_hat_loss) -> (Tensor symbol_logprobs, Tensor blank_logprobs, Tensor normalizer)");
  m.def("_arc_logprobs_backward(Tensor logits, Tensor symbols, int termination_symbol, "
        "bool use_hat_loss, Tensor normalizer, Tensor symbol_grad, Tensor blank_grad) "
        "-> Tensor grad_logits");
}

}  // namespace fast_rnnt
