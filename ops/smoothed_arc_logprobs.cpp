// Schemas of the fused lm/am ops and their C++ entry points, which call through the dispatcher
// so that C++ callers get the same device and autograd handling as Python.
#include <torch/library.h>

#include "fast_rnnt/smoothed_arc_logprobs.h"

namespace fast_rnnt {

using SmoothedArcLogprobsFn = std::tuple<at::Tensor, at::Tensor>(
    const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t, double, double);
using SmoothedArcLogprobsForwardFn =
    std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
        const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t, double, double);
using SmoothedArcLogprobsBackwardFn = std::tuple<at::Tensor, at::Tensor>(
    const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t, double, double,
    const at::Tensor&, const at::Tensor&, const at::Tensor&);

std::tuple<at::Tensor, at::Tensor> smoothed_arc_logprobs(const at::Tensor& lm,
                                                         const at::Tensor& am,
                                                         const at::Tensor& symbols,
                                                         int64_t termination_symbol,
                                                         double lm_only_scale,
                                                         double am_only_scale) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::smoothed_arc_logprobs", "")
                       .typed<SmoothedArcLogprobsFn>();
  return op.call(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale);
}

namespace detail {

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
_smoothed_arc_logprobs_forward(const at::Tensor& lm, const at::Tensor& am,
                               const at::Tensor& symbols, int64_t termination_symbol,
                               double lm_only_scale, double am_only_scale) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::_smoothed_arc_logprobs_forward", "")
                       .typed<SmoothedArcLogprobsForwardFn>();
  return op.call(lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale);
}

std::tuple<at::Tensor, at::Tensor> _smoothed_arc_logprobs_backward(
    const at::Tensor& px_grad, const at::Tensor& py_grad, const at::Tensor& symbols,
    int64_t termination_symbol, double lm_only_scale, double am_only_scale,
    const at::Tensor& lm_rows, const at::Tensor& am_probs, const at::Tensor& sums) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("fast_rnnt::_smoothed_arc_logprobs_backward", "")
                       .typed<SmoothedArcLogprobsBackwardFn>();
  return op.call(px_grad, py_grad, symbols, termination_symbol, lm_only_scale, am_only_scale,
                 lm_rows, am_probs, sums);
}

}  // namespace detail

TORCH_LIBRARY_FRAGMENT(fast_rnnt, m) {
  m.def("smoothed_arc_logprobs(Tensor lm, Tensor am, Tensor symbols, int termination_symbol, "
        "float lm_only_scale=0.0, float am_only_scale=0.0) -> (Tensor px, Tensor py)");
  m.def("_smoothed_arc_logprobs_forward(Tensor lm, Tensor am, Tensor symbols, "
        "int termination_symbol, float lm_only_scale, float am_only_scale) "
        "-> (Tensor px, Tensor py, Tensor lm_rows, Tensor am_probs, Tensor sums)");
  m.def("_smoothed_arc_logprobs_backward(Tensor px_grad, Tensor py_grad, Tensor symbols, "
        "int termination_symbol, float lm_only_scale, float am_only_scale, Tensor lm_rows, "
        "Tensor am_probs, Tensor sums) -> (Tensor lm_grad, Tensor am_grad)");
}

}  // namespace fast_rnnt
